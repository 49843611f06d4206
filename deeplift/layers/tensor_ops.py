"""Layers for arithmetic and shape ops applied to Keras tensors
(``x * 2.0 + 1.0``, ``keras.ops.mean``, ``keras.ops.transpose``, ...).

Rules (SEMANTICS terms):

* :class:`ConstantAffine` ``y = x * scale + shift`` (constants broadcast as
  numpy does): a linear layer with the diagonal weights ``scale``; where
  ``scale < 0`` the positive and negative parts swap (as BatchNormalization);
  multipliers are ``scale * m``, summed over the axes the constants
  broadcast ``x`` along.
* :class:`Reduce` (mean or sum over axes), :class:`Transpose`,
  :class:`ExpandDims`, :class:`Squeeze`: routing layers (non-negative
  weights): the map applied to each part, its transpose to each multiplier
  stream.

All conserve exactly.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from deeplift.layers.base import Layer
from deeplift.layers.linear import RoutingLayer, as_float32_constant
from deeplift.layers.merge import unbroadcast


class ConstantAffine(Layer):
    """``x * scale + shift`` with numpy-broadcast constants (either may be None)."""

    def __init__(self, scale=None, shift=None, **kwargs):
        super().__init__(**kwargs)
        self.scale = None if scale is None else as_float32_constant(scale, "scale", self.name)
        self.shift = None if shift is None else as_float32_constant(shift, "shift", self.name)

    def forward(self, inputs):
        x = inputs[0]
        if self.scale is not None:
            x = x * self.scale
        if self.shift is not None:
            x = x + self.shift
        return x

    def _broadcast_parts(self, pos, neg):
        """Parts broadcast to the output shape (a shift may widen it)."""
        if self.shift is None:
            return pos, neg
        zeros = tf.zeros_like(pos * (self.scale if self.scale is not None else 1.0)
                              + self.shift)
        return pos + zeros, neg + zeros

    def forward_parts(self, fp):
        pos, neg = fp.parts(self.inputs)
        if self.scale is not None:
            keeps_sign = self.scale > 0
            pos, neg = (tf.where(keeps_sign, pos, neg) * self.scale,
                        tf.where(keeps_sign, neg, pos) * self.scale)
        return self._broadcast_parts(pos, neg)

    def backward(self, fp, pos, neg):
        template = fp.shape_template(self.inputs)
        if self.scale is None:
            pos_in = unbroadcast(pos, template)
            return [(pos_in, pos_in if pos is neg else unbroadcast(neg, template))]
        if pos is neg:
            mxts = unbroadcast(pos * self.scale, template)
            return [(mxts, mxts)]
        keeps_sign = self.scale > 0
        return [(unbroadcast(tf.where(keeps_sign, pos, neg) * self.scale, template),
                 unbroadcast(tf.where(keeps_sign, neg, pos) * self.scale, template))]


def _non_batch_axes(axis, layer_name: str):
    axes = [axis] if isinstance(axis, int) else list(axis)
    if 0 in axes:
        raise ValueError(f"Layer {layer_name!r}: axis 0 is the batch axis; got axis={axis}")
    return axes


class Reduce(RoutingLayer):
    """Mean or sum over ``axis`` (Keras-style axes, batch counted).

    Args:
        kind: ``"mean"`` or ``"sum"``.
        axis: an int or a list of ints, never 0.
        keepdims: keep the reduced axes with size 1.
    """

    def __init__(self, kind: str, axis, keepdims: bool = False, **kwargs):
        super().__init__(**kwargs)
        if kind not in ("mean", "sum"):
            raise ValueError(f"Reduce {self.name!r}: kind must be 'mean' or 'sum'; got {kind!r}")
        self.kind = kind
        self.axis = _non_batch_axes(axis, self.name)
        self.keepdims = bool(keepdims)

    def forward(self, inputs):
        reduce = tf.reduce_mean if self.kind == "mean" else tf.reduce_sum
        return reduce(inputs[0], axis=self.axis, keepdims=self.keepdims)


class Transpose(RoutingLayer):
    """Permutes the axes (``axes[0]`` must be 0: the batch stays first)."""

    def __init__(self, axes, **kwargs):
        super().__init__(**kwargs)
        self.axes = [int(a) for a in axes]
        if not self.axes or self.axes[0] != 0 or sorted(self.axes) != list(range(len(self.axes))):
            raise ValueError(f"Transpose {self.name!r}: axes must be a permutation starting "
                             f"with the batch axis 0; got {axes}")

    def forward(self, inputs):
        return tf.transpose(inputs[0], self.axes)


class ExpandDims(RoutingLayer):
    """Inserts an axis of size 1 at ``axis`` (batch counted, never 0)."""

    def __init__(self, axis: int, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)
        if self.axis == 0:
            raise ValueError(f"ExpandDims {self.name!r}: axis 0 is the batch axis")

    def forward(self, inputs):
        return tf.expand_dims(inputs[0], self.axis)


class Squeeze(RoutingLayer):
    """Removes the size-1 ``axis`` (an int or list; never the batch axis)."""

    def __init__(self, axis, **kwargs):
        super().__init__(**kwargs)
        self.axis = None if axis is None else _non_batch_axes(axis, self.name)

    def forward(self, inputs):
        x = inputs[0]
        if self.axis is None:  # every size-1 axis but the batch axis
            axes = [i for i, d in enumerate(x.shape) if i > 0 and d == 1]
            return tf.squeeze(x, axes) if axes else x
        return tf.squeeze(x, self.axis)


def constant_array(value) -> np.ndarray:
    """A saved constant (a number, a list or an array) as float32."""
    return np.asarray(value, dtype=np.float32)
