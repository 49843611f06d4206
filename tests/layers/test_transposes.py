"""The direct transposes (Dense, Slice, Stack, Concat, Scale, element-wise
Product) that replace autodiff VJPs to keep unrolled recurrent graphs quick
to trace: each must equal ``J^T m`` from ``tf.GradientTape`` on the layer's
forward op, on one and on two multiplier streams, and the lazy forward pass
must visit each layer a bounded number of times."""
import numpy as np
import pytest
import tensorflow as tf

import deeplift.layers as L
from deeplift import graph
from deeplift.layers.einsum_dense import Scale
from deeplift.layers.product import Product
from deeplift.layers.sequence import Slice, Stack
from deeplift.modes import NonlinearMxtsMode as M


def _tape_vjp(layer, xs, m):
    """``J^T m`` per task via GradientTape on ``layer.forward`` (linear maps:
    bias-free Dense/Scale by construction below)."""
    xs = [tf.constant(x) for x in xs]
    rows = []
    for task in range(m.shape[0]):
        with tf.GradientTape() as tape:
            tape.watch(xs)
            out = layer.forward(xs)
        rows.append(tape.gradient(out, xs, output_gradients=tf.constant(m[task])))
    return [np.stack([r[i].numpy() for r in rows]) for i in range(len(xs))]


class _Op:
    """A stand-in exposing ``forward`` for ``_tape_vjp``."""

    def __init__(self, forward):
        self.forward = forward


CASES = [
    ("dense_rank2", lambda r: L.Dense(r.normal(size=(5, 3)).astype("f4"), name="d"), [(4, 5)]),
    ("dense_rank3", lambda r: L.Dense(r.normal(size=(5, 3)).astype("f4"), name="d"), [(4, 6, 5)]),
    ("slice_index", lambda r: Slice(1, 2, name="s"), [(4, 6, 5)]),
    ("slice_negative", lambda r: Slice(1, -1, name="s"), [(4, 6, 5)]),
    ("slice_range", lambda r: Slice(-1, 1, 4, name="s"), [(4, 6, 5)]),
    ("slice_clipped_range", lambda r: Slice(2, -3, 99, name="s"), [(4, 6, 5)]),
    ("stack", lambda r: Stack(1, name="st"), [(4, 5), (4, 5), (4, 5)]),
    ("stack_last", lambda r: Stack(-1, name="st"), [(4, 5), (4, 5)]),
    ("concat", lambda r: L.Concat(axis=-1, name="c"), [(4, 3, 2), (4, 3, 5)]),
    ("concat_axis1", lambda r: L.Concat(axis=1, name="c"), [(4, 3, 2), (4, 1, 2)]),
    ("scale_vector", lambda r: Scale(r.normal(size=5).astype("f4"), name="sc"), [(4, 6, 5)]),
    ("scale_scalar", lambda r: Scale(-1.5, 1.0, name="sc"), [(4, 5)]),
]


