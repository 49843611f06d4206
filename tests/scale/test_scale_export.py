"""deeplift export: bigWig, modisco-lite and HDF5 files read back."""
import numpy as np
import pytest

from deeplift.cli import main
from scale_helpers import CHROM_LENGTHS, WIDTH, write_vcf


@pytest.fixture
def region_store(genome_dir, tmp_path):
    root, _ = genome_dir
    out = tmp_path / "r.zarr"
    assert main(["score", str(root / "model.h5"), "--regions", str(root / "regions.bed"),
                 "--genome", str(root / "genome.fa"), "--width", str(WIDTH), "--task", "0",
                 "--task", "2", "--reference", "shuffle:2", "--shard-size", "5",
                 "--out", str(out)]) == 0
    return out


def test_bigwig_reads_back_summed_contributions_averaged_over_overlaps(region_store,
                                                                       tmp_path):
    import pyBigWig
    import zarr

    bw_path = tmp_path / "t2.bw"
    assert main(["export", str(region_store), "--bigwig", str(bw_path), "--task", "2"]) == 0
    store = zarr.open_group(str(region_store), mode="r")
    per_base = store["contribs"][1].sum(-1)  # task 2 is the second scored task
    chrom, start = store["chrom"][:], store["start"][:]
    bw = pyBigWig.open(str(bw_path))
    assert bw.chroms() == CHROM_LENGTHS
    overlapping = 0
    for name, length in CHROM_LENGTHS.items():
        sums, counts = np.zeros(length), np.zeros(length)
        for k in np.flatnonzero(chrom == name):
            sums[start[k]:start[k] + WIDTH] += per_base[k]
            counts[start[k]:start[k] + WIDTH] += 1
        overlapping += int((counts > 1).sum())
        expected = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        got = np.array(bw.values(name, 0, length), dtype=np.float64)
        np.testing.assert_allclose(got, expected, atol=1e-5, equal_nan=True)
    bw.close()
    assert overlapping > 0  # the synthetic regions do overlap


def test_bigwig_needs_a_scored_task(region_store, tmp_path, capsys):
    assert main(["export", str(region_store), "--bigwig", str(tmp_path / "x.bw"),
                 "--task", "1"]) == 2
    assert "task 1 was not scored" in capsys.readouterr().err


def test_modisco_and_hdf5_exports_hold_the_store(region_store, tmp_path):
    import h5py
    import zarr

    store = zarr.open_group(str(region_store), mode="r")
    assert main(["export", str(region_store), "--modisco", str(tmp_path / "m")]) == 0
    for axis, task in enumerate([0, 2]):
        ohe = np.load(tmp_path / "m" / f"task{task}_ohe.npz")["arr_0"]
        shap = np.load(tmp_path / "m" / f"task{task}_shap.npz")["arr_0"]
        np.testing.assert_array_equal(ohe, store["one_hot"][:].transpose(0, 2, 1))
        np.testing.assert_array_equal(shap, store["hypothetical_contribs"][axis].transpose(0, 2, 1))
    assert main(["export", str(region_store), "--hdf5", str(tmp_path / "s.h5")]) == 0
    with h5py.File(tmp_path / "s.h5") as h5:
        for name in ("contribs", "hypothetical_contribs", "one_hot", "convergence_delta",
                     "start", "end", "done"):
            np.testing.assert_array_equal(h5[name][:], store[name][:], err_msg=name)
        assert [c.decode() for c in h5["chrom"][:]] == list(store["chrom"][:])
        assert '"tasks": [0, 2]' in h5.attrs["deeplift"]


def test_variant_store_exports_each_allele(genome_dir, tmp_path, capsys):
    import pyBigWig
    import zarr

    root, chroms = genome_dir
    base = chroms["chr1"][120]
    alt = "A" if base.upper() != "A" else "C"
    vcf = write_vcf(tmp_path / "v.vcf", [("chr1", 121, "rs1", base, alt)])
    out = tmp_path / "v.zarr"
    assert main(["score", str(root / "model.h5"), "--variants", str(vcf), "--genome",
                 str(root / "genome.fa"), "--width", str(WIDTH), "--task", "0",
                 "--reference", "zeros", "--out", str(out)]) == 0
    assert main(["export", str(out), "--bigwig", str(tmp_path / "x.bw"), "--task", "0"]) == 2
    assert "groups 'ref' and 'alt'" in capsys.readouterr().err
    assert main(["export", str(out), "--bigwig", str(tmp_path / "alt.bw"), "--task", "0",
                 "--group", "alt"]) == 0
    store = zarr.open_group(str(out), mode="r")
    bw = pyBigWig.open(str(tmp_path / "alt.bw"))
    got = bw.values("chr1", 120 - WIDTH // 2, 120 - WIDTH // 2 + WIDTH)
    np.testing.assert_allclose(got, store["alt/contribs"][0, 0].sum(-1), atol=1e-6)
    assert main(["export", str(out), "--modisco", str(tmp_path / "m")]) == 0
    assert (tmp_path / "m" / "ref_task0_shap.npz").exists()
    assert (tmp_path / "m" / "alt_task0_ohe.npz").exists()


def test_export_of_an_unfinished_or_missing_store(region_store, tmp_path, capsys):
    import zarr

    zarr.open_group(str(region_store), mode="r+")["done"][1] = False
    assert main(["export", str(region_store), "--hdf5", str(tmp_path / "s.h5")]) == 2
    assert "1 of 5 shards are not scored" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "none.zarr"), "--hdf5", str(tmp_path / "s.h5")]) == 2
    assert "no Zarr store" in capsys.readouterr().err
