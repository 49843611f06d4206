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


def test_check_with_fallback_steps_reports_the_fallback_layer(tmp_path, capsys):
    """UnitNormalization has no rule: refused without --fallback-steps; with
    it, the table shows the layer's rule and own residual, and one step is
    too few for conservation (exit 1) while many are enough (exit 0)."""
    import keras
    from sequence_cases import randomise

    x = keras.Input((4,), name="x")
    h = keras.layers.UnitNormalization(name="unit")(keras.layers.Dense(3, name="pre")(x))
    model = randomise(keras.Model(x, keras.layers.Dense(1, name="head")(h)), seed=5)
    path = tmp_path / "unit.keras"
    model.save(str(path))
    rng = np.random.default_rng(6)
    xs = (rng.normal(size=(3, 4)) * 2).astype(np.float32)
    np.save(tmp_path / "x.npy", xs)
    np.save(tmp_path / "r.npy", (0.5 * xs + 0.5 * rng.normal(size=(3, 4))).astype(np.float32))
    args = ["check", str(path), "--inputs", str(tmp_path / "x.npy"), "--references",
            str(tmp_path / "r.npy")]
    assert main(args) == 2
    assert "UnitNormalization" in capsys.readouterr().err
    assert main(args + ["--fallback-steps", "1"]) == 1
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("unit_0"))
    assert "fallback, 1 steps" in row and "rule of 'unit_0' breaks it" in out
    assert main(args + ["--fallback-steps", "64"]) == 0
    assert "'unit_0' (fallback, 64 steps) up to" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(args + ["--fallback-steps", "0"])


# ---------------------------------------------------------------------------
# functional, multi-input, two-headed (BPNet-style) models
# ---------------------------------------------------------------------------

BP_LEN = 24


@pytest.fixture(scope="module")
def bpnet(tmp_path_factory):
    """seq (24, 4) -> Conv1D(relu) ─┬ concat with bias (24, 1) -> Conv1D "profile"
    (24, 2) logits; └ GlobalAvgPool -> Dense(1, softplus) "counts"."""
    import keras

    keras.utils.set_random_seed(3)
    seq = keras.Input((BP_LEN, 4), name="seq")
    bias = keras.Input((BP_LEN, 1), name="bias")
    body = keras.layers.Conv1D(6, 5, padding="same", activation="relu", name="body")(seq)
    profile = keras.layers.Conv1D(2, 3, padding="same", name="profile")(
        keras.layers.Concatenate(name="cat")([body, bias]))
    counts = keras.layers.Dense(1, activation="softplus", name="counts")(
        keras.layers.GlobalAveragePooling1D(name="pool")(body))
    model = keras.Model([seq, bias], [profile, counts])
    path = tmp_path_factory.mktemp("bpnet") / "bpnet.keras"
    model.save(path)
    return model, path


def _bp_data(tmp_path, rng, num=5):
    one_hot = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(num, BP_LEN))]
    bias = rng.normal(size=(num, BP_LEN, 1)).astype(np.float32)
    np.save(tmp_path / "seqs.npy", one_hot)
    np.save(tmp_path / "bias.npy", bias)
    return one_hot, bias


