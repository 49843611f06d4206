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

import itertools
import math

import tensorflow as tf

#: |dx| below which the rescale factor dy/dx is replaced by f'(x0).
NEAR_ZERO_THRESHOLD = 1e-7


def quiet_tracing(function):
    """Turns off TensorFlow's "frequent retracing" warning for ``function``.

    That warning counts traces per Python code object, so functions traced
    once per layer by design (the kernels here), or one scoring function per
    model that each trace once, look like a retracing problem and print
    warnings users cannot act on. The flag is private to ``tf.function``;
    without it the warning simply stays on.
    """
    if hasattr(function, "_omit_frequent_tracing_warning"):
        function._omit_frequent_tracing_warning = True
    return function


def fused(function):
    """An XLA-compiled ``tf.function`` (see the module docstring)."""
    return quiet_tracing(tf.function(function, jit_compile=True, autograph=False,
                                     reduce_retracing=True))


def _rescale_factor_body(x, x0, y, y0, grad):
    """The shared body of the two rescale-factor kernels below."""
    dx = x - x0
    near_zero = tf.abs(dx) < NEAR_ZERO_THRESHOLD
    safe_dx = tf.where(near_zero, tf.ones_like(dx), dx)
    return tf.where(near_zero, grad(x0), (y - y0) / safe_dx)


@fused
def rescale_factor(x, x0, y, y0, grad):
    """``s = (y - y0) / (x - x0)``, or ``grad(x0)`` where ``|x - x0| < 1e-7``."""
    return _rescale_factor_body(x, x0, y, y0, grad)


@fused
def rescale_factor_of_rows(x, x0, y, y0, rows, grad):
    """``rescale_factor`` of ``tf.gather(x, rows)`` and ``tf.gather(y, rows)``
    (see ``graph.ForwardPass``'s shared rows), gathering inside the loop."""
    return _rescale_factor_body(tf.gather(x, rows), x0, tf.gather(y, rows), y0, grad)


@fused
def reveal_cancel_parts(x0, pos_in, neg_in, fn):
    """RevealCancel's split of ``f(x) - f(x0)`` into (dy+, dy-), evaluated at
    the exact parts: the two halves sum to ``f(x0 + p + n) - f(x0)`` and a
    part that is exactly 0 gives an output part that is exactly 0."""
    return _reveal_cancel_parts_body(x0, pos_in, neg_in, fn)


def _reveal_cancel_parts_body(x0, pos_in, neg_in, fn):
    f_ref = fn(x0)
    f_pos = fn(x0 + pos_in)
    f_neg = fn(x0 + neg_in)
    f_both = fn(x0 + pos_in + neg_in)
    return (0.5 * ((f_pos - f_ref) + (f_both - f_neg)),
            0.5 * ((f_neg - f_ref) + (f_both - f_pos)))


def nudge_from_zero(t):
    """Adds ±1e-7 (keeping the sign; + at 0 and -0) where ``|t| < 0.5e-7``."""
    tiny = tf.abs(t) < 0.5 * NEAR_ZERO_THRESHOLD
    step = tf.where(t >= 0, NEAR_ZERO_THRESHOLD, -NEAR_ZERO_THRESHOLD)
    return t + tf.where(tiny, step, tf.zeros_like(t))


def _in_float64(fn, args):
    """``fn`` of each float32 tensor in ``args``, evaluated in float64 when
    ``fn`` accepts float64 (all built-in activations do), else in float32."""
    try:
        return [fn(tf.cast(a, tf.float64)) for a in args]
    except (TypeError, ValueError):
        return [tf.cast(fn(a), tf.float64) for a in args]


@fused
def reveal_cancel_slopes(x0, pos_in, neg_in, fn):
    """``(dy+ / p, dy- / n)``: RevealCancel's multiplier ratios.

    ``p`` and ``n`` are nudged away from zero *before* ``dy+`` and ``dy-``
    are evaluated (SEMANTICS.md; the original package does the same), so a
    part that is exactly 0 gets the secant over a 1e-7 step, the one-sided
    limit slope, instead of ``0 / 1e-7 = 0``.

    The points ``f`` is evaluated at are formed in float32 in the original's
    order (``(x0 + n) + p`` for ``dy+``, ``(x0 + p) + n`` for ``dy-``), so
    ``x0 + 1e-7`` rounds as it did there; ``f`` and the differences are then
    taken in float64: a 1e-7 secant of float32 values of a smooth ``f``
    would be mostly rounding noise (piecewise-linear functions such as ReLU
    give the original's float32 numbers either way).
    """
    return _reveal_cancel_slopes_body(x0, pos_in, neg_in, fn)


