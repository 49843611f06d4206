"""Primitives of LayerNormalization and GroupNormalization.

A normalisation layer ``y = (x - mean_g(x)) / sqrt(var_g(x) + eps) * gamma +
beta`` (statistics per example over a group ``g`` of elements: the
normalised axes, or one group of channels with every spatial axis) is
converted into a small graph of primitives, each with its own DeepLIFT rule,
so that contributions sum to the difference from reference exactly, by
construction (SEMANTICS.md, "Group normalisation"):

1. ``c = x - mean_g(x)`` (:class:`GroupCentre`): linear, ``W = I - J_g / n``
   (``n`` the group size). Parts ``dc+- = (W dx +- |W| |dx|) / 2`` with
   ``|W| z = (1 - 2/n) z + mean_g(z)``; ``W`` and ``|W|`` are symmetric, so
   multipliers use the same maps (two-stream: SEMANTICS' linear rule).
2. ``s = c^2`` (:class:`Square`): Rescale, slope ``(c^2 - c0^2)/(c - c0) =
   c + c0``.
3. ``v = mean_g(s)`` (:class:`GroupMean`): linear with weights ``1/n >= 0``
   (a routing layer); one value per group.
4. ``r = 1 / sqrt(v + eps)`` (:class:`InverseSqrt`): Rescale on that value.
5. ``z = c * r``: the Shapley product rule (``deeplift.layers.product.Product``,
   broadcasting ``r`` over the group): ``C_c = dc (r + r0)/2``,
   ``C_r = dr (c + c0)/2``, which sum to ``z - z0``.
6. ``y = z * gamma + beta`` (:class:`ElementwiseAffine`): linear, the sign
   of ``gamma`` decides whether a part stays positive (as BatchNormalization).

Each step conserves (``sum(m_in dx_in) == sum(m_out dy_out)``), hence the
whole. The internal nonlinearities (2 and 4) use Rescale whatever DeepLIFT
rule the model asks for (RevealCancel splits would conserve too but buy
nothing inside a normalisation); under the gradient-based modes they use
Gradient, so Gradient mode equals ``tf.GradientTape``.

Axes follow Keras: they count the batch axis (``-1`` is the last axis).
Multipliers carry one leading task axis, handled by converting the axes to
negative ones.
"""
from __future__ import annotations

import math

import tensorflow as tf

from deeplift import kernels
from deeplift.layers.activations import Activation
from deeplift.layers.base import Layer
from deeplift.layers.linear import (
    RoutingLayer, as_float32_constant, scaled_parts, scaled_streams, sum_and_difference,
)


class Grouping:
    """Which elements share statistics: the ``axes`` of one example, or
    ``groups`` groups of channels along ``channel_axis`` (every other
    non-batch axis included).

    Args:
        axes: Keras-style axes (batch counted) of LayerNormalization; ignored
            when ``groups`` is given.
        groups: number of channel groups (GroupNormalization), or None.
        channel_axis: the channel axis of GroupNormalization.
    """

    def __init__(self, axes=(-1,), groups=None, channel_axis=-1):
        self.axes = tuple(int(a) for a in axes)
        self.groups = None if groups is None else int(groups)
        self.channel_axis = int(channel_axis)
        if not self.axes and self.groups is None:
            raise ValueError("Grouping: give at least one axis or a number of groups.")
        if 0 in self.axes or self.channel_axis == 0:
            raise ValueError("Grouping: axis 0 is the batch axis.")

    def _negative(self, axis: int, rank: int) -> int:
        """``axis`` of an activation of rank ``rank`` as a negative axis."""
        if not -rank <= axis < rank:
            raise ValueError(f"axis {axis} is out of range for inputs of rank {rank}")
        return axis - rank if axis >= 0 else axis

    def size(self, activation_shape) -> int:
        """Number of elements in one group (static)."""
        rank = len(activation_shape)
        dims = list(activation_shape[1:])
        if any(d is None for d in dims):
            raise ValueError(f"group statistics need static non-batch dims; got {activation_shape}")
        if self.groups is None:
            return math.prod(activation_shape[self._negative(a, rank)] for a in self.axes)
        channels = activation_shape[self._negative(self.channel_axis, rank)]
        if channels % self.groups:
            raise ValueError(f"{channels} channels do not split into {self.groups} groups")
        return math.prod(dims) // self.groups

    def mean(self, x: tf.Tensor, activation_rank: int, broadcast: bool) -> tf.Tensor:
        """Group means of ``x`` (``(N, ...)`` or ``(T, N, ...)``): keeping
        dims (LayerNormalization) or broadcast back to ``x``'s shape."""
        rank = x.shape.rank
        lead = rank - activation_rank
        if self.groups is None:
            axes = [self._negative(a, activation_rank) for a in self.axes]
            out = tf.reduce_mean(x, axis=axes, keepdims=True)
            return tf.broadcast_to(out, tf.shape(x)) if broadcast else out
        channel = rank + self._negative(self.channel_axis, activation_rank)
        shape = tf.shape(x)
        split = tf.concat([shape[:channel], [self.groups, -1], shape[channel + 1:]], 0)
        grouped = tf.reshape(x, split)
        axes = [a for a in range(lead + 1, rank + 1) if a != channel]
        out = tf.reduce_mean(grouped, axis=axes, keepdims=True)
        return tf.reshape(tf.broadcast_to(out, tf.shape(grouped)), shape)


