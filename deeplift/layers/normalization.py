"""BatchNormalization in its inference form."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from deeplift import kernels
from deeplift.layers.base import Layer
from deeplift.layers.linear import (
    LinearLayer, as_float32_constant, scaled_parts, scaled_streams,
)


class BatchNormalization(Layer):
    """``y = (x - mean) / sqrt(var + epsilon) * gamma + beta`` per channel.

    Args:
        gamma, beta, mean, var: arrays ``(channels,)``; ``gamma``/``beta`` may
            be None (Keras ``scale=False``/``center=False``).
        axis: the channel axis, counting the batch axis (Keras style; -1 is
            the last axis).
        epsilon: added to the variance.

    It is a per-channel linear map with scale ``s = gamma / sqrt(var + eps)``;
    where ``s < 0`` the positive and negative parts swap roles, both forward
    and backward, as in the original package.
    """

    genomics_default_transparent = True

    def __init__(self, gamma=None, beta=None, axis=-1, mean=None, var=None,
                 epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        if mean is None or var is None:
            raise ValueError(f"BatchNormalization {self.name!r}: mean and var are required.")
        mean = as_float32_constant(mean, "mean", self.name)
        channels = int(mean.shape[0])
        var = as_float32_constant(var, "var", self.name)
        gamma = as_float32_constant(np.ones(channels) if gamma is None else gamma, "gamma", self.name)
        beta = as_float32_constant(np.zeros(channels) if beta is None else beta, "beta", self.name)
        for what, value in (("var", var), ("gamma", gamma), ("beta", beta)):
            if tuple(value.shape) != (channels,):
                raise ValueError(
                    f"BatchNormalization {self.name!r}: {what} must have shape "
                    f"({channels},) like mean; got {tuple(value.shape)}."
                )
        if bool(tf.reduce_any(var + epsilon <= 0)):
            raise ValueError(f"BatchNormalization {self.name!r}: var + epsilon must be positive.")
        self.gamma, self.beta, self.mean, self.var = gamma, beta, mean, var
        self.axis = int(axis)
        self.epsilon = float(epsilon)
        self.scale = gamma / tf.sqrt(var + self.epsilon)
        self.shift = beta - mean * self.scale

    def _per_channel(self, values, rank):
        axis = self.axis % rank
        if axis == 0:
            raise ValueError(f"BatchNormalization {self.name!r}: axis 0 is the batch axis.")
        shape = [1] * rank
        shape[axis] = -1
        return tf.reshape(values, shape)

    def forward_folded(self, value_of) -> tf.Tensor | None:
        """The activations of ``scale * conv(x) + shift`` computed as one
        convolution with the scaled kernel, when the input is a linear layer
        feeding only this layer (its own output is then never formed in a
        compiled function); None otherwise. ``value_of(layer)`` is the
        already computed value of ``layer`` in the same stream."""
        linear = self.inputs
        if not isinstance(linear, LinearLayer) or linear.get_output_layers() != [self]:
            return None
        x = value_of(linear.inputs)
        rank = x.shape.rank  # a linear layer keeps its input's rank
        if rank is None or self.axis % rank != linear.output_channel_axis(rank):
            return None
        return linear.forward_scaled(x, self.scale, self.shift)

    def forward(self, inputs):
        x = inputs[0]
        rank = x.shape.rank
        return kernels.affine(x, self._per_channel(self.scale, rank),
                              self._per_channel(self.shift, rank))

    def takes_differences(self, fp):
        return True

    def forward_diff(self, fp):
        dx = fp.diff(self.inputs)
        return dx * self._per_channel(self.scale, dx.shape.rank)

    def forward_parts(self, fp):
        rank = fp.shape_template(self.inputs).shape.rank
        return scaled_parts(fp, self.inputs, self._per_channel(self.scale, rank))

    def backward(self, fp, pos, neg):
        scale = self._per_channel(self.scale, fp.shape_template(self.inputs).shape.rank)
        return [scaled_streams(fp, self.inputs, pos, neg, scale)]
