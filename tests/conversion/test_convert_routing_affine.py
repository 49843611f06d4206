"""Rescaling, Normalization (stored statistics, several axes, invert),
LayerScale, Identity, UpSampling1D/2D (nearest, bilinear)/3D, Permute,
RepeatVector, ZeroPadding3D, Cropping3D and the 3-d global pools, converted
from live Keras 3 models, ``.keras`` / ``.h5`` files and Keras 2 ``.h5``
files: forward pass vs Keras, summation to delta under Rescale and
RevealCancel with non-zero references, Gradient vs tf.GradientTape (see
``new_layer_checks``); plus the affine layer's sign handling by hand."""
import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

import deeplift.layers as dl
from deeplift.modes import NonlinearMxtsMode as M

sys.path.insert(0, str(Path(__file__).parent))
from helpers import chain, run_lowlevel  # noqa: E402
from new_layer_checks import check_conversion, inputs_and_reference, randomise  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5 file")]


def image_model(K):
    from keras.src.applications.convnext import LayerScale

    L = K.layers
    return K.Sequential([
        K.Input((4, 4, 3)),
        L.Rescaling(0.5, offset=-0.2, name="rescale"),
        L.Normalization(mean=[0.1, -0.2, 0.3], variance=[0.5, 2.0, 1.5], name="norm"),
        L.Conv2D(4, 3, padding="same", activation="gelu", name="c1"),
        LayerScale(0.5, 4, name="layer_scale"),
        L.UpSampling2D(2, interpolation="bilinear", name="bilinear"),        # 8x8
        L.UpSampling2D((1, 2), name="nearest"),                              # 8x16
        L.Permute((2, 1, 3), name="permute"),                               # 16x8
        L.Identity(name="identity"),
        L.Conv2D(2, 3, strides=3, name="c2"),                                # 5x2
        L.Flatten(name="flat"),
        L.Dense(2, name="out"),
    ], name=f"image_{K.__name__}")


def sequence_model(K):
    L = K.layers
    return K.Sequential([
        K.Input((6,)),
        L.RepeatVector(3, name="repeat"),                                    # 3x6
        L.Normalization(axis=(1, 2), name="norm"),                           # per (step, feature)
        L.UpSampling1D(2, name="up"),                                        # 6x6
        L.Conv1D(3, 2, activation="relu", name="c"),                         # 5x3
        L.Permute((2, 1), name="permute"),                                   # 3x5
        L.Flatten(name="flat"),
        L.Dense(2, name="out"),
    ], name=f"sequence_{K.__name__}")


def volume_model(K):
    L = K.layers
    return K.Sequential([
        K.Input((3, 3, 3, 2)),
        L.Normalization(axis=-1, invert=True, name="denorm"),
        L.ZeroPadding3D(((1, 0), (0, 1), 1), name="pad"),                   # 4x4x5
        L.Conv3D(3, 2, activation="tanh", name="c"),                         # 3x3x4
        L.UpSampling3D((2, 1, 2), name="up"),                                # 6x3x8
        L.Cropping3D(((1, 0), (0, 1), (2, 1)), name="crop"),                 # 5x2x5
        L.GlobalAveragePooling3D(name="gap"),
        L.Dense(2, name="out"),
    ], name=f"volume_{K.__name__}")


def max_model(K):
    L = K.layers
    return K.Sequential([
        K.Input((3, 3, 3, 2)),
        L.Conv3D(3, 2, activation="relu", name="c"),
        L.GlobalMaxPooling3D(name="gmp"),
        L.Dense(2, name="out"),
    ], name=f"max_{K.__name__}")


BUILDERS = {"image": image_model, "sequence": sequence_model, "volume": volume_model,
            "max": max_model}


@pytest.mark.parametrize("kind,sources,delta_modes", [
    ("image", ("live", "keras", "h5"), (M.Rescale, M.RevealCancel)),
    ("sequence", ("live", "keras"), (M.RevealCancel,)),
    ("volume", ("keras", "h5"), (M.Rescale,)),
    # max pools conserve only when the arg-max does not move: Gradient only
    ("max", ("live",), ()),
])
def test_keras3(tmp_path, kind, sources, delta_modes):
    model = randomise(BUILDERS[kind](importlib.import_module("keras")), seed=len(kind))
    x, ref = inputs_and_reference(model, 1)
    check_conversion(model, tmp_path, x, ref, sources=sources, delta_modes=delta_modes)


