"""Tests for deeplift.dinuc_shuffle: invariants of both samplers checked against
independent counters, the original (0.6.13) sampler's draws followed by hand, and
the uniform sampler checked against a brute-force enumeration of all arrangements."""
import warnings
from collections import Counter

import functools

import numpy as np
import pytest

from deeplift.dinuc_shuffle import SHUFFLE_METHODS, SingleArrangementWarning, dinuc_shuffle

dinuc_shuffle_function = dinuc_shuffle

ALPHABETS = ["ACGT", "AC", "ACGTN", "abcdefgh", "αβγ"]


def pair_counts(symbols):
    """Counts of adjacent pairs of a str, or of the rows (as tuples) of a 2-D array."""
    items = list(symbols) if isinstance(symbols, str) else [tuple(row) for row in symbols.tolist()]
    return Counter(zip(items[:-1], items[1:]))


def all_arrangements(seq):
    """Every string with the same first character and adjacent-pair counts as seq.

    Depth-first search that extends a prefix by any character whose pair with the
    prefix's last character is still unused.
    """
    remaining = pair_counts(seq)
    alphabet = sorted(set(seq))
    found = []

    def extend(prefix):
        if len(prefix) == len(seq):
            found.append("".join(prefix))
            return
        for char in alphabet:
            pair = (prefix[-1], char)
            if remaining[pair]:
                remaining[pair] -= 1
                prefix.append(char)
                extend(prefix)
                prefix.pop()
                remaining[pair] += 1

    extend([seq[0]])
    return found


def random_string(rng, length, alphabet):
    # Skewed composition so that repeats and self-pairs (e.g. "AA") are common.
    probs = rng.dirichlet(np.ones(len(alphabet)))
    return "".join(rng.choice(list(alphabet), size=length, p=probs))


@pytest.mark.parametrize("method", SHUFFLE_METHODS)
def test_strings_keep_pair_counts_and_ends(method):
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingleArrangementWarning)
        for trial in range(240):
            alphabet = ALPHABETS[trial % len(ALPHABETS)]
            seq = random_string(rng, int(rng.integers(1, 300)), alphabet)
            shuffles = dinuc_shuffle(seq, num_shufs=3, rng=rng, method=method)
            assert isinstance(shuffles, list) and len(shuffles) == 3
            for shuffled in shuffles:
                assert isinstance(shuffled, str)
                assert len(shuffled) == len(seq)
                assert shuffled[0] == seq[0] and shuffled[-1] == seq[-1]
                assert pair_counts(shuffled) == pair_counts(seq)


@pytest.mark.parametrize("method", SHUFFLE_METHODS)
def test_one_hot_keeps_pair_counts_ends_and_zero_rows(method):
    rng = np.random.default_rng(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingleArrangementWarning)
        for trial in range(200):
            alphabet_size = 4 if trial % 2 else 5
            length = int(rng.integers(1, 300))
            # Symbol alphabet_size stands for an all-zero row (e.g. N).
            symbols = rng.choice(alphabet_size + 1, size=length, p=rng.dirichlet(np.ones(alphabet_size + 1)))
            one_hot = np.zeros((length, alphabet_size), dtype=np.float32)
            real = symbols < alphabet_size
            one_hot[np.flatnonzero(real), symbols[real]] = 1.0
            shuffles = dinuc_shuffle(one_hot, num_shufs=2, rng=rng, method=method)
            assert shuffles.shape == (2, length, alphabet_size)
            assert shuffles.dtype == np.float32
            for shuffled in shuffles:
                assert set(np.unique(shuffled)) <= {0.0, 1.0}
                assert np.all(shuffled.sum(axis=1) <= 1)
                assert np.array_equal(shuffled[0], one_hot[0])
                assert np.array_equal(shuffled[-1], one_hot[-1])
                assert pair_counts(shuffled) == pair_counts(one_hot)
                assert np.sum(shuffled.sum(axis=1) == 0) == np.sum(~real)


