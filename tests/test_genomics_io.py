"""Tests for deeplift.genomics_io: one-hot encoding, FASTA parsing, modisco-lite export."""
import gzip
from pathlib import Path

import numpy as np
import pytest

from deeplift.genomics_io import one_hot_encode, read_fasta, save_modisco_inputs


def test_one_hot_encode_by_hand():
    encoded = one_hot_encode(["ACGTN", "tgcax"])
    expected = np.array(
        [
            [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]],
            [[0, 0, 0, 1], [0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]],
        ],
        dtype=np.float32,
    )
    assert encoded.dtype == np.float32
    np.testing.assert_array_equal(encoded, expected)


def test_one_hot_encode_alphabet_dtype_and_empty():
    encoded = one_hot_encode(("GAc", "cGa"), alphabet="CG", dtype=np.int8)
    assert encoded.dtype == np.int8
    np.testing.assert_array_equal(encoded, [[[0, 1], [0, 0], [1, 0]], [[1, 0], [0, 1], [0, 0]]])
    assert one_hot_encode([]).shape == (0, 0, 4)


def test_one_hot_encode_errors():
    with pytest.raises(ValueError, match=r"sequences\[2\] has length 3"):
        one_hot_encode(["ACGT", "ACGT", "ACG"])
    with pytest.raises(ValueError, match="wrap it in a list"):
        one_hot_encode("ACGT")
    with pytest.raises(ValueError, match="alphabet"):
        one_hot_encode(["ACGT"], alphabet="ACGa")


def test_read_fasta_multiline_records(tmp_path):
    path = tmp_path / "seqs.fa"
    path.write_text(">first record\nACGT\nac gt\n\n>second\nNNNN\n;comment\nTT\n>third\nG\n")
    assert read_fasta(path) == [("first record", "ACGTacgt"), ("second", "NNNNTT"), ("third", "G")]
    gz_path = tmp_path / "seqs.fa.gz"
    with gzip.open(gz_path, "wt") as handle:
        handle.write(">x\nAC\nGT\n")
    assert read_fasta(str(gz_path)) == [("x", "ACGT")]
    empty = tmp_path / "empty.fa"
    empty.write_text("")
    assert read_fasta(empty) == []


def test_read_fasta_errors(tmp_path):
    missing = tmp_path / "missing.fa"
    with pytest.raises(FileNotFoundError, match="missing.fa"):
        read_fasta(missing)
    cases = {
        "ACGT\n>a\nAC\n": "line 1",
        ">a\nAC\n>\nGT\n": "line 3",
        ">a\nAC\n\n>b\n>c\nGT\n": "line 4: record .b. has no sequence",
    }
    for index, (text, line) in enumerate(cases.items()):
        path = tmp_path / f"bad{index}.fa"
        path.write_text(text)
        with pytest.raises(ValueError, match=line):
            read_fasta(path)


def _example_arrays(num_seqs=3, length=7):
    rng = np.random.default_rng(0)
    one_hot = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(num_seqs, length))]
    hypothetical = rng.normal(size=(num_seqs, length, 4))  # float64 on purpose
    return one_hot, hypothetical


def test_save_modisco_inputs_layout(tmp_path):
    one_hot, hypothetical = _example_arrays()
    seq_path, attr_path = save_modisco_inputs(one_hot, hypothetical, tmp_path / "out", prefix="run1_")
    assert seq_path == tmp_path / "out" / "run1_ohe.npz"
    assert attr_path == tmp_path / "out" / "run1_shap.npz"
    for path, source in [(seq_path, one_hot), (attr_path, hypothetical)]:
        with np.load(path) as archive:
            assert archive.files == ["arr_0"]
            stored = archive["arr_0"]
        assert stored.shape == (3, 4, 7) and stored.dtype == np.float32
        # stored[n, a, i] is base a at position i of sequence n.
        for n, a, i in [(0, 0, 0), (1, 2, 5), (2, 3, 6)]:
            assert stored[n, a, i] == np.float32(source[n, i, a])


def test_save_modisco_inputs_validates(tmp_path):
    one_hot, hypothetical = _example_arrays()
    with pytest.raises(ValueError, match=r"one_hot must have shape \(N, L, 4\)"):
        save_modisco_inputs(one_hot[..., :3], hypothetical[..., :3], tmp_path)
    with pytest.raises(ValueError, match="hypothetical_contribs must have shape"):
        save_modisco_inputs(one_hot, hypothetical[0], tmp_path)
    with pytest.raises(ValueError, match="same shape"):
        save_modisco_inputs(one_hot, hypothetical[:, :5], tmp_path)


def test_modiscolite_loader_reads_saved_files(tmp_path):
    cli = pytest.importorskip("modiscolite.cli")
    load_input = getattr(cli, "_load_input", None)
    if load_input is None:
        pytest.skip("this modiscolite version has no modiscolite.cli._load_input")
    one_hot, hypothetical = _example_arrays(num_seqs=4, length=10)
    seq_path, attr_path = save_modisco_inputs(one_hot, hypothetical, tmp_path)
    sequences, attributions = load_input(Path(seq_path)), load_input(Path(attr_path))
    # What `modisco motifs` does next: a window on axis 2, then back to (N, L, 4).
    window = 10
    start, end = sequences.shape[2] // 2 - window // 2, sequences.shape[2] // 2 + window // 2
    np.testing.assert_array_equal(sequences[:, :, start:end].transpose(0, 2, 1), one_hot)
    np.testing.assert_allclose(
        attributions[:, :, start:end].transpose(0, 2, 1), hypothetical.astype(np.float32)
    )
