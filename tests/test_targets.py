"""Targets: weighted and per-example targets, N-d task indices, and the
weight helpers of ``deeplift.targets``.

Expected numbers come from Keras forward passes (``t(x) - t(x0)``),
``tf.GradientTape`` and hand computations, never from the library itself.
"""
import numpy as np
import pytest
import tensorflow as tf

from deeplift import targets, util
from deeplift.dinuc_shuffle import dinuc_shuffle
from deeplift.modes import NonlinearMxtsMode as M
from helpers import Twin

L_SEQ, TRACKS, N = 8, 2, 5


def _build(mode, seed=3):
    """seq (8, 4) -> Conv1D(3, same) -> ReLU(mode) -> Conv1D(2, same) "logits"
    (a profile head: per-position logits of 2 tracks)."""
    twin = Twin(np.random.default_rng(seed))
    twin.input("seq", (L_SEQ, 4))
    twin.conv("c1", "seq", 3, 3, padding="same")
    twin.act("r1", "c1", "relu", mode)
    twin.conv("logits", "r1", TRACKS, 3, padding="same")
    return twin


_TWINS = {}


def _twin(mode):
    if mode not in _TWINS:
        _TWINS[mode] = _build(mode)
    return _TWINS[mode]


def _one_hot(rng, num, length=L_SEQ):
    return np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(num, length))]


