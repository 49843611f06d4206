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


def test_score_with_shuffled_references_matches_the_library_functions(saved_model, tmp_path,
                                                                      rng):
    """`--reference shuffle:3` scores contributions and hypothetical
    contributions in one pass per batch; both must equal what the separate
    library functions give with the same seed (the same references), and
    per position the contributions must sum to the hypothetical
    contribution of the base present."""
    from deeplift import util
    from deeplift.conversion.kerasapi_conversion import convert_model_from_saved_files
    from deeplift.dinuc_shuffle import dinuc_shuffle
    from deeplift.modes import NonlinearMxtsMode

    _, path = saved_model
    letters = [rng.choice(list("ACGT"), 30) for _ in range(5)]
    fasta = tmp_path / "seqs.fa"
    fasta.write_text("".join(f">s{i}\n{''.join(s)}\n" for i, s in enumerate(letters)))
    out = tmp_path / "out"
    assert main(["score", str(path), "--sequences", str(fasta), "--task", "0", "--task", "1",
                 "--reference", "shuffle:3", "--seed", "4", "--batch-size", "6",
                 "--out", str(out)]) == 0
    one_hot = np.load(out / "task0_ohe.npz")["arr_0"].transpose(0, 2, 1)

    model = convert_model_from_saved_files(
        str(path), nonlinear_mxts_mode=NonlinearMxtsMode.DeepLIFT_GenomicsDefault)
    kwargs = dict(task_idx=[0, 1], input_data_sequences=one_hot, num_refs_per_seq=3,
                  batch_size=6, seed=4)
    contribs = util.get_shuffle_seq_ref_function(
        model.get_target_contribs_func(0, -2), dinuc_shuffle)(**kwargs)
    hyp = util.get_shuffle_seq_ref_function(util.get_hypothetical_contribs_func_onehot(
        model.get_target_multipliers_func(0, -2)), dinuc_shuffle)(**kwargs)
    for task in (0, 1):
        cli_contribs = np.load(out / f"task{task}_contribs.npy")
        cli_hyp = np.load(out / f"task{task}_hypothetical_contribs.npy")
        np.testing.assert_allclose(cli_contribs, contribs[task], atol=1e-6)
        np.testing.assert_allclose(cli_hyp, hyp[task], atol=1e-6)
        np.testing.assert_allclose(cli_contribs.sum(-1), (cli_hyp * one_hot).sum(-1), atol=1e-5)


@pytest.fixture
def saved_pool_model(tmp_path):
    import keras

    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((24, 4)),
                              keras.layers.Conv1D(4, 5, activation="relu", name="conv"),
                              keras.layers.MaxPooling1D(4, name="pool"),
                              keras.layers.Flatten(), keras.layers.Dense(2, activation="sigmoid")])
    path = tmp_path / "pool_model.keras"
    model.save(path)
    return path


def test_score_uses_cross_max_by_default_and_honours_maxpool_mode(saved_pool_model, tmp_path,
                                                                   rng):
    from deeplift import util
    from deeplift.conversion.kerasapi_conversion import convert_model_from_saved_files
    from deeplift.dinuc_shuffle import dinuc_shuffle

    seqs = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(4, 24))]
    np.save(tmp_path / "seqs.npy", seqs)
    results = {}
    for flags in ([], ["--maxpool-mode", "gradient"]):
        out = tmp_path / f"out{len(flags)}"
        assert main(["score", str(saved_pool_model), "--sequences", str(tmp_path / "seqs.npy"),
                     "--task", "0", "--reference", "shuffle:2", "--seed", "3", "--mode",
                     "Rescale", "--out", str(out)] + flags) == 0
        results[flags[-1] if flags else "default"] = np.load(out / "task0_contribs.npy")
    for pool_mode in ("cross_max", "gradient"):
        model = convert_model_from_saved_files(str(saved_pool_model), nonlinear_mxts_mode="Rescale",
                                               maxpool_deeplift_mode=pool_mode)
        results[pool_mode + "_library"] = util.get_shuffle_seq_ref_function(
            model.get_target_contribs_func(0, -2), dinuc_shuffle)(
            task_idx=0, input_data_sequences=seqs, num_refs_per_seq=2, seed=3, batch_size=256)
    np.testing.assert_allclose(results["default"], results["cross_max_library"], atol=1e-6)
    np.testing.assert_allclose(results["gradient"], results["gradient_library"], atol=1e-6)
    assert np.abs(results["default"] - results["gradient"]).max() > 1e-3


def test_check_reports_the_gradient_pool_and_passes_with_cross_max(saved_pool_model, capsys):
    assert main(["check", str(saved_pool_model), "--mode", "Rescale", "--maxpool-mode",
                 "gradient", "--examples", "3"]) == 1
    out = capsys.readouterr().out
    assert "FAILS" in out and "max pool: gradient" in out
    # Sequential conversions name layers by index: find the pool's row
    pool = next(line.split()[0] for line in out.splitlines() if "max pool: gradient" in line)
    assert f"holds at '{pool}' and fails at" in out and f"rule of '{pool}' breaks it" in out
    assert main(["check", str(saved_pool_model), "--mode", "Rescale", "--examples", "3"]) == 0
    out = capsys.readouterr().out
    assert "max pool: cross_max" in out and "Conservation holds at every cut." in out
