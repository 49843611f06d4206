"""Merges of Keras tensors beyond Add/Concatenate/Multiply: Subtract and
other weighted sums of two tensors, Average, Maximum/Minimum, and the
Stack/Unstack routing used to fold merges of more than two inputs pairwise.

Rules (SEMANTICS terms; every one conserves exactly):

* ``WeightedSum`` ``y = a + w b`` for a fixed float ``w`` (``Subtract``:
  ``w = -1``; ``PairSum``: ``w = 1``; Keras' InceptionResNetV2
  ``CustomScaleLayer``: the residual scale): a linear layer with weights
  ``1`` (on ``a``) and ``w`` (on ``b``). Forward, the parts come from the
  sign split of the inputs' differences: ``dy+ = da+ + w db+``,
  ``dy- = da- + w db-`` for ``w >= 0`` and ``dy+ = da+ + w db-``,
  ``dy- = da- + w db+`` for ``w < 0``. Backward, each input element with
  weight ``W`` (``1`` or ``w``) takes
  ``(W (m+ + m-) + sign(dx) |W| (m+ - m-)) / 2``, summed over the axes it
  was broadcast along; with a single stream that is the plain ``W m``.
  Contributions ``m_a da + m_b db`` then add up to ``m (da + w db)`` exactly
  (``w = 0``: ``b`` gets multiplier 0 and contributes nothing).
* ``Average``: routing (non-negative weights ``1/k``); parts and multiplier
  streams pass through scaled by ``1/k``.
* ``Maximum`` / ``Minimum`` of two tensors, the cross_max rule of the
  max-pool (SEMANTICS, "MaxPool, cross_max"), per element: with
  ``M = max(max(a, b), max(a0, b0))``, ``M - max(a0, b0)`` is credited to the
  input's arg-max and ``max(a, b) - M`` to the reference's (ties: ``a``, as
  ``tf.maximum``'s gradient); an input's multiplier is its credit times the
  output multiplier divided by its own difference (0 where ``|dx| < 1e-7``;
  a credited element always has ``|dx| >=`` its credit). Credits sum to
  ``max(a, b) - max(a0, b0)``. The output's parts are its difference split
  by sign. ``Minimum`` is ``-max(-a, -b)``. Under the gradient-based modes the
  whole output multiplier goes to the input's arg-max (the gradient).
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from deeplift import kernels
from deeplift.layers.base import Layer
from deeplift.layers.linear import RoutingLayer
from deeplift.layers.product import CHAIN_RULE_MODES
from deeplift.modes import NonlinearMxtsMode
from deeplift.streams import sign_split

_EPSILON = 1e-7


def unbroadcast(mxts: tf.Tensor, template: tf.Tensor) -> tf.Tensor:
    """Sums ``mxts`` ``(T, N, *out)`` over the axes an input of per-example
    shape ``template.shape[1:]`` was broadcast along."""
    full_shape = tf.concat([tf.shape(mxts)[:2], tf.shape(template)[1:]], 0)
    axes, _ = tf.raw_ops.BroadcastGradientArgs(s0=full_shape, s1=tf.shape(mxts))
    return tf.reshape(tf.reduce_sum(mxts, axes), full_shape)


class _TwoInputs(Layer):
    takes_list_input = True

    def set_inputs(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise TypeError(f"{type(self).__name__} {self.name!r} takes exactly two layers; "
                            f"got {inputs!r}. Fold longer merges pairwise.")
        return super().set_inputs(inputs)


class WeightedSum(_TwoInputs):
    """``a + b_weight * b`` (with broadcasting, as Keras), the rule of the
    module docstring.

    Args:
        b_weight: the fixed weight ``w`` of the second input, any finite float
            (negative and zero included).
    """

    def __init__(self, b_weight: float, **kwargs):
        super().__init__(**kwargs)
        try:
            weight = float(b_weight)
        except (TypeError, ValueError):
            weight = float("nan")
        if not np.isfinite(weight):
            raise ValueError(f"{type(self).__name__} {self.name!r}: b_weight must be a finite "
                             f"number; got {b_weight!r}")
        self.b_weight = weight

    def forward(self, inputs):
        return inputs[0] + self.b_weight * inputs[1]

    def takes_differences(self, fp):
        return True

    def reads_input_parts(self, fp):
        return False

    def forward_diff(self, fp):
        return self.forward([fp.diff(layer) for layer in self.input_layers()])

    def forward_parts(self, fp):
        # As every linear layer: from the sign split of the inputs' differences.
        (a_pos, a_neg), (b_pos, b_neg) = (sign_split(fp.diff(layer))
                                          for layer in self.input_layers())
        w = self.b_weight
        if w >= 0:
            return a_pos + w * b_pos, a_neg + w * b_neg
        return a_pos + w * b_neg, a_neg + w * b_pos

    def backward(self, fp, pos, neg):
        increments = []
        for weight, layer in zip((1.0, self.b_weight), self.input_layers()):
            template = fp.shape_template(layer)
            if pos is neg:
                mxts = unbroadcast(weight * pos, template)
            else:
                total, difference = kernels.sum_and_difference(pos, neg)
                mxts = kernels.combine_by_sign(unbroadcast(weight * total, template),
                                               unbroadcast(abs(weight) * difference, template),
                                               fp.diff(layer))
            increments.append((mxts, mxts))
        return increments


class Subtract(WeightedSum):
    """``a - b`` (with broadcasting, as Keras): ``WeightedSum`` with ``w = -1``."""

    def __init__(self, **kwargs):
        super().__init__(-1.0, **kwargs)


class PairSum(WeightedSum):
    """``a + b`` with broadcasting (``keras.ops.add`` of two tensors; the
    ``Add`` layer needs equal shapes): ``WeightedSum`` with ``w = 1``."""

    def __init__(self, **kwargs):
        super().__init__(1.0, **kwargs)


class Average(RoutingLayer):
    """Element-wise mean of a list of same-shape layers."""

    takes_list_input = True

    def forward(self, inputs):
        return tf.add_n(inputs) / float(len(inputs))

    def backward(self, fp, pos, neg):
        scale = 1.0 / len(self.input_layers())
        pos_in = pos * scale
        neg_in = pos_in if pos is neg else neg * scale
        return [(pos_in, neg_in) for _ in self.input_layers()]


class ElementwiseMax(_TwoInputs):
    """``max(a, b)`` (``sign=1``, Keras Maximum) or ``min(a, b)`` (``sign=-1``,
    Keras Minimum), with the cross_max rule of the module docstring.

    Args:
        sign: ``1.0`` for the maximum, ``-1.0`` for the minimum.
        nonlinear_mxts_mode: the gradient-based modes route by the gradient;
            every other mode uses cross_max.
    """

    def __init__(self, sign: float = 1.0,
                 nonlinear_mxts_mode=NonlinearMxtsMode.DeepLIFT_GenomicsDefault, **kwargs):
        super().__init__(**kwargs)
        if sign not in (1.0, -1.0):
            raise ValueError(f"ElementwiseMax {self.name!r}: sign must be 1 or -1; got {sign}")
        self.sign = float(sign)
        self.nonlinear_mxts_mode = NonlinearMxtsMode.parse(nonlinear_mxts_mode,
                                                           "nonlinear_mxts_mode")

    def forward(self, inputs):
        a, b = inputs
        return tf.maximum(a, b) if self.sign > 0 else tf.minimum(a, b)

    def forward_parts(self, fp):
        return sign_split(fp.diff(self))

    def _credit_fractions(self, fp) -> tuple[tf.Tensor, tf.Tensor]:
        """Per output element, each input's multiplier per unit of output
        multiplier (``(N, *out)``): credit / own difference."""

        def compute():
            a_layer, b_layer = self.input_layers()
            s = self.sign
            # Work on s*x so that the minimum is a maximum.
            a, b = s * fp.act(a_layer), s * fp.act(b_layer)
            a0, b0 = s * fp.ref(a_layer), s * fp.ref(b_layer)
            a, b, a0, b0 = (tf.broadcast_to(t, tf.shape(a + b + a0 + b0)) for t in (a, b, a0, b0))
            top, top0 = tf.maximum(a, b), tf.maximum(a0, b0)
            if self.nonlinear_mxts_mode in CHAIN_RULE_MODES:
                a_wins = tf.cast(a >= b, a.dtype)
                return a_wins, 1.0 - a_wins
            high = tf.maximum(top, top0)
            a_arg, a0_arg = tf.cast(a >= b, a.dtype), tf.cast(a0 >= b0, a.dtype)
            credit_a = a_arg * (high - top0) + a0_arg * (top - high)
            credit_b = (1.0 - a_arg) * (high - top0) + (1.0 - a0_arg) * (top - high)
            fractions = []
            for credit, dx in ((credit_a, a - a0), (credit_b, b - b0)):
                safe = tf.abs(dx) >= _EPSILON
                # s * dy = credit and s * dx both flipped: the ratio is unchanged.
                fractions.append(tf.where(safe, credit / tf.where(safe, dx, 1.0), 0.0))
            return tuple(fractions)

        return fp.cached(self, "credit_fractions", compute)

    def backward(self, fp, pos, neg):
        if pos is neg:
            mxts = pos
        else:  # the output's contribution is m+ dy+ + m- dy-: pick the stream by sign(dy)
            dy = fp.diff(self)
            mxts = tf.where(dy > 0, pos, tf.where(dy < 0, neg, 0.5 * (pos + neg)))
        increments = []
        for fraction, layer in zip(self._credit_fractions(fp), self.input_layers()):
            increment = unbroadcast(mxts * fraction, fp.shape_template(layer))
            increments.append((increment, increment))
        return increments


class Stack(RoutingLayer):
    """Stacks same-shape layers along a new axis 1 (to fold merges)."""

    takes_list_input = True

    def forward(self, inputs):
        return tf.stack(inputs, axis=1)


class Unstack(RoutingLayer):
    """Input ``index`` of a ``Stack``: ``x[:, index]``."""

    def __init__(self, index: int, **kwargs):
        super().__init__(**kwargs)
        self.index = int(index)

    def forward(self, inputs):
        return inputs[0][:, self.index]
