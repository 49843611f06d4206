"""The deeplift command line on a small saved Keras model."""
import numpy as np
import pytest

from deeplift.cli import main


@pytest.fixture
def saved_model(tmp_path):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((30, 4)),
                              keras.layers.Conv1D(4, 5, padding="same", activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(2, activation="sigmoid")])
    path = tmp_path / "model.h5"
    model.save(path)
    return model, path


def test_convert_prints_layer_graph(saved_model, capsys):
    assert main(["convert", str(saved_model[1])]) == 0
    out = capsys.readouterr().out
    for name in ["input", "preact_0", "Conv1D", "preact_2", "Sigmoid"]:
        assert name in out
    # the default mode is shown with the rule it resolves to per layer
    relu_line = next(line for line in out.splitlines() if line.split()[0] == "0")
    sigmoid_line = next(line for line in out.splitlines() if "Sigmoid" in line)
    assert "DeepLIFT_GenomicsDefault -> Rescale" in relu_line
    assert "DeepLIFT_GenomicsDefault -> RevealCancel" in sigmoid_line


def test_convert_reports_missing_file(tmp_path, capsys):
    assert main(["convert", str(tmp_path / "nope.h5")]) == 2
    assert "nope.h5" in capsys.readouterr().err


def test_score_writes_contribs_and_modisco_files(saved_model, tmp_path, rng):
    model, path = saved_model
    seqs = "".join(">s%d\n%s\n" % (i, "".join(rng.choice(list("ACGT"), 30))) for i in range(6))
    fasta = tmp_path / "seqs.fa"
    fasta.write_text(seqs)
    out = tmp_path / "out"
    assert main(["score", str(path), "--sequences", str(fasta), "--task", "1",
                 "--reference", "zeros", "--mode", "Rescale", "--out", str(out)]) == 0
    contribs = np.load(out / "task1_contribs.npy")
    hyp = np.load(out / "task1_hypothetical_contribs.npy")
    one_hot = np.load(out / "task1_ohe.npz")["arr_0"].transpose(0, 2, 1)
    assert contribs.shape == (6, 30, 4)
    np.testing.assert_allclose(hyp * one_hot, contribs, atol=1e-5)
    # Rescale with a zero reference: contributions sum to the logit.
    import keras
    flatten = keras.Model(model.inputs, model.layers[-2].output)
    kernel, bias = model.layers[-1].get_weights()
    logit_diff = (flatten.predict(one_hot, verbose=0)
                  - flatten.predict(np.zeros_like(one_hot), verbose=0)) @ kernel
    np.testing.assert_allclose(contribs.sum((1, 2)), logit_diff[:, 1], atol=1e-4)
