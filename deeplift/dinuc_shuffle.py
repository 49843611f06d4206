"""Dinucleotide-preserving sequence shuffles, used to build DeepLIFT references.

A shuffle keeps the exact count of every adjacent pair of symbols (and the first
and last symbol) of a sequence, so the references it yields keep the sequence's
local composition (CpG content, for instance) while destroying motifs.

Two samplers, chosen by ``method``:

* ``"original"`` (default): deeplift 0.6.13's shuffle. Each symbol's successors
  are permuted except the successor of its last occurrence, which stays in
  place; given the same ``numpy.random.RandomState`` it returns exactly what
  0.6.13 returned, so published analyses (``rng=RandomState(1)``) reproduce.
  Not every arrangement is equally likely.
* ``"uniform"``: every sequence with the same pair counts, first and last symbol
  is equally likely (``deeplift.dinuc_uniform``).
"""
from __future__ import annotations

import warnings

import numpy as np

from deeplift.dinuc_uniform import count_arrangements, shuffle_tokens_uniformly

__all__ = ["SHUFFLE_METHODS", "SingleArrangementWarning", "dinuc_shuffle",
           "string_to_char_array", "char_array_to_string", "one_hot_to_tokens",
           "tokens_to_one_hot"]

#: ``method`` values of ``dinuc_shuffle``.
SHUFFLE_METHODS = ("original", "uniform")


class SingleArrangementWarning(UserWarning):
    """The sequence has only one arrangement with its dinucleotide counts.

    Every shuffle is then the input itself, so references built from it equal the
    input and contribute nothing (e.g. ``"ACACAC"``, ``"AAAA"``, length < 3).
    """


RngLike = np.random.Generator | np.random.RandomState | int | None


def _is_seed(rng) -> bool:
    """Whether ``rng`` is an int seed (bools excluded).

    Raises:
        ValueError: a negative int seed.
    """
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"rng must be a non-negative int seed; received {rng}.")
        return True
    return False


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
    if _is_seed(rng):
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


def _shuffle_tokens_as_0_6(tokens: np.ndarray, num_symbols: int, num_shufs: int,
                           rng: np.random.RandomState | np.random.Generator) -> np.ndarray:
    """The shuffle of deeplift 0.6.13, drawing the same random numbers.

    For each symbol, the list of symbols that follow its occurrences (in
    sequence order) is kept; the successor of its *last* occurrence stays
    last, which makes every walk below an Eulerian path ending at the last
    symbol. For every shuffle, and for every symbol in sorted order, the
    other successors are permuted by ``rng.permutation(count - 1)``; the
    permutations compose across shuffles (shuffle ``i`` permutes shuffle
    ``i - 1``'s order, as 0.6.13 did). The shuffle is then the walk from the
    first symbol that consumes each symbol's successors in list order.

    Args:
        tokens: int array of shape (L,), L >= 1, values in [0, num_symbols).
        num_symbols: number of distinct symbols.
        num_shufs: number of shuffles.
        rng: its ``permutation`` supplies the randomness.

    Returns:
        int array of shape (num_shufs, L).
    """
    successors = [tokens[1:][tokens[:-1] == symbol] for symbol in range(num_symbols)]
    length = tokens.size
    shuffled = np.empty((num_shufs, length), dtype=np.int64)
    for shuf in range(num_shufs):
        for symbol, after in enumerate(successors):
            order = np.arange(after.size)
            order[:-1] = rng.permutation(max(after.size - 1, 0))
            successors[symbol] = after[order]
        step = [iter(after.tolist()).__next__ for after in successors]
        node = int(tokens[0])
        walk = [node] + [node := step[node]() for _ in range(length - 1)]
        shuffled[shuf] = walk
    return shuffled


def string_to_char_array(seq: str) -> np.ndarray:
    """ASCII codes of ``seq`` as an int8 array of shape (L,) (the original's helper)."""
    return np.frombuffer(seq.encode("ascii"), dtype=np.int8).copy()


def char_array_to_string(arr: np.ndarray) -> str:
    """Inverse of ``string_to_char_array``."""
    return np.asarray(arr, dtype=np.int8).tobytes().decode("ascii")


def one_hot_to_tokens(one_hot: np.ndarray) -> np.ndarray:
    """Row index of the 1 in each row of an (L, D) one-hot array; an all-zero
    row gets token D. Returns an int array of shape (L,)."""
    return _one_hot_to_codes(np.asarray(one_hot)).astype(np.int64)


