"""score_variants: reference/alternate windows against scoring them directly."""
import numpy as np

from scale_helpers import WIDTH, api_scores, encode, keras_logits, shuffled_refs, write_vcf


def _records(chroms):
    """An SNV, an SNV on a soft-masked base, a deletion, an insertion and a
    multi-allelic line, with REF read from the genome (1-based POS)."""
    out = []
    for chrom, pos0, ref_len, alts in [("chr1", 100, 1, ["A"]), ("chr2", 150, 1, ["T"]),
                                      ("chr1", 220, 3, [None]), ("chr1", 300, 1, ["+GTA"]),
                                      ("chr2", 60, 1, ["C", "G"])]:
        ref = chroms[chrom][pos0:pos0 + ref_len]
        resolved = []
        for alt in alts:
            if alt is None:
                alt = ref[0]
            elif alt.startswith("+"):
                alt = ref + alt[1:]
            elif alt.upper() == ref.upper():
                alt = "G" if ref.upper() != "G" else "C"
            resolved.append(alt)
        out.append((chrom, pos0 + 1, f"v{len(out)}", ref, ",".join(resolved)))
    return out


def _expected(chroms, records):
    refs, alts = [], []
    half = WIDTH // 2
    for chrom, pos, _, ref, alt_field in records:
        p = pos - 1
        seq = chroms[chrom]
        for alt in alt_field.split(","):
            ref_window = seq[p - half:p - half + WIDTH]
            alt_window = (seq[p - half:p] + alt + seq[p + len(ref):p + len(ref) + WIDTH])[:WIDTH]
            refs.append(encode(ref_window))
            alts.append(encode(alt_window))
    return np.stack(refs), np.stack(alts)


def test_ref_and_alt_windows_equal_scoring_them_directly(genome_dir, tmp_path):
    import keras
    import zarr

    from deeplift.scale import score_variants
    from deeplift.scale.shards import window_seed

    root, chroms = genome_dir
    records = _records(chroms)
    vcf = write_vcf(tmp_path / "v.vcf", records)
    tasks, seed = [1], 3
    score_variants(root / "model.h5", vcf, root / "genome.fa", WIDTH, tmp_path / "v.zarr", tasks,
                   reference="shuffle:2", seed=seed, shard_size=4, progress=False)
    store = zarr.open_group(str(tmp_path / "v.zarr"), mode="r")
    ref_onehot, alt_onehot = _expected(chroms, records)
    n = len(ref_onehot)
    assert n == 6  # the multi-allelic line gives two variants
    np.testing.assert_array_equal(store["ref/one_hot"][:], ref_onehot)
    np.testing.assert_array_equal(store["alt/one_hot"][:], alt_onehot)
    # an SNV changes the window at index W//2 only
    changed = np.flatnonzero((ref_onehot[0] != alt_onehot[0]).any(-1))
    np.testing.assert_array_equal(changed, [WIDTH // 2])
    assert list(store["variant_id"][:]) == ["v0", "v1", "v2", "v3", "v4/1", "v4/2"]
    np.testing.assert_array_equal(store["pos"][:], [r[1] for r in records] + [records[-1][1]])
    assert store["ref_matches"][:].all()
    for group, one_hot, allele in (("ref", ref_onehot, 0), ("alt", alt_onehot, 1)):
        refs = shuffled_refs(one_hot, 2, [window_seed(seed, k, allele) for k in range(n)])
        contribs, hyp = api_scores(root / "model.h5", one_hot, tasks, refs)
        np.testing.assert_allclose(store[f"{group}/contribs"][:], contribs, atol=2e-6)
        np.testing.assert_allclose(store[f"{group}/hypothetical_contribs"][:], hyp, atol=2e-6)
    keras_model = keras.models.load_model(root / "model.h5")
    diff = (keras_logits(keras_model, alt_onehot) - keras_logits(keras_model, ref_onehot))[:, 1]
    np.testing.assert_allclose(store["alt_minus_ref"][0], diff, atol=1e-5)
    np.testing.assert_allclose(store["ref/prediction"][0],
                               keras_logits(keras_model, ref_onehot)[:, 1], atol=1e-5)
