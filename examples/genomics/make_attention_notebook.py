"""Writes attention_model.ipynb from the cells below (run once after editing
them: ``python -m examples.genomics.make_attention_notebook`` from the
repository root)."""
from pathlib import Path

import nbformat

from examples.notebooks import notebook_from_cells

CELLS = [
    ("markdown", """# DeepLIFT through self-attention, on simulated genomics data

The same simulated sequences as `genomics_simulation.ipynb` (GATA and TAL1
motifs; tasks "has GATA", "has TAL1", "has both"), now with a small
attention model: a convolution, a max pool, one `MultiHeadAttention` layer
with a residual connection, global average pooling and a dense output.
`deeplift` expands the attention layer into its projections (linear rule),
the query x key and weights x value products (Shapley product rule) and a
softmax decomposed so that it conserves exactly. Do the motifs come out?

Set `DEEPLIFT_NOTEBOOK_FAST=1` for a small, quick run (the test suite does)."""),
    ("code", """import os, sys
from pathlib import Path
sys.path.insert(0, str(Path.cwd().resolve().parents[1]))  # the repository root
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
from examples.genomics import pipeline
from examples.genomics.attention import build_and_train_attention, per_position
from examples.genomics.simulation import simulate_dataset, TASK_NAMES
from deeplift import util
from deeplift.conversion import kerasapi_conversion as kc
from deeplift.dinuc_shuffle import dinuc_shuffle
from deeplift.modes import NonlinearMxtsMode

FAST = os.environ.get("DEEPLIFT_NOTEBOOK_FAST") == "1"
settings = pipeline.Settings.fast() if FAST else pipeline.Settings()
OUT = Path(os.environ.get("DEEPLIFT_NOTEBOOK_OUT", "attention_output"))
OUT.mkdir(parents=True, exist_ok=True)"""),
    ("code", """train = simulate_dataset(settings.num_train, settings.seq_len, seed=settings.seed)
test = simulate_dataset(settings.num_test, settings.seq_len, seed=settings.seed + 1)
keras_model = build_and_train_attention(train, settings)
model_path = str(OUT / "attention_model.keras")
keras_model.save(model_path)
keras_predictions = keras_model.predict(test.one_hot, verbose=0)
print("test accuracy per task:", ((keras_predictions > 0.5) == (test.labels > 0.5)).mean(axis=0))"""),
    ("markdown", "## Convert the saved model; the forward pass matches Keras"),
    ("code", """deeplift_model = kc.convert_model_from_saved_files(model_path,
                                                  nonlinear_mxts_mode=NonlinearMxtsMode.Rescale)
predict = deeplift_model.get_prediction_function(input_layer_names=["sequence_0"],
                                                 output_layer_name="tasks_0")
prediction_gap = float(np.abs(predict([test.one_hot]) - keras_predictions).max())
print(f"max |deeplift - keras| = {prediction_gap:.2e}")
assert prediction_gap < 1e-5"""),
    ("markdown", """## Contributions sum to the logit's difference from reference

The target is the logit before the sigmoid (`preact_tasks_0`). Against a
uniform reference (0.25 per base) the max pool sees a constant reference,
so every rule on the way conserves exactly, attention included; what is
left is float32 rounding, which grows with the size of the attention logits
of a trained model (about 1e-2 of the logit difference for the full-size
run, below 1e-6 for the fast one)."""),
    ("code", """contribs_func = deeplift_model.get_target_contribs_func(
    find_scores_layer_name="sequence_0", pre_activation_target_layer_name="preact_tasks_0")
logits = deeplift_model.get_prediction_function(input_layer_names=["sequence_0"],
                                                output_layer_name="preact_tasks_0")
uniform = np.full_like(test.one_hot, 0.25)
gaps = []
for task in range(len(TASK_NAMES)):
    contribs = contribs_func(task_idx=task, input_data_list=[test.one_hot],
                             input_references_list=[uniform], batch_size=64, progress_update=None)
    delta = logits([test.one_hot])[:, task] - logits([uniform])[:, task]
    gaps.append(np.abs(contribs.sum(axis=(1, 2)) - delta).max() / max(1.0, np.abs(delta).max()))
print(f"largest relative summation-to-delta gap: {max(gaps):.2e}")"""),
    ("markdown", """## Motif recovery: auROC of per-position scores vs embedded motif positions

Scores with dinucleotide-shuffled references (mean over references), per
task, compared with gradient x input on the same model."""),
    ("code", """shuffled = util.get_shuffle_seq_ref_function(contribs_func, dinuc_shuffle)
gradient_model = kc.convert_model_from_saved_files(model_path,
                                                   nonlinear_mxts_mode=NonlinearMxtsMode.Gradient)
gxi = gradient_model.get_target_contribs_func(
    find_scores_layer_name="sequence_0", pre_activation_target_layer_name="preact_tasks_0")
rows = []
for task in range(len(TASK_NAMES)):
    positives = test.labels[:, task] > 0.5
    mask = pipeline.task_motif_mask(test, task)[positives]
    deeplift_scores = per_position(shuffled(task_idx=task, input_data_sequences=test.one_hot,
                                            num_refs_per_seq=settings.num_refs, batch_size=64,
                                            seed=settings.seed))[positives]
    gxi_scores = per_position(gxi(task_idx=task, input_data_list=[test.one_hot],
                                  input_references_list=[np.zeros_like(test.one_hot)],
                                  batch_size=64, progress_update=None))[positives]
    rows.append((TASK_NAMES[task], pipeline.auroc(deeplift_scores, mask),
                 pipeline.auroc(gxi_scores, mask)))
for name, dl_auc, gxi_auc in rows:
    print(f"auROC {name:10s} DeepLIFT Rescale (shuffled refs) {dl_auc:.3f}   "
          f"gradient x input {gxi_auc:.3f}")"""),
]


if __name__ == "__main__":
    nbformat.write(notebook_from_cells(CELLS), Path(__file__).with_name("attention_model.ipynb"))
