"""Depthwise, separable, transposed and grouped convolutions converted from
live Keras 3 models, ``.keras`` and Keras 3 ``.h5`` files and Keras 2
(tf_keras) ``.h5`` files: forward pass vs Keras, summation to delta under
Rescale and RevealCancel with non-zero references, Gradient vs
tf.GradientTape (see ``new_layer_checks``)."""
import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

import deeplift.layers as dl
from deeplift.modes import NonlinearMxtsMode as M
from deeplift.rules import effective_mode

sys.path.insert(0, str(Path(__file__).parent))
from new_layer_checks import (  # noqa: E402
    check_conversion, convert, inputs_and_reference, randomise,
)

pytestmark = [pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5 file")]


def conv2d_model(K):
    L = K.layers
    keras3 = K.__name__ == "keras"
    return K.Sequential([
        K.Input((8, 8, 3)),
        L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="swish", name="dw"),
        L.SeparableConv2D(4, 3, strides=2, padding="same", depth_multiplier=2,
                          activation="gelu", name="sep"),                          # 4x4x4
        L.Conv2D(6, 3, groups=2, padding="same", activation="relu6", name="grouped"),
        L.Conv2D(6, 1, groups=6, activation="hard_silu" if keras3 else "selu", name="dwgroups"),
        L.Conv2DTranspose(3, 3, strides=2, padding="same", activation="mish", name="up1"),  # 8x8
        L.Conv2DTranspose(2, 3, strides=2, output_padding=1, use_bias=False, name="up2"),  # 18x18
        L.Flatten(name="flat"),
        L.Dense(2, name="out"),
    ], name=f"conv2d_{K.__name__}")


def conv1d_model(K):
    L = K.layers
    return K.Sequential([
        K.Input((10, 3)),
        L.DepthwiseConv1D(3, depth_multiplier=2, dilation_rate=2, activation="softsign",
                          name="dw"),                                               # 6x6
        L.SeparableConv1D(4, 3, padding="same", activation="silu", name="sep"),
        L.Conv1D(4, 2, groups=4, activation="relu", name="dwgroups"),              # 5x4
        L.Conv1DTranspose(3, 3, strides=2, activation="elu", name="up"),           # 11x3
        L.Flatten(name="flat"),
        L.Dense(2, name="out"),
    ], name=f"conv1d_{K.__name__}")


def conv3d_model(K):
    L = K.layers
    return K.Sequential([
        K.Input((4, 4, 4, 2)),
        L.Conv3D(4, 2, groups=2, activation="tanh", name="grouped"),               # 3^3x4
        L.Conv3DTranspose(2, 2, strides=2, padding="same", name="up"),             # 6^3x2
        L.Flatten(name="flat"),
        L.Dense(2, name="out"),
    ], name=f"conv3d_{K.__name__}")


BUILDERS = {"conv2d": conv2d_model, "conv1d": conv1d_model, "conv3d": conv3d_model}


# Every new layer meets both delta rules and the gradient check in some
# model; the modes are spread over the models to keep compiling short.
@pytest.mark.parametrize("kind,sources,delta_modes", [
    ("conv2d", ("live", "keras", "h5"), (M.Rescale, M.RevealCancel)),
    ("conv1d", ("live", "h5"), (M.RevealCancel,)),
    ("conv3d", ("keras",), (M.Rescale,))])
def test_keras3(tmp_path, kind, sources, delta_modes):
    model = randomise(BUILDERS[kind](importlib.import_module("keras")), seed=len(kind))
    x, ref = inputs_and_reference(model, 1)
    check_conversion(model, tmp_path, x, ref, sources=sources, delta_modes=delta_modes)


@pytest.mark.parametrize("kind", ["conv2d", "conv1d"])
def test_keras2_h5(tmp_path, kind):
    model = randomise(BUILDERS[kind](importlib.import_module("tf_keras")), seed=3)
    x, ref = inputs_and_reference(model, 2)
    check_conversion(model, tmp_path, x, ref, sources=("h5",), delta_modes=(), gradient=False)


def test_layer_structure_and_genomics_default(tmp_path):
    """Separable convolutions expand into depthwise + pointwise; groups=channels
    becomes a depthwise convolution, other groups a block-diagonal Conv2D; a
    depthwise convolution counts as a convolution for GenomicsDefault."""
    model = randomise(conv2d_model(importlib.import_module("keras")), seed=5)
    dl_model = convert(model, "live", tmp_path, nonlinear_mxts_mode=M.DeepLIFT_GenomicsDefault)
    layers = {layer.name: layer for layer in dl_model.get_layers()}
    names = [layer.name for layer in dl_model.get_layers()]
    assert names[1:6] == ["preact_0", "0", "depthwise_1", "preact_1", "1"]
    assert isinstance(layers["depthwise_1"], dl.DepthwiseConv2D)
    assert isinstance(layers["preact_1"], dl.Conv2D)
    assert isinstance(layers["preact_3"], dl.DepthwiseConv2D)
    grouped = layers["preact_2"]
    assert isinstance(grouped, dl.Conv2D) and tuple(grouped.kernel.shape) == (3, 3, 4, 6)
    # block-diagonal: group 0's outputs (0..2) read only inputs 0..1
    assert np.all(np.asarray(grouped.kernel)[:, :, 2:, :3] == 0)
    assert isinstance(layers["preact_4"], dl.Conv2DTranspose)
    assert effective_mode(layers["0"]) == M.Rescale
    assert effective_mode(layers["3"]) == M.Rescale


def test_transposed_output_padding_is_validated():
    with pytest.raises(ValueError, match="output_padding"):
        dl.Conv1DTranspose(kernel=np.ones((3, 2, 2)), strides=2, output_padding=2)