def test_convert_lists_the_outputs_and_their_targets(bpnet, capsys):
    assert main(["convert", str(bpnet[1])]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    profile = next(line for line in lines if line.split()[:1] == ["profile"])
    counts = next(line for line in lines if line.split()[:1] == ["counts"])
    assert "(None, 24, 2)" in profile and "target profile_0" in profile
    assert "(None, 1)" in counts and "target preact_counts_0" in counts
    assert any(line.split()[:1] == ["bias"] and "(None, 24, 1)" in line for line in lines)


def test_score_profile_and_task_of_a_two_headed_model(bpnet, tmp_path, rng):
    """The profile target's contributions sum to sum_i w_i (l_i(x) - l_i(x0))
    with w = softmax(l(x)) - 1/L over positions (from Keras predictions), an
    N-d task's to l[3, 1](x) - l[3, 1](x0); the bias input is held fixed."""
    model, path = bpnet
    one_hot, bias = _bp_data(tmp_path, rng)
    out = tmp_path / "out"
    assert main(["score", str(path), "--sequences", str(tmp_path / "seqs.npy"),
                 "--input", f"bias={tmp_path / 'bias.npy'}", "--output", "profile",
                 "--target", "profile", "--task", "3,1", "--reference", "zeros",
                 "--mode", "Rescale", "--batch-size", "2", "--out", str(out)]) == 0
    logits = np.asarray(model([one_hot, bias])[0])
    logits_ref = np.asarray(model([np.zeros_like(one_hot), bias])[0])
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = ((probs - 1.0 / BP_LEN) * (logits - logits_ref)).sum(axis=(1, 2))
    contribs = np.load(out / "profile_profile_contribs.npy")
    np.testing.assert_allclose(contribs.sum(axis=(1, 2)), expected, rtol=1e-4, atol=1e-5)
    task = np.load(out / "profile_task3_1_contribs.npy")
    np.testing.assert_allclose(task.sum(axis=(1, 2)), logits[:, 3, 1] - logits_ref[:, 3, 1],
                               rtol=1e-4, atol=1e-5)
    for label in ("profile_profile", "profile_task3_1"):
        hyp = np.load(out / f"{label}_hypothetical_contribs.npy")
        np.testing.assert_allclose((hyp * one_hot).sum(-1),
                                   np.load(out / f"{label}_contribs.npy").sum(-1), atol=1e-5)
        assert (out / f"{label}_ohe.npz").exists() and (out / f"{label}_shap.npz").exists()


def test_score_counts_head_with_shuffled_references_and_zero_other_inputs(bpnet, tmp_path,
                                                                          rng):
    """The counts head's pre-activation: with the seed's dinucleotide
    shuffles as references and zeros for the bias input, the contributions
    sum to the mean over references of (counts logit(x) - counts logit(ref))."""
    import keras

    from deeplift.dinuc_shuffle import dinuc_shuffle

    model, path = bpnet
    one_hot, _ = _bp_data(tmp_path, rng)
    out = tmp_path / "out"
    assert main(["score", str(path), "--sequences", str(tmp_path / "seqs.npy"), "--output",
                 "counts", "--task", "0", "--reference", "shuffle:3", "--seed", "5",
                 "--mode", "Rescale", "--batch-size", "7", "--out", str(out)]) == 0
    contribs = np.load(out / "counts_task0_contribs.npy")
    shuffle_rng = np.random.RandomState(5)   # one draw per reference, as 0.6.13 drew them
    refs = np.stack([[dinuc_shuffle(s, rng=shuffle_rng) for _ in range(3)] for s in one_hot])
    pooled = keras.Model(model.inputs, model.get_layer("pool").output)
    kernel, bias_w = model.get_layer("counts").get_weights()

    def logit(x):
        return (np.asarray(pooled([x, np.zeros(x.shape[:2] + (1,), np.float32)])) @ kernel
                + bias_w)[:, 0]

    expected = np.mean([logit(one_hot) - logit(refs[:, k]) for k in range(3)], axis=0)
    np.testing.assert_allclose(contribs.sum(axis=(1, 2)), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("extra, words", [
    (["--task", "0"], ["2 outputs", "profile", "counts", "--output"]),
    (["--output", "nope", "--task", "0"], ["nope", "profile", "counts"]),
    (["--output", "profile", "--task", "24,0"], ["(24, 0)", "0 to 23"]),
    (["--output", "profile"], ["--task", "--target profile"]),
    (["--output", "counts", "--target", "profile"], ["position axis", "preact_counts_0"]),
    (["--output", "counts", "--task", "0", "--input", "seq=x.npy"], ["--input", "bias"]),
])
def test_score_errors_on_a_two_headed_model(bpnet, tmp_path, rng, capsys, extra, words):
    _bp_data(tmp_path, rng, num=2)
    assert main(["score", str(bpnet[1]), "--sequences", str(tmp_path / "seqs.npy"),
                 "--reference", "zeros", "--out", str(tmp_path / "out")] + extra) == 2
    err = capsys.readouterr().err
    for word in words:
        assert word in err


def test_select_target_scores_shards_like_one_run_with_one_trace(bpnet, tmp_path, rng):
    """What a shard worker does: select the target once from the command's
    arguments, then score pieces of the sequences; the pieces equal one run
    over all of them, and the compiled function is traced once."""
    import argparse

    from deeplift.conversion.kerasapi_conversion import convert_model_from_saved_files
    from deeplift.score_targets import add_target_arguments, select_target

    parser = argparse.ArgumentParser()
    add_target_arguments(parser)
    args = parser.parse_args(["--output", "profile", "--target", "profile", "--task", "3,1"])
    target = select_target(convert_model_from_saved_files(str(bpnet[1]),
                                                          nonlinear_mxts_mode="Rescale"), args)
    assert target.labels == ["profile_task3_1", "profile_profile"]
    one_hot, bias = _bp_data(tmp_path, rng, num=4)
    whole = target.score(one_hot, batch_size=3, other_inputs={"bias_0": bias})
    for rows in (slice(0, 1), slice(1, 4)):
        piece = target.score(one_hot[rows], batch_size=3, other_inputs={"bias_0": bias[rows]})
        for (contribs, hyp), (all_contribs, all_hyp) in zip(piece, whole):
            np.testing.assert_allclose(contribs, all_contribs[rows], atol=1e-6)
            np.testing.assert_allclose(hyp, all_hyp[rows], atol=1e-6)
    assert target._compiled("both")._fn.experimental_get_tracing_count() == 1
