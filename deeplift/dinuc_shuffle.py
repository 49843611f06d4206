"""Dinucleotide-preserving sequence shuffles, used to build DeepLIFT references.

A shuffle keeps the exact count of every adjacent pair of symbols (and the first
and last symbol) of a sequence, so the references it yields keep the sequence's
local composition (CpG content, for instance) while destroying motifs.

Viewing the sequence as a walk over a multigraph whose nodes are symbols and whose
edges are the ``L - 1`` adjacent pairs, every sequence with the same pair counts is
an Eulerian path of that graph from the first to the last symbol. A uniformly
random such path is drawn as in Altschul & Erickson (1985, Mol. Biol. Evol.
2:526) and Kandel, Matias, Unger & Winkler (1996, "Shuffling biological
sequences", Discrete Applied Mathematics):

1. For every node except the last symbol, pick the edge along which the walk
   leaves it for the last time. These "last exits" must form a spanning
   arborescence directed to the last symbol; one is drawn with probability
   proportional to its number of edge copies by Wilson's loop-erased random walk
   (Wilson 1996, STOC), which needs no rejection step.
2. Order the remaining out-edges of every node uniformly at random, put the last
   exit at the end, and follow the edges from the first symbol.

Every Eulerian path (with copies of an edge told apart) is produced with the same
probability, so every distinct sequence with the same pair counts, first and last
symbol is equally likely too.
"""
from __future__ import annotations

import math
import warnings
import numpy as np

__all__ = ["SingleArrangementWarning", "dinuc_shuffle"]


class SingleArrangementWarning(UserWarning):
    """The sequence has only one arrangement with its dinucleotide counts.

    Every shuffle is then the input itself, so references built from it equal the
    input and contribute nothing (e.g. ``"ACACAC"``, ``"AAAA"``, length < 3).
    """


RngLike = np.random.Generator | np.random.RandomState | int | None


def _as_generator(rng: RngLike) -> np.random.Generator:
    """Normalises ``rng`` to a ``numpy.random.Generator``."""
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, np.random.RandomState):
        # Derive a seed from the RandomState so that its stream advances and the
        # caller's seeding keeps making runs reproducible.
        return np.random.default_rng(int(rng.randint(np.iinfo(np.int64).max, dtype=np.int64)))
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"rng must be a non-negative int seed; received {rng}.")
        return np.random.default_rng(int(rng))
    raise TypeError(
        "rng must be a numpy.random.Generator, a numpy.random.RandomState, an int "
        f"seed or None; received {type(rng).__name__}."
    )


def _string_to_codes(seq: str) -> np.ndarray:
    """Unicode code points of ``seq`` as a uint32 array of shape (L,)."""
    return np.frombuffer(seq.encode("utf-32-le"), dtype="<u4")


def _codes_to_string(codes: np.ndarray) -> str:
    return np.ascontiguousarray(codes, dtype="<u4").tobytes().decode("utf-32-le")


def _one_hot_to_codes(seq: np.ndarray) -> np.ndarray:
    """Symbol index per row of an (L, A) one-hot array; all-zero rows get index A."""
    if seq.ndim != 2:
        raise ValueError(
            f"seq must be a string or a one-hot array of shape (L, A); received an "
            f"array of shape {seq.shape}."
        )
    length, alphabet_size = seq.shape
    if alphabet_size == 0:
        raise ValueError(f"seq must have at least one channel (shape (L, A), A >= 1); received shape {seq.shape}.")
    is_zero = seq == 0
    is_one = seq == 1
    bad_value = ~(is_zero | is_one)
    row_sums = is_one.sum(axis=1)
    bad_rows = np.flatnonzero(bad_value.any(axis=1) | (row_sums > 1))
    if bad_rows.size:
        row = int(bad_rows[0])
        raise ValueError(
            "seq must be one-hot: every row of the (L, A) array must hold a single 1 "
            f"and zeros elsewhere (or be all zeros, e.g. for N); row {row} is "
            f"{seq[row].tolist()}."
        )
    codes = np.argmax(is_one, axis=1)
    codes[row_sums == 0] = alphabet_size
    return codes