class GroupCentre(Layer):
    """``c = x - mean_g(x)``: linear with mixed-sign weights (see module doc)."""

    def __init__(self, grouping: Grouping, **kwargs):
        super().__init__(**kwargs)
        self.grouping = grouping

    def _map(self, x, rank, absolute):
        """``W x`` or ``|W| x`` for ``x`` of shape ``(..., N, *example)``;
        ``rank`` is the activation's rank ``1 + len(example)``."""
        mean = self.grouping.mean(x, rank, broadcast=True)
        if absolute:  # |W| z = (1 - 2/n) z + mean(z)
            n = self.grouping.size((None, *x.shape[x.shape.rank - rank + 1:]))
            return (1.0 - 2.0 / n) * x + mean
        return x - mean

    def forward(self, inputs):
        x = inputs[0]
        return x - self.grouping.mean(x, x.shape.rank, broadcast=True)

    def forward_parts(self, fp):
        dx = fp.diff(self.inputs)
        rank = dx.shape.rank
        return kernels.split_by_spread(self._map(dx, rank, False),
                                       self._map(tf.abs(dx), rank, True))

    def backward(self, fp, pos, neg):
        rank = pos.shape.rank - 1
        if pos is neg:
            mxts = self._map(pos, rank, False)
            return [(mxts, mxts)]
        total, difference = sum_and_difference(fp, pos, neg)
        mxts = kernels.combine_by_sign(self._map(total, rank, False),
                                       self._map(difference, rank, True),
                                       fp.diff(self.inputs))
        return [(mxts, mxts)]


class GroupMean(RoutingLayer):
    """``v = mean_g(x)``: one value per group, kept dims (LayerNormalization)
    or broadcast over the group (GroupNormalization)."""

    def __init__(self, grouping: Grouping, **kwargs):
        super().__init__(**kwargs)
        self.grouping = grouping

    def forward(self, inputs):
        x = inputs[0]
        return self.grouping.mean(x, x.shape.rank, broadcast=self.grouping.groups is not None)


class Square(Activation):
    """``x^2``; under Rescale its slope is ``x + x0``."""

    def fn(self, x):
        return tf.square(x)

    def grad(self, x):
        return 2.0 * x


class InverseSqrt(Activation):
    """``1 / sqrt(x + epsilon)`` (``x >= 0``: a variance)."""

    def __init__(self, epsilon: float, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)
        if self.epsilon <= 0:
            raise ValueError(f"InverseSqrt {self.name!r}: epsilon must be positive; got {epsilon}")

    def fn(self, x):
        return tf.math.rsqrt(x + self.epsilon)

    def grad(self, x):
        return -0.5 * tf.math.rsqrt(x + self.epsilon) / (x + self.epsilon)


class ElementwiseAffine(Layer):
    """``y = x * gamma + beta`` with ``gamma``/``beta`` laid along ``axes``.

    Args:
        gamma, beta: arrays of the shape of the ``axes`` dims (Keras' param
            shape), or None (``scale=False`` / ``center=False``).
        axes: Keras-style axes the parameters lie along.
    """

    def __init__(self, gamma=None, beta=None, axes=(-1,), **kwargs):
        super().__init__(**kwargs)
        self.axes = tuple(sorted(int(a) for a in axes))
        self.gamma = None if gamma is None else as_float32_constant(gamma, "gamma", self.name)
        self.beta = None if beta is None else as_float32_constant(beta, "beta", self.name)

    def _laid_out(self, values, activation_rank, rank):
        shape = [1] * rank
        lead = rank - activation_rank
        dims = tf.unstack(tf.shape(values)) if values.shape.rank else []
        axes = sorted(a % activation_rank for a in self.axes)
        if len(axes) != values.shape.rank:
            raise ValueError(f"Layer {self.name!r}: parameters of shape {values.shape} do not "
                             f"lie along axes {self.axes}")
        for axis, dim in zip(axes, dims):
            shape[lead + axis] = dim
        return tf.reshape(values, tf.stack(shape))

    def forward(self, inputs):
        x = inputs[0]
        rank = x.shape.rank
        if self.gamma is not None:
            x = x * self._laid_out(self.gamma, rank, rank)
        if self.beta is not None:
            x = x + self._laid_out(self.beta, rank, rank)
        return x

    def forward_parts(self, fp):
        if self.gamma is None:
            return fp.parts(self.inputs)
        rank = fp.shape_template(self.inputs).shape.rank
        return scaled_parts(fp, self.inputs, self._laid_out(self.gamma, rank, rank))

    def backward(self, fp, pos, neg):
        if self.gamma is None:
            return [(pos, neg)]
        rank = pos.shape.rank
        scale = self._laid_out(self.gamma, rank - 1, rank)
        return [scaled_streams(fp, self.inputs, pos, neg, scale)]
