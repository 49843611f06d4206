"""The simulated-genomics pipeline shared by the notebook and ``make demo``.

Steps: simulate sequences with embedded GATA/TAL1 motifs; train a small
Keras 3 CNN for the tasks "has GATA", "has TAL1", "has both"; save it as
``.h5``; convert it with deeplift; score held-out sequences with several
methods, each with an all-zero and a dinucleotide-shuffled reference; measure
motif recovery (per task, the auROC of per-position scores against the
embedded motif positions); draw logos; write TF-MoDISco (modisco-lite)
inputs.

Run as a script: ``python -m examples.genomics.pipeline --out demo_output``
(``--fast`` for a smaller, quicker run).
"""
from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from deeplift import util  # noqa: E402
from deeplift.conversion import kerasapi_conversion as kc  # noqa: E402
from deeplift.dinuc_shuffle import dinuc_shuffle  # noqa: E402
from deeplift.genomics_io import save_modisco_inputs  # noqa: E402
from deeplift.modes import NonlinearMxtsMode  # noqa: E402
from examples.genomics.simulation import TASK_NAMES, simulate_dataset  # noqa: E402

#: Score methods: name -> (conversion mode, kind, max-pool mode). "contribs"
#: scores are the contributions of the converted model; "ig" is integrated
#: gradients. The max-pool mode is the original's "gradient" (the Python
#: API's default) except for the cross_max rows, whose max pools conserve
#: for any reference (the dinucleotide-shuffled ones move the arg-maxes).
METHODS = {
    "DeepLIFT GenomicsDefault": (NonlinearMxtsMode.DeepLIFT_GenomicsDefault, "contribs", "gradient"),
    "DeepLIFT GenomicsDefault, cross_max": (NonlinearMxtsMode.DeepLIFT_GenomicsDefault, "contribs",
                                            "cross_max"),
    "DeepLIFT Rescale": (NonlinearMxtsMode.Rescale, "contribs", "gradient"),
    "DeepLIFT Rescale, cross_max": (NonlinearMxtsMode.Rescale, "contribs", "cross_max"),
    "DeepLIFT RevealCancel": (NonlinearMxtsMode.RevealCancel, "contribs", "gradient"),
    "gradient x input": (NonlinearMxtsMode.Gradient, "contribs", "gradient"),
    "guided backprop x input": (NonlinearMxtsMode.GuidedBackprop, "contribs", "gradient"),
    "integrated gradients": (NonlinearMxtsMode.Gradient, "ig", "gradient"),
}
REFERENCES = ("zeros", "shuffled")


@dataclass
class Settings:
    """Sizes of one run; ``fast()`` is what the test suite executes."""

    num_train: int = 4000
    num_test: int = 400
    seq_len: int = 200
    epochs: int = 8
    num_refs: int = 10
    ig_steps: int = 20
    seed: int = 0

    @classmethod
    def fast(cls) -> "Settings":
        return cls(num_train=800, num_test=60, epochs=3, num_refs=3, ig_steps=5)