def test_single_shuffle_has_no_leading_axis():
    seq = "ACGGTACCATGACTTAGC"
    assert isinstance(dinuc_shuffle(seq, rng=0), str)
    one_hot = np.eye(4, dtype=np.int8)[[0, 1, 2, 2, 3, 0, 1, 1, 0, 3, 2, 0, 1, 3]]
    shuffled = dinuc_shuffle(one_hot, rng=0)
    assert shuffled.shape == one_hot.shape and shuffled.dtype == np.int8


@pytest.mark.parametrize("method", SHUFFLE_METHODS)
def test_seeds_reproduce_and_differ(method):
    seq = random_string(np.random.default_rng(2), 200, "ACGT")
    dinuc_shuffle = functools.partial(dinuc_shuffle_function, method=method)
    assert dinuc_shuffle(seq, 5, rng=7) == dinuc_shuffle(seq, 5, rng=7)
    assert dinuc_shuffle(seq, 5, rng=np.random.default_rng(7)) == dinuc_shuffle(seq, 5, rng=np.random.default_rng(7))
    assert dinuc_shuffle(seq, 5, rng=np.random.RandomState(3)) == dinuc_shuffle(seq, 5, rng=np.random.RandomState(3))
    assert dinuc_shuffle(seq, 5, rng=7) != dinuc_shuffle(seq, 5, rng=8)
    # A Generator advances, so consecutive calls give new shuffles.
    generator = np.random.default_rng(7)
    assert dinuc_shuffle(seq, 5, rng=generator) != dinuc_shuffle(seq, 5, rng=generator)


@pytest.mark.parametrize("method", SHUFFLE_METHODS)
def test_shuffles_vary(method):
    seq = random_string(np.random.default_rng(3), 50, "ACGT")
    shuffles = dinuc_shuffle(seq, num_shufs=200, rng=0, method=method)
    assert len(set(shuffles)) > 150


@pytest.mark.parametrize("method", SHUFFLE_METHODS)
@pytest.mark.parametrize("seq", ["ACACAC", "ACACACAC", "AAAA", "AC", "A", "", "GGGGGGT"])
def test_single_arrangement_warns_and_returns_input(seq, method):
    if seq:
        assert all_arrangements(seq) == [seq]
    with pytest.warns(SingleArrangementWarning):
        assert dinuc_shuffle(seq, num_shufs=3, rng=0, method=method) == [seq] * 3


def test_no_warning_for_random_sequence():
    seq = random_string(np.random.default_rng(4), 100, "ACGT")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dinuc_shuffle(seq, num_shufs=2, rng=0)


def test_warning_fires_exactly_when_brute_force_finds_one_arrangement():
    rng = np.random.default_rng(5)
    seen = Counter()
    for _ in range(150):
        seq = random_string(rng, int(rng.integers(2, 11)), "ACG")
        unique = len(all_arrangements(seq)) == 1
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            dinuc_shuffle(seq, rng=0)
        warned = any(issubclass(w.category, SingleArrangementWarning) for w in caught)
        assert warned == unique, seq
        seen[unique] += 1
    assert seen[True] > 10 and seen[False] > 10


@pytest.mark.parametrize("seq", ["AAGCATTGCAAC", "ACGGTACCATGA"])
def test_every_arrangement_equally_likely(seq):
    arrangements = all_arrangements(seq)
    draws_per_arrangement = 120
    shuffles = dinuc_shuffle(seq, num_shufs=draws_per_arrangement * len(arrangements), rng=11,
                             method="uniform")
    observed = Counter(shuffles)
    assert set(observed) == set(arrangements)
    counts = np.array([observed[a] for a in arrangements], dtype=float)
    chi2 = np.sum((counts - draws_per_arrangement) ** 2 / draws_per_arrangement)
    dof = len(arrangements) - 1
    # Chi-square with dof degrees of freedom has mean dof and sd sqrt(2 dof).
    assert chi2 < dof + 5 * np.sqrt(2 * dof)


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((2, 5, 4)), r"\(L, A\)"),
        (np.zeros(5), r"\(L, A\)"),
        (np.array([[1, 0], [1, 1]]), "one-hot"),
        (np.array([[0.5, 0.5], [1, 0]]), "one-hot"),
        (["A", "C", "G"], "str or a one-hot"),
    ],
)
def test_invalid_seq_raises(bad, match):
    with pytest.raises(ValueError, match=match):
        dinuc_shuffle(bad, rng=0)


