"""Windows of a genome: BED regions centred to a fixed width, read from an
indexed FASTA.

Coordinates are 0-based and half-open as in BED: a region ``start..end``
has midpoint ``mid = (start + end) // 2`` and gives the window
``[mid - W//2, mid - W//2 + W)``. Sequences are read with pyfaidx (which
writes a ``.fai`` index beside the FASTA on first use) and one-hot encoded
with :func:`deeplift.genomics_io.one_hot_encode` (lowercase counts as the
base, ``N`` and other symbols give all-zero rows).
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deeplift.genomics_io import one_hot_encode

__all__ = ["Windows", "Genome", "Sources", "read_bed", "centred_windows", "open_genome"]


class Sources:
    """Where each record came from, for error messages, at 8 bytes a
    record: ``template.format(lines[i])`` (e.g. ``"peaks.bed:{}"``)."""

    def __init__(self, template: str, lines):
        self.template = template
        self.lines = np.asarray(lines, np.int64)

    def __len__(self) -> int:
        return len(self.lines)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sources(self.template, self.lines[index])
        return self.template.format(int(self.lines[index]))

    def __iter__(self):
        return (self.template.format(int(line)) for line in self.lines)


@dataclass
class Windows:
    """Fixed-width windows: ``chrom[i]``, ``start[i]`` (0-based) and
    ``end[i] = start[i] + width``; ``source[i]`` is ``"file:line"`` of the
    input record the window came from (for error messages)."""

    chrom: np.ndarray
    start: np.ndarray
    width: int
    source: Sources

    @property
    def end(self) -> np.ndarray:
        return self.start + self.width

    def __len__(self) -> int:
        return len(self.start)


class Genome:
    """An indexed FASTA (pyfaidx) with bounds-checked window reads.

    Args:
        path: FASTA file (plain or bgzip-compressed).

    Raises:
        ValueError: the file cannot be read or indexed as FASTA (the message
            names the file and pyfaidx's reason, with its line when known).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        if not Path(self.path).is_file():
            raise ValueError(f"{self.path}: genome FASTA not found (or not a file).")
        try:
            import pyfaidx
        except ImportError as err:  # pragma: no cover - depends on the install
            raise ImportError("reading a genome needs pyfaidx: pip install "
                              "'deeplift[genome]'") from err
        try:
            self._fasta = pyfaidx.Fasta(self.path, sequence_always_upper=False,
                                        as_raw=True, rebuild=False)
        except Exception as err:  # pyfaidx raises several unrelated types
            raise ValueError(f"{self.path}: cannot read this genome FASTA: {err}") from None
        self.lengths = {name: len(self._fasta[name]) for name in self._fasta.keys()}

    def check(self, chrom: str, start: int, end: int, where: str) -> None:
        """Raises ValueError naming ``where`` (``"file:line"``) when
        ``chrom`` is unknown or ``[start, end)`` leaves the chromosome."""
        length = self.lengths.get(chrom)
        if length is None:
            known = ", ".join(list(self.lengths)[:5]) + (", ..." if len(self.lengths) > 5 else "")
            raise ValueError(f"{where}: unknown chromosome {chrom!r}: it is not in the "
                             f"genome {self.path} (which has {known}).")
        if start < 0:
            raise ValueError(f"{where}: window {chrom}:{start}-{end} starts before the "
                             f"chromosome's start (0-based {start} < 0).")
        if end > length:
            raise ValueError(f"{where}: window {chrom}:{start}-{end} runs past the end of "
                             f"{chrom} (length {length} in {self.path}).")

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Bases ``[start, end)`` of ``chrom`` as a string (case kept)."""
        if end <= start:
            return ""
        try:
            return str(self._fasta[chrom][start:end])
        except Exception as err:
            raise ValueError(f"{self.path}: cannot read {chrom}:{start}-{end}: {err}") from None

    def one_hot(self, chrom: np.ndarray, start: np.ndarray, width: int) -> np.ndarray:
        """``(n, width, 4)`` float32 one-hot of the given windows."""
        return one_hot_encode([self.fetch(c, int(s), int(s) + width)
                               for c, s in zip(chrom, start)])


_GENOMES: dict[str, Genome] = {}


def open_genome(path: str | os.PathLike) -> Genome:
    """A :class:`Genome`, cached per process (workers reuse the open file)."""
    key = os.path.abspath(path)
    if key not in _GENOMES:
        _GENOMES[key] = Genome(path)
    return _GENOMES[key]


def read_bed(path: str | os.PathLike) -> tuple[list[str], np.ndarray, np.ndarray, Sources]:
    """Reads the first three columns of a BED file.

    ``track``/``browser`` lines, ``#`` comments and blank lines are skipped.

    Returns:
        ``(chrom, start, end, source)``: per record, the chromosome names
        (interned), int64 arrays and :class:`Sources` (``"path:line"``).

    Raises:
        FileNotFoundError: no such file.
        ValueError: fewer than three columns, non-integer or negative
            coordinates, or ``end < start``; the message gives file and line.
    """
    path = str(path)
    if not Path(path).is_file():
        raise FileNotFoundError(f"BED file not found: {path!r}.")
    chroms, starts, ends, lines = [], [], [], []
    with open(path) as handle:
        for number, line in enumerate(handle, start=1):
            text = line.rstrip("\n\r")
            if not text.strip() or text.startswith(("#", "track", "browser")):
                continue
            fields = text.split("\t") if "\t" in text else text.split()
            where = f"{path}:{number}"
            if len(fields) < 3:
                raise ValueError(f"{where}: a BED line needs chrom, start and end; got "
                                 f"{len(fields)} column(s): {text!r}.")
            try:
                start, end = int(fields[1]), int(fields[2])
            except ValueError:
                raise ValueError(f"{where}: start and end must be integers; got "
                                 f"{fields[1]!r} and {fields[2]!r}.") from None
            if start < 0 or end < start:
                raise ValueError(f"{where}: expected 0 <= start <= end; got start {start}, "
                                 f"end {end}.")
            chroms.append(sys.intern(fields[0]))
            starts.append(start)
            ends.append(end)
            lines.append(number)
    if not chroms:
        raise ValueError(f"{path}: the BED file holds no regions.")
    return (chroms, np.asarray(starts, np.int64), np.asarray(ends, np.int64),
            Sources(path.replace("{", "{{").replace("}", "}}") + ":{}", lines))


def centred_windows(chrom, start, end, width: int, sources=None) -> Windows:
    """Windows of ``width`` bases centred on each region's midpoint:
    ``[mid - width//2, mid - width//2 + width)`` with
    ``mid = (start + end) // 2``."""
    if not isinstance(width, (int, np.integer)) or width < 1:
        raise ValueError(f"width must be a positive int; got {width!r}.")
    start = np.asarray(start, np.int64)
    mid = (start + np.asarray(end, np.int64)) // 2
    if sources is None:
        sources = Sources("regions[{}]", np.arange(len(start)))
    return Windows(np.asarray(chrom, dtype=object), mid - width // 2, int(width), sources)


def check_windows(genome: Genome, windows: Windows) -> None:
    """Raises on the first window outside the genome (see Genome.check)."""
    for chrom, start, where in zip(windows.chrom, windows.start, windows.source):
        genome.check(chrom, int(start), int(start) + windows.width, where)
