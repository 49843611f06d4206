"""keras.applications models end to end, the smallest configuration of two
families that exercise most new converters: MobileNetV2 (alpha 0.35:
depthwise convolutions, ReLU6, residual Add, ZeroPadding) and
MobileNetV3Small (alpha 0.75, 32x32: Rescaling, hard_silu/hard_sigmoid as
ops nodes, squeeze-and-excitation Multiply, ops arithmetic). Random weights
with BatchNormalization statistics calibrated on a sample; forward pass
against Keras from .keras and .h5, summation-to-delta under Rescale with a
non-zero reference (live model). RevealCancel on these (35-45 s of tracing
each on 2 cores) and the other families are checked by
``benchmarks/check_applications.py``, too slow for the suite."""
import os
import sys

import keras
import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))
from check_applications import COMMON, randomise  # noqa: E402

from deeplift.modes import NonlinearMxtsMode as M  # noqa: E402
from keras_checks import (  # noqa: E402
    assert_forward_matches, assert_sums_to_delta, convert, save_both,
)

FAMILIES = {
    "MobileNetV2": (lambda: keras.applications.MobileNetV2(
        input_shape=(32, 32, 3), alpha=0.35, **COMMON), (-1.0, 1.0)),
    "MobileNetV3Small": (lambda: keras.applications.MobileNetV3Small(
        input_shape=(32, 32, 3), alpha=0.75, **COMMON), (0.0, 255.0)),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("apps")
    cache = {}

    def get(family):
        if family not in cache:
            build, (low, high) = FAMILIES[family]
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


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_sums_to_delta_rescale(built, family):
    model, sources, inputs, refs = built(family)
    assert_sums_to_delta(convert(sources["live"], nonlinear_mxts_mode=M.Rescale), model, inputs,
                         refs, task=1, atol=1e-3, rtol=1e-3)