def tokens_to_one_hot(tokens: np.ndarray, one_hot_dim: int) -> np.ndarray:
    """Inverse of ``one_hot_to_tokens``: (L,) tokens in [0, D] to an (L, D)
    float array, token D giving an all-zero row."""
    lookup = np.concatenate([np.eye(one_hot_dim), np.zeros((1, one_hot_dim))])
    return lookup[np.asarray(tokens)]


def _as_random_state(rng: RngLike) -> np.random.RandomState | np.random.Generator:
    """``rng`` for the original sampler: an int seeds a ``RandomState`` (as
    0.6-era scripts did); ``None`` is a fresh, unseeded ``RandomState``."""
    if rng is None:
        return np.random.RandomState()
    if isinstance(rng, (np.random.RandomState, np.random.Generator)):
        return rng
    if _is_seed(rng):
        return np.random.RandomState(int(rng))
    raise TypeError(
        "rng must be a numpy.random.RandomState, a numpy.random.Generator, an int "
        f"seed or None; received {type(rng).__name__}."
    )


def dinuc_shuffle(
    seq: str | np.ndarray,
    num_shufs: int | None = None,
    rng: RngLike = None,
    method: str = "original",
) -> str | list[str] | np.ndarray:
    """Shuffles a sequence while keeping its exact dinucleotide counts.

    Args:
        seq: a string over any alphabet (e.g. ``"ACGT..."``; characters compare
            exactly, so ``"a"`` and ``"A"`` are different symbols), or a one-hot
            array of shape (L, A) whose rows hold a single 1 or are all zeros (an
            all-zero row, e.g. for ``N``, is shuffled as a symbol of its own).
        num_shufs: number of shuffles. ``None`` returns a single shuffle with no
            leading axis.
        rng: a ``numpy.random.RandomState``, a ``numpy.random.Generator``, an int
            seed, or ``None`` for fresh, unseeded randomness. The same seed gives
            the same shuffles. With ``method="original"`` a ``RandomState`` (or
            an int ``s``, read as ``RandomState(s)``) gives 0.6.13's shuffles for
            ASCII strings and one-hot arrays.
        method: ``"original"`` (0.6.13's sampler, the default) or ``"uniform"``
            (every arrangement equally likely); see the module docstring.

    Returns:
        For a string: a string (``num_shufs=None``) or a list of ``num_shufs``
        strings. For an array: an array of shape (L, A) or (num_shufs, L, A) with
        the input's dtype. Each shuffle has the same first and last symbol and the
        same count of every adjacent pair as ``seq``.

    Raises:
        ValueError: ``seq`` is neither a string nor an (L, A) one-hot array,
            ``num_shufs`` is not a positive int, or ``method`` is unknown.
        TypeError: ``rng`` has an unsupported type.

    Warns:
        SingleArrangementWarning: ``seq`` is the only sequence with its pair counts
            (e.g. ``"ACACAC"``, ``"AAAA"``, length < 3); every shuffle equals it.
    """
    if num_shufs is not None and (
        isinstance(num_shufs, bool) or not isinstance(num_shufs, (int, np.integer)) or num_shufs < 1
    ):
        raise ValueError(f"num_shufs must be None or a positive int; received {num_shufs!r}.")
    if method not in SHUFFLE_METHODS:
        raise ValueError(f"Unknown method={method!r}; expected one of {list(SHUFFLE_METHODS)}.")
    generator = _as_random_state(rng) if method == "original" else _as_generator(rng)
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
    single = count_arrangements(tokens, symbols.size) == 1
    if single:
        warnings.warn(
            f"seq (length {tokens.size}) is the only sequence with its dinucleotide "
            "counts, first and last symbol; every shuffle equals the input.",
            SingleArrangementWarning,
            stacklevel=2,
        )
    if method == "original" and tokens.size:
        # Drawn even for a single arrangement, so the rng advances as in 0.6.13.
        shuffled_codes = symbols[_shuffle_tokens_as_0_6(tokens, symbols.size, count, generator)]
    elif single:
        shuffled_codes = np.broadcast_to(codes, (count, codes.size))
    else:
        shuffled_codes = symbols[shuffle_tokens_uniformly(tokens, symbols.size, count, generator)]

    if isinstance(seq, str):
        strings = [_codes_to_string(row) for row in shuffled_codes]
        return strings[0] if num_shufs is None else strings
    alphabet_size = seq.shape[1]
    # Row A of the lookup is the all-zero row that stands for "no symbol".
    lookup = np.concatenate([np.eye(alphabet_size, dtype=seq.dtype), np.zeros((1, alphabet_size), seq.dtype)])
    one_hot = lookup[shuffled_codes]
    return one_hot[0] if num_shufs is None else one_hot
