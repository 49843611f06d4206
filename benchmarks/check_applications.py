"""Converts one small keras.applications model per family (random weights,
small inputs, width knobs) from .keras, .h5 and the live model, and checks
the forward pass against Keras and summation-to-delta (Rescale, RevealCancel)
on the logits. Too slow for the test suite for the larger families; run::

    python benchmarks/check_applications.py [Family ...]

Prints one line per family, source and mode: max |forward error|, max
|sum(contributions) - delta| relative to max |delta|, the seconds to convert
and to trace and run the prediction and scoring functions on one batch.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Run as a script: this checkout's deeplift, not an installed one.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from deeplift.conversion.errors import ConversionError  # noqa: E402
from deeplift.conversion.kerasapi_conversion import (  # noqa: E402
    convert_keras_model, convert_model_from_saved_files,
)
from deeplift.modes import MaxPoolDeepLiftMode  # noqa: E402

CROSS_MAX = "cross_max" in {mode.value for mode in MaxPoolDeepLiftMode}

A = keras.applications
COMMON = dict(weights=None, classes=3, classifier_activation=None)
#: Families whose models rescale raw 0..255 pixels themselves; the others get -1..1.
RAW_PIXELS = {"MobileNetV3Small", "MobileNetV3Large", "EfficientNetB0", "EfficientNetV2B0",
              "ConvNeXtTiny"}
#: family -> (builder, input shape); the smallest configuration Keras allows.
FAMILIES = {
    "VGG16": (lambda s: A.VGG16(input_shape=s, **COMMON), (32, 32, 3)),
    "ResNet50": (lambda s: A.ResNet50(input_shape=s, **COMMON), (32, 32, 3)),
    "ResNet50V2": (lambda s: A.ResNet50V2(input_shape=s, **COMMON), (32, 32, 3)),
    "InceptionV3": (lambda s: A.InceptionV3(input_shape=s, **COMMON), (75, 75, 3)),
    "DenseNet121": (lambda s: A.DenseNet121(input_shape=s, **COMMON), (32, 32, 3)),
    "InceptionResNetV2": (lambda s: A.InceptionResNetV2(input_shape=s, **COMMON), (75, 75, 3)),
    "MobileNet": (lambda s: A.MobileNet(input_shape=s, alpha=0.25, **COMMON), (32, 32, 3)),
    "MobileNetV2": (lambda s: A.MobileNetV2(input_shape=s, alpha=0.35, **COMMON), (32, 32, 3)),
    "MobileNetV3Small": (lambda s: A.MobileNetV3Small(input_shape=s, alpha=0.75, **COMMON),
                         (32, 32, 3)),
    "MobileNetV3Large": (lambda s: A.MobileNetV3Large(input_shape=s, alpha=0.75, **COMMON),
                         (32, 32, 3)),
    "EfficientNetB0": (lambda s: A.EfficientNetB0(input_shape=s, **COMMON), (32, 32, 3)),
    "EfficientNetV2B0": (lambda s: A.EfficientNetV2B0(input_shape=s, **COMMON), (32, 32, 3)),
    "Xception": (lambda s: A.Xception(input_shape=s, **COMMON), (71, 71, 3)),
    "NASNetMobile": (lambda s: A.NASNetMobile(input_shape=s, **COMMON), (32, 32, 3)),
    "ConvNeXtTiny": (lambda s: A.ConvNeXtTiny(input_shape=s, **COMMON), (32, 32, 3)),
}


def randomise(model, sample, seed=0):
    """Random weights (Keras' initialisers plus noise on biases and scales),
    then BatchNormalization statistics set to those of ``sample`` (one
    training-mode call with momentum 0), so that the untrained network
    neither saturates nor dies and its output depends on its input."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        value = w.numpy()
        if w.path.endswith(("bias", "beta")):
            w.assign((value + 0.1 * rng.normal(size=value.shape)).astype(np.float32))
        elif w.path.endswith(("gamma", "scale")) and "moving" not in w.path:
            w.assign(rng.uniform(0.5, 1.5, size=value.shape).astype(np.float32))
    norms = [layer for layer in _leaf_layers(model)
             if isinstance(layer, keras.layers.BatchNormalization)]
    if not norms:  # (VGG) He-initialised kernels keep the signal through the ReLUs
        for w in model.weights:
            if w.path.endswith("kernel"):
                fan_in = int(np.prod(w.shape[:-1]))
                w.assign(rng.normal(0.0, np.sqrt(2.0 / fan_in), size=w.shape).astype(np.float32))
    for layer in norms:
        layer.momentum = 0.0
    model(sample, training=True)
    for layer in norms:
        layer.momentum = 0.99


def _leaf_layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers"):
            yield from _leaf_layers(layer)
        else:
            yield layer


def check(family, root, modes=("Rescale", "RevealCancel"), sources=("keras", "h5", "live")):
    build, shape = FAMILIES[family]
    model = build(shape)
    rng = np.random.default_rng(1)
    low, high = (0.0, 255.0) if family in RAW_PIXELS else (-1.0, 1.0)
    # 32 calibration images: the last BatchNormalizations see a 1x1 map, and
    # variances of fewer numbers leave near-zero ones that blow random
    # EfficientNets' logits up to 1e4 (V2B0: Keras' eager and XLA runs disagree).
    randomise(model, rng.uniform(low, high, size=(32, *shape)).astype(np.float32))
    paths = {"keras": os.path.join(root, f"{family}.keras"), "h5": os.path.join(root, f"{family}.h5")}
    for path in paths.values():
        model.save(path)
    x = rng.uniform(low, high, size=(2, *shape)).astype(np.float32)
    x0 = rng.uniform(low, high, size=(1, *shape)).astype(np.float32)
    out, out0 = np.asarray(model(x)), np.asarray(model(x0))
    results = []
    # Max pools in "gradient" mode conserve only where the reference's arg-max
    # matches the input's (SEMANTICS.md); cross_max (when present) always does.
    has_pool = any(isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.GlobalMaxPooling2D))
                   for layer in _leaf_layers(model))
    maxpool = {"maxpool_deeplift_mode": "cross_max"} if CROSS_MAX and has_pool else {}
    pools = "  [max pools, gradient mode: not conserving]" if has_pool and not CROSS_MAX else ""
    for source in sources:
        for mode in modes:
            start = time.perf_counter()
            try:
                if source == "live":
                    dl = convert_keras_model(model, nonlinear_mxts_mode=mode, verbose=False,
                                             **maxpool)
                else:
                    dl = convert_model_from_saved_files(paths[source], nonlinear_mxts_mode=mode,
                                                        verbose=False, **maxpool)
            except (ConversionError, ValueError) as err:
                results.append(f"{family:18} {source:5} {mode:12} FAILS: {str(err)[:300]}")
                print(results[-1], flush=True)
                continue
            seconds = time.perf_counter() - start
            start = time.perf_counter()
            inputs = dl.get_input_layer_names()
            target = f"{model.layers[-1].name}_0"
            predict = dl.get_prediction_function(input_layer_names=inputs,
                                                 output_layer_name=target)
            forward = np.abs(predict([x], batch_size=2) - out).max() / max(1.0, np.abs(out).max())
            score = dl.get_target_contribs_func(find_scores_layer_name=inputs,
                                                pre_activation_target_layer_name=target)
            contribs = score(task_idx=1, input_data_list=[x], input_references_list=[x0],
                             batch_size=2)
            contribs = contribs[0] if isinstance(contribs, list) else contribs
            delta = out[:, 1] - out0[0, 1]
            gap = np.abs(contribs.reshape(2, -1).sum(1) - delta).max() / max(1e-6, np.abs(delta).max())
            scoring = time.perf_counter() - start
            results.append(f"{family:18} {source:5} {mode:12} forward rel err {forward:.1e}  "
                           f"sum-to-delta rel err {gap:.1e} (max |delta| "
                           f"{np.abs(delta).max():.2g})  convert {seconds:.1f}s  "
                           f"trace+score {scoring:.1f}s{pools}")
            print(results[-1], flush=True)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("families", nargs="*", default=list(FAMILIES))
    parser.add_argument("--sources", default="keras,h5,live")
    parser.add_argument("--modes", default="Rescale,RevealCancel")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as root:
        for family in args.families:
            check(family, root, args.modes.split(","), args.sources.split(","))
    return 0


if __name__ == "__main__":
    sys.exit(main())
