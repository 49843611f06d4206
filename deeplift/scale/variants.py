"""Variants from a VCF: reference-allele and alternate-allele windows.

For a variant at 1-based VCF ``POS`` (0-based ``p = POS - 1``) and width
``W`` the reference window is the genome's ``[p - W//2, p - W//2 + W)``, so
the variant's first base sits at index ``W//2``. The alternate window has
the same left flank, then the ALT allele, then the bases after the REF
allele, cut to ``W``: for an SNV it differs from the reference window at
index ``W//2`` only; for an indel the right flank shifts.
"""
from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deeplift.genomics_io import one_hot_encode
from deeplift.scale.regions import Genome, Sources

__all__ = ["Variants", "read_vcf", "RefMismatchWarning"]

_BASES = set("ACGTNacgtn")


class RefMismatchWarning(UserWarning):
    """A VCF REF allele disagrees with the genome (``ref_mismatch="flag"``)."""


@dataclass
class Variants:
    """Biallelic records (multi-allelic VCF lines are split per ALT).

    ``pos`` is 0-based; ``source[i]`` is ``"file:line"``; ``ref_matches``
    is filled by :meth:`check`."""

    chrom: np.ndarray
    pos: np.ndarray
    ids: list[str]
    ref: list[str]
    alt: list[str]
    source: Sources
    width: int = 0
    ref_matches: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.pos)

    @property
    def start(self) -> np.ndarray:
        """Start of each reference window."""
        return self.pos - self.width // 2

    @property
    def end(self) -> np.ndarray:
        return self.start + self.width

    def check(self, genome: Genome, ref_mismatch: str = "error") -> None:
        """Bounds-checks both windows of every variant and compares REF with
        the genome. ``ref_mismatch="error"`` raises on the first mismatch;
        ``"flag"`` records it in ``ref_matches`` and warns once."""
        if ref_mismatch not in ("error", "flag"):
            raise ValueError(f"ref_mismatch must be 'error' or 'flag'; got {ref_mismatch!r}.")
        matches = np.ones(len(self), bool)
        for i, (chrom, pos, ref, alt, where) in enumerate(
                zip(self.chrom, self.pos, self.ref, self.alt, self.source)):
            pos = int(pos)
            start = pos - self.width // 2
            genome.check(chrom, start, start + self.width, where)
            flank_end = pos + len(ref) + max(0, self.width - self.width // 2 - len(alt))
            genome.check(chrom, start, flank_end, where)
            actual = genome.fetch(chrom, pos, pos + len(ref))
            if actual.upper() != ref.upper():
                if ref_mismatch == "error":
                    raise ValueError(
                        f"{where}: REF allele {ref!r} at {chrom}:{pos + 1} disagrees with the "
                        f"genome {genome.path}, which has {actual!r} there (wrong genome "
                        f"build? pass ref_mismatch='flag' / --ref-mismatch flag to score "
                        f"it anyway).")
                matches[i] = False
        if not matches.all():
            first = self.source[int(np.flatnonzero(~matches)[0])]
            warnings.warn(f"{int((~matches).sum())} of {len(self)} VCF REF alleles disagree "
                          f"with the genome {genome.path} (first at {first}); they are "
                          f"scored and flagged in 'ref_matches'.", RefMismatchWarning,
                          stacklevel=2)
        self.ref_matches = matches

    def window_strings(self, genome: Genome, index: int) -> tuple[str, str]:
        """(reference window, alternate window) of variant ``index``."""
        chrom, pos = self.chrom[index], int(self.pos[index])
        ref, alt, width = self.ref[index], self.alt[index], self.width
        start = pos - width // 2
        ref_window = genome.fetch(chrom, start, start + width)
        right = max(0, width - width // 2 - len(alt))
        alt_window = (ref_window[:width // 2] + alt
                      + genome.fetch(chrom, pos + len(ref), pos + len(ref) + right))[:width]
        return ref_window, alt_window

    def one_hot(self, genome: Genome, indices) -> dict[str, np.ndarray]:
        """``{"ref": (n, W, 4), "alt": (n, W, 4)}`` for the given indices."""
        pairs = [self.window_strings(genome, int(i)) for i in indices]
        return {"ref": one_hot_encode([p[0] for p in pairs]),
                "alt": one_hot_encode([p[1] for p in pairs])}


def read_vcf(path: str | os.PathLike) -> Variants:
    """Reads CHROM, POS, ID, REF and ALT of a VCF (plain text; ``##`` meta
    lines and the ``#CHROM`` header are skipped).

    Symbolic or missing ALT alleles (``<DEL>``, ``*``, ``.``, breakends)
    cannot be written as a sequence: they are skipped with one warning.

    Raises:
        FileNotFoundError: no such file.
        ValueError: fewer than five columns, a non-integer or non-positive
            POS, or alleles with symbols other than ACGTN; the message gives
            file and line.
    """
    path = str(path)
    if not Path(path).is_file():
        raise FileNotFoundError(f"VCF file not found: {path!r}.")
    if path.endswith(".gz"):
        import gzip
        opener = gzip.open
    else:
        opener = open
    rows = {"chrom": [], "pos": [], "ids": [], "ref": [], "alt": [], "line": []}
    skipped = []
    with opener(path, "rt") as handle:
        for number, line in enumerate(handle, start=1):
            if line.startswith("#") or not line.strip():
                continue
            where = f"{path}:{number}"
            fields = line.rstrip("\n\r").split("\t")
            if len(fields) < 5:
                raise ValueError(f"{where}: a VCF line needs CHROM, POS, ID, REF and ALT "
                                 f"(tab-separated); got {len(fields)} column(s).")
            chrom, pos_text, vid, ref, alts = fields[:5]
            try:
                pos = int(pos_text)
            except ValueError:
                pos = 0
            if pos < 1:
                raise ValueError(f"{where}: POS must be a positive integer; got {pos_text!r}.")
            if not ref or not set(ref) <= _BASES:
                raise ValueError(f"{where}: REF {ref!r} must be bases (ACGTN).")
            for number_alt, alt in enumerate(alts.split(",")):
                if not alt or alt in (".", "*") or not set(alt) <= _BASES:
                    if alt.startswith("<") or alt in (".", "*") or "[" in alt or "]" in alt:
                        skipped.append(where)
                        continue
                    raise ValueError(f"{where}: ALT {alt!r} must be bases (ACGTN).")
                rows["chrom"].append(sys.intern(chrom))
                rows["pos"].append(pos - 1)
                name = vid if vid != "." else f"{chrom}:{pos}:{ref}>{alt}"
                rows["ids"].append(name if len(alts.split(",")) == 1 or vid == "."
                                   else f"{name}/{number_alt + 1}")
                rows["ref"].append(ref)
                rows["alt"].append(alt)
                rows["line"].append(number)
    if skipped:
        warnings.warn(f"{path}: skipped {len(skipped)} symbolic or missing ALT allele(s) "
                      f"(first at {skipped[0]}).", stacklevel=2)
    if not rows["pos"]:
        raise ValueError(f"{path}: the VCF holds no scorable variants.")
    return Variants(np.asarray(rows["chrom"], dtype=object), np.asarray(rows["pos"], np.int64),
                    rows["ids"], rows["ref"], rows["alt"],
                    Sources(path.replace("{", "{{").replace("}", "}}") + ":{}", rows["line"]))
