"""Shuffled references, hypothetical contributions, integrated gradients and
mean normalisation (deeplift.genomics, exported from deeplift.util)."""
import numpy as np
import pytest
import tensorflow as tf

from deeplift import util
from deeplift.dinuc_shuffle import dinuc_shuffle
from deeplift.layers import Conv1D, Dense, Flatten, Input, ReLU
from deeplift.models import SequentialModel

LENGTH = 24


def build(mode, seed=3):
    r = np.random.default_rng(seed)
    return SequentialModel([
        Input(batch_shape=(None, LENGTH, 4)),
        Conv1D(r.normal(size=(5, 4, 6)) * 0.5, r.normal(size=6) * 0.1, padding="same"),
        ReLU(nonlinear_mxts_mode=mode), Flatten(),
        Dense(r.normal(size=(LENGTH * 6, 3)) * 0.3, r.normal(size=3))])


def keras_twin(model):
    """The same network as plain TF, for independent gradients."""
    conv, dense = model.get_layers()[1], model.get_layers()[4]

    def forward(x):
        h = tf.nn.relu(tf.nn.convolution(x, conv.kernel, padding="SAME") + conv.bias)
        return tf.matmul(tf.reshape(h, [tf.shape(x)[0], -1]), dense.kernel) + dense.bias

    return forward


@pytest.fixture
def sequences(rng):
    return np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(5, LENGTH))]


def test_shuffled_reference_scores_are_the_mean_of_single_reference_runs(sequences):
    model = build("RevealCancel")
    contribs = model.get_target_contribs_func(0, -1)
    num_refs = 4
    rng = np.random.default_rng(11)
    refs = np.stack([dinuc_shuffle(seq, num_shufs=num_refs, rng=rng) for seq in sequences])
    shuffled = util.get_shuffle_seq_ref_function(contribs, dinuc_shuffle)
    got = shuffled(task_idx=[0, 2], input_data_sequences=sequences, num_refs_per_seq=num_refs,
                   batch_size=6, pregen_refs=refs)
    for task, task_scores in zip([0, 2], got):
        expected = np.mean([contribs(task, [sequences], input_references_list=[refs[:, k]])
                            for k in range(num_refs)], axis=0)
        np.testing.assert_allclose(task_scores, expected, atol=1e-5)


def test_same_references_for_every_task_and_batch_size_invariance(sequences):
    contribs = build("Rescale").get_target_contribs_func(0, -1)
    shuffled = util.get_shuffle_seq_ref_function(contribs, dinuc_shuffle)
    together = shuffled(task_idx=[0, 1], input_data_sequences=sequences, num_refs_per_seq=3,
                        batch_size=3, seed=5)
    alone = [shuffled(task_idx=t, input_data_sequences=sequences, num_refs_per_seq=3,
                      batch_size=40, seed=5) for t in (0, 1)]
    for a, b in zip(together, alone):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_hypothetical_times_one_hot_equals_contributions(sequences):
    model = build("Rescale")
    contribs = model.get_target_contribs_func(0, -1)
    hypothetical = util.get_hypothetical_contribs_func_onehot(model.get_target_multipliers_func(0, -1))
    zero_hyp = hypothetical(1, [sequences], [0.0])
    np.testing.assert_allclose(zero_hyp * sequences, contribs(1, [sequences], input_references_list=[0.0]),
                               atol=1e-6)
    shuffled_hyp = util.get_shuffle_seq_ref_function(hypothetical, dinuc_shuffle)(
        task_idx=1, input_data_sequences=sequences, num_refs_per_seq=3, batch_size=4, seed=2)
    shuffled_contribs = util.get_shuffle_seq_ref_function(contribs, dinuc_shuffle)(
        task_idx=1, input_data_sequences=sequences, num_refs_per_seq=3, batch_size=4, seed=2)
    # Per position, the projected hypothetical score is the summed contribution.
    np.testing.assert_allclose((shuffled_hyp * sequences).sum(-1), shuffled_contribs.sum(-1),
                               atol=1e-5)


def test_hypothetical_contributions_by_hand(sequences):
    model = build("Gradient")
    forward = keras_twin(model)
    x = tf.constant(sequences)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = forward(x)[:, 2]
    grad = tape.gradient(out, x).numpy()
    ref = np.full(4, 0.25, np.float32)
    hypothetical = util.get_hypothetical_contribs_func_onehot(model.get_target_multipliers_func(0, -1))
    got = hypothetical(2, [sequences], [ref])
    expected = np.stack([((np.eye(4)[a] - ref) * grad).sum(-1) for a in range(4)], axis=-1)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_integrated_gradients_matches_riemann_sum_of_tape_gradients(sequences):
    model = build("Gradient")
    forward = keras_twin(model)
    steps = 8
    ig = util.get_integrated_gradients_function(model.get_target_multipliers_func(0, -1), steps)
    ref = np.full_like(sequences, 0.25)
    expected = np.zeros_like(sequences)
    for k in range(steps):
        point = tf.constant(ref + (k + 0.5) / steps * (sequences - ref))
        with tf.GradientTape() as tape:
            tape.watch(point)
            out = forward(point)[:, 0]
        expected += tape.gradient(out, point).numpy() / steps
    expected *= sequences - ref
    np.testing.assert_allclose(ig(0, [sequences], [ref]), expected, atol=1e-5)