def test_invalid_num_shufs_and_rng_raise():
    with pytest.raises(ValueError, match="num_shufs"):
        dinuc_shuffle("ACGTTGCA", num_shufs=0)
    with pytest.raises(TypeError, match="rng"):
        dinuc_shuffle("ACGTTGCA", rng="seed")
    with pytest.raises(TypeError, match="rng"):
        dinuc_shuffle("ACGTTGCA", rng="seed", method="uniform")
    with pytest.raises(ValueError, match="method='markov'.*original.*uniform"):
        dinuc_shuffle("ACGTTGCA", method="markov")


def test_original_sampler_followed_by_hand():
    """"ACAGATC": the successors of A are C, G, T (in sequence order); C, G
    and T have one each (the final C has none). The original keeps each
    symbol's last successor in place and, per shuffle and per symbol in
    sorted order, permutes the others with rng.permutation(count - 1),
    composing with the previous shuffle's order: here permutation(2) for A
    and permutation(0) (no draw) for C, G, T. The walk from A then reads
    A, A's 1st successor, A, A's 2nd successor, A, T, C."""
    seed, num_shufs = 3, 8
    draws = np.random.RandomState(seed)
    order, expected = ["C", "G"], []
    for _ in range(num_shufs):
        order = [order[i] for i in draws.permutation(2)]
        expected.append(f"A{order[0]}A{order[1]}ATC")
    assert set(expected) == {"ACAGATC", "AGACATC"}
    rng = np.random.RandomState(seed)
    assert dinuc_shuffle("ACAGATC", num_shufs, rng=rng) == expected
    assert rng.randint(1 << 30) == draws.randint(1 << 30)     # same draws consumed
    assert dinuc_shuffle("ACAGATC", num_shufs, rng=seed) == expected   # int s = RandomState(s)


def test_original_sampler_consumes_the_rng_as_0_6():
    """Per shuffle, one rng.permutation(count - 1) per symbol in sorted order,
    count = occurrences of the symbol before the last position; one-hot
    input sorts all-zero rows (N) after the letters."""
    seq = random_string(np.random.default_rng(6), 150, "ACGTN")
    one_hot = np.array([[float(c == b) for b in "ACGT"] for c in seq], np.float32)
    for data in (seq, one_hot):
        rng, replay = np.random.RandomState(9), np.random.RandomState(9)
        dinuc_shuffle(data, 4, rng=rng)
        for _ in range(4):
            for symbol in "ACGNT" if data is seq else "ACGTN":
                replay.permutation(max(seq[:-1].count(symbol) - 1, 0))
        assert rng.randint(1 << 30) == replay.randint(1 << 30)


def test_original_sampler_keeps_last_successors():
    """The successor of each symbol's last occurrence (before the end) is kept,
    so those pairs and the final pair are the same in every shuffle."""
    seq = random_string(np.random.default_rng(7), 120, "ACGT")

    def last_successors(s):
        return {a: b for a, b in zip(s[:-1], s[1:])}   # later pairs overwrite

    for shuffled in dinuc_shuffle(seq, 20, rng=np.random.RandomState(1)):
        assert last_successors(shuffled) == last_successors(seq)
        assert pair_counts(shuffled) == pair_counts(seq)


def test_default_is_the_original_sampler():
    seq = random_string(np.random.default_rng(8), 80, "ACGT")
    default = dinuc_shuffle(seq, 5, rng=np.random.RandomState(2))
    assert default == dinuc_shuffle(seq, 5, rng=np.random.RandomState(2), method="original")
    assert default != dinuc_shuffle(seq, 5, rng=2, method="uniform")
