"""Bad inputs: clear errors naming the file and line; stores never clobbered."""
import numpy as np
import pytest

from deeplift.cli import main
from scale_helpers import CHROM_LENGTHS, WIDTH, write_vcf


def _score(root, out, *extra):
    return main(["score", str(root / "model.h5"), "--genome", str(root / "genome.fa"),
                 "--width", str(WIDTH), "--task", "0", "--reference", "zeros",
                 "--out", str(out), *extra])


def test_region_past_chromosome_end_names_file_and_line(genome_dir, tmp_path, capsys):
    root, _ = genome_dir
    bed = tmp_path / "bad.bed"
    bed.write_text(f"chr1\t100\t110\nchr2\t{CHROM_LENGTHS['chr2'] - 5}\t"
                   f"{CHROM_LENGTHS['chr2'] - 1}\n")
    assert _score(root, tmp_path / "o.zarr", "--regions", str(bed)) == 2
    err = capsys.readouterr().err
    assert f"{bed}:2" in err and "past the end of chr2" in err and "length 300" in err
    assert not (tmp_path / "o.zarr").exists()


def test_region_before_chromosome_start(genome_dir, tmp_path):
    from deeplift.scale import score_regions

    root, _ = genome_dir
    with pytest.raises(ValueError, match=r"regions\[0\].*starts before"):
        score_regions(root / "model.h5", (["chr1"], [3], [5]), root / "genome.fa", WIDTH,
                      tmp_path / "o.zarr", [0], progress=False)


def test_unknown_chromosome_names_file_and_line(genome_dir, tmp_path, capsys):
    root, _ = genome_dir
    bed = tmp_path / "bad.bed"
    bed.write_text("# header\nchr1\t100\t110\nchrX\t100\t110\n")
    assert _score(root, tmp_path / "o.zarr", "--regions", str(bed)) == 2
    err = capsys.readouterr().err
    assert f"{bed}:3" in err and "unknown chromosome 'chrX'" in err and "chr1" in err


def test_malformed_bed_line(genome_dir, tmp_path, capsys):
    root, _ = genome_dir
    bed = tmp_path / "bad.bed"
    bed.write_text("chr1\t100\t110\nchr1\tabc\t110\n")
    assert _score(root, tmp_path / "o.zarr", "--regions", str(bed)) == 2
    assert f"{bed}:2: start and end must be integers" in capsys.readouterr().err


def test_vcf_ref_mismatch_errors_or_is_flagged(genome_dir, tmp_path, capsys):
    import zarr

    from deeplift.scale.variants import RefMismatchWarning

    root, chroms = genome_dir
    good = chroms["chr1"][100]
    wrong = next(b for b in "ACGT" if b != good.upper())
    other = next(b for b in "ACGT" if b not in (wrong, good.upper()))
    vcf = write_vcf(tmp_path / "v.vcf", [("chr1", 101, "ok", good, other),
                                         ("chr1", 101, "bad", wrong, other)])
    assert _score(root, tmp_path / "o.zarr", "--variants", str(vcf)) == 2
    err = capsys.readouterr().err
    assert f"{vcf}:4" in err and f"REF allele {wrong!r}" in err and f"has {good!r}" in err
    with pytest.warns(RefMismatchWarning, match=f"1 of 2 .*{vcf}:4"):
        assert _score(root, tmp_path / "o.zarr", "--variants", str(vcf),
                      "--ref-mismatch", "flag") == 0
    np.testing.assert_array_equal(zarr.open_group(str(tmp_path / "o.zarr"))["ref_matches"][:],
                                  [True, False])


def test_variant_too_close_to_the_end(genome_dir, tmp_path, capsys):
    root, chroms = genome_dir
    pos = CHROM_LENGTHS["chr2"] - 3
    vcf = write_vcf(tmp_path / "v.vcf", [("chr2", pos, ".", chroms["chr2"][pos - 1], "A")])
    assert _score(root, tmp_path / "o.zarr", "--variants", str(vcf)) == 2
    assert f"{vcf}:3" in capsys.readouterr().err


