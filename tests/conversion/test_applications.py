"""keras.applications models end to end, one small model per family.

MobileNetV2 (alpha 0.35: depthwise convolutions, ReLU6, residual Add,
ZeroPadding) and MobileNetV3Small (alpha 0.75: Rescaling, hard_silu /
hard_sigmoid as ops nodes, squeeze-and-excitation Multiply, ops arithmetic)
are checked from .keras, .h5 and the live model. The other families
(``APPLICATIONS``) are each converted once, from .keras or .h5 in turn, with
Rescale and ``maxpool_deeplift_mode="cross_max"`` (which conserves behind
max pools for any reference), and checked on that one conversion: forward
pass against Keras, and summation-to-delta against Keras' own output
difference for a non-zero random reference.

The families whose smallest stock model is slow to trace (ResNet50,
DenseNet121, NASNetMobile, InceptionResNetV2: 12, 25, 40 and 50 s to
trace and score one batch under Rescale on two shared cores, 30-80 s under
RevealCancel) are checked the same way on cut-down models built from the
family's own builder and blocks (``small_applications``: one block per
stage, few filters); the stock models are left to
``benchmarks/check_applications.py``, with RevealCancel and every source per
family.

All models have random weights with BatchNormalization statistics
calibrated on a sample (``randomise``), so that the untrained network's
output depends on its input, and the smallest input Keras accepts.
"""
import os
import sys

import keras
import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))
from check_applications import COMMON, FAMILIES, RAW_PIXELS, randomise  # noqa: E402

from deeplift.modes import NonlinearMxtsMode as M  # noqa: E402
from keras_checks import (  # noqa: E402
    assert_forward_matches, assert_sums_to_delta, convert, predict, save_both, scores,
)
from small_applications import SMALL_FAMILIES  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5")]

MOBILENETS = {
    "MobileNetV2": (lambda: keras.applications.MobileNetV2(
        input_shape=(32, 32, 3), alpha=0.35, **COMMON), (-1.0, 1.0)),
    "MobileNetV3Small": (lambda: keras.applications.MobileNetV3Small(
        input_shape=(32, 32, 3), alpha=0.75, **COMMON), (0.0, 255.0)),
}

#: family -> the file format it is converted from (alternating, to save time).
APPLICATIONS = {
    "VGG16": "h5",              # max pools (cross_max), Flatten and Dense head
    "EfficientNetB0": "keras",  # Rescaling, Normalization, swish, SE Multiply, depthwise
    "Xception": "h5",           # SeparableConv2D, max pools inside residual blocks
    "ConvNeXtTiny": "keras",    # LayerNormalization, LayerScale, gelu, 7x7 depthwise
    "InceptionV3": "h5",        # parallel branches, Concatenate, max and average pools
    "ResNet50V2": "keras",      # pre-activation residual blocks, max pools
    "MobileNet": "keras",       # (v1, alpha 0.25) depthwise blocks, ReLU6, Reshape head
    "MobileNetV3Large": "h5",   # (alpha 0.75) the Small's layers, more and wider blocks
    # Cut-down models (small_applications):
    "DenseNetMini": "keras",    # dense-block Concatenate, transitions' average pools
    "ResNetMini": "h5",         # v1 bottleneck blocks, convolution shortcuts, stem max pool
    "NASNetMini": "keras",      # NASNet-A cells: separable convs, Cropping2D, pools, Add
    "InceptionResNetMini": "h5",  # CustomScaleLayer residuals, Concatenate, max/avg pools
}



@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("apps")
    cache = {}

    def get(family):
        if family not in cache:
            build, (low, high) = MOBILENETS[family]
            model = build()
            rng = np.random.default_rng(0)
            randomise(model, rng.uniform(low, high, size=(8, 32, 32, 3)).astype(np.float32))
            x = rng.uniform(low, high, size=(2, 32, 32, 3)).astype(np.float32)
            x0 = rng.uniform(low, high, size=(1, 32, 32, 3)).astype(np.float32)
            cache[family] = (model, save_both(model, root, family), [x], [x0])
        return cache[family]

    return get


@pytest.mark.parametrize("family, source", [("MobileNetV2", "keras"),
                                            ("MobileNetV3Small", "h5")])
def test_forward_matches_keras(built, family, source):
    model, sources, inputs, _ = built(family)
    assert_forward_matches(convert(sources[source], nonlinear_mxts_mode=M.Rescale), model,
                           inputs, atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize("family", sorted(MOBILENETS))
def test_sums_to_delta_rescale(built, family):
    model, sources, inputs, refs = built(family)
    assert_sums_to_delta(convert(sources["live"], nonlinear_mxts_mode=M.Rescale), model, inputs,
                         refs, task=1, atol=1e-3, rtol=1e-3)


@pytest.fixture(scope="module", params=sorted(APPLICATIONS))
def application(request, tmp_path_factory):
    """One family at a time (pytest groups the tests by it, so each model is
    built, saved, converted and traced once, then freed): the Keras model,
    its conversion from the family's file format, an input batch of two and
    a non-zero reference, both drawn from the family's input range."""
    family = request.param
    build, shape = FAMILIES[family] if family in FAMILIES else SMALL_FAMILIES[family]
    model = build(shape)
    rng = np.random.default_rng(0)
    low, high = (0.0, 255.0) if family in RAW_PIXELS else (-1.0, 1.0)
    # 32 calibration images, not 8: the last BatchNormalizations see a 1x1
    # feature map, and variances from 8 numbers leave near-zero ones that blow
    # a random EfficientNetB0's logits up to ~1e4 (float32 noise ~1e-3 of them).
    randomise(model, rng.uniform(low, high, size=(32, *shape)).astype(np.float32))
    x = rng.uniform(low, high, size=(2, *shape)).astype(np.float32)
    x0 = rng.uniform(low, high, size=(1, *shape)).astype(np.float32)
    path = tmp_path_factory.mktemp("apps") / f"{family}.{APPLICATIONS[family]}"
    model.save(str(path))
    dl_model = convert(str(path), nonlinear_mxts_mode=M.Rescale,
                       maxpool_deeplift_mode="cross_max")
    return model, dl_model, [x], [x0]


def test_application_forward_matches_keras(application):
    model, dl_model, inputs, _ = application
    expected = np.asarray(model(inputs[0]))
    err = np.abs(predict(dl_model, model, inputs) - expected).max()
    # Relative to the output's scale: over 50-300 float32 layers the converted
    # graph (different op order and fusion) drifts from Keras by up to ~1e-4.
    assert err <= 1e-3 * max(1.0, np.abs(expected).max()), err


def test_application_sums_to_delta_rescale_cross_max(application):
    model, dl_model, inputs, refs = application
    delta = np.asarray(model(inputs[0]))[:, 1] - np.asarray(model(refs[0]))[0, 1]
    scale = np.abs(delta).max()
    assert scale > 1e-2, f"the untrained model barely depends on its input (delta {delta})"
    (contribs,) = scores(dl_model, model, inputs, refs, task=1)
    gap = np.abs(contribs.reshape(len(contribs), -1).sum(axis=1) - delta).max()
    assert gap <= 1e-3 * scale, f"sum-to-delta off by {gap:.3g} (delta {delta})"
