"""Test helpers: independent references for DeepLIFT numbers.

Nothing here calls the library to obtain an *expected* value. The pieces are

* numpy versions of the nonlinearities and their derivatives;
* naive (loop) numpy convolution / pooling / padding / cropping, written from
  the TensorFlow/Keras definitions, and ``linear_matrix`` which turns any
  linear numpy map into its matrix;
* ``np_deeplift``: a small numpy implementation of the rules of
  ``SEMANTICS.md`` for a chain of operations on flattened examples;
* ``run_lowlevel``: runs a chain of library layers through the low-level
  ``compile_func`` API and returns every quantity of every layer;
* ``Twin``: builds the same network twice, as DeepLIFT layers and as a Keras
  functional model (with identical weights), so that forward values and
  ``t(x) - t(x0)`` come from Keras, and gradients from ``tf.GradientTape``;
* random network builders and ``assert_sums_to_delta``.
"""
from __future__ import annotations

import math

import numpy as np

import deeplift.layers as L
from deeplift.modes import NonlinearMxtsMode, ScoringMode
from deeplift.util import compile_func

M = NonlinearMxtsMode
NEAR_ZERO = 1e-7

# ---------------------------------------------------------------------------
# numpy nonlinearities: (f, f')
# ---------------------------------------------------------------------------


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def np_relu_general(max_value=None, negative_slope=0.0, threshold=0.0):
    """Keras' ReLU(max_value, negative_slope, threshold) and its derivative
    (derivative at the kinks: the slope on the left, as TensorFlow)."""

    def f(x):
        y = np.where(x >= threshold, x, negative_slope * (x - threshold))
        if max_value is not None:
            y = np.where(x >= max_value, max_value, y)
        return y

    def g(x):
        d = np.where(x > threshold, 1.0, negative_slope)
        if max_value is not None:
            d = np.where(x >= max_value, 0.0, d)
        return d

    return f, g


def np_prelu(alpha):
    alpha = np.asarray(alpha, dtype=np.float64)
    return (lambda x: np.where(x > 0, x, alpha * x),
            lambda x: np.where(x > 0, 1.0, alpha * np.ones_like(x)))


def np_elu(alpha=1.0):
    return (lambda x: np.where(x > 0, x, alpha * (np.exp(np.minimum(x, 0)) - 1)),
            lambda x: np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0))))


def np_hard_sigmoid(slope=0.2, offset=0.5):
    return (lambda x: np.clip(slope * x + offset, 0.0, 1.0),
            lambda x: np.where((slope * x + offset > 0) & (slope * x + offset < 1), slope, 0.0))


NP_ACTS = {
    "relu": np_relu_general(),
    "sigmoid": (np_sigmoid, lambda x: np_sigmoid(x) * (1 - np_sigmoid(x))),
    "tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    "softplus": (lambda x: np.logaddexp(0.0, x), np_sigmoid),
    "elu": np_elu(1.0),
}


def softmax_vjp(x, m):
    """J_softmax(x)^T m on the last axis (exact Jacobian)."""
    y = np_softmax(x)
    return y * (m - (m * y).sum(axis=-1, keepdims=True))


# ---------------------------------------------------------------------------
# naive numpy layer ops (channels_last, leading batch axis)
# ---------------------------------------------------------------------------


def _tuple(v, rank):
    return (v,) * rank if isinstance(v, int) else tuple(v)