def _reveal_cancel_slopes_body(x0, pos_in, neg_in, fn):
    p = nudge_from_zero(pos_in)
    n = nudge_from_zero(neg_in)
    f_ref, f_pos, f_neg, f_np, f_pn = _in_float64(
        fn, [x0, x0 + p, x0 + n, (x0 + n) + p, (x0 + p) + n])
    dy_pos = 0.5 * ((f_pos - f_ref) + (f_np - f_neg))
    dy_neg = 0.5 * ((f_neg - f_ref) + (f_pn - f_pos))
    return (tf.cast(dy_pos / tf.cast(p, tf.float64), tf.float32),
            tf.cast(dy_neg / tf.cast(n, tf.float64), tf.float32))


@fused
def reveal_cancel_forward(x0, pos_in, neg_in, fn):
    """RevealCancel's whole forward work on one nonlinearity in one loop:
    ``(dy+, dy-, dy+ + dy-, dy+ / p, dy- / n)``, the parts and their sum as
    ``reveal_cancel_parts`` and the two slopes as ``reveal_cancel_slopes``
    (same formulas, same rounding). The backward pass then only scales the
    multiplier streams by the slopes, instead of reading the input parts
    again to re-evaluate ``f`` at the same points. (Deriving the parts from
    the slopes' float64 values of ``f`` instead measured slower on CPU.)"""
    dy_pos, dy_neg = _reveal_cancel_parts_body(x0, pos_in, neg_in, fn)
    slope_pos, slope_neg = _reveal_cancel_slopes_body(x0, pos_in, neg_in, fn)
    return dy_pos, dy_neg, dy_pos + dy_neg, slope_pos, slope_neg


@fused
def sum_and_difference(pos, neg):
    """``(m+ + m-, m+ - m-)``: the inputs of the two-stream linear transpose."""
    return pos + neg, pos - neg


@fused
def scaled_sum_and_difference(pos, neg, scale):
    """``sum_and_difference`` of the streams ``scale_parts_by_sign(pos, neg,
    scale)``, which is ``(scale (m+ + m-), |scale| (m+ - m-))``: a
    per-channel scale's transpose and the linear layer's split in one loop."""
    return (pos + neg) * scale, (pos - neg) * tf.abs(scale)


@fused
def sloped_sum_and_difference(pos, neg, slope_pos, slope_neg, scale):
    """``scaled_sum_and_difference`` of RevealCancel's scaled streams
    ``(m+ * slope+, m- * slope-)``: activation, per-channel scale and the
    linear layer's split in one loop (``scale = 1.0`` without a scale)."""
    return scaled_sum_and_difference.python_function(pos * slope_pos, neg * slope_neg, scale)


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


@fused
def split_by_spread_scaled(net, spread, scale):
    """``split_by_spread(scale * net, |scale| * spread)``: the parts of
    ``scale * (W dx)`` for a per-channel ``scale`` (a BatchNormalization after
    a convolution), which are the parts of the linear map ``scale * W``,
    in one loop instead of splitting and then scaling with a sign swap."""
    scaled_net = net * scale
    scaled_spread = spread * tf.abs(scale)
    return (scaled_net + scaled_spread) * 0.5, (scaled_net - scaled_spread) * 0.5


@fused
def overlap_add_taps(taps, in_spatial: tuple, out_spatial: tuple, kernel_size: tuple,
                     pad_before: tuple, dilation: tuple):
    """Second half of a stride-1 transposed convolution (1 to 3 spatial axes).

    ``taps[r, *i, k, c]`` (shape ``(R, *out_spatial, K, C)``, ``k`` the
    row-major index of a kernel tap ``(k_1, ..., k_d)``) is output position
    ``i``'s multiplier carried back through that tap to input channel ``c``;
    input position ``j`` collects, per axis, ``taps`` at
    ``i = j + pad_before - k * dilation`` over the positions ``i`` that exist.
    Returns ``(R, *in_spatial, C)``. The sizes are Python ints because
    ``reduce_retracing`` may trace ``taps`` with unknown dimensions.
    """
    rank = len(in_spatial)
    total = None
    row_major_taps = itertools.product(*(range(size) for size in kernel_size))
    for tap_index, tap in enumerate(row_major_taps):
        index, paddings = [slice(None)], [[0, 0]]
        for axis in range(rank):
            shift = pad_before[axis] - tap[axis] * dilation[axis]  # j reads j + shift
            first = max(0, -shift)
            stop = min(in_spatial[axis], out_spatial[axis] - shift)
            index.append(slice(first + shift, max(stop, first) + shift))
            paddings.append([first, in_spatial[axis] - max(stop, first)])
        index += [tap_index, slice(None)]
        paddings.append([0, 0])
        if any(sl.stop <= sl.start for sl in index[1:rank + 1]):
            continue
        term = tf.pad(taps[tuple(index)], paddings)
        total = term if total is None else total + term
    if total is None:
        return tf.zeros(tf.concat([tf.shape(taps)[:1], list(in_spatial), tf.shape(taps)[-1:]], 0))
    return total