@pytest.mark.parametrize("content", [None, "this is not a FASTA file\n", b"\x00\x01\x02"])
def test_unreadable_fasta(genome_dir, tmp_path, capsys, content):
    root, _ = genome_dir
    fasta = tmp_path / "genome.fa"
    if isinstance(content, str):
        fasta.write_text(content)
    elif content is not None:
        fasta.write_bytes(content)
    code = main(["score", str(root / "model.h5"), "--regions", str(root / "regions.bed"),
                 "--genome", str(fasta), "--width", str(WIDTH), "--task", "0",
                 "--out", str(tmp_path / "o.zarr")])
    assert code == 2
    err = capsys.readouterr().err
    assert str(fasta) in err and ("not found" in err if content is None else "cannot read" in err)


def test_existing_store_is_never_overwritten_silently(genome_dir, tmp_path, capsys):
    import zarr

    root, _ = genome_dir
    out = tmp_path / "o.zarr"
    bed = ["--regions", str(root / "regions.bed")]
    assert _score(root, out, *bed) == 0
    before = zarr.open_group(str(out))["contribs"][:]
    assert _score(root, out, *bed, "--seed", "9") == 2
    assert "already exists" in capsys.readouterr().err
    # resuming with other settings is refused, naming the setting
    assert _score(root, out, *bed, "--mode", "Rescale", "--resume") == 2
    assert "mode was 'DeepLIFT_GenomicsDefault'" in capsys.readouterr().err
    np.testing.assert_array_equal(zarr.open_group(str(out))["contribs"][:], before)
    # a finished store resumed computes nothing; --overwrite recomputes
    assert _score(root, out, *bed, "--resume") == 0
    assert "scored 0 of 1 shards" in capsys.readouterr().out
    assert _score(root, out, *bed, "--overwrite", "--task", "1") == 0
    assert zarr.open_group(str(out)).attrs["deeplift"]["tasks"] == [0, 1]
    # a directory that is not a store is refused even with --overwrite
    plain = tmp_path / "plain.zarr"
    plain.mkdir()
    (plain / "keep.txt").write_text("x")
    assert _score(root, plain, *bed, "--overwrite") == 2
    assert "not a Zarr store" in capsys.readouterr().err and (plain / "keep.txt").exists()


@pytest.mark.parametrize("text", ["dask-local:0", "dask-local:two", "slurm", "tcp:/x"])
def test_bad_scheduler_values(genome_dir, tmp_path, capsys, text):
    root, _ = genome_dir
    assert _score(root, tmp_path / "o.zarr", "--regions", str(root / "regions.bed"),
                  "--scheduler", text) == 2
    assert "--scheduler" in capsys.readouterr().err
    assert not (tmp_path / "o.zarr").exists()


def test_regions_need_a_zarr_output_genome_and_width(genome_dir, tmp_path, capsys):
    root, _ = genome_dir
    assert _score(root, tmp_path / "dir", "--regions", str(root / "regions.bed")) == 2
    assert "--out must end in .zarr" in capsys.readouterr().err
    assert main(["score", str(root / "model.h5"), "--regions", str(root / "regions.bed"),
                 "--task", "0", "--out", str(tmp_path / "o.zarr")]) == 2
    assert "need --genome FASTA and --width W" in capsys.readouterr().err


def test_vcf_symbolic_alleles_are_skipped_and_bad_alleles_named(tmp_path):
    from deeplift.scale import read_vcf

    vcf = write_vcf(tmp_path / "v.vcf", [("chr1", 5, "a", "A", "<DEL>"),
                                         ("chr1", 9, "b", "C", "T,*"),
                                         ("chr1", 12, ".", "G", "GA")])
    with pytest.warns(UserWarning, match=rf"skipped 2 symbolic .*first at {vcf}:3"):
        variants = read_vcf(vcf)
    assert variants.ids == ["b/1", "chr1:12:G>GA"]  # /k: the ALT number on the line
    np.testing.assert_array_equal(variants.pos, [8, 11])  # 0-based
    bad = write_vcf(tmp_path / "bad.vcf", [("chr1", 5, "a", "AXG", "A")])
    with pytest.raises(ValueError, match=rf"{bad}:3: REF 'AXG' must be bases"):
        read_vcf(bad)
    bad.write_text("chr1\t0\t.\tA\tC\n")
    with pytest.raises(ValueError, match=rf"{bad}:1: POS must be a positive integer"):
        read_vcf(bad)
