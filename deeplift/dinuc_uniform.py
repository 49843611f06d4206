"""The uniform dinucleotide shuffle: every sequence with the same adjacent-pair
counts, first and last symbol is equally likely.

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
symbol is equally likely too. Selected with ``dinuc_shuffle(..., method="uniform")``.
"""
from __future__ import annotations

import math

import numpy as np


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


def count_arrangements(tokens: np.ndarray, num_symbols: int) -> int:
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


def shuffle_tokens_uniformly(
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