def same_padding(size, window, stride):
    """TensorFlow's SAME: output ceil(size/stride), padding split with the
    smaller half before."""
    out = -(-size // stride)
    total = max((out - 1) * stride + window - size, 0)
    return out, total // 2


def np_conv(x, kernel, bias=None, strides=1, padding="valid", dilation=1):
    """Cross-correlation as tf.nn.convolution / keras ConvND (channels_last)."""
    x = np.asarray(x, np.float64)
    kernel = np.asarray(kernel, np.float64)
    rank = kernel.ndim - 2
    strides, dilation = _tuple(strides, rank), _tuple(dilation, rank)
    spatial = x.shape[1:-1]
    eff = [(kernel.shape[i] - 1) * dilation[i] + 1 for i in range(rank)]
    if padding.lower() == "same":
        outs, befores = zip(*[same_padding(spatial[i], eff[i], strides[i]) for i in range(rank)])
    else:
        outs = [(spatial[i] - eff[i]) // strides[i] + 1 for i in range(rank)]
        befores = [0] * rank
    padded_shape = [max(spatial[i], (outs[i] - 1) * strides[i] + eff[i]) + befores[i]
                    for i in range(rank)]
    xp = np.zeros((x.shape[0], *padded_shape, x.shape[-1]))
    xp[(slice(None),) + tuple(slice(b, b + s) for b, s in zip(befores, spatial))] = x
    y = np.zeros((x.shape[0], *outs, kernel.shape[-1]))
    for o in np.ndindex(*outs):
        for k in np.ndindex(*kernel.shape[:rank]):
            pos = tuple(o[i] * strides[i] + k[i] * dilation[i] for i in range(rank))
            y[(slice(None),) + o] += xp[(slice(None),) + pos] @ kernel[k]
    if bias is not None:
        y = y + np.asarray(bias, np.float64)
    return y


def _pool_windows(spatial, pool, strides, padding):
    rank = len(spatial)
    if padding.lower() == "same":
        outs, befores = zip(*[same_padding(spatial[i], pool[i], strides[i]) for i in range(rank)])
    else:
        outs = [(spatial[i] - pool[i]) // strides[i] + 1 for i in range(rank)]
        befores = [0] * rank
    windows = []
    for o in np.ndindex(*outs):
        lo = [max(o[i] * strides[i] - befores[i], 0) for i in range(rank)]
        hi = [min(o[i] * strides[i] - befores[i] + pool[i], spatial[i]) for i in range(rank)]
        windows.append((o, lo, hi))
    return tuple(outs), windows


def np_pool(x, pool, strides=None, padding="valid", kind="max"):
    """Max / average pooling; padded cells are ignored (never the max, not
    counted in the mean), as TensorFlow and Keras do."""
    x = np.asarray(x, np.float64)
    rank = x.ndim - 2
    pool = _tuple(pool, rank)
    strides = pool if strides is None else _tuple(strides, rank)
    outs, windows = _pool_windows(x.shape[1:-1], pool, strides, padding)
    y = np.zeros((x.shape[0], *outs, x.shape[-1]))
    for o, lo, hi in windows:
        cells = x[(slice(None),) + tuple(slice(a, b) for a, b in zip(lo, hi))]
        cells = cells.reshape(x.shape[0], -1, x.shape[-1])
        y[(slice(None),) + o] = cells.max(axis=1) if kind == "max" else cells.mean(axis=1)
    return y


def np_maxpool_backward(x, m, pool, strides=None, padding="valid"):
    """Routes each multiplier to the first maximum (row-major order inside
    the window) of the actual input ``x``; overlapping windows accumulate."""
    x = np.asarray(x, np.float64)
    rank = x.ndim - 2
    pool = _tuple(pool, rank)
    strides = pool if strides is None else _tuple(strides, rank)
    _, windows = _pool_windows(x.shape[1:-1], pool, strides, padding)
    grad = np.zeros(x.shape)
    for o, lo, hi in windows:
        shape = tuple(b - a for a, b in zip(lo, hi))
        cells = x[(slice(None),) + tuple(slice(a, b) for a, b in zip(lo, hi))]
        cells = cells.reshape(x.shape[0], -1, x.shape[-1])
        first = cells.argmax(axis=1)  # numpy: first occurrence
        for n in range(x.shape[0]):
            for c in range(x.shape[-1]):
                pos = tuple(a + i for a, i in zip(lo, np.unravel_index(first[n, c], shape)))
                grad[(n,) + pos + (c,)] += m[(n,) + o + (c,)]
    return grad


def np_pad(x, pairs):
    """Zero padding of the spatial axes (channels_last)."""
    return np.pad(x, [(0, 0)] + [tuple(p) for p in pairs] + [(0, 0)])


def np_crop(x, pairs):
    sl = tuple(slice(a, x.shape[i + 1] - b) for i, (a, b) in enumerate(pairs))
    return x[(slice(None),) + sl + (slice(None),)]


def linear_matrix(fn, in_shape):
    """Matrix ``J`` (out, in) and offset of an affine numpy map on one
    example of shape ``in_shape`` (flattened in C order)."""
    size = int(np.prod(in_shape))
    basis = np.eye(size).reshape((size,) + tuple(in_shape))
    offset = np.asarray(fn(np.zeros((1,) + tuple(in_shape))), np.float64).reshape(-1)
    columns = np.asarray(fn(basis), np.float64).reshape(size, -1) - offset
    return columns.T, offset


# ---------------------------------------------------------------------------
# numpy reference DeepLIFT (SEMANTICS.md) on a chain of ops
# ---------------------------------------------------------------------------


def op_linear(J, b=None):
    """Dense/convolution: parts from the sign of the input's difference."""
    return {"kind": "linear", "J": np.asarray(J, np.float64),
            "b": 0.0 if b is None else np.asarray(b, np.float64)}


def op_routing(J):
    """Non-negative linear map applied to both parts (pooling, padding...)."""
    return {"kind": "routing", "J": np.asarray(J, np.float64)}


def op_scale(scale, shift):
    """Per-element affine map with sign swap (BatchNormalization)."""
    return {"kind": "scale", "s": np.asarray(scale, np.float64),
            "shift": np.asarray(shift, np.float64)}


def op_act(f, g, mode, vjp=None):
    """Nonlinearity ``f`` with derivative ``g`` (``vjp`` for non-element-wise
    functions such as softmax)."""
    return {"kind": "act", "f": f, "g": g, "mode": NonlinearMxtsMode(mode), "vjp": vjp}


def op_maxpool(in_shape, pool, strides=None, padding="valid"):
    return {"kind": "maxpool", "in_shape": tuple(in_shape), "pool": pool,
            "strides": strides, "padding": padding}


def op_globalmax(in_shape):
    """Global max over the spatial axes of ``in_shape`` (channels last):
    every maximum gets the full multiplier."""
    return {"kind": "globalmax", "in_shape": tuple(in_shape)}



def reveal_cancel_slopes(f, r, p, q):
    """RevealCancel's ``(dy+ / p', dy- / n')`` with ``p' = nudge(p)``,
    ``n' = nudge(q)`` put in *before* ``f`` is evaluated (SEMANTICS.md).

    The evaluation points are formed in float32 in the original's order
    (``(r + n') + p'`` for dy+, ``(r + p') + n'`` for dy-), because whether
    ``r + 1e-7`` rounds up or down in float32 decides the secant; ``f`` and
    the differences are then float64.
    """
    r, p, q = (np.asarray(v, np.float32) for v in (r, p, q))
    pn, nn = _nudge32(p), _nudge32(q)
    f_ref, f_pos, f_neg, f_np, f_pn = (
        f(np.asarray(a, np.float32).astype(np.float64))
        for a in (r, r + pn, r + nn, (r + nn) + pn, (r + pn) + nn))
    dy_pos = 0.5 * ((f_pos - f_ref) + (f_np - f_neg))
    dy_neg = 0.5 * ((f_neg - f_ref) + (f_pn - f_pos))
    return dy_pos / pn.astype(np.float64), dy_neg / nn.astype(np.float64)


def _nudge32(t):
    step = np.float32(NEAR_ZERO)
    tiny = np.abs(t) < np.float32(0.5 * NEAR_ZERO)
    return (t + np.where(tiny, np.where(t >= 0, step, -step), np.float32(0))).astype(np.float32)


def _rescale(dx, dy, slope_at_ref):
    near = np.abs(dx) < NEAR_ZERO
    return np.where(near, np.broadcast_to(slope_at_ref, dx.shape),
                    dy / np.where(near, 1.0, dx))


def np_deeplift(ops, x, x0, task):
    """DeepLIFT on a chain of ops, in float64.

    Args:
        ops: list of ``op_*`` dicts; the last op's output is the target layer.
        x: inputs ``(N, ...)``; x0: references broadcastable to ``x``.
        task: flat index of the target neuron.

    Returns:
        A list with one dict per level (0 = input, k = output of ops[k-1]),
        keys act, ref, pos, neg (parts), mpos, mneg, mxts, contribs; all
        arrays flattened to ``(N, d)``.
    """
    x = np.asarray(x, np.float64)
    n = x.shape[0]
    x0 = np.broadcast_to(np.asarray(x0, np.float64), x.shape)
    a, r = x.reshape(n, -1), x0.reshape(n, -1)
    dx = a - r
    levels = [{"act": a, "ref": r, "pos": np.maximum(dx, 0), "neg": np.minimum(dx, 0)}]
    for op in ops:
        prev = levels[-1]
        a, r, p, q = prev["act"], prev["ref"], prev["pos"], prev["neg"]
        kind = op["kind"]
        if kind == "linear":
            J, b = op["J"], op["b"]
            Jp, Jn = J * (J > 0), J * (J < 0)
            d = a - r
            dp, dn = np.maximum(d, 0), np.minimum(d, 0)
            out = {"act": a @ J.T + b, "ref": r @ J.T + b,
                   "pos": dp @ Jp.T + dn @ Jn.T, "neg": dp @ Jn.T + dn @ Jp.T}
        elif kind == "routing":
            J = op["J"]
            out = {"act": a @ J.T, "ref": r @ J.T, "pos": p @ J.T, "neg": q @ J.T}
        elif kind == "scale":
            s, sh = op["s"], op["shift"]
            out = {"act": a * s + sh, "ref": r * s + sh,
                   "pos": np.where(s > 0, p, q) * s, "neg": np.where(s > 0, q, p) * s}
        elif kind == "act":
            f, g = op["f"], op["g"]
            ya, yr = f(a), f(r)
            if op["mode"] == M.RevealCancel:
                pos = 0.5 * ((f(r + p) - f(r)) + (f(r + p + q) - f(r + q)))
                neg = 0.5 * ((f(r + q) - f(r)) + (f(r + p + q) - f(r + p)))
            else:
                s = _rescale(a - r, ya - yr, g(r))
                pos, neg = p * s, q * s
            out = {"act": ya, "ref": yr, "pos": pos, "neg": neg}
        elif kind in ("maxpool", "globalmax"):
            shape = op["in_shape"]

            def fwd(v, op=op, shape=shape):
                v = v.reshape((v.shape[0],) + shape)
                if op["kind"] == "maxpool":
                    return np_pool(v, op["pool"], op["strides"], op["padding"], "max").reshape(v.shape[0], -1)
                return v.reshape(v.shape[0], -1, shape[-1]).max(axis=1)

            ya, yr = fwd(a), fwd(r)
            out = {"act": ya, "ref": yr, "pos": np.maximum(ya - yr, 0), "neg": np.minimum(ya - yr, 0)}
        else:
            raise ValueError(kind)
        levels.append(out)

    size = levels[-1]["act"].shape[1]
    mp = mn = np.broadcast_to(np.eye(size)[task], (n, size)).astype(np.float64)
    levels[-1]["mpos"], levels[-1]["mneg"] = mp, mn
    for k in range(len(ops) - 1, -1, -1):
        op, lin, lout = ops[k], levels[k], levels[k + 1]
        kind = op["kind"]
        a, r = lin["act"], lin["ref"]
        if kind == "linear":
            J = op["J"]
            Jp, Jn = J * (J > 0), J * (J < 0)
            d = a - r
            inc = np.where(d > 0, mp @ Jp + mn @ Jn,
                           np.where(d < 0, mp @ Jn + mn @ Jp, 0.5 * (mp + mn) @ J))
            mp = mn = inc
        elif kind == "routing":
            mp, mn = mp @ op["J"], mn @ op["J"]
        elif kind == "scale":
            s = op["s"]
            mp, mn = np.where(s > 0, mp, mn) * s, np.where(s > 0, mn, mp) * s
        elif kind == "act":
            mode, f, g, vjp = op["mode"], op["f"], op["g"], op["vjp"]
            if vjp is None:
                vjp = lambda xx, mm, g=g: g(xx) * mm  # noqa: E731
            s = _rescale(a - r, lout["act"] - lout["ref"], g(r))
            gate = (mp > 0).astype(np.float64)
            if mode == M.Rescale:
                mp, mn = s * mp, s * mn
            elif mode == M.RevealCancel:
                slope_pos, slope_neg = reveal_cancel_slopes(f, r, lin["pos"], lin["neg"])
                mp, mn = mp * slope_pos, mn * slope_neg
            elif mode == M.Gradient:
                mp, mn = vjp(a, mp), vjp(a, mn)
            elif mode == M.GuidedBackprop:
                mp, mn = vjp(a, gate * mp), vjp(a, gate * mn)
            elif mode == M.GuidedBackpropRescale:
                mp, mn = s * gate * mp, s * gate * mn
            elif mode == M.DeconvNet:
                mp, mn = f(mp), f(mn)
            elif mode == M.PassThrough:
                pass
            else:
                raise ValueError(mode)
        elif kind == "maxpool":
            shape = op["in_shape"]
            out_shape = (n,) + np_pool(np.zeros((1,) + shape), op["pool"], op["strides"],
                                       op["padding"]).shape[1:]
            route = lambda m, op=op, shape=shape: np_maxpool_backward(  # noqa: E731
                a.reshape((n,) + shape), m.reshape(out_shape), op["pool"], op["strides"],
                op["padding"]).reshape(n, -1)
            mp, mn = route(mp), route(mn)
        elif kind == "globalmax":
            shape = op["in_shape"]
            v = a.reshape(n, -1, shape[-1])
            is_max = (v == v.max(axis=1, keepdims=True)).astype(np.float64)
            mp = (is_max * mp[:, None, :]).reshape(n, -1)
            mn = (is_max * mn[:, None, :]).reshape(n, -1)
        lin["mpos"], lin["mneg"] = mp, mn
    for level in levels:
        level["mxts"] = 0.5 * (level["mpos"] + level["mneg"])
        level["contribs"] = level["mpos"] * level["pos"] + level["mneg"] * level["neg"]
    return levels


# ---------------------------------------------------------------------------
# running library layers
# ---------------------------------------------------------------------------

QUANTITIES = ("act", "ref", "mxts", "pos_mxts", "neg_mxts", "contribs")


def chain(*layers):
    """Connects ``layers`` in order (each to the previous one) and returns them."""
    for previous, layer in zip(layers[:-1], layers[1:]):
        layer.set_inputs(previous)
    return list(layers)


def run_lowlevel(layers, x, ref, task, target=None, inputs=None):
    """Every quantity of every layer in ``layers`` via the low-level API.

    ``layers[0]`` must be the (single) Input unless ``inputs`` is given;
    ``target`` defaults to ``layers[-1]``. Returns one dict per layer with
    the keys of ``QUANTITIES``.
    """
    target = layers[-1] if target is None else target
    inp = layers[0] if inputs is None else inputs
    target.set_scoring_mode(ScoringMode.OneAndZeros)
    outs = []
    for layer in layers:
        outs += [layer.get_activation_vars(), layer.get_reference_vars(), layer.get_mxts(),
                 layer.get_pos_mxts(), layer.get_neg_mxts(), layer.get_target_contrib_vars()]
    fn = compile_func([inp.get_activation_vars(), inp.get_reference_vars()], outs)
    target.set_active()
    target.update_task_index(task)
    res = fn([np.asarray(x, np.float32), np.asarray(ref, np.float32)])
    k = len(QUANTITIES)
    return [dict(zip(QUANTITIES, res[k * i:k * i + k])) for i in range(len(layers))]


def flat(a):
    a = np.asarray(a)
    return a.reshape(a.shape[0], -1)


def compare_chain(lib_layers, ops, x, ref, task, atol=2e-5, rtol=2e-4,
                  quantities=QUANTITIES, skip=()):
    """Runs the library chain and the numpy reference and compares every
    quantity of every layer.

    ``ops`` aligns with ``lib_layers[1:]``; an entry ``None`` is an identity
    op (e.g. Flatten on channels_last data) and is skipped by the numpy side.
    ``skip``: (layer index, quantity) pairs not to compare.
    Returns (library results, numpy levels).
    """
    lib = run_lowlevel(lib_layers, x, ref, task)
    np_ops = [op for op in ops if op is not None]
    levels = np_deeplift(np_ops, x, ref, task)
    level = 0
    names = {"act": "act", "ref": "ref", "mxts": "mxts", "pos_mxts": "mpos",
             "neg_mxts": "mneg", "contribs": "contribs"}
    for i, layer in enumerate(lib_layers):
        if i > 0 and ops[i - 1] is not None:
            level += 1
        for q in quantities:
            if (i, q) in skip:
                continue
            got = flat(lib[i][q])
            want = levels[level][names[q]]
            want = np.broadcast_to(want, got.shape)
            np.testing.assert_allclose(
                got, want, atol=atol, rtol=rtol,
                err_msg=f"{q} of layer {i} ({type(layer).__name__})")
    return lib, levels


def compare_branches(cases, task, atol=2e-5, rtol=2e-4, quantities=QUANTITIES, skip=()):
    """Like ``compare_chain`` for several independent chains compiled as one
    function (one trace instead of one per case).

    Args:
        cases: list of ``(label, lib_layers, ops, x, ref)``; each
            ``lib_layers`` starts with its own Input and ends with a layer of
            the same shape in every case, all with the same number of examples (``ops`` None: not compared here).
            The ends are summed by an ``Add``
            target, so each chain receives the one-hot multipliers exactly as
            if its last layer were the target.
        skip: (label, layer index, quantity) triples not to compare.

    Returns:
        {label: (library results, numpy levels)}.
    """
    from deeplift.layers import Add

    target = Add()([layers[-1] for _, layers, _, _, _ in cases])
    target.set_scoring_mode(ScoringMode.OneAndZeros)
    in_vars, outs, arrays = [], [], []
    for _, layers, _, x, ref in cases:
        in_vars += [layers[0].get_activation_vars(), layers[0].get_reference_vars()]
        arrays += [np.asarray(x, np.float32), np.asarray(ref, np.float32)]
        for layer in layers:
            outs += [layer.get_activation_vars(), layer.get_reference_vars(), layer.get_mxts(),
                     layer.get_pos_mxts(), layer.get_neg_mxts(), layer.get_target_contrib_vars()]
    fn = compile_func(in_vars, outs)
    target.set_active()
    target.update_task_index(task)
    res = iter(fn(arrays))
    names = {"act": "act", "ref": "ref", "mxts": "mxts", "pos_mxts": "mpos",
             "neg_mxts": "mneg", "contribs": "contribs"}
    results = {}
    for label, layers, ops, x, ref in cases:
        lib = [dict(zip(QUANTITIES, [next(res) for _ in QUANTITIES])) for _ in layers]
        if ops is None:  # compared by the caller (e.g. a channels_first twin)
            results[label] = (lib, None)
            continue
        levels = np_deeplift([op for op in ops if op is not None], x, ref, task)
        level = 0
        for i, layer in enumerate(layers):
            if i > 0 and ops[i - 1] is not None:
                level += 1
            for q in quantities:
                if (label, i, q) in skip:
                    continue
                got = flat(lib[i][q])
                want = np.broadcast_to(levels[level][names[q]], got.shape)
                np.testing.assert_allclose(
                    got, want, atol=atol, rtol=rtol,
                    err_msg=f"case {label}: {q} of layer {i} ({type(layer).__name__})")
        results[label] = (lib, levels)
    return results


# ---------------------------------------------------------------------------
# summation to delta
# ---------------------------------------------------------------------------


def assert_sums_to_delta(contribs, out_x, out_ref, task, rtol=1e-4):
    """``sum(C) == t(x) - t(x0)`` per example, within ``rtol`` relative to
    ``max(1, |delta|)``.

    Args:
        contribs: an array ``(N, ...)`` or a list of them (several inputs).
        out_x, out_ref: the target layer's activations on inputs and on
            references, ``(N, ...)`` (computed independently, e.g. by Keras).
        task: flat target index.
    """
    if not isinstance(contribs, (list, tuple)):
        contribs = [contribs]
    total = sum(flat(c).astype(np.float64).sum(axis=1) for c in contribs)
    delta = flat(out_x)[:, task].astype(np.float64) - flat(out_ref)[:, task].astype(np.float64)
    tol = rtol * np.maximum(1.0, np.abs(delta))
    err = np.abs(total - delta)
    assert np.all(err <= tol), (
        f"summation-to-delta violated: max error {err.max():.3g} "
        f"(sum C={total}, delta={delta})")


# ---------------------------------------------------------------------------
# Twin networks: DeepLIFT layers + an equivalent Keras model
# ---------------------------------------------------------------------------

ACT_KINDS = ("relu", "prelu", "prelu_array", "elu", "sigmoid", "tanh", "softplus")


class Twin:
    """Builds a DeepLIFT layer graph and the same Keras functional model.

    Methods add one layer each (name, source name(s), options) and return the
    name. ``graph_model()`` and ``keras_model(output)`` give the two networks.
    """

    def __init__(self, rng):
        import keras

        self.keras = keras
        self.rng = rng
        self.dl = {}
        self.kt = {}
        self.input_names = []
        self._k_inputs = []

    # -- plumbing -----------------------------------------------------------
    def shape(self, name):
        return tuple(int(d) if d is not None else None for d in self.kt[name].shape[1:])

    def _add(self, name, dl_layer, k_layer, src, weights=None):
        if isinstance(src, (list, tuple)):
            dl_layer.set_inputs([self.dl[s] for s in src])
            out = k_layer([self.kt[s] for s in src])
        else:
            dl_layer.set_inputs(self.dl[src])
            out = k_layer(self.kt[src])
        if weights is not None:
            k_layer.set_weights([np.asarray(w, np.float32) for w in weights])
        self.dl[name] = dl_layer
        self.kt[name] = out
        return name

    def input(self, name, shape):
        self.dl[name] = L.Input(batch_shape=(None,) + tuple(shape), name=name)
        self.kt[name] = self.keras.Input(shape=tuple(shape), name=name)
        self.input_names.append(name)
        self._k_inputs.append(self.kt[name])
        return name

    def graph_model(self):
        from deeplift.models import GraphModel

        return GraphModel(self.dl, self.input_names)

    def keras_model(self, output):
        return self.keras.Model(self._k_inputs, self.kt[output])

    def predict(self, output, arrays):
        """Keras forward pass of layer ``output`` on a list of input arrays."""
        model = self.keras_model(output)
        return np.asarray(model([np.asarray(a, np.float32) for a in arrays], training=False))

    # -- layers ---------------------------------------------------------------
    def dense(self, name, src, units, bias=True):
        fan_in = self.shape(src)[-1]
        W = self.rng.normal(size=(fan_in, units)) / math.sqrt(fan_in)
        b = self.rng.normal(size=units) * 0.3 if bias else np.zeros(units)
        return self._add(name, L.Dense(kernel=W, bias=b, name=name),
                         self.keras.layers.Dense(units, name=name), src, [W, b])

    def conv(self, name, src, filters, kernel_size, strides=1, padding="valid",
             dilation=1, bias=True):
        in_shape = self.shape(src)
        rank = len(in_shape) - 1
        ks = _tuple(kernel_size, rank)
        fan_in = int(np.prod(ks)) * in_shape[-1]
        K = self.rng.normal(size=ks + (in_shape[-1], filters)) / math.sqrt(fan_in)
        b = self.rng.normal(size=filters) * 0.3 if bias else np.zeros(filters)
        dl_cls = {1: L.Conv1D, 2: L.Conv2D, 3: L.Conv3D}[rank]
        k_cls = {1: self.keras.layers.Conv1D, 2: self.keras.layers.Conv2D,
                 3: self.keras.layers.Conv3D}[rank]
        return self._add(
            name,
            dl_cls(kernel=K, bias=b, strides=strides, padding=padding,
                   dilation_rate=dilation, name=name),
            k_cls(filters, ks, strides=strides, padding=padding, dilation_rate=dilation, name=name),
            src, [K, b])

    def bn(self, name, src, eps=1e-3):
        c = self.shape(src)[-1]
        gamma = self.rng.uniform(0.5, 1.5, size=c) * np.where(np.arange(c) % 2 == 0, -1.0, 1.0)
        beta = self.rng.normal(size=c) * 0.3
        mean = self.rng.normal(size=c) * 0.3
        var = self.rng.uniform(0.5, 2.0, size=c)
        return self._add(
            name,
            L.BatchNormalization(gamma=gamma, beta=beta, axis=-1, mean=mean, var=var,
                                 epsilon=eps, name=name),
            self.keras.layers.BatchNormalization(axis=-1, epsilon=eps, name=name),
            src, [gamma, beta, mean, var])

    def act(self, name, src, kind, mode):
        kl = self.keras.layers
        if kind == "relu":
            pair = (L.ReLU(nonlinear_mxts_mode=mode, name=name), kl.ReLU(name=name), None)
        elif kind == "relu_general":
            kw = dict(max_value=1.5, negative_slope=0.1, threshold=-0.2)
            pair = (L.ReLU(nonlinear_mxts_mode=mode, name=name, **kw), kl.ReLU(name=name, **kw), None)
        elif kind == "prelu":
            pair = (L.PReLU(alpha=0.2, nonlinear_mxts_mode=mode, name=name),
                    kl.LeakyReLU(negative_slope=0.2, name=name), None)
        elif kind == "prelu_array":
            alpha = self.rng.uniform(0.05, 0.5, size=self.shape(src))
            pair = (L.PReLU(alpha=alpha, nonlinear_mxts_mode=mode, name=name),
                    kl.PReLU(name=name), [alpha])
        elif kind == "elu":
            pair = (L.ELU(alpha=1.0, nonlinear_mxts_mode=mode, name=name), kl.ELU(name=name), None)
        elif kind == "hard_sigmoid":
            pair = (L.HardSigmoid(slope=1.0 / 6.0, offset=0.5, nonlinear_mxts_mode=mode, name=name),
                    kl.Activation("hard_sigmoid", name=name), None)
        elif kind == "softmax":
            pair = (L.Softmax(nonlinear_mxts_mode=mode, name=name), kl.Softmax(name=name), None)
        else:
            cls = {"sigmoid": L.Sigmoid, "tanh": L.Tanh, "softplus": L.Softplus}[kind]
            pair = (cls(nonlinear_mxts_mode=mode, name=name), kl.Activation(kind, name=name), None)
        return self._add(name, pair[0], pair[1], src, pair[2])

    def _pool_classes(self, src, kind):
        rank = len(self.shape(src)) - 1
        kl = self.keras.layers
        table = {
            "avg": ({1: L.AvgPool1D, 2: L.AvgPool2D, 3: L.AvgPool3D},
                    {1: kl.AveragePooling1D, 2: kl.AveragePooling2D, 3: kl.AveragePooling3D}),
            "max": ({1: L.MaxPool1D, 2: L.MaxPool2D, 3: L.MaxPool3D},
                    {1: kl.MaxPooling1D, 2: kl.MaxPooling2D, 3: kl.MaxPooling3D}),
        }[kind]
        return table[0][rank], table[1][rank]

    def pool(self, name, src, kind, pool_size, strides=None, padding="valid"):
        dl_cls, k_cls = self._pool_classes(src, kind)
        return self._add(name, dl_cls(pool_size=pool_size, strides=strides, padding=padding, name=name),
                         k_cls(pool_size, strides=strides, padding=padding, name=name), src)

    def global_pool(self, name, src, kind):
        rank = len(self.shape(src)) - 1
        kl = self.keras.layers
        dl_cls = {("avg", 1): L.GlobalAvgPool1D, ("avg", 2): L.GlobalAvgPool2D,
                  ("max", 1): L.GlobalMaxPool1D, ("max", 2): L.GlobalMaxPool2D}[(kind, rank)]
        k_cls = {("avg", 1): kl.GlobalAveragePooling1D, ("avg", 2): kl.GlobalAveragePooling2D,
                 ("max", 1): kl.GlobalMaxPooling1D, ("max", 2): kl.GlobalMaxPooling2D}[(kind, rank)]
        return self._add(name, dl_cls(name=name), k_cls(name=name), src)

    def zeropad(self, name, src, padding):
        rank = len(self.shape(src)) - 1
        dl_cls = {1: L.ZeroPadding1D, 2: L.ZeroPadding2D}[rank]
        k_cls = {1: self.keras.layers.ZeroPadding1D, 2: self.keras.layers.ZeroPadding2D}[rank]
        return self._add(name, dl_cls(padding=padding, name=name), k_cls(padding, name=name), src)

    def crop(self, name, src, cropping):
        rank = len(self.shape(src)) - 1
        dl_cls = {1: L.Cropping1D, 2: L.Cropping2D}[rank]
        k_cls = {1: self.keras.layers.Cropping1D, 2: self.keras.layers.Cropping2D}[rank]
        return self._add(name, dl_cls(cropping=cropping, name=name), k_cls(cropping, name=name), src)

    def concat(self, name, srcs, axis=-1):
        return self._add(name, L.Concat(axis=axis, name=name),
                         self.keras.layers.Concatenate(axis=axis, name=name), list(srcs))

    def add(self, name, srcs):
        return self._add(name, L.Add(name=name), self.keras.layers.Add(name=name), list(srcs))

    def flatten(self, name, src):
        return self._add(name, L.Flatten(name=name), self.keras.layers.Flatten(name=name), src)

    def reshape(self, name, src, target_shape):
        return self._add(name, L.Reshape(target_shape, name=name),
                         self.keras.layers.Reshape(target_shape, name=name), src)

    def noop(self, name, src):
        return self._add(name, L.NoOp(name=name), self.keras.layers.Dropout(0.5, name=name), src)


# ---------------------------------------------------------------------------
# seeded random deep graphs (each returns the Twin and a description)
# ---------------------------------------------------------------------------


def _modes(mode):
    """(mode after a convolution, after a Dense, elsewhere). GenomicsDefault
    is only resolvable after conv/dense, so elsewhere it becomes Rescale."""
    mode = NonlinearMxtsMode(mode)
    if mode == M.DeepLIFT_GenomicsDefault:
        return mode, mode, M.Rescale
    return mode, mode, mode


def graph_1d_residual(rng, mode):
    """Conv1D (dilated) -> BN -> act -> residual branch (conv -> act) + Add ->
    AvgPool -> ZeroPadding -> Cropping -> strided Conv1D -> act -> NoOp ->
    Flatten -> Dense -> act -> Dense (target, 3 units)."""
    mc, md, mo = _modes(mode)
    acts = rng.choice(ACT_KINDS, size=4)
    t = Twin(rng)
    t.input("x", (12, 3))
    t.conv("c1", "x", 4, 3, padding="same", dilation=2)
    t.bn("bn1", "c1")
    t.act("a1", "bn1", acts[0], mc)
    t.conv("c2", "a1", 4, 3, padding="same")
    t.act("a2", "c2", acts[1], mc)
    t.add("res", ["a1", "a2"])
    t.pool("ap", "res", "avg", 2)
    t.zeropad("zp", "ap", (1, 2))
    t.crop("cr", "zp", (2, 1))
    t.conv("c3", "cr", 3, 2, strides=2)
    t.act("a3", "c3", acts[2], mc)
    t.noop("drop", "a3")
    t.flatten("fl", "drop")
    t.dense("d1", "fl", 5)
    t.act("a4", "d1", acts[3], md)
    t.dense("out", "a4", 3)
    return t, {"inputs": ["x"], "target": "out", "num_tasks": 3}


def graph_2d_concat(rng, mode):
    """Two Conv2D branches (strided same / dilated valid + cropping), Concat,
    BN, act, AvgPool2D same, Flatten, Dense, BN, act, Dense target."""
    mc, md, mo = _modes(mode)
    acts = rng.choice(ACT_KINDS, size=4)
    t = Twin(rng)
    t.input("img", (6, 6, 2))
    t.conv("s", "img", 3, 3, strides=2, padding="same")       # 3x3x3
    t.conv("d", "img", 2, 2, dilation=2)                       # 4x4x2
    t.crop("dc", "d", ((1, 0), (0, 1)))                        # 3x3x2
    t.act("sa", "s", acts[0], mc)
    t.concat("cat", ["sa", "dc"], axis=-1)                     # 3x3x5
    t.bn("bn", "cat")
    t.act("ca", "bn", acts[1], mo)
    t.pool("ap", "ca", "avg", 2, strides=1, padding="same")    # 3x3x5
    t.zeropad("zp", "ap", ((0, 1), (1, 0)))                    # 4x4x5
    t.flatten("fl", "zp")
    t.dense("d1", "fl", 6)
    t.bn("bn2", "d1")
    t.act("da", "bn2", acts[2], md)
    t.dense("out", "da", 2)
    return t, {"inputs": ["img"], "target": "out", "num_tasks": 2}


def graph_3d(rng, mode):
    """Conv3D valid -> act -> strided Conv3D same -> act -> AvgPool3D ->
    Flatten -> Dense -> act -> Dense target."""
    mc, md, mo = _modes(mode)
    acts = rng.choice(ACT_KINDS, size=3)
    t = Twin(rng)
    t.input("vol", (5, 4, 4, 2))
    t.conv("c1", "vol", 3, 2)                                  # 4x3x3x3
    t.act("a1", "c1", acts[0], mc)
    t.conv("c2", "a1", 2, (2, 2, 1), strides=(1, 2, 1), padding="same")  # 4x2x3x2
    t.act("a2", "c2", acts[1], mc)
    t.pool("ap", "a2", "avg", (2, 1, 2), strides=(1, 1, 1), padding="same")
    t.flatten("fl", "ap")
    t.dense("d1", "fl", 4)
    t.act("a3", "d1", acts[2], md)
    t.dense("out", "a3", 2)
    return t, {"inputs": ["vol"], "target": "out", "num_tasks": 2}


def graph_two_inputs(rng, mode):
    """Sequence input -> Conv1D -> act -> GlobalAvgPool1D, vector input ->
    Dense -> act; Concat -> Dense -> act -> Dense target."""
    mc, md, mo = _modes(mode)
    acts = rng.choice(ACT_KINDS, size=3)
    t = Twin(rng)
    t.input("seq", (8, 3))
    t.input("vec", (5,))
    t.conv("c", "seq", 4, 3)
    t.act("ca", "c", acts[0], mc)
    t.global_pool("gap", "ca", "avg")
    t.dense("dv", "vec", 3)
    t.act("va", "dv", acts[1], md)
    t.concat("cat", ["gap", "va"], axis=-1)
    t.dense("d", "cat", 4)
    t.act("da", "d", acts[2], md)
    t.dense("out", "da", 2)
    return t, {"inputs": ["seq", "vec"], "target": "out", "num_tasks": 2}


def graph_maxpool(rng, mode, rank=1):
    """Conv (valid) -> ReLU -> MaxPool -> Conv (valid) -> act -> MaxPool
    (overlapping, same) -> Flatten -> Dense -> act -> Dense target. Valid
    convolutions keep a spatially constant reference constant, so every pool
    window sees a constant reference when the input reference is constant
    along the spatial axes."""
    mc, md, mo = _modes(mode)
    t = Twin(rng)
    shape, k2 = {1: ((10, 2), 2), 2: ((7, 7, 2), 2), 3: ((5, 5, 5, 1), 1)}[rank]
    t.input("x", shape)
    t.conv("c1", "x", 3, 2)
    t.act("r1", "c1", "relu", mc)
    t.pool("mp1", "r1", "max", 2)
    t.conv("c2", "mp1", 3, k2)
    t.act("a2", "c2", rng.choice(ACT_KINDS), mc)
    t.pool("mp2", "a2", "max", 2, strides=1, padding="same")
    t.flatten("fl", "mp2")
    t.dense("d", "fl", 4)
    t.act("da", "d", rng.choice(ACT_KINDS), md)
    t.dense("out", "da", 2)
    return t, {"inputs": ["x"], "target": "out", "num_tasks": 2}


RANDOM_GRAPHS = {
    "1d_residual": graph_1d_residual,
    "2d_concat": graph_2d_concat,
    "3d": graph_3d,
    "two_inputs": graph_two_inputs,
}


def random_inputs(rng, twin, names, n):
    return [rng.normal(size=(n,) + twin.shape(name)).astype(np.float32) for name in names]
