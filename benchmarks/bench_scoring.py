"""Times DeepLIFT scoring against gradient x input on the same networks.

For each workload (W1 genomics CNN, W2 image CNN, W3 MLP), a Keras model is
built with random weights and converted to DeepLIFT; then, in one process
and interleaved over several rounds, this times (median seconds per batch):
  * gxi: ``tf.GradientTape`` gradient x input inside ``tf.function``;
  * Rescale and RevealCancel contributions (zero reference, one task);
  * on the workloads with max pools (W1, W2), Rescale with the max pools in
    ``cross_max`` mode and a random reference (``gradient`` mode timed on
    the same reference beside it);
and prints each DeepLIFT time as a ratio to gxi, and cross_max's time as a
ratio to gradient's. Targets: Rescale <= 1.5x, RevealCancel <= 3x,
cross_max <= 1.1x gradient.

Run: ``python benchmarks/bench_scoring.py [--rounds 7] [--batch 256]``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workloads import WORKLOADS, deeplift_model_from_keras  # noqa: E402

from deeplift.convergence import ConvergenceWarning  # noqa: E402
from deeplift.modes import NonlinearMxtsMode  # noqa: E402

# gradient-mode max pools miss delta with a random reference: that is the point
# of timing cross_max beside them, not news for every call
warnings.filterwarnings("ignore", category=ConvergenceWarning)


def gradient_x_input_fn(keras_model, task: int):
    @tf.function(input_signature=[tf.TensorSpec(keras_model.input_shape, tf.float32)])
    def gxi(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = keras_model(x, training=False)[:, task]
        return tape.gradient(out, x) * x

    return gxi


def time_call(fn, repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def bench_workload(name: str, rounds: int, batch: int, repeats: int) -> dict:
    keras_model, make_input = WORKLOADS[name]()
    x = make_input(batch)
    gxi = gradient_x_input_fn(keras_model, task=0)
    x_tensor = tf.constant(x)
    candidates = {"gxi": lambda: gxi(x_tensor).numpy()}
    for mode in (NonlinearMxtsMode.Rescale, NonlinearMxtsMode.RevealCancel):
        model = deeplift_model_from_keras(keras_model, mode)
        func = model.get_target_contribs_func(find_scores_layer_idx=0, target_layer_idx=-1)
        candidates[mode.value] = (lambda f=func: f(task_idx=0, input_data_list=[x],
                                                   input_references_list=[0.0],
                                                   batch_size=batch))
    if "Pool" in " ".join(type(layer).__name__ for layer in keras_model.layers):
        # a random reference: arg-maxes differ, so cross_max does real work
        ref = make_input(1)
        for pool_mode in ("gradient", "cross_max"):
            model = deeplift_model_from_keras(keras_model, NonlinearMxtsMode.Rescale, pool_mode)
            func = model.get_target_contribs_func(find_scores_layer_idx=0, target_layer_idx=-1)
            candidates[f"pool_{pool_mode}"] = (
                lambda f=func: f(task_idx=0, input_data_list=[x], input_references_list=[ref],
                                 batch_size=batch))
    return median_times(candidates, rounds, repeats)


def median_times(candidates: dict, rounds: int, repeats: int) -> dict:
    """Median seconds per call of each zero-argument callable, after one
    warm-up call each (tracing); rounds interleave the candidates so that
    load changes hit them alike."""
    for fn in candidates.values():
        fn()
    times = {key: [] for key in candidates}
    for _ in range(rounds):
        for key, fn in candidates.items():
            times[key].append(time_call(fn, repeats))
    return {key: statistics.median(values) for key, values in times.items()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--workloads", nargs="*", default=list(WORKLOADS))
    args = parser.parse_args(argv)
    print(f"device: {tf.config.list_logical_devices()[-1].device_type}, batch {args.batch}, "
          f"{args.rounds} rounds x {args.repeats} calls, medians")
    print(f"{'workload':<10}{'gxi ms':>10}{'Rescale ms':>12}{'ratio':>8}"
          f"{'RevealCancel ms':>17}{'ratio':>8}{'gradient ms':>13}{'cross_max ms':>14}"
          f"{'ratio':>8}")
    for name in args.workloads:
        t = bench_workload(name, args.rounds, args.batch, args.repeats)
        print(f"{name:<10}{t['gxi'] * 1e3:>10.1f}{t['Rescale'] * 1e3:>12.1f}"
              f"{t['Rescale'] / t['gxi']:>8.2f}{t['RevealCancel'] * 1e3:>17.1f}"
              f"{t['RevealCancel'] / t['gxi']:>8.2f}", end="")
        if "pool_gradient" in t:
            print(f"{t['pool_gradient'] * 1e3:>13.1f}{t['pool_cross_max'] * 1e3:>14.1f}"
                  f"{t['pool_cross_max'] / t['pool_gradient']:>8.2f}")
        else:
            print()


if __name__ == "__main__":
    main()
