"""The two multiplier / contribution streams (positive and negative parts).

Tiny helpers shared by the layers and the nonlinear rules; they live below
both so that neither imports the other.
"""
from __future__ import annotations

import tensorflow as tf


def sign_split(diff: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """``(diff * [diff > 0], diff * [diff < 0])``."""
    return tf.nn.relu(diff), tf.minimum(diff, 0.0)


def map_streams(fn, pos: tf.Tensor, neg: tf.Tensor):
    """Applies ``fn`` to both multiplier streams, once when they are shared."""
    if pos is neg:
        out = fn(pos)
        return out, out
    return fn(pos), fn(neg)
