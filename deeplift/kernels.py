"""Fused element-wise kernels of the DeepLIFT rules.

The rules are chains of cheap element-wise ops over activation-sized
tensors (differences, ratios, masks); run one op at a time they cost more
memory traffic than the convolutions around them. Each function here is a
small ``tf.function(jit_compile=True)`` that XLA fuses into one loop, called
from inside the (not XLA-compiled) scoring graph, so convolutions and
matrix products keep TensorFlow's own kernels.

Functions taking a Python callable (``fn``/``grad``) are traced once per
distinct callable, i.e. once per activation layer.
"""
from __future__ import annotations

import tensorflow as tf

#: |dx| below which the rescale factor dy/dx is replaced by f'(x0).
NEAR_ZERO_THRESHOLD = 1e-7

fused = tf.function(jit_compile=True, autograph=False, reduce_retracing=True)


@fused
def rescale_factor(x, x0, y, y0, grad):
    """``s = (y - y0) / (x - x0)``, or ``grad(x0)`` where ``|x - x0| < 1e-7``."""
    dx = x - x0
    near_zero = tf.abs(dx) < NEAR_ZERO_THRESHOLD
    safe_dx = tf.where(near_zero, tf.ones_like(dx), dx)
    return tf.where(near_zero, grad(x0), (y - y0) / safe_dx)


@fused
def reveal_cancel_parts(x0, pos_in, neg_in, fn):
    """RevealCancel's split of ``f(x) - f(x0)`` into (dy+, dy-)."""
    f_ref = fn(x0)
    f_pos = fn(x0 + pos_in)
    f_neg = fn(x0 + neg_in)
    f_both = fn(x0 + pos_in + neg_in)
    return (0.5 * ((f_pos - f_ref) + (f_both - f_neg)),
            0.5 * ((f_neg - f_ref) + (f_both - f_pos)))


def _nudge_from_zero(t):
    """Adds ±1e-7 (keeping the sign; + at 0) where ``|t| < 0.5e-7``."""
    tiny = tf.abs(t) < 0.5 * NEAR_ZERO_THRESHOLD
    step = tf.where(t >= 0, NEAR_ZERO_THRESHOLD, -NEAR_ZERO_THRESHOLD)
    return t + tf.where(tiny, step, tf.zeros_like(t))


@fused
def reveal_cancel_multipliers(pos, neg, pos_in, neg_in, pos_out, neg_out):
    """``(m+ dy+ / p, m- dy- / n)`` with p, n nudged away from zero."""
    return (pos * (pos_out / _nudge_from_zero(pos_in)),
            neg * (neg_out / _nudge_from_zero(neg_in)))


@fused
def sum_and_difference(pos, neg):
    """``(m+ + m-, m+ - m-)``: the inputs of the two-stream linear transpose."""
    return pos + neg, pos - neg


@fused
def combine_by_sign(total, spread, dx):
    """``(total + sign(dx) * spread) / 2``: per input element, the
    multiplier of the linear rule chosen by the sign of its difference."""
    return (total + tf.sign(dx) * spread) * 0.5


@fused
def split_by_spread(net, spread):
    """``((net + spread) / 2, (net - spread) / 2)``: the positive and negative
    parts of a linear map's output difference ``net = W dx`` given
    ``spread = |W| |dx|``."""
    return (net + spread) * 0.5, (net - spread) * 0.5
