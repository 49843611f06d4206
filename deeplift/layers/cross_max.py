"""The conserving ``cross_max`` rule of max pooling.

This is the max-pool rule of SHAP's DeepExplainer and of tangermeme. Per
window, with ``M = max(max(x), max(x0))``, the amount ``M - max(x0)`` is
credited to the input's arg-max element and ``max(x) - M`` to the
reference's arg-max element (on ties the first maximum in row-major order
inside the window, as TensorFlow's max-pool gradient). At most one of the two
credits is non-zero and they sum to the window's ``max(x) - max(x0)``. An
element's multiplier is the sum, over the windows that credit it, of credit x
output multiplier, divided by its own ``dx = x - x0`` (0 where
``|dx| < 1e-7``). A credited element's ``|dx|`` is at least its credit, so
each window acts as a linear map with a weight ``r = credit / dx`` in
``[0, 1]`` on one input element: contributions sum to ``max(x) - max(x0)``.

The same view defines the pool output's positive and negative parts so that
RevealCancel downstream conserves: a window's parts are ``r`` times the
credited element's input parts, and both multiplier streams go back through
the transpose of that map (``m_in± = sum r m±``).

Window cells are laid out as ``(B, o_1, p_1, ..., o_k, p_k, C)`` by a
reshape when the windows tile the input (strides = pool size, the common
layout: no copy), as ``(B, *out, K, C)`` (``K`` cells per window, row-major)
by ``K`` strided slices otherwise, and as ``(B, 1, ..., 1, K, C)`` by one
reshape for global pools; ``Windows.cell_axes`` names the axes that run
inside a window. Each public function is one XLA-compiled kernel.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from deeplift.kernels import NEAR_ZERO_THRESHOLD, fused


@dataclass(frozen=True)
class Windows:
    """Window geometry of a max pool over channels_last tensors.

    Attributes:
        in_spatial: input spatial sizes, or None for a global pool (one
            window over every position, sizes possibly unknown).
        out_spatial: output spatial sizes (all 1 for a global pool).
        pool_size, strides: per spatial axis.
        pad_before: cells of padding before each axis ("same" padding).
    """

    in_spatial: tuple | None
    out_spatial: tuple
    pool_size: tuple = ()
    strides: tuple = ()
    pad_before: tuple = ()

    @classmethod
    def of_pool(cls, in_spatial, pool_size, strides, same_padding: bool) -> "Windows":
        """Geometry of TensorFlow's pooling ("SAME": ``ceil(L / s)`` outputs,
        padding split with the smaller half before)."""
        out, before = [], []
        for size, pool, stride in zip(in_spatial, pool_size, strides):
            if same_padding:
                n = -(-size // stride)
                before.append(max((n - 1) * stride + pool - size, 0) // 2)
            else:
                n = (size - pool) // stride + 1
                before.append(0)
            out.append(n)
        return cls(tuple(in_spatial), tuple(out), tuple(pool_size), tuple(strides),
                   tuple(before))

    @classmethod
    def global_pool(cls, rank: int) -> "Windows":
        return cls(None, (1,) * rank)

    @property
    def tiles(self) -> bool:
        """Windows side by side (strides = pool size): the reshape layout."""
        return self.in_spatial is not None and self.strides == self.pool_size

    @property
    def cell_axes(self) -> tuple[int, ...]:
        """Axes of the cell layout that run inside a window."""
        rank = len(self.out_spatial)
        if self.tiles:
            return tuple(range(2, 2 * rank + 1, 2))
        return (rank + 1,)

    def window_shape(self) -> list[int]:
        """Per-example shape of one value per window in the cell layout
        (size 1 on ``cell_axes``), channels as -1."""
        if self.tiles:
            return [d for o in self.out_spatial for d in (o, 1)] + [-1]
        return list(self.out_spatial) + [1, -1]


def _extract(v: tf.Tensor, win: Windows, fill: float) -> tf.Tensor:
    """``(B, *in, C) -> (B, *out, K, C)``: the cells of every window, padded
    cells set to ``fill``."""
    batch = tf.shape(v)[:1]
    channels = tf.shape(v)[-1:]
    if win.in_spatial is None:
        return tf.reshape(v, tf.concat([batch, win.out_spatial, [-1], channels], 0))
    rank = len(win.in_spatial)
    # crop or pad every axis to the span the windows read
    span = [(o - 1) * s + p for o, s, p in zip(win.out_spatial, win.strides, win.pool_size)]
    if win.tiles:
        span = [o * p for o, p in zip(win.out_spatial, win.pool_size)]
    after = [n - size - b for n, size, b in zip(span, win.in_spatial, win.pad_before)]
    v = v[(slice(None),) + tuple(slice(0, size + min(a, 0)) for size, a in
                                 zip(win.in_spatial, after))]
    paddings = [[0, 0]] + [[b, max(a, 0)] for b, a in zip(win.pad_before, after)] + [[0, 0]]
    if any(b or a for b, a in paddings):
        v = tf.pad(v, paddings, constant_values=fill)
    if win.tiles:
        split = [d for o, p in zip(win.out_spatial, win.pool_size) for d in (o, p)]
        return tf.reshape(v, tf.concat([batch, split, channels], 0))
    slices = []
    for offset in itertools.product(*(range(p) for p in win.pool_size)):
        index = (slice(None),) + tuple(
            slice(k, k + (o - 1) * s + 1, s)
            for k, o, s in zip(offset, win.out_spatial, win.strides))
        slices.append(v[index])
    return tf.stack(slices, axis=-2)


def _scatter(cells: tf.Tensor, template: tf.Tensor, win: Windows) -> tf.Tensor:
    """Transpose of ``_extract``: cell layout ``-> (B, *in, C)``, each
    cell added to the input element it was read from (``template`` gives
    the per-example input shape)."""
    zeros = tf.zeros(tf.concat([tf.shape(cells)[:1], tf.shape(template)[1:]], 0), cells.dtype)
    with tf.GradientTape() as tape:
        tape.watch(zeros)
        extracted = _extract(zeros, win, 0.0)
    return tape.gradient(extracted, zeros, output_gradients=cells)


def _first_max(cells: tf.Tensor, win: Windows) -> tuple[tf.Tensor, tf.Tensor]:
    """``(one_hot, max)`` over each window: ``one_hot`` is 1.0 at the first
    maximum in row-major order inside the window; ``max`` keeps the window
    axes (size 1)."""
    axes = win.cell_axes
    top = tf.reduce_max(cells, axis=axes, keepdims=True)
    if win.tiles:
        position = tf.zeros([], tf.int32)
        for axis, pool in zip(axes, win.pool_size):
            shape = [1] * cells.shape.rank
            shape[axis] = pool
            position = position * pool + tf.reshape(tf.range(pool), shape)
        size = tf.constant(int(np.prod(win.pool_size)), tf.int32)
    else:
        size = tf.shape(cells)[-2]
        position = tf.reshape(tf.range(size), [-1, 1])
    first = tf.reduce_min(tf.where(tf.equal(cells, top), position, size), axis=axes,
                          keepdims=True)
    return tf.cast(tf.equal(position, first), cells.dtype), top


def _credits(x, x0, win: Windows):
    """Per window cell, the credit it receives (cell layout: at most one
    non-zero cell per window), the two one-hots and ``max(x) - max(x0)``."""
    on_x, max_x = _first_max(_extract(x, win, float("-inf")), win)
    on_ref, max_ref = _first_max(_extract(x0, win, float("-inf")), win)
    diff = max_x - max_ref
    return tf.nn.relu(diff) * on_x + tf.minimum(diff, 0.0) * on_ref, on_x, on_ref, diff


def _safe_inverse(dx):
    """``1 / dx``, 0 where ``|dx| < 1e-7``."""
    near_zero = tf.abs(dx) < NEAR_ZERO_THRESHOLD
    return tf.where(near_zero, tf.zeros_like(dx), 1.0 / tf.where(near_zero, tf.ones_like(dx), dx))


@fused
def cross_max_multipliers(mxts, x, x0, rows, win: Windows):
    """Multipliers on the pool's input.

    Args:
        mxts: ``(T, N, *out, C)`` multipliers on the pool's output (both
            streams may be stacked along ``T``).
        x: ``(N, *in, C)``, or ``(M, *in, C)`` gathered by ``rows``.
        x0: ``(N, *in, C)`` or ``(1, *in, C)``.
        rows: None or int32 ``(N,)`` (see ``graph.ForwardPass``).
        win: the window geometry.

    Returns:
        ``(T, N, *in, C)``.
    """
    if rows is not None:
        x = tf.gather(x, rows)
    credit, _, _, _ = _credits(x, x0, win)
    num_tasks = tf.shape(mxts)[0]
    spread = tf.reshape(mxts, tf.concat([tf.shape(mxts)[:2], win.window_shape()], 0))
    weighted = spread * credit[None]
    flat = tf.reshape(weighted, tf.concat([[-1], tf.shape(credit)[1:]], 0))
    dx = x - x0
    summed = _scatter(flat, dx, win)
    summed = tf.reshape(summed, tf.concat([[num_tasks], tf.shape(dx)], 0))
    return summed * _safe_inverse(dx)[None]


@fused
def cross_max_parts(x, x0, pos_in, neg_in, rows, win: Windows):
    """Positive and negative parts of the pool's output, one value per
    window in the cell layout (``Windows.window_shape``; reshape to the
    output's shape): per window, ``r = credit / dx`` times the credited
    element's input parts (they sum to ``max(x) - max(x0)``)."""
    if rows is not None:
        x = tf.gather(x, rows)
    _, on_x, on_ref, diff = _credits(x, x0, win)
    inverse = _safe_inverse(x - x0)

    def gathered(part):
        cells = _extract(part * inverse, win, 0.0)
        at_x = tf.reduce_sum(cells * on_x, axis=win.cell_axes, keepdims=True)
        at_ref = tf.reduce_sum(cells * on_ref, axis=win.cell_axes, keepdims=True)
        return tf.nn.relu(diff) * at_x + tf.minimum(diff, 0.0) * at_ref

    return gathered(pos_in), gathered(neg_in)
