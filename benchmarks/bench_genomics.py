"""Times the genomics workflow on the W1 network: shuffled references and
several tasks per forward pass.

On W1 (one-hot (1000, 4) genomics CNN, random weights, converted with
DeepLIFT_GenomicsDefault: Rescale after the convolutions, RevealCancel after
the dense layer), for ``--seqs`` sequences and median seconds over several
interleaved rounds, this reports:
  * one dinucleotide-shuffled reference per sequence, one task (the unit);
  * ten shuffled references per sequence, one task (target <= 12x the unit),
    with references generated beforehand and, separately, with the shuffling
    inside the timed call;
  * ten shuffled references per sequence, all ten tasks of the output layer
    from the same forward passes (target <= 4x the one-task run), again with
    and without the shuffling inside the timed call; scoring the tasks one
    call at a time would cost 10x.
Alongside, as a yardstick, ``tf.GradientTape`` gradient x input on the same
sequences.

The "floor" column is what the ratio would be if only the convolutions and
matrix products cost time (most of it here), at equal speed forward and
transposed. Per sequence x reference pair, with ``C`` the
multiply-adds of one forward pass through the network: the reference's
forward pass costs ``C``, the sequence's ``C / R`` (a sequence scored
against ``R`` references runs forward once), and each task's backward pass
``C`` (every linear layer is transposed once). So 10 references cost
``(1 + 10 + 10) C`` against ``3 C`` for one, a floor of 7x, and ten tasks
``(0.1 + 1 + 10) C`` against ``(0.1 + 1 + 1) C``, a floor of 5.3x: the
backward pass of the largest convolution costs as much as its forward pass,
and only the backward pass is per task.

Run: ``python benchmarks/bench_genomics.py [--seqs 250] [--rounds 5]``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workloads import deeplift_model_from_keras, genomics_cnn  # noqa: E402
from bench_scoring import gradient_x_input_fn  # noqa: E402

from deeplift.dinuc_shuffle import dinuc_shuffle  # noqa: E402
from deeplift.genomics import get_shuffle_seq_ref_function  # noqa: E402
from deeplift.modes import NonlinearMxtsMode  # noqa: E402

NUM_REFS = 10
NUM_TASKS = 10


def build_candidates(num_seqs: int, batch: int) -> dict:
    """The timed calls, each a function of no arguments."""
    keras_model, make_input = genomics_cnn()
    sequences = make_input(num_seqs)
    model = deeplift_model_from_keras(keras_model, NonlinearMxtsMode.DeepLIFT_GenomicsDefault)
    contribs = model.get_target_contribs_func(find_scores_layer_idx=0, target_layer_idx=-1)
    with_shuffled_refs = get_shuffle_seq_ref_function(contribs, dinuc_shuffle)
    rng = np.random.default_rng(0)
    one_ref = np.stack([dinuc_shuffle(s, num_shufs=1, rng=rng) for s in sequences])
    ten_refs = np.stack([dinuc_shuffle(s, num_shufs=NUM_REFS, rng=rng) for s in sequences])
    gxi = gradient_x_input_fn(keras_model, task=0)
    sequences_tensor = tf.constant(sequences)

    def shuffled(task_idx, num_refs, pregen):
        return lambda: with_shuffled_refs(task_idx=task_idx, input_data_sequences=sequences,
                                          num_refs_per_seq=num_refs, batch_size=batch,
                                          pregen_refs=pregen)

    return {
        "gxi": lambda: gxi(sequences_tensor).numpy(),
        "1 ref, 1 task": shuffled(0, 1, one_ref),
        "10 refs, 1 task": shuffled(0, NUM_REFS, ten_refs),
        "10 refs (shuffled in call), 1 task": shuffled(0, NUM_REFS, None),
        "10 refs, 10 tasks": shuffled(list(range(NUM_TASKS)), NUM_REFS, ten_refs),
        "10 refs (shuffled in call), 10 tasks": shuffled(list(range(NUM_TASKS)), NUM_REFS, None),
    }


def linear_cost_floor(num_refs: int, num_tasks: int) -> float:
    """Cost of scoring ``num_refs`` references x ``num_tasks`` tasks per
    sequence, in forward passes of the network, counting only its linear
    layers (see the module docstring)."""
    return 1 + num_refs + num_refs * num_tasks


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seqs", type=int, default=250)
    parser.add_argument("--batch", type=int, default=250,
                        help="sequence x reference pairs per forward pass")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    candidates = build_candidates(args.seqs, args.batch)
    for fn in candidates.values():  # warm up: trace, compile every batch shape
        fn()
    times = {key: [] for key in candidates}
    for _ in range(args.rounds):
        for key, fn in candidates.items():
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
    t = {key: statistics.median(values) for key, values in times.items()}
    unit, ten = t["1 ref, 1 task"], t["10 refs, 1 task"]
    ten_shuffling = t["10 refs (shuffled in call), 1 task"]
    print(f"device: {tf.config.list_logical_devices()[-1].device_type}, W1, "
          f"{args.seqs} sequences, batch {args.batch}, {args.rounds} rounds, medians")
    print(f"{'run':<38}{'seconds':>9}{'ratio':>9}{'floor':>8}  target")
    refs_floor = linear_cost_floor(NUM_REFS, 1) / linear_cost_floor(1, 1)
    tasks_floor = linear_cost_floor(NUM_REFS, NUM_TASKS) / linear_cost_floor(NUM_REFS, 1)
    rows = [
        ("gxi (GradientTape, 1 task)", t["gxi"], t["gxi"] / unit, None,
         "(yardstick, vs 1 ref)"),
        ("1 ref, 1 task", unit, 1.0, None, ""),
        ("10 refs, 1 task", ten, ten / unit, refs_floor, "<= 12x 1 ref"),
        ("10 refs (shuffled in call), 1 task", ten_shuffling, ten_shuffling / unit, None,
         "(vs 1 ref)"),
        ("10 refs, 10 tasks", t["10 refs, 10 tasks"], t["10 refs, 10 tasks"] / ten,
         tasks_floor, "<= 4x 10 refs, 1 task"),
        ("10 refs (shuffled in call), 10 tasks", t["10 refs (shuffled in call), 10 tasks"],
         t["10 refs (shuffled in call), 10 tasks"] / ten_shuffling, None,
         "(vs the same, 1 task)"),
        ("10 tasks as 10 one-task calls", NUM_TASKS * ten, float(NUM_TASKS), None,
         "(what scoring task by task costs)"),
    ]
    for name, seconds, ratio, floor, target in rows:
        floor_text = f"{floor:>7.2f}x" if floor else " " * 8
        print(f"{name:<38}{seconds:>9.3f}{ratio:>8.2f}x{floor_text}  {target}")


if __name__ == "__main__":
    main()