def test_mean_normalised_conv_weights_keep_outputs_on_one_hot(sequences, rng):
    kernel, bias = rng.normal(size=(5, 4, 6)), rng.normal(size=6)
    new_kernel, new_bias = util.mean_normalise_weights_for_sequence_convolution(kernel, bias)
    np.testing.assert_allclose(new_kernel.mean(axis=1), 0, atol=1e-6)
    conv = lambda k, b: tf.nn.convolution(sequences, k.astype(np.float32), padding="VALID") + b
    np.testing.assert_allclose(conv(new_kernel, new_bias), conv(kernel, bias), atol=1e-5)


def test_mean_normalised_softmax_weights_keep_softmax(rng):
    weights, biases = rng.normal(size=(7, 5)), rng.normal(size=5)
    x = rng.normal(size=(3, 7))
    new_w, new_b = util.mean_normalise_softmax_weights(weights, biases)
    softmax = lambda z: np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    np.testing.assert_allclose(softmax(x @ new_w + new_b), softmax(x @ weights + biases), atol=1e-6)
    np.testing.assert_allclose((x @ new_w + new_b).sum(-1), 0, atol=1e-5)


def test_convergence_delta_reports_summation_gap(sequences):
    model = build("RevealCancel")
    contribs, delta = model.get_target_contribs_func(0, -1)(
        [0, 1], [sequences], input_references_list=[0.25], return_convergence_delta=True)
    predict = model.get_prediction_function(output_layer_idx=-1)
    diff = predict([sequences]) - predict([np.full_like(sequences, 0.25)])
    np.testing.assert_allclose(delta, [c.sum((1, 2)) - diff[:, t] for t, c in enumerate(contribs)],
                               atol=1e-5)
    assert np.abs(delta).max() < 1e-4
    from deeplift.genomics import ConvergenceWarning, check_convergence
    with pytest.warns(ConvergenceWarning, match="do not sum"):
        check_convergence(np.array([0.0, 0.5]))


def test_shuffle_function_errors(sequences):
    shuffled = util.get_shuffle_seq_ref_function(build("Rescale").get_target_contribs_func(0, -1),
                                                 dinuc_shuffle)
    with pytest.raises(ValueError, match="num_refs_per_seq"):
        shuffled(task_idx=0, input_data_sequences=sequences, num_refs_per_seq=0, batch_size=4)
    with pytest.raises(ValueError, match="num_intervals"):
        util.get_integrated_gradients_function(lambda **k: None, 0)


def test_shuffled_references_are_0_6_draws_of_a_seeded_random_state(sequences):
    """With seed=s, each sequence's references are dinuc_shuffle(seq, rng=R)
    called once per reference, sequence by sequence, on one
    R = RandomState(s): the calls 0.6.13 made, so its references reproduce."""
    seen = []

    def record(task_idx, input_data_list, input_references_list, batch_size, progress_update):
        seen.append(np.array(input_references_list[0]))
        return np.zeros_like(input_data_list[0])

    util.get_shuffle_seq_ref_function(record, dinuc_shuffle)(
        task_idx=0, input_data_sequences=sequences, num_refs_per_seq=3, batch_size=6, seed=4)
    draws = np.random.RandomState(4)
    expected = [dinuc_shuffle(seq, rng=draws) for seq in sequences for _ in range(3)]
    np.testing.assert_array_equal(np.concatenate(seen), np.stack(expected))


def test_zero_sequences_give_empty_scores(sequences):
    model = build("RevealCancel")
    contribs = model.get_target_contribs_func(0, -1)
    mults = model.get_target_multipliers_func(0, -1)
    empty = sequences[:0]
    shuffled = util.get_shuffle_seq_ref_function(contribs, dinuc_shuffle)
    assert shuffled(task_idx=0, input_data_sequences=empty, num_refs_per_seq=3,
                    batch_size=4).shape == (0,) + sequences.shape[1:]
    per_task = shuffled(task_idx=[0, 1], input_data_sequences=empty, num_refs_per_seq=3,
                        batch_size=4)
    assert [t.shape for t in per_task] == [(0,) + sequences.shape[1:]] * 2
    hypothetical = util.get_hypothetical_contribs_func_onehot(mults)
    assert hypothetical(1, [empty], [0.0], batch_size=4).shape == (0,) + sequences.shape[1:]
    integrated = util.get_integrated_gradients_function(mults, 5)
    assert integrated(0, [empty], [0.0], batch_size=4).shape == (0,) + sequences.shape[1:]
