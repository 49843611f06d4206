"""Times DeepLIFT on two sequence models against tf.GradientTape gradient x
input on the same Keras model (the yardstick; target: Rescale within 2.5x).

* Enformer-style block: one-hot (L=512, 4) -> Conv1D stem (64, relu) ->
  MultiHeadAttention (4 heads, key_dim 16) + residual -> GELU feed-forward +
  residual -> global average pool -> Dense(1).
* DanQ-style model: one-hot (L=1000, 4) -> Conv1D (64 filters of 26, relu)
  -> MaxPool1D(13) -> Bidirectional LSTM (32 units per direction, 75 steps,
  unrolled) -> Dense(1).

Both are converted from the live Keras model with random weights; scores are
contributions of the input to the output unit against a uniform (0.25)
reference, median seconds per batch over several rounds after a warm-up.
The first call's time (tracing the unrolled graph) is reported separately.

Run: ``python benchmarks/bench_sequence_models.py [--seqs 32] [--rounds 3]``.
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from deeplift.conversion.kerasapi_conversion import convert_keras_model  # noqa: E402
from deeplift.modes import NonlinearMxtsMode  # noqa: E402


def _randomise(model, seed=0):
    rng = np.random.default_rng(seed)
    for w in model.weights:
        shape = tuple(int(d) for d in w.shape)
        scale = 0.1 if "bias" in w.name else 1.0 / math.sqrt(int(np.prod(shape[:-1])) or 1)
        w.assign((rng.normal(size=shape) * scale).astype(np.float32))
    return model


def enformer_block(length=512, channels=64, heads=4):
    x = keras.Input((length, 4), name="x")
    h = keras.layers.Conv1D(channels, 15, padding="same", activation="relu", name="stem")(x)
    a = keras.layers.MultiHeadAttention(heads, channels // heads, name="mha")(h, h)
    h = keras.layers.Add(name="res1")([h, a])
    f = keras.layers.Dense(2 * channels, activation="gelu", name="ff1")(h)
    f = keras.layers.Dense(channels, name="ff2")(f)
    h = keras.layers.Add(name="res2")([h, f])
    out = keras.layers.Dense(1, name="head")(keras.layers.GlobalAveragePooling1D()(h))
    return _randomise(keras.Model(x, out))


def danq_like(length=1000, filters=64, units=32):
    x = keras.Input((length, 4), name="x")
    h = keras.layers.Conv1D(filters, 26, activation="relu", name="conv")(x)
    h = keras.layers.MaxPooling1D(13, name="pool")(h)
    h = keras.layers.Bidirectional(keras.layers.LSTM(units), name="bilstm")(h)
    return _randomise(keras.Model(x, keras.layers.Dense(1, name="head")(h)))


def one_hot(n, length, seed=0):
    rng = np.random.default_rng(seed)
    return np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(n, length))]


def bench(name, model, seqs, rounds, modes):
    x = one_hot(seqs, model.input_shape[1])
    ref = np.full_like(x, 0.25)
    x_t = tf.constant(x)

    @tf.function(input_signature=[tf.TensorSpec((None,) + model.input_shape[1:], tf.float32)])
    def gxi(inp):
        with tf.GradientTape() as tape:
            tape.watch(inp)
            out = model(inp, training=False)[:, 0]
        return tape.gradient(out, inp) * inp

    candidates = {"gradient x input (tf.GradientTape)": lambda: gxi(x_t).numpy()}
    first = {}
    for mode in modes:
        dl_model = convert_keras_model(model, nonlinear_mxts_mode=mode, verbose=False)
        fn = dl_model.get_target_contribs_func(find_scores_layer_name="x_0",
                                               pre_activation_target_layer_name="head_0")

        def call(fn=fn):
            return fn(task_idx=0, input_data_list=[x], input_references_list=[ref],
                      batch_size=seqs, progress_update=None)

        start = time.perf_counter()
        call()
        first[mode.value] = time.perf_counter() - start
        candidates[f"DeepLIFT {mode.value}"] = call
    candidates["gradient x input (tf.GradientTape)"]()
    times = {key: [] for key in candidates}
    for _ in range(rounds):
        for key, fn in candidates.items():
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
    base = statistics.median(times["gradient x input (tf.GradientTape)"])
    print(f"\n{name}: {seqs} sequences of length {model.input_shape[1]}, "
          f"median of {rounds} rounds")
    for key, values in times.items():
        med = statistics.median(values)
        extra = "" if key not in (f"DeepLIFT {m.value}" for m in modes) else \
            f"   (first call incl. tracing {first[key.split(' ', 1)[1]]:.1f} s)"
        print(f"  {key:40s} {med:8.3f} s   {med / base:5.2f}x{extra}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seqs", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--which", choices=["enformer", "danq", "both"], default="both")
    args = parser.parse_args()
    modes = [NonlinearMxtsMode.Rescale, NonlinearMxtsMode.DeepLIFT_GenomicsDefault]
    if args.which in ("enformer", "both"):
        bench("Enformer-style block (L=512, 4 heads)", enformer_block(), args.seqs,
              args.rounds, modes)
    if args.which in ("danq", "both"):
        bench("DanQ-style model (L=1000, BiLSTM over 75 steps)", danq_like(), args.seqs,
              args.rounds, [NonlinearMxtsMode.Rescale])


if __name__ == "__main__":
    main()
