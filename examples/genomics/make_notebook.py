"""Writes genomics_simulation.ipynb from the cells below (run once after
editing them: ``python -m examples.genomics.make_notebook`` from the
repository root)."""
from pathlib import Path

import nbformat

from examples.notebooks import notebook_from_cells

CELLS = [
    ("markdown", """# DeepLIFT on simulated genomics data

Sequences with embedded GATA and TAL1 motifs; a small Keras 3 CNN learns the
tasks "has GATA", "has TAL1" and "has both"; we convert the saved `.h5` model
with `deeplift`, score held-out sequences with several methods (zero and
dinucleotide-shuffled references), and measure how well each method's
per-position scores recover the embedded motifs (auROC). The steps live in
`examples/genomics/pipeline.py`, which `make demo` runs as a script.

Set `DEEPLIFT_NOTEBOOK_FAST=1` for a small, quick run (the test suite does)."""),
    ("code", """import os, sys
from pathlib import Path
sys.path.insert(0, str(Path.cwd().resolve().parents[1]))  # the repository root
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
from examples.genomics import pipeline
from examples.genomics.simulation import simulate_dataset, TASK_NAMES
from deeplift.conversion import kerasapi_conversion as kc

FAST = os.environ.get("DEEPLIFT_NOTEBOOK_FAST") == "1"
settings = pipeline.Settings.fast() if FAST else pipeline.Settings()
OUT = Path(os.environ.get("DEEPLIFT_NOTEBOOK_OUT", "genomics_output"))
OUT.mkdir(parents=True, exist_ok=True)
settings"""),
    ("markdown", "## Simulate data and train a Keras 3 CNN"),
    ("code", """train = simulate_dataset(settings.num_train, settings.seq_len, seed=settings.seed)
test = simulate_dataset(settings.num_test, settings.seq_len, seed=settings.seed + 1)
keras_model = pipeline.build_and_train(train, settings)
model_path = str(OUT / "genomics_cnn.h5")
keras_model.save(model_path)
keras_predictions = keras_model.predict(test.one_hot, verbose=0)
print("test accuracy per task:", ((keras_predictions > 0.5) == (test.labels > 0.5)).mean(axis=0))"""),
    ("markdown", "## Convert the saved model and check the forward pass"),
    ("code", """deeplift_model = kc.convert_model_from_saved_files(model_path)
print([layer.name for layer in deeplift_model.get_layers()])
deeplift_predictions = deeplift_model.get_prediction_function(output_layer_idx=-1)([test.one_hot])
prediction_gap = float(np.abs(deeplift_predictions - keras_predictions).max())
print(f"max |deeplift - keras| = {prediction_gap:.2e}")
assert prediction_gap < 1e-5"""),
    ("markdown", """## Score with every method, zero and shuffled references

Each method's contributions come from the converted model in that mode;
integrated gradients use the Gradient-mode multipliers. The convergence
check below compares summed GenomicsDefault contributions with the logit's
difference from reference. With the original's max-pool rule (`gradient`,
the Python API's default) it is not exactly zero here: the second
convolution zero-pads at the sequence ends, so the reference's arg-max
inside the edge max-pool windows differs from the input's, and routing to
the input's arg-max does not conserve there (the scoring call warns, naming
the pool). `maxpool_deeplift_mode="cross_max"` (the rule of DeepSHAP and
tangermeme, and the command line's default) conserves for any reference;
the table has rows for it beside `gradient`."""),
    ("code", """tasks = list(range(len(TASK_NAMES)))
scores = pipeline.score_all(model_path, test, settings, tasks)
contribs_func = deeplift_model.get_target_contribs_func(find_scores_layer_idx=0, target_layer_idx=-2)
_, delta = contribs_func(task_idx=0, input_data_list=[test.one_hot], input_references_list=[0.0],
                         return_convergence_delta=True)
target_diff = (deeplift_model.get_prediction_function(output_layer_idx=-2)([test.one_hot])
               - deeplift_model.get_prediction_function(output_layer_idx=-2)([np.zeros_like(test.one_hot)]))[:, 0]
print(f"largest summation-to-delta gap: {np.abs(delta).max():.2e} "
      f"(relative to the largest logit difference: {np.abs(delta).max() / np.abs(target_diff).max():.2e})")
cross_max_model = kc.convert_model_from_saved_files(model_path, maxpool_deeplift_mode="cross_max")
_, cross_delta = cross_max_model.get_target_contribs_func(find_scores_layer_idx=0, target_layer_idx=-2)(
    task_idx=0, input_data_list=[test.one_hot], input_references_list=[0.0], return_convergence_delta=True)
print(f"with cross_max max pools: largest gap {np.abs(cross_delta).max():.2e} "
      f"(relative: {np.abs(cross_delta).max() / np.abs(target_diff).max():.2e})")"""),
    ("markdown", "## Motif recovery (auROC of per-position scores vs embedded motif positions)"),
    ("code", """table = pipeline.motif_recovery_table(scores, test, tasks)
print(pipeline.format_table(table, tasks))"""),
    ("markdown", "## Sequence logos (GenomicsDefault, shuffled references; motifs highlighted)"),
    ("code", """from deeplift.visualization.viz_sequence import plot_weights
best = scores[("DeepLIFT GenomicsDefault", "shuffled")]
for task in tasks:
    example = int(np.flatnonzero(test.labels[:, task] > 0.5)[0])
    mask = pipeline.task_motif_mask(test, task)[example]
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    plot_weights(best[task][example], highlight={"red": list(zip(edges[::2], edges[1::2]))},
                 out_path=str(OUT / f"logo_task{task}.png"))
    print(TASK_NAMES[task], "->", OUT / f"logo_task{task}.png")"""),
    ("markdown", "## Hypothetical contributions for TF-MoDISco (modisco-lite)"),
    ("code", """from deeplift import util
from deeplift.dinuc_shuffle import dinuc_shuffle
from deeplift.genomics_io import save_modisco_inputs
hyp_func = util.get_shuffle_seq_ref_function(
    util.get_hypothetical_contribs_func_onehot(
        deeplift_model.get_target_multipliers_func(find_scores_layer_idx=0, target_layer_idx=-2)),
    dinuc_shuffle)
hypothetical = hyp_func(task_idx=0, input_data_sequences=test.one_hot,
                        num_refs_per_seq=settings.num_refs, batch_size=256, seed=settings.seed)
print(save_modisco_inputs(test.one_hot, hypothetical, OUT, prefix="task0_"))
print("then: modisco motifs -s", OUT / "task0_ohe.npz", "-a", OUT / "task0_shap.npz",
      "-n 2000 -w", settings.seq_len, "-o modisco_results.h5")"""),
]


if __name__ == "__main__":
    nbformat.write(notebook_from_cells(CELLS), Path(__file__).with_name("genomics_simulation.ipynb"))