def _integer_determinant(matrix: list[list[int]]) -> int:
    """Exact determinant of a square integer matrix (fraction-free Bareiss elimination)."""
    m = [row[:] for row in matrix]
    n = len(m)
    sign, previous_pivot = 1, 1
    for k in range(n - 1):
        if m[k][k] == 0:
            swap = next((i for i in range(k + 1, n) if m[i][k] != 0), None)
            if swap is None:
                return 0
            m[k], m[swap] = m[swap], m[k]
            sign = -sign
        for i in range(k + 1, n):
            for j in range(k + 1, n):
                m[i][j] = (m[i][j] * m[k][k] - m[i][k] * m[k][j]) // previous_pivot
        previous_pivot = m[k][k]
    return sign * m[n - 1][n - 1] if n else 1


def _count_arrangements(tokens: np.ndarray, num_symbols: int) -> int:
    """Number of distinct sequences sharing the pair counts, first and last symbol.

    BEST theorem for Eulerian paths ending at ``r``: (arborescences into ``r``,
    counted with edge multiplicity) x prod_{v != r} (outdeg(v) - 1)! x outdeg(r)!
    gives the paths with labelled edges; dividing by prod m_uv! for the
    multiplicities m_uv of the pairs merges paths that only permute copies.
    """
    if tokens.size < 3:
        return 1
    root = int(tokens[-1])
    pair_counts = np.zeros((num_symbols, num_symbols), dtype=np.int64)
    np.add.at(pair_counts, (tokens[:-1], tokens[1:]), 1)
    out_degree = pair_counts.sum(axis=1)
    others = [v for v in range(num_symbols) if v != root]
    # Laplacian D_out - A restricted to the non-root nodes; self-loops cancel out.
    laplacian = [
        [int((out_degree[v] if v == w else 0) - pair_counts[v, w]) for w in others] for v in others
    ]
    labelled_paths = _integer_determinant(laplacian) * math.factorial(int(out_degree[root]))
    for v in others:
        labelled_paths *= math.factorial(int(out_degree[v]) - 1)
    copies = 1
    for count in pair_counts[pair_counts > 1].tolist():
        copies *= math.factorial(count)
    return labelled_paths // copies


def _shuffle_tokens(
    tokens: np.ndarray, num_symbols: int, num_shufs: int, rng: np.random.Generator
) -> np.ndarray:
    """Uniformly random Eulerian-path shuffles of a compact int sequence.

    Args:
        tokens: int array of shape (L,), L >= 2, with values in [0, num_symbols),
            every value present.
        num_symbols: number of distinct symbols.
        num_shufs: number of shuffles.
        rng: random generator.

    Returns:
        int array of shape (num_shufs, L).
    """
    length = tokens.size
    src, dst = tokens[:-1], tokens[1:]
    num_edges = length - 1
    start, root = int(tokens[0]), int(tokens[-1])
    out_degree = np.bincount(src, minlength=num_symbols)
    offsets = np.concatenate(([0], np.cumsum(out_degree)))
    # Edge ids grouped by source node: edges_by_src[offsets[v]:offsets[v + 1]] leave v.
    edges_by_src = np.argsort(src, kind="stable")
    degree_list = out_degree.tolist()
    offset_list = offsets.tolist()
    edge_list = edges_by_src.tolist()
    dst_list = dst.tolist()

    # Random sort keys order each node's out-edges; last exits get a key above all.
    keys = rng.random((num_shufs, num_edges))
    walkers = [v for v in range(num_symbols) if v != root]
    for shuf in range(num_shufs):
        in_tree = [False] * num_symbols
        in_tree[root] = True
        last_exit = [0] * num_symbols
        # Pre-drawn uniforms for the loop-erased walks; refilled if they run out.
        uniforms, used = rng.random(4 * num_symbols + 8).tolist(), 0
        for first in walkers:
            node = first
            while not in_tree[node]:
                if used == len(uniforms):
                    uniforms, used = rng.random(4 * num_symbols + 8).tolist(), 0
                # A uniformly drawn copy of an out-edge: successors weighted by
                # multiplicity, and copies told apart.
                edge = edge_list[offset_list[node] + int(uniforms[used] * degree_list[node])]
                used += 1
                last_exit[node] = edge  # overwriting erases any loop through node
                node = dst_list[edge]
            node = first
            while not in_tree[node]:
                in_tree[node] = True
                node = dst_list[last_exit[node]]
        for v in walkers:
            keys[shuf, last_exit[v]] = 2.0

    # One argsort of "source node + key" groups edges by source and orders each
    # group by key (keys lie in [0, 1) and last exits at 2, below the next node's 3).
    order = np.argsort(keys + 3.0 * src, axis=-1)
    successors = dst[order]  # (num_shufs, num_edges), grouped by source node
    shuffled = np.empty((num_shufs, length), dtype=np.int64)
    for shuf, row in enumerate(successors.tolist()):
        step = [iter(row[offset_list[v]:offset_list[v + 1]]).__next__ for v in range(num_symbols)]
        node = start
        # Each visit to a node consumes its next out-edge in the drawn order.
        walk = [start] + [node := step[node]() for _ in range(num_edges)]
        shuffled[shuf] = np.fromiter(walk, dtype=np.int64, count=length)
    return shuffled


