"""SimpleRNN, LSTM, GRU and Bidirectional, unrolled by the converter.

Expectations are independent of the library: Keras' own forward pass (from
live models, ``.keras``, Keras 3 ``.h5`` and tf_keras ``.h5`` files), the
Keras model's output difference for summation-to-delta, and
``tf.GradientTape`` for the Gradient mode.
"""
from __future__ import annotations

import keras
import numpy as np
import pytest
import tf_keras

from deeplift.modes import NonlinearMxtsMode as M
from sequence_cases import (SOURCES, assert_sums, convert, keras_out, predict, randomise,
                            scores, tape_gradient)

pytestmark = [pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5"),
              pytest.mark.filterwarnings("ignore:__array__ implementation")]

STEPS, FEATURES = 4, 3
KINDS = {
    "simple_rnn_backwards_seq": lambda K: K.layers.SimpleRNN(3, go_backwards=True,
                                                             return_sequences=True),
    "lstm": lambda K: K.layers.LSTM(3),
    "lstm_backwards_seq": lambda K: K.layers.LSTM(3, go_backwards=True, return_sequences=True),
    "gru_reset_after": lambda K: K.layers.GRU(3, reset_after=True),
    "gru_reset_before_seq": lambda K: K.layers.GRU(3, reset_after=False, return_sequences=True),
    "bi_concat_seq": lambda K: K.layers.Bidirectional(K.layers.LSTM(2, return_sequences=True)),
    "bi_sum": lambda K: K.layers.Bidirectional(K.layers.GRU(2), merge_mode="sum"),
    "bi_mul_seq": lambda K: K.layers.Bidirectional(K.layers.SimpleRNN(2, return_sequences=True),
                                                   merge_mode="mul"),
    "bi_ave": lambda K: K.layers.Bidirectional(K.layers.LSTM(2), merge_mode="ave"),
}


def build(kind, K=keras, seed=0):
    x = K.Input((STEPS, FEATURES), name="x")
    h = KINDS[kind](K)(x)
    if len(h.shape) == 3:
        h = K.layers.Flatten(name="flat")(h)
    out = K.layers.Dense(2, name="head")(h)
    return randomise(K.Model(x, out), seed)


def data(n=5, seed=1):
    rng = np.random.default_rng(seed)
    return ([rng.normal(size=(n, STEPS, FEATURES)).astype(np.float32)],
            [rng.normal(size=(n, STEPS, FEATURES)).astype(np.float32) * 0.5])


FORWARD_CASES = [(kind, "k3_live") for kind in KINDS] + [
    ("lstm_backwards_seq", "k3_keras"), ("gru_reset_after", "k3_h5"), ("bi_concat_seq", "k2_h5"),
    ("gru_reset_before_seq", "k2_h5")]
# Each case compiles an unrolled graph: a few cover every layer kind and both rule families.
DELTA_CASES = [("simple_rnn_backwards_seq", M.Rescale), ("lstm", M.RevealCancel),
               ("gru_reset_after", M.Rescale), ("gru_reset_before_seq", M.Rescale),
               ("bi_mul_seq", M.Rescale)]


@pytest.mark.parametrize("kind,source", FORWARD_CASES)
def test_forward_matches_keras(kind, source, tmp_path):
    model = build(kind, tf_keras if source == "k2_h5" else keras)
    inputs, _ = data()
    expected = np.asarray(model(inputs[0]))
    assert np.abs(expected).max() > 1e-2
    got = predict(convert(model, source, tmp_path), inputs, "head_0")
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("kind,mode", DELTA_CASES)
def test_contributions_sum_to_delta(kind, mode, tmp_path):
    model = build(kind)
    inputs, refs = data()
    dl_model = convert(model, "k3_live", tmp_path, nonlinear_mxts_mode=mode)
    for task in (0, 1):
        contribs = scores(dl_model, "contribs", inputs, refs, "x_0", "head_0", task)
        delta = keras_out(model, inputs, task) - keras_out(model, refs, task)
        assert_sums(contribs, delta)


@pytest.mark.parametrize("kind", ["lstm_backwards_seq", "bi_mul_seq"])
def test_gradient_mode_equals_gradient_tape(kind, tmp_path):
    model = build(kind)
    inputs, refs = data()
    dl_model = convert(model, "k3_live", tmp_path, nonlinear_mxts_mode=M.Gradient)
    (mxts,) = scores(dl_model, "multipliers", inputs, refs, "x_0", "head_0", 1)
    np.testing.assert_allclose(mxts, tape_gradient(model, inputs, 1)[0], rtol=1e-4, atol=1e-6)


def test_genomics_default_resolves_through_a_danq_like_model(tmp_path):
    """Conv1D (relu: Rescale) -> LSTM (gates: RevealCancel) -> Dense: the
    default mode resolves everywhere and contributions sum to delta."""
    x = keras.Input((6, 4), name="x")
    h = keras.layers.Conv1D(3, 3, activation="relu", name="conv")(x)
    h = keras.layers.LSTM(3, return_sequences=True, name="lstm")(h)
    out = keras.layers.Dense(1, name="head")(keras.layers.Flatten()(h))
    model = randomise(keras.Model(x, out))
    rng = np.random.default_rng(3)
    inputs = [rng.normal(size=(4, 6, 4)).astype(np.float32)]
    refs = [rng.normal(size=(4, 6, 4)).astype(np.float32) * 0.3]
    dl_model = convert(model, "k3_live", tmp_path)  # DeepLIFT_GenomicsDefault
    assert dl_model.get_name_to_layer()["lstm_0/t1/i"].nonlinear_mxts_mode == M.RevealCancel
    contribs = scores(dl_model, "contribs", inputs, refs, "x_0", "head_0")
    assert_sums(contribs, keras_out(model, inputs) - keras_out(model, refs))


def test_return_state_outputs(tmp_path):
    x = keras.Input((STEPS, FEATURES), name="x")
    seq, h, c = keras.layers.LSTM(3, return_sequences=True, return_state=True, name="lstm")(x)
    model = randomise(keras.Model(x, keras.layers.Concatenate(name="cat")(
        [keras.layers.Flatten()(seq), h, c])))
    inputs, _ = data()
    got = predict(convert(model, "k3_keras", tmp_path), inputs, "cat_0")
    np.testing.assert_allclose(got, np.asarray(model(inputs[0])), rtol=0, atol=1e-5)