def build_and_train(data, settings: Settings):
    """A small CNN (conv, conv, max pool, dense, sigmoid outputs) trained on
    the simulated data."""
    import keras

    keras.utils.set_random_seed(settings.seed)
    model = keras.Sequential([
        keras.Input((settings.seq_len, 4)),
        keras.layers.Conv1D(32, 15, padding="same", activation="relu"),
        keras.layers.Conv1D(32, 9, padding="same", activation="relu"),
        keras.layers.MaxPooling1D(20),
        keras.layers.Flatten(),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(len(TASK_NAMES), activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    model.fit(data.one_hot, data.labels, epochs=settings.epochs, batch_size=64, verbose=0)
    return model


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve by the rank-sum formula (ties averaged)."""
    scores = np.asarray(scores, np.float64).ravel()
    labels = np.asarray(labels, bool).ravel()
    num_pos, num_neg = labels.sum(), (~labels).sum()
    if num_pos == 0 or num_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(scores)]])
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = (start + end + 1) / 2.0
    return float((ranks[labels].sum() - num_pos * (num_pos + 1) / 2) / (num_pos * num_neg))


def task_motif_mask(data, task: int) -> np.ndarray:
    """Positions that explain task ``task``: the GATA, TAL1 or either motif."""
    gata, tal1 = data.motif_masks["GATA"], data.motif_masks["TAL1"]
    return (gata, tal1, gata | tal1)[task]


def score_all(model_path: str, data, settings: Settings, tasks: list[int]):
    """Scores of every method and reference: ``{(method, ref): [per task (N, L, 4)]}``."""
    one_hot = data.one_hot
    scores = {}
    for method, (mode, kind, pool_mode) in METHODS.items():
        model = kc.convert_model_from_saved_files(model_path, nonlinear_mxts_mode=mode,
                                                  maxpool_deeplift_mode=pool_mode)
        if kind == "contribs":
            func = model.get_target_contribs_func(find_scores_layer_idx=0, target_layer_idx=-2)
        else:
            func = util.get_integrated_gradients_function(
                model.get_target_multipliers_func(find_scores_layer_idx=0, target_layer_idx=-2),
                settings.ig_steps)
        scores[(method, "zeros")] = func(task_idx=tasks, input_data_list=[one_hot],
                                         input_references_list=[0.0], batch_size=256)
        shuffled = util.get_shuffle_seq_ref_function(func, dinuc_shuffle)
        scores[(method, "shuffled")] = shuffled(
            task_idx=tasks, input_data_sequences=one_hot, num_refs_per_seq=settings.num_refs,
            batch_size=256, seed=settings.seed)
    return scores


def motif_recovery_table(scores, data, tasks: list[int]) -> dict:
    """auROC per (method, reference) and task, on sequences positive for the task."""
    table = {}
    for key, per_task in scores.items():
        row = []
        for task, task_scores in zip(tasks, per_task):
            positive = data.labels[:, task] > 0.5
            per_position = task_scores.sum(axis=-1)[positive]
            row.append(auroc(per_position, task_motif_mask(data, task)[positive]))
        table[key] = row
    return table


def format_table(table: dict, tasks: list[int]) -> str:
    header = "| method | reference | " + " | ".join(TASK_NAMES[t] for t in tasks) + " |"
    lines = [header, "|" + "---|" * (len(tasks) + 2)]
    for (method, ref), row in table.items():
        lines.append(f"| {method} | {ref} | " + " | ".join(f"{v:.3f}" for v in row) + " |")
    return "\n".join(lines)


def run(out_dir: str | os.PathLike, settings: Settings | None = None, log=print) -> dict:
    """Runs the whole pipeline, writing results under ``out_dir``.

    Returns:
        A dict with the table, test accuracy per task, the model path, the
        Keras/deeplift prediction gap and the written files.
    """
    import keras

    from deeplift.visualization.viz_sequence import plot_weights

    settings = settings or Settings()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    train = simulate_dataset(settings.num_train, settings.seq_len, seed=settings.seed)
    test = simulate_dataset(settings.num_test, settings.seq_len, seed=settings.seed + 1)
    log(f"simulated {settings.num_train} training and {settings.num_test} test sequences")

    model = build_and_train(train, settings)
    model_path = str(out / "genomics_cnn.h5")
    model.save(model_path)
    predictions = model.predict(test.one_hot, verbose=0)
    accuracy = ((predictions > 0.5) == (test.labels > 0.5)).mean(axis=0)
    log("test accuracy per task: " + ", ".join(
        f"{name} {acc:.3f}" for name, acc in zip(TASK_NAMES, accuracy)))

    converted = kc.convert_model_from_saved_files(model_path)
    deeplift_predictions = converted.get_prediction_function(output_layer_idx=-1)(
        [test.one_hot], batch_size=256)
    prediction_gap = float(np.abs(deeplift_predictions - predictions).max())
    log(f"converted model reproduces Keras' predictions within {prediction_gap:.2e}")

    tasks = list(range(len(TASK_NAMES)))
    scores = score_all(model_path, test, settings, tasks)
    table = motif_recovery_table(scores, test, tasks)
    table_text = format_table(table, tasks)
    (out / "motif_recovery_auroc.md").write_text(
        "Motif recovery: auROC of per-position scores vs embedded motif positions\n\n"
        + table_text + "\n")
    log(table_text)

    files = [model_path, str(out / "motif_recovery_auroc.md")]
    best = scores[("DeepLIFT GenomicsDefault", "shuffled")]
    for task in tasks:
        example = int(np.flatnonzero(test.labels[:, task] > 0.5)[0])
        mask = task_motif_mask(test, task)[example]
        edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
        path = out / f"logo_task{task}_example{example}.png"
        plot_weights(best[task][example], highlight={"red": list(zip(edges[::2], edges[1::2]))},
                     figsize=(20, 2), out_path=str(path))
        files.append(str(path))

    hyp_func = util.get_shuffle_seq_ref_function(
        util.get_hypothetical_contribs_func_onehot(converted.get_target_multipliers_func(
            find_scores_layer_idx=0, target_layer_idx=-2)), dinuc_shuffle)
    hypothetical = hyp_func(task_idx=0, input_data_sequences=test.one_hot,
                            num_refs_per_seq=settings.num_refs, batch_size=256, seed=settings.seed)
    files.extend(str(p) for p in save_modisco_inputs(test.one_hot, hypothetical, out,
                                                     prefix="task0_"))
    log(f"wrote {len(files)} files under {out} in {time.perf_counter() - started:.0f} s")
    return {"table": table, "accuracy": accuracy, "model_path": model_path,
            "prediction_gap": prediction_gap, "files": files, "scores": scores,
            "test": test, "hypothetical": hypothetical}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Simulated genomics DeepLIFT pipeline.")
    parser.add_argument("--out", default="demo_output")
    parser.add_argument("--fast", action="store_true", help="small run, as in the tests")
    args = parser.parse_args(argv)
    run(args.out, Settings.fast() if args.fast else Settings())


if __name__ == "__main__":
    main()