@pytest.mark.parametrize("two_streams", [False, True])
@pytest.mark.parametrize("name,make,shapes", CASES, ids=[c[0] for c in CASES])
def test_direct_transpose_equals_gradient_tape(name, make, shapes, two_streams):
    rng = np.random.default_rng(0)
    layer = make(rng)
    inputs = [L.Input(batch_shape=(None,) + s[1:], name=f"in{i}") for i, s in enumerate(shapes)]
    layer.set_inputs(inputs if layer.takes_list_input else inputs[0])
    xs = [rng.normal(size=s).astype("f4") for s in shapes]
    refs = [rng.normal(size=s).astype("f4") for s in shapes]
    fp = graph.ForwardPass({i: (tf.constant(x), tf.constant(r))
                            for i, x, r in zip(inputs, xs, refs)})
    out_shape = fp.act(layer).shape
    pos = rng.normal(size=(2,) + tuple(out_shape)).astype("f4")
    neg = rng.normal(size=pos.shape).astype("f4") if two_streams else pos
    pos_t = tf.constant(pos)
    got = layer.backward(fp, pos_t, tf.constant(neg) if two_streams else pos_t)
    if isinstance(layer, (L.Dense, Scale)):
        # the transpose of the bias-free map (the bias does not change J)
        lin = _Op(lambda ins: layer.linear(ins[0], layer.kernel))
        want_pos, want_neg = _tape_vjp(lin, xs, pos), _tape_vjp(lin, xs, neg)
        if two_streams:   # the sign-of-dx combination of LinearLayer.backward
            abs_lin = _Op(lambda ins: layer.linear(ins[0], tf.abs(layer.kernel)))
            total = _tape_vjp(lin, xs, pos + neg)[0]
            spread = _tape_vjp(abs_lin, xs, pos - neg)[0]
            combined = (total + np.sign(xs[0] - refs[0]) * spread) * 0.5
            want_pos, want_neg = [combined], [combined]
    else:
        want_pos, want_neg = _tape_vjp(layer, xs, pos), _tape_vjp(layer, xs, neg)
    assert len(got) == len(xs)
    for (g_pos, g_neg), w_pos, w_neg in zip(got, want_pos, want_neg):
        np.testing.assert_allclose(g_pos.numpy(), w_pos, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(g_neg.numpy(), w_neg, rtol=1e-5, atol=1e-6)
        if not two_streams:
            assert g_pos is g_neg   # the single-stream fast path survives


@pytest.mark.parametrize("mode", [M.Rescale, M.Gradient])
def test_elementwise_product_transpose_with_and_without_broadcasting(mode):
    rng = np.random.default_rng(1)
    a_in = L.Input(batch_shape=(None, 3, 4), name="a")
    b_in = L.Input(batch_shape=(None, 3, 1), name="b")
    for b_layer, b_shape in ((a_in, (5, 3, 4)), (b_in, (5, 3, 1))):
        prod = Product(nonlinear_mxts_mode=mode, name="p").set_inputs([a_in, b_layer])
        feeds = {a_in: rng.normal(size=(2, 5, 3, 4)).astype("f4")}
        feeds[b_layer] = rng.normal(size=(2,) + b_shape).astype("f4")
        fp = graph.ForwardPass({k: (tf.constant(v[0]), tf.constant(v[1]))
                                for k, v in feeds.items()})
        m = tf.constant(rng.normal(size=(2, 5, 3, 4)).astype("f4"))
        got = prod.backward(fp, m, m)
        (a, a0), (b, b0) = feeds[a_in], feeds[b_layer]
        held_a, held_b = (a, b) if mode == M.Gradient else ((a + a0) / 2, (b + b0) / 2)
        want_a = m.numpy() * held_b
        want_b = m.numpy() * held_a
        if b_layer is b_in:
            want_b = want_b.sum(axis=-1, keepdims=True)
        np.testing.assert_allclose(got[0][0].numpy(), want_a, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(got[1][0].numpy(), want_b, rtol=1e-5, atol=1e-6)
        assert got[1][0].shape == (2, 5) + b_shape[1:]


def test_lazy_forward_pass_visits_each_layer_a_bounded_number_of_times():
    """Evaluating every layer of a long chain one by one must not re-walk the
    chain per layer (quadratic in the number of layers)."""
    x = L.Input(batch_shape=(None, 3), name="x")
    chain = [x]
    for i in range(300):
        chain.append(Scale(1.0, 0.0, name=f"s{i}").set_inputs(chain[-1]))
    calls = {"n": 0}
    original = L.Layer.input_layers

    def counting(self):
        calls["n"] += 1
        return original(self)

    L.Layer.input_layers = counting
    try:
        fp = graph.ForwardPass({x: (tf.ones((2, 3)), tf.zeros((1, 3)))})
        for layer in chain[1:]:
            fp.act(layer)
    finally:
        L.Layer.input_layers = original
    np.testing.assert_array_equal(fp.act(chain[-1]).numpy(), np.ones((2, 3)))
    assert calls["n"] <= 3 * len(chain), calls["n"]
