"""Element-wise affine maps ``y = x * scale + offset``: the inference form of
Keras' Rescaling, Normalization (stored mean and variance, ``invert``
included) and LayerScale.

A per-element linear map with a fixed scale: where ``scale < 0`` the
positive and negative parts swap roles, forward and backward, exactly as for
BatchNormalization; the offset contributes nothing.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from deeplift import kernels
from deeplift.layers.base import Layer
from deeplift.layers.linear import as_float32_constant, scaled_parts, scaled_streams


class ScaleShift(Layer):
    """``y = x * scale + offset`` with broadcast parameters.

    Args:
        scale, offset: scalars or arrays. With ``axis=None`` they broadcast
            against one example (batch axis excluded) by numpy's rules, from
            the right (Rescaling). With ``axis`` an int or a tuple of ints
            (counting the batch axis, Keras style) they hold one value per
            position of those axes, in order (Normalization's per-feature
            statistics), and are reshaped to match the input.
        axis: see above.
        name, verbose: see ``Layer``.
    """

    def __init__(self, scale=1.0, offset=0.0, axis=None, **kwargs):
        super().__init__(**kwargs)
        self.scale = as_float32_constant(scale, "scale", self.name)
        self.offset = as_float32_constant(offset, "offset", self.name)
        if axis is None:
            self.axis = None
        else:
            self.axis = tuple(int(a) for a in np.atleast_1d(axis))
            if any(a == 0 for a in self.axis):
                raise ValueError(f"ScaleShift {self.name!r}: axis 0 is the batch axis; "
                                 f"got axis={axis!r}.")

    def _shaped(self, value: tf.Tensor, x_shape: tf.TensorShape) -> tf.Tensor:
        if self.axis is None or value.shape.rank == 0 or value.shape.num_elements() == 1:
            return tf.reshape(value, []) if value.shape.num_elements() == 1 else value
        rank = x_shape.rank
        axes = sorted(a % rank for a in self.axis)
        shape = [1] * rank
        for a in axes:
            shape[a] = x_shape[a]
        if None in shape or int(np.prod(shape)) != value.shape.num_elements():
            raise ValueError(
                f"ScaleShift {self.name!r}: {value.shape.num_elements()} parameter values "
                f"do not match axes {self.axis} of an input of shape {tuple(x_shape)}.")
        return tf.reshape(value, shape)

    def forward(self, inputs):
        x = inputs[0]
        return kernels.affine(x, self._shaped(self.scale, x.shape),
                              self._shaped(self.offset, x.shape))

    def takes_differences(self, fp):
        return True

    def forward_diff(self, fp):
        dx = fp.diff(self.inputs)
        return dx * self._shaped(self.scale, dx.shape)

    def forward_parts(self, fp):
        return scaled_parts(fp, self.inputs,
                            self._shaped(self.scale, fp.shape_template(self.inputs).shape))

    def backward(self, fp, pos, neg):
        scale = self._shaped(self.scale, fp.shape_template(self.inputs).shape)
        return [scaled_streams(fp, self.inputs, pos, neg, scale)]
