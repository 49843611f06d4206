"""Reading, encoding and exporting DNA sequences for DeepLIFT genomics workflows.

* :func:`one_hot_encode` turns strings into the (N, L, A) arrays the models take.
* :func:`read_fasta` parses FASTA files (plain or gzip-compressed).
* :func:`save_modisco_inputs` writes one-hot sequences and hypothetical
  contributions in the layout of modisco-lite's ``modisco motifs -s ... -a ...``.
"""
from __future__ import annotations

import gzip
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

__all__ = ["one_hot_encode", "read_fasta", "save_modisco_inputs"]

MODISCO_SEQUENCES_FILENAME = "ohe.npz"
MODISCO_ATTRIBUTIONS_FILENAME = "shap.npz"
# modisco-lite reads ``np.load(path)["arr_0"]``: the name np.savez gives the first
# positional array.
MODISCO_NPZ_KEY = "arr_0"


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype="<u4")


def one_hot_encode(
    sequences: Iterable[str],
    alphabet: str = "ACGT",
    dtype: DTypeLike = np.float32,
) -> np.ndarray:
    """One-hot encodes equal-length sequences.

    Args:
        sequences: iterable of N strings of equal length L (a single string must
            be wrapped in a list).
        alphabet: the A symbols, in channel order. Matching is case-insensitive.
        dtype: dtype of the returned array.

    Returns:
        Array of shape (N, L, A): ``out[n, i, a] == 1`` when character i of
        sequence n is ``alphabet[a]`` (either case). Characters outside the
        alphabet (``N``, gaps, ...) give all-zero rows.

    Raises:
        ValueError: ``sequences`` is a single string, an element is not a string,
            the lengths differ, or ``alphabet`` is empty or repeats a symbol.
    """
    if isinstance(sequences, (str, bytes)):
        raise ValueError(
            "sequences must be an iterable of strings, but received a single "
            f"{type(sequences).__name__} of length {len(sequences)}; wrap it in a list."
        )
    if not isinstance(alphabet, str) or not alphabet:
        raise ValueError(f"alphabet must be a non-empty string such as 'ACGT'; received {alphabet!r}.")
    if len(set(alphabet.upper())) != len(alphabet):
        raise ValueError(
            f"alphabet must not repeat a symbol (matching is case-insensitive); received {alphabet!r}."
        )
    sequences = list(sequences)
    for index, seq in enumerate(sequences):
        if not isinstance(seq, str):
            raise ValueError(f"sequences[{index}] must be a str; received {type(seq).__name__}.")
    num_seqs, alphabet_size = len(sequences), len(alphabet)
    if num_seqs == 0:
        return np.zeros((0, 0, alphabet_size), dtype=dtype)
    length = len(sequences[0])
    for index, seq in enumerate(sequences):
        if len(seq) != length:
            raise ValueError(
                f"sequences[{index}] has length {len(seq)} but sequences[0] has length "
                f"{length}; all sequences must have the same length (pad or trim them first)."
            )

    codes = _code_points("".join(sequences))
    symbol_codes = [ord(c) for c in alphabet.upper() + alphabet.lower()]
    table_size = max(symbol_codes) + 1
    # Channel index per code point; -1 marks characters outside the alphabet.
    table = np.full(table_size, -1, dtype=np.int64)
    for channel, char in enumerate(alphabet):
        table[ord(char.upper())] = channel
        table[ord(char.lower())] = channel
    channels = np.full(codes.shape, -1, dtype=np.int64)
    in_table = codes < table_size
    channels[in_table] = table[codes[in_table]]

    out = np.zeros((num_seqs * length, alphabet_size), dtype=dtype)
    known = np.flatnonzero(channels >= 0)
    out[known, channels[known]] = 1
    return out.reshape(num_seqs, length, alphabet_size)


