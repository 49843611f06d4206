"""score_regions on a synthetic genome against the per-array Python API."""
import numpy as np

from scale_helpers import WIDTH, api_scores, centred, encode, keras_logits, shuffled_refs


def _expected_windows(root, chroms):
    rows = [l.split("\t") for l in (root / "regions.bed").read_text().splitlines()
            if l and not l.startswith(("#", "track"))]
    wins = [centred(chroms, c, int(s), int(e), WIDTH) + (c,) for c, s, e, _ in rows]
    return [w[2] for w in wins], np.array([w[1] for w in wins]), np.stack(
        [encode(w[0]) for w in wins])


def test_store_equals_python_api_on_the_same_windows(genome_dir, tmp_path):
    import keras
    import zarr

    from deeplift.scale import score_regions
    from deeplift.scale.shards import window_seed

    root, chroms = genome_dir
    tasks, seed, num_refs = [0, 2], 5, 3
    result = score_regions(root / "model.h5", root / "regions.bed", root / "genome.fa", WIDTH,
                           tmp_path / "out.zarr", tasks, reference=f"shuffle:{num_refs}",
                           seed=seed, shard_size=7, batch_size=10, progress=False)
    assert result.num_windows == 24 and result.num_shards == 4
    assert result.computed_shards == [0, 1, 2, 3]
    store = zarr.open_group(str(tmp_path / "out.zarr"), mode="r")
    chrom, start, one_hot = _expected_windows(root, chroms)
    np.testing.assert_array_equal(store["chrom"][:], chrom)
    np.testing.assert_array_equal(store["start"][:], start)
    np.testing.assert_array_equal(store["end"][:], start + WIDTH)
    np.testing.assert_array_equal(store["one_hot"][:], one_hot)
    assert store["contribs"].shape == (2, 24, WIDTH, 4)
    assert store["contribs"].chunks == (2, 7, WIDTH, 4)
    assert store["done"][:].all()
    attrs = store.attrs["deeplift"]
    import hashlib
    assert attrs["model_sha256"] == hashlib.sha256((root / "model.h5").read_bytes()).hexdigest()
    assert (attrs["tasks"], attrs["seed"], attrs["reference"]) == (tasks, seed, "shuffle:3")
    assert attrs["mode"] == "DeepLIFT_GenomicsDefault"

    refs = shuffled_refs(one_hot, num_refs, [window_seed(seed, k) for k in range(24)])
    contribs, hyp = api_scores(root / "model.h5", one_hot, tasks, refs)
    np.testing.assert_allclose(store["contribs"][:], contribs, atol=2e-6)
    np.testing.assert_allclose(store["hypothetical_contribs"][:], hyp, atol=2e-6)
    # convergence delta: summed contributions minus the mean over references
    # of the Keras logit difference
    keras_model = keras.models.load_model(root / "model.h5")
    logits_x = keras_logits(keras_model, one_hot)[:, tasks].T
    logits_r = keras_logits(keras_model, refs.reshape((-1, WIDTH, 4)))[:, tasks].T
    diff = logits_x - logits_r.reshape(len(tasks), 24, num_refs).mean(-1)
    np.testing.assert_allclose(store["convergence_delta"][:],
                               store["contribs"][:].sum((2, 3)) - diff, atol=1e-4)
    # (not ~0 here: a max pool with per-window references does not conserve)


def test_zero_reference_and_shard_size_do_not_change_results(genome_dir, tmp_path):
    import zarr

    from deeplift.scale import score_regions

    root, _ = genome_dir
    args = (root / "model.h5", root / "regions.bed", root / "genome.fa", WIDTH)
    score_regions(*args, tmp_path / "a.zarr", [1], reference="zeros", shard_size=24,
                  progress=False)
    score_regions(*args, tmp_path / "b.zarr", [1], reference="zeros", shard_size=5,
                  progress=False)
    a, b = (zarr.open_group(str(tmp_path / n), mode="r") for n in ("a.zarr", "b.zarr"))
    np.testing.assert_allclose(a["contribs"][:], b["contribs"][:], atol=1e-6)
    # zero reference: contributions are the hypothetical ones on the present base
    np.testing.assert_allclose(a["contribs"][:], a["hypothetical_contribs"][:] * a["one_hot"][:],
                               atol=1e-6)


def test_functional_two_headed_model_matches_deeplift_score(genome_dir, tmp_path):
    """--output/--task/--target profile select the same target as
    `deeplift score --sequences` (ScoreTarget.score on the same windows)."""
    import argparse

    import keras
    import zarr

    from deeplift.cli import main
    from deeplift.conversion.kerasapi_conversion import convert_model_from_saved_files
    from deeplift.score_targets import select_target

    root, chroms = genome_dir
    keras.utils.set_random_seed(1)
    seq = keras.Input((WIDTH, 4), name="seq")
    hidden = keras.layers.Conv1D(4, 5, padding="same", activation="relu")(seq)
    profile = keras.layers.Conv1D(2, 3, padding="same", name="profile")(hidden)
    counts = keras.layers.Dense(1, name="counts")(keras.layers.GlobalAveragePooling1D()(hidden))
    path = tmp_path / "two_heads.keras"
    keras.Model(seq, [profile, counts]).save(path)
    out = tmp_path / "p.zarr"
    assert main(["score", str(path), "--regions", str(root / "regions.bed"), "--genome",
                 str(root / "genome.fa"), "--width", str(WIDTH), "--output", "profile",
                 "--task", "3,1", "--target", "profile", "--reference", "zeros",
                 "--mode", "Rescale", "--shard-size", "10", "--out", str(out)]) == 0
    store = zarr.open_group(str(out), mode="r")
    assert store.attrs["deeplift"]["labels"] == ["profile_task3_1", "profile_profile"]
    _, _, one_hot = _expected_windows(root, chroms)
    target = select_target(convert_model_from_saved_files(str(path), nonlinear_mxts_mode="Rescale"),
                           argparse.Namespace(output="profile", target_layer=None,
                                              task=[(3, 1)], target="profile",
                                              sequence_input=None, input=[]))
    for axis, (contribs, hyp) in enumerate(target.score(one_hot, num_refs=0)):
        np.testing.assert_allclose(store["contribs"][axis], contribs, atol=1e-6)
        np.testing.assert_allclose(store["hypothetical_contribs"][axis], hyp, atol=1e-6)
    # Rescale without max pools: contributions sum to the target's difference
    assert np.abs(store["convergence_delta"][:]).max() < 1e-4