def dinuc_shuffle(
    seq: str | np.ndarray,
    num_shufs: int | None = None,
    rng: RngLike = None,
) -> str | list[str] | np.ndarray:
    """Shuffles a sequence while keeping its exact dinucleotide counts.

    Args:
        seq: a string over any alphabet (e.g. ``"ACGT..."``; characters compare
            exactly, so ``"a"`` and ``"A"`` are different symbols), or a one-hot
            array of shape (L, A) whose rows hold a single 1 or are all zeros (an
            all-zero row, e.g. for ``N``, is shuffled as a symbol of its own).
        num_shufs: number of shuffles. ``None`` returns a single shuffle with no
            leading axis.
        rng: a ``numpy.random.Generator``, a ``numpy.random.RandomState``, an int
            seed, or ``None`` for a fresh, unseeded generator. The same seed gives
            the same shuffles.

    Returns:
        For a string: a string (``num_shufs=None``) or a list of ``num_shufs``
        strings. For an array: an array of shape (L, A) or (num_shufs, L, A) with
        the input's dtype. Each shuffle has the same first and last symbol and the
        same count of every adjacent pair as ``seq``, and is drawn uniformly among
        all such sequences.

    Raises:
        ValueError: ``seq`` is neither a string nor an (L, A) one-hot array, or
            ``num_shufs`` is not a positive int.
        TypeError: ``rng`` has an unsupported type.

    Warns:
        SingleArrangementWarning: ``seq`` is the only sequence with its pair counts
            (e.g. ``"ACACAC"``, ``"AAAA"``, length < 3); every shuffle equals it.
    """
    if num_shufs is not None and (
        isinstance(num_shufs, bool) or not isinstance(num_shufs, (int, np.integer)) or num_shufs < 1
    ):
        raise ValueError(f"num_shufs must be None or a positive int; received {num_shufs!r}.")
    generator = _as_generator(rng)
    count = 1 if num_shufs is None else int(num_shufs)

    if isinstance(seq, str):
        codes = _string_to_codes(seq)
    elif isinstance(seq, np.ndarray):
        codes = _one_hot_to_codes(seq)
    else:
        raise ValueError(
            "seq must be a str or a one-hot numpy array of shape (L, A); received "
            f"{type(seq).__name__}. Convert array-likes with numpy.asarray first."
        )

    symbols, tokens = np.unique(codes, return_inverse=True)
    tokens = tokens.reshape(-1)
    if _count_arrangements(tokens, symbols.size) == 1:
        warnings.warn(
            f"seq (length {tokens.size}) is the only sequence with its dinucleotide "
            "counts, first and last symbol; every shuffle equals the input.",
            SingleArrangementWarning,
            stacklevel=2,
        )
        shuffled_codes = np.broadcast_to(codes, (count, codes.size))
    else:
        shuffled_codes = symbols[_shuffle_tokens(tokens, symbols.size, count, generator)]

    if isinstance(seq, str):
        strings = [_codes_to_string(row) for row in shuffled_codes]
        return strings[0] if num_shufs is None else strings
    alphabet_size = seq.shape[1]
    # Row A of the lookup is the all-zero row that stands for "no symbol".
    lookup = np.concatenate([np.eye(alphabet_size, dtype=seq.dtype), np.zeros((1, alphabet_size), seq.dtype)])
    one_hot = lookup[shuffled_codes]
    return one_hot[0] if num_shufs is None else one_hot
