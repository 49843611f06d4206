"""Times DeepLIFT scoring of keras.applications CNNs against gradient x input.

MobileNetV2 and EfficientNetB0 with random weights (BatchNormalization
statistics calibrated on a sample, see ``check_applications.randomise``),
96x96 inputs, batch 64: converted from the live model, then, in one process
and interleaved over several rounds, this times (median seconds per batch)
``tf.GradientTape`` gradient x input inside ``tf.function`` and the Rescale
and RevealCancel contributions of the input to one logit (one reference
shared by the batch), and prints each DeepLIFT time as a ratio to gxi.
Targets: Rescale <= 1.3x, RevealCancel <= 3x.

Run: ``python benchmarks/bench_applications.py [--rounds 5] [--batch 64]``.
"""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench_scoring import gradient_x_input_fn, median_times  # noqa: E402
from check_applications import COMMON, RAW_PIXELS, randomise  # noqa: E402

from deeplift.conversion.kerasapi_conversion import convert_keras_model  # noqa: E402
from deeplift.modes import NonlinearMxtsMode  # noqa: E402

A = keras.applications
MODELS = {
    "MobileNetV2": lambda shape: A.MobileNetV2(input_shape=shape, **COMMON),
    "EfficientNetB0": lambda shape: A.EfficientNetB0(input_shape=shape, **COMMON),
}


def bench_model(name: str, size: int, batch: int, rounds: int, repeats: int) -> dict:
    shape = (size, size, 3)
    rng = np.random.default_rng(0)
    low, high = (0.0, 255.0) if name in RAW_PIXELS else (-1.0, 1.0)
    keras_model = MODELS[name](shape)
    randomise(keras_model, rng.uniform(low, high, size=(16, *shape)).astype(np.float32))
    x = rng.uniform(low, high, size=(batch, *shape)).astype(np.float32)
    reference = rng.uniform(low, high, size=(1, *shape)).astype(np.float32)
    gxi = gradient_x_input_fn(keras_model, task=0)
    x_tensor = tf.constant(x)
    candidates = {"gxi": lambda: gxi(x_tensor).numpy()}
    for mode in (NonlinearMxtsMode.Rescale, NonlinearMxtsMode.RevealCancel):
        model = convert_keras_model(keras_model, nonlinear_mxts_mode=mode, verbose=False)
        func = model.get_target_contribs_func(
            find_scores_layer_name=model.get_input_layer_names(),
            pre_activation_target_layer_name=f"{keras_model.layers[-1].name}_0")
        candidates[mode.value] = (lambda f=func: f(task_idx=0, input_data_list=[x],
                                                   input_references_list=[reference],
                                                   batch_size=batch))
    return median_times(candidates, rounds, repeats)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    args = parser.parse_args(argv)
    print(f"device: {tf.config.list_logical_devices()[-1].device_type}, {args.size}x{args.size}, "
          f"batch {args.batch}, {args.rounds} rounds x {args.repeats} calls, medians")
    print(f"{'model':<16}{'gxi ms':>10}{'Rescale ms':>12}{'ratio':>8}"
          f"{'RevealCancel ms':>17}{'ratio':>8}")
    for name in args.models:
        t = bench_model(name, args.size, args.batch, args.rounds, args.repeats)
        print(f"{name:<16}{t['gxi'] * 1e3:>10.1f}{t['Rescale'] * 1e3:>12.1f}"
              f"{t['Rescale'] / t['gxi']:>8.2f}{t['RevealCancel'] * 1e3:>17.1f}"
              f"{t['RevealCancel'] / t['gxi']:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