@pytest.mark.parametrize("kind", ["sequence", "volume"])
def test_keras2_h5(tmp_path, kind):
    model = randomise(BUILDERS[kind](importlib.import_module("tf_keras")), seed=7)
    x, ref = inputs_and_reference(model, 2)
    check_conversion(model, tmp_path, x, ref, sources=("h5",), delta_modes=(), gradient=False)


def test_scale_shift_by_hand():
    """x = (1, -2, 3), x0 = 0, scale (2, -1, 0.5) per feature, offset 5:
    y - y0 = (2, 2, 1.5); the negative scale turns input 2's negative part
    into a positive one; multipliers are the scales."""
    layers = chain(dl.Input(batch_shape=(None, 3)),
                   dl.ScaleShift(scale=[2.0, -1.0, 0.5], offset=5.0, axis=-1),
                   dl.Dense(kernel=np.ones((3, 1))))
    res = run_lowlevel(layers, np.array([[1.0, -2.0, 3.0]]), np.zeros((1, 3)), task=0)
    np.testing.assert_allclose(res[1]["act"], [[7.0, 7.0, 6.5]])
    np.testing.assert_allclose(res[0]["mxts"], [[2.0, -1.0, 0.5]])
    np.testing.assert_allclose(res[0]["contribs"], [[2.0, 2.0, 1.5]])


def test_bad_arguments():
    with pytest.raises(ValueError, match="interpolation='bicubic'"):
        dl.UpSampling2D(2, interpolation="bicubic")
    with pytest.raises(ValueError, match="permutation"):
        dl.Permute((1, 1))
    with pytest.raises(ValueError, match="axis 0"):
        dl.ScaleShift(scale=[1.0], axis=0)


def time_distributed_model(K):
    L = K.layers
    return K.Sequential([
        K.Input((3, 5, 5, 2)),
        L.TimeDistributed(L.Conv2D(3, 2, activation="relu"), name="td_conv"),   # 3x4x4x3
        L.TimeDistributed(L.MaxPooling2D(2), name="td_pool"),                   # 3x2x2x3
        L.TimeDistributed(L.Flatten(), name="td_flat"),                         # 3x12
        L.TimeDistributed(L.Dense(4, activation="tanh"), name="td_dense"),      # 3x4
        L.Flatten(name="flat"),
        L.Dense(2, name="out"),
    ], name=f"td_{K.__name__}")


def time_distributed_dense_model(K):
    L = K.layers
    return K.Sequential([
        K.Input((4, 3)),
        L.TimeDistributed(L.Dense(5, activation="sigmoid"), name="td_dense"),
        L.TimeDistributed(L.Dense(3), name="td_linear"),
        L.Flatten(name="flat"),
        L.Dense(2, name="out"),
    ], name=f"tdd_{K.__name__}")


def test_time_distributed_keras3(tmp_path):
    K = importlib.import_module("keras")
    model = randomise(time_distributed_model(K), seed=11)
    x, ref = inputs_and_reference(model, 3)
    # max pooling inside: Gradient vs GradientTape and forward from every format
    check_conversion(model, tmp_path, x, ref, sources=("live", "keras", "h5"), delta_modes=())
    model = randomise(time_distributed_dense_model(K), seed=12)
    x, ref = inputs_and_reference(model, 4)
    check_conversion(model, tmp_path, x, ref, sources=("keras",),
                     delta_modes=(M.Rescale, M.RevealCancel), gradient=False)


def test_time_distributed_keras2_h5(tmp_path):
    model = randomise(time_distributed_model(importlib.import_module("tf_keras")), seed=13)
    x, ref = inputs_and_reference(model, 5)
    check_conversion(model, tmp_path, x, ref, sources=("h5",), delta_modes=(), gradient=False)