def read_fasta(path: str | os.PathLike) -> list[tuple[str, str]]:
    """Reads the records of a FASTA file.

    Headers start with ``>``; the name is the rest of the header line, stripped.
    Sequence lines up to the next header are concatenated with whitespace
    removed. Blank lines and ``;`` comment lines are skipped. Files ending in
    ``.gz`` are decompressed.

    Args:
        path: path to the FASTA file.

    Returns:
        List of ``(name, sequence)`` tuples in file order.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: sequence data before the first header, a header with no
            name, or a record with no sequence; the message gives the line number.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"FASTA file not found: {str(path)!r}.")
    opener = gzip.open if path.suffix == ".gz" else open
    records: list[tuple[str, str]] = []
    name: str | None = None
    header_line = 0
    chunks: list[str] = []

    def finish_record() -> None:
        if name is None:
            return
        if not chunks:
            raise ValueError(
                f"{path}: line {header_line}: record {name!r} has no sequence lines."
            )
        records.append((name, "".join(chunks)))

    with opener(path, "rt") as handle:
        for line_number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text or text.startswith(";"):
                continue
            if text.startswith(">"):
                finish_record()
                name, header_line, chunks = text[1:].strip(), line_number, []
                if not name:
                    raise ValueError(f"{path}: line {line_number}: header '>' has no name.")
            elif name is None:
                raise ValueError(
                    f"{path}: line {line_number}: sequence data before the first '>' "
                    "header; is this a FASTA file?"
                )
            else:
                chunks.append("".join(text.split()))
    finish_record()
    return records


def save_modisco_inputs(
    one_hot: np.ndarray,
    hypothetical_contribs: np.ndarray,
    out_dir: str | os.PathLike,
    prefix: str = "",
) -> tuple[Path, Path]:
    """Writes inputs for modisco-lite's ``modisco motifs`` command.

    modisco-lite reads ``np.load(path)["arr_0"]`` from each ``.npz`` file and
    expects shape (N, 4, L), so the (N, L, 4) arrays are transposed and stored as
    float32 under ``arr_0``. Run it as
    ``modisco motifs -s {prefix}ohe.npz -a {prefix}shap.npz -n 2000 -w L``;
    its window ``-w`` (default 400) must not exceed the sequence length L.

    Args:
        one_hot: one-hot sequences, shape (N, L, 4).
        hypothetical_contribs: hypothetical contributions (scores for every base at
            every position, e.g. from ``deeplift.genomics``), shape (N, L, 4).
        out_dir: directory to write to; created if missing.
        prefix: prefix of both file names.

    Returns:
        ``(sequences_path, attributions_path)``: the paths of
        ``{prefix}ohe.npz`` and ``{prefix}shap.npz``.

    Raises:
        ValueError: an array is not 3-D with 4 channels, or the shapes differ.
    """
    arrays = {"one_hot": np.asarray(one_hot), "hypothetical_contribs": np.asarray(hypothetical_contribs)}
    for arg, array in arrays.items():
        if array.ndim != 3 or array.shape[2] != 4:
            raise ValueError(
                f"{arg} must have shape (N, L, 4) (sequences x positions x ACGT); "
                f"received shape {array.shape}."
            )
    if arrays["one_hot"].shape != arrays["hypothetical_contribs"].shape:
        raise ValueError(
            "one_hot and hypothetical_contribs must have the same shape (N, L, 4); "
            f"received {arrays['one_hot'].shape} and {arrays['hypothetical_contribs'].shape}."
        )
    if not isinstance(prefix, str):
        raise ValueError(f"prefix must be a str; received {type(prefix).__name__}.")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = (out_dir / f"{prefix}{MODISCO_SEQUENCES_FILENAME}", out_dir / f"{prefix}{MODISCO_ATTRIBUTIONS_FILENAME}")
    for path, array in zip(paths, arrays.values()):
        channels_first = np.ascontiguousarray(array.transpose(0, 2, 1), dtype=np.float32)
        np.savez_compressed(path, **{MODISCO_NPZ_KEY: channels_first})
    return paths