@pytest.mark.parametrize("mode", [M.Rescale, M.RevealCancel])
@pytest.mark.parametrize("per_example", [False, True])
def test_weighted_target_sums_to_weighted_delta(mode, per_example, rng):
    twin = _twin(mode)
    x = rng.normal(size=(N, L_SEQ, 4)).astype(np.float32)
    x0 = rng.normal(size=(N, L_SEQ, 4)).astype(np.float32)
    shape = (N, L_SEQ, TRACKS) if per_example else (L_SEQ, TRACKS)
    w = rng.normal(size=shape).astype(np.float32)
    func = twin.graph_model().get_target_contribs_func("seq", "logits")
    contribs, delta = func(target_weights=w, input_data_list=[x], input_references_list=[x0],
                           batch_size=2, return_convergence_delta=True)
    t_diff = twin.predict("logits", [x]) - twin.predict("logits", [x0])
    expected = (np.broadcast_to(w, t_diff.shape) * t_diff).sum(axis=(1, 2))
    np.testing.assert_allclose(contribs.sum(axis=(1, 2)), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(delta, 0.0, atol=1e-4)


def test_gradient_mode_equals_gradient_tape_of_weighted_sum(rng):
    twin = _twin(M.Gradient)
    x = rng.normal(size=(N, L_SEQ, 4)).astype(np.float32)
    w = rng.normal(size=(N, L_SEQ, TRACKS)).astype(np.float32)
    mults = twin.graph_model().get_target_multipliers_func("seq", "logits")(
        target_weights=w, input_data_list=[x], input_references_list=[0.0], batch_size=3)
    keras_model = twin.keras_model("logits")
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out = keras_model(xt, training=False)
        total = tf.reduce_sum(tf.stop_gradient(tf.constant(w)) * out)
    np.testing.assert_allclose(mults, tape.gradient(total, xt).numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", [M.Rescale, M.RevealCancel])
def test_one_hot_weights_equal_the_same_neuron_by_flat_or_tuple_index(mode, rng):
    model = _twin(mode).graph_model()
    x = rng.normal(size=(N, L_SEQ, 4)).astype(np.float32)
    kwargs = dict(input_data_list=[x], input_references_list=[0.0], batch_size=4)
    for kind in ("contribs", "mults"):
        getter = (model.get_target_contribs_func if kind == "contribs"
                  else model.get_target_multipliers_func)
        func = getter("seq", "logits")
        neurons = [(3, 1), (0, 0), (7, 1)]
        flats = [pos * TRACKS + track for pos, track in neurons]
        by_list_of_tuples = func(task_idx=neurons, **kwargs)
        by_list_of_flats = func(task_idx=flats, **kwargs)
        for (pos, track), flat, from_tuples, from_flats in zip(
                neurons, flats, by_list_of_tuples, by_list_of_flats):
            w = np.zeros((L_SEQ, TRACKS), np.float32)
            w[pos, track] = 1.0
            by_weights = func(target_weights=w, **kwargs)
            np.testing.assert_allclose(func(task_idx=(pos, track), **kwargs), by_weights,
                                       rtol=1e-6, atol=1e-7)
            np.testing.assert_allclose(func(task_idx=flat, **kwargs), by_weights,
                                       rtol=1e-6, atol=1e-7)
            np.testing.assert_allclose(from_tuples, by_weights, rtol=1e-6, atol=1e-7)
            np.testing.assert_allclose(from_flats, by_weights, rtol=1e-6, atol=1e-7)


def test_list_of_weight_arrays_mixes_shared_and_per_example(rng):
    func = _twin(M.Rescale).graph_model().get_target_contribs_func("seq", "logits")
    x = rng.normal(size=(N, L_SEQ, 4)).astype(np.float32)
    shared = rng.normal(size=(L_SEQ, TRACKS)).astype(np.float32)
    per_example = rng.normal(size=(N, L_SEQ, TRACKS)).astype(np.float32)
    kwargs = dict(input_data_list=[x], input_references_list=[0.0], batch_size=2)
    both, delta = func(target_weights=[shared, per_example], return_convergence_delta=True,
                       **kwargs)
    assert isinstance(both, list) and len(both) == 2 and delta.shape == (2, N)
    np.testing.assert_allclose(both[0], func(target_weights=shared, **kwargs), atol=1e-6)
    np.testing.assert_allclose(both[1], func(target_weights=per_example, **kwargs), atol=1e-6)


def test_per_example_weights_with_shuffled_references_equal_each_example_alone(rng):
    model = _twin(M.Rescale).graph_model()
    contribs = util.get_shuffle_seq_ref_function(
        model.get_target_contribs_func("seq", "logits"), dinuc_shuffle)
    hypothetical = util.get_shuffle_seq_ref_function(util.get_hypothetical_contribs_func_onehot(
        model.get_target_multipliers_func("seq", "logits")), dinuc_shuffle)
    seqs = _one_hot(rng, N)
    refs = np.stack([dinuc_shuffle(s, num_shufs=3, rng=rng) for s in seqs])  # (N, 3, L, 4)
    w = targets.profile_weights(rng.normal(size=(N, L_SEQ, TRACKS)))
    for func in (contribs, hypothetical):
        together = func(target_weights=w, input_data_sequences=seqs, num_refs_per_seq=3,
                        batch_size=7, pregen_refs=refs)
        for i in range(N):
            alone = func(target_weights=w[i], input_data_sequences=seqs[i:i + 1],
                         num_refs_per_seq=3, batch_size=3, pregen_refs=refs[i:i + 1])
            np.testing.assert_allclose(together[i], alone[0], rtol=1e-5, atol=1e-6)


def test_per_example_weights_in_integrated_gradients_equal_each_example_alone(rng):
    model = _twin(M.Gradient).graph_model()
    ig = util.get_integrated_gradients_function(
        model.get_target_multipliers_func("seq", "logits"), num_intervals=4)
    x = rng.normal(size=(3, L_SEQ, 4)).astype(np.float32)
    w = rng.normal(size=(3, L_SEQ, TRACKS)).astype(np.float32)
    together = ig(target_weights=w, input_data_list=[x], input_references_list=[0.0],
                  batch_size=5)
    for i in range(3):
        alone = ig(target_weights=w[i], input_data_list=[x[i:i + 1]],
                   input_references_list=[0.0])
        np.testing.assert_allclose(together[i], alone[0], rtol=1e-5, atol=1e-6)


def test_per_example_weights_are_batch_size_invariant(rng):
    func = _twin(M.RevealCancel).graph_model().get_target_contribs_func("seq", "logits")
    x = rng.normal(size=(N, L_SEQ, 4)).astype(np.float32)
    w = rng.normal(size=(N, L_SEQ, TRACKS)).astype(np.float32)
    one = func(target_weights=w, input_data_list=[x], input_references_list=[0.0], batch_size=1)
    all_ = func(target_weights=w, input_data_list=[x], input_references_list=[0.0], batch_size=N)
    np.testing.assert_allclose(one, all_, rtol=1e-5, atol=1e-6)


def test_low_level_update_task_index_takes_a_tuple(rng):
    from deeplift.modes import ScoringMode

    model = _twin(M.Rescale).graph_model()
    layers = model.get_name_to_layer()
    target = layers["logits"]
    target.set_scoring_mode(ScoringMode.OneAndZeros)
    fn = util.compile_func([layers["seq"].get_activation_vars(),
                            layers["seq"].get_reference_vars()], layers["seq"].get_mxts())
    x = rng.normal(size=(2, L_SEQ, 4)).astype(np.float32)
    target.set_active()
    target.update_task_index((5, 1))
    by_tuple = fn([x, np.zeros_like(x)])
    target.update_task_index(5 * TRACKS + 1)
    np.testing.assert_allclose(by_tuple, fn([x, np.zeros_like(x)]), atol=1e-7)
    target.set_inactive()
    np.testing.assert_array_equal(fn([x, np.zeros_like(x)]), 0.0)


# ---------------------------------------------------------------------------
# profile_weights and mse_weights
# ---------------------------------------------------------------------------

def test_profile_weights_by_hand():
    # Track 0: logits (0, ln 3) -> softmax (1/4, 3/4) -> w = (-1/4, 1/4).
    # Track 1: equal logits -> uniform softmax -> w = 0.
    logits = np.array([[[0.0, 5.0], [np.log(3.0), 5.0]]])  # (1, L=2, tracks=2)
    np.testing.assert_allclose(targets.profile_weights(logits),
                               [[[-0.25, 0.0], [0.25, 0.0]]], atol=1e-7)
    # axis=2: softmax over the two tracks of each position instead.
    # position 0: logits (0, 5); position 1: (ln 3, 5).
    by_track = targets.profile_weights(logits, axis=2)
    p0 = np.exp([0.0, 5.0]) / np.exp([0.0, 5.0]).sum()
    p1 = np.array([3.0, np.exp(5.0)]) / (3.0 + np.exp(5.0))
    np.testing.assert_allclose(by_track, [[p0 - 0.5, p1 - 0.5]], atol=1e-6)


def test_profile_weights_give_the_detached_softmax_weighted_mean_normalised_logits(rng):
    logits = rng.normal(size=(3, 10, 2)) * 3
    w = targets.profile_weights(logits)
    e = np.exp(logits)
    p = e / e.sum(axis=1, keepdims=True)
    expected = (p * (logits - logits.mean(axis=1, keepdims=True))).sum(axis=1)
    np.testing.assert_allclose((w * logits).sum(axis=1), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w.sum(axis=1), 0.0, atol=1e-6)


@pytest.mark.parametrize("axis", [0, 3, -3])
def test_profile_weights_rejects_the_example_axis(axis):
    with pytest.raises(ValueError, match="axis"):
        targets.profile_weights(np.zeros((2, 4, 1)), axis=axis)


def test_mse_weights_by_hand():
    # MSE((1, 2), (1, 0)) = 2, MSE((0, 0), (1, 0)) = 1/2: the change is 3/2.
    # w = (p + p0 - 2y) / 2 = (-1/2, 1); sum w (p - p0) = -1/2 + 2 = 3/2.
    w = targets.mse_weights([[1.0, 2.0]], [[0.0, 0.0]], [[1.0, 0.0]])
    np.testing.assert_allclose(w, [[-0.5, 1.0]])
    np.testing.assert_allclose((w * np.array([[1.0, 2.0]])).sum(), 1.5)


@pytest.mark.parametrize("mode", [M.Rescale, M.RevealCancel])
def test_mse_contributions_sum_to_the_change_in_loss(mode, rng):
    import keras

    twin = Twin(np.random.default_rng(11))
    twin.input("x", (6,))
    twin.dense("h", "x", 5)
    twin.act("h_act", "h", "relu", mode)
    twin.dense("pred", "h_act", 3)
    x = rng.normal(size=(N, 6)).astype(np.float32)
    x0 = rng.normal(size=(N, 6)).astype(np.float32)
    y = rng.normal(size=(N, 3)).astype(np.float32)
    pred, pred_ref = twin.predict("pred", [x]), twin.predict("pred", [x0])
    w = targets.mse_weights(pred, pred_ref, y)
    contribs = twin.graph_model().get_target_contribs_func("x", "pred")(
        target_weights=w, input_data_list=[x], input_references_list=[x0])
    loss_change = (np.asarray(keras.losses.mean_squared_error(y, pred))
                   - np.asarray(keras.losses.mean_squared_error(y, pred_ref)))
    np.testing.assert_allclose(contribs.sum(axis=1), loss_change, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def logits_func():
    return _twin(M.Rescale).graph_model().get_target_contribs_func("seq", "logits")


def _call(func, **kwargs):
    x = np.zeros((N, L_SEQ, 4), np.float32)
    return func(input_data_list=[x], input_references_list=[0.0], **kwargs)


def test_both_or_neither_target_is_an_error(logits_func):
    with pytest.raises(ValueError, match="exactly one of task_idx .* target_weights.*both"):
        _call(logits_func, task_idx=0, target_weights=np.ones((L_SEQ, TRACKS)))
    with pytest.raises(ValueError, match="exactly one of task_idx .* target_weights.*neither"):
        _call(logits_func)


@pytest.mark.parametrize("shape", [(L_SEQ,), (L_SEQ, 3), (N + 1, L_SEQ, TRACKS), (1, 1, 1, 1)])
def test_weights_of_the_wrong_shape_name_the_layer_and_shapes(logits_func, shape):
    with pytest.raises(ValueError) as err:
        _call(logits_func, target_weights=np.ones(shape))
    msg = str(err.value)
    assert "target_weights" in msg and str(shape) in msg
    if shape[0] != N + 1:
        assert "'logits'" in msg and "(8, 2)" in msg


def test_non_finite_weights_are_rejected(logits_func):
    w = np.ones((L_SEQ, TRACKS))
    w[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        _call(logits_func, target_weights=w)


@pytest.mark.parametrize("task, words", [
    ((1, 2, 3), ["(1, 2, 3)", "2 axes", "(8, 2)"]),
    ((8, 0), ["(8, 0)", "axis 0", "0 to 7"]),
    ((0, 2), ["(0, 2)", "axis 1", "0 to 1"]),
    ([(0, 0), (0, -1)], ["(0, -1)", "axis 1"]),
    ((0.0, 1), ["(0.0, 1)", "one int per axis"]),
])
def test_bad_tuple_task_indices_say_what_was_expected(logits_func, task, words):
    with pytest.raises(ValueError) as err:
        _call(logits_func, task_idx=task)
    for word in words:
        assert word in str(err.value)


def test_ambiguous_per_example_weights_through_an_unknown_scoring_function(rng):
    func = _twin(M.Rescale).graph_model().get_target_contribs_func("seq", "logits")
    seqs = _one_hot(rng, 2)

    def wrapped(**kwargs):  # a user's wrapper that hides the target shape
        return func(**kwargs)

    shuffled = util.get_shuffle_seq_ref_function(wrapped, dinuc_shuffle)
    with pytest.raises(ValueError, match="target_shape"):
        shuffled(target_weights=np.ones((2, L_SEQ, TRACKS)), input_data_sequences=seqs,
                 num_refs_per_seq=2, batch_size=4)
    wrapped.target_shape = (L_SEQ, TRACKS)
    shuffled = util.get_shuffle_seq_ref_function(wrapped, dinuc_shuffle)
    out = shuffled(target_weights=np.ones((2, L_SEQ, TRACKS)), input_data_sequences=seqs,
                   num_refs_per_seq=2, batch_size=4)
    assert out.shape == (2, L_SEQ, 4)