@fused
def route_to_first_max(mxts, x, rows, pool_size: tuple, spatial: tuple, channels: int):
    """Max-pool multipliers onto the pool's input, for windows that tile the
    input (strides = pool size, no padding; a tail shorter than a window
    gets nothing), channels_last, 1 to 3 spatial axes.

    Each multiplier goes to the first maximum (row-major order inside the
    window) of its window of ``x``, as TensorFlow's max-pool gradient sends
    it. ``mxts`` is ``(T, N, *windows, C)``, ``x`` is ``(N, *spatial, C)``
    or, with ``rows`` (int32 ``(N,)``, see ``graph.ForwardPass``),
    ``(M, *spatial, C)`` gathered by ``rows``. Returns
    ``(T, N, *spatial, C)``. One pass over ``x`` serves all ``T`` tasks,
    where the gradient op would run the pool once per task. The sizes are
    Python ints because ``reduce_retracing`` may trace with unknown
    dimensions.
    """
    if rows is not None:
        x = tf.gather(x, rows)
    rank = len(pool_size)
    windows = [size // pool for size, pool in zip(spatial, pool_size)]
    covered = [w * pool for w, pool in zip(windows, pool_size)]
    cells = x[(slice(None),) + tuple(slice(0, c) for c in covered)]
    # (N, w1, p1, ..., wk, pk, C): window index and offset inside it per axis
    split = [-1] + [d for w, pool in zip(windows, pool_size) for d in (w, pool)] + [channels]
    cells = tf.reshape(cells, split)
    inside = tuple(range(2, 2 * rank + 1, 2))
    is_max = tf.equal(cells, tf.reduce_max(cells, axis=inside, keepdims=True))
    offset = tf.zeros([], tf.int32)
    for axis, pool in enumerate(pool_size):   # row-major offset inside the window
        shape = [1] * (2 * rank + 2)
        shape[2 + 2 * axis] = pool
        offset = offset * pool + tf.reshape(tf.range(pool), shape)
    first = tf.reduce_min(tf.where(is_max, offset, math.prod(pool_size)), axis=inside,
                          keepdims=True)
    spread = tf.reshape(mxts, tf.concat(
        [tf.shape(mxts)[:2], [d for w in windows for d in (w, 1)] + [channels]], 0))
    routed = tf.where(tf.equal(offset, first)[None], spread, 0.0)
    routed = tf.reshape(routed, tf.concat([tf.shape(mxts)[:2], covered + [channels]], 0))
    return tf.pad(routed, [[0, 0], [0, 0]] + [[0, s - c] for s, c in zip(spatial, covered)]
                  + [[0, 0]])


@fused
def scale_parts_by_sign(pos, neg, scale):
    """``(pos, neg) * scale`` for a per-channel linear map ``y = scale * x``
    (BatchNormalization, ScaleShift, LayerScale): where ``scale < 0`` (or
    is 0) the two parts, or the two multiplier streams, swap roles. One
    loop instead of two broadcast selects and two products per stream."""
    keeps_sign = scale > 0
    return tf.where(keeps_sign, pos, neg) * scale, tf.where(keeps_sign, neg, pos) * scale


@fused
def affine(x, scale, shift):
    """``x * scale + shift`` (broadcast) in one loop: the forward pass of
    BatchNormalization and ScaleShift."""
    return x * scale + shift


@fused
def rescale_and_scale(mxts, x, x0, y, y0, scale, grad):
    """``mxts * rescale_factor(x, x0, y, y0) * scale``: a multiplier through
    a Rescale nonlinearity and then a per-channel scale (BatchNormalization's
    transpose), in one loop that also forms the factor."""
    return mxts * (_rescale_factor_body(x, x0, y, y0, grad) * scale)


@fused
def scale_streams(pos, neg, slope_pos, slope_neg):
    """``(pos * slope_pos, neg * slope_neg)``: the two multiplier streams
    through RevealCancel's slopes, in one loop."""
    return pos * slope_pos, neg * slope_neg
