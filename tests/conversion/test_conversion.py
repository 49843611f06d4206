"""End-to-end tests of the Keras -> DeepLIFT autoconversion.

Tiny models are built here with tf_keras (Keras 2) and with Keras 3, given
non-trivial random weights, and converted from four sources:

* ``k2_h5``: the tf_keras model saved as a Keras 2 legacy HDF5 file;
* ``k3_h5``: the Keras 3 model saved as a Keras 3 ``.h5`` file;
* ``k3_keras``: the Keras 3 model saved as a ``.keras`` archive;
* ``k3_live``: the in-memory Keras 3 model.

Every expected value is computed independently of the library: Keras'
own ``predict`` (or a channels_last twin for channels_first models that CPU
TensorFlow cannot run), ``tf.GradientTape`` gradients, Keras forward passes
for summation-to-delta, and closed-form formulas for ``hard_sigmoid``.
"""
from __future__ import annotations

import importlib
import math
import shutil

import h5py
import numpy as np
import pytest
import tensorflow as tf

import deeplift.layers as dl
from deeplift.conversion.errors import ConversionError
from deeplift.conversion.kerasapi_conversion import (
    convert_keras_model,
    convert_model_from_saved_files,
)
from deeplift.models import GraphModel, SequentialModel
from deeplift.modes import NonlinearMxtsMode

M = NonlinearMxtsMode
SOURCES = ["k2_h5", "k3_h5", "k3_keras", "k3_live"]
PACKAGE_OF = {"k2_h5": "tf_keras", "k3_h5": "keras", "k3_keras": "keras", "k3_live": "keras"}
N_EXAMPLES = 6
ATOL = 1e-5

pytestmark = [
    # Writers' own noise: tf_keras/Keras call .h5 "legacy"; Keras' numpy bridge.
    pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5 file"),
    pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy"),
]


# ---------------------------------------------------------------- helpers


def _leaky(K, slope, name):
    """LeakyReLU: tf_keras spells the slope ``alpha``, Keras 3 ``negative_slope``."""
    if K.__name__ == "tf_keras":
        return K.layers.LeakyReLU(alpha=slope, name=name)
    return K.layers.LeakyReLU(negative_slope=slope, name=name)


def _leaf_layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers"):
            yield from _leaf_layers(layer)
        else:
            yield layer


def _randomise(model, seed, zero_bias=False):
    """Random weights: BN with random gamma (both signs) / beta / moving stats,
    PReLU alphas in (0.05, 0.5), kernels scaled by 1/sqrt(fan_in)."""
    rng = np.random.default_rng(seed)
    for layer in _leaf_layers(model):
        if not layer.weights:
            continue
        new = []
        for weight in layer.weights:
            short = weight.name.split("/")[-1].split(":")[0]
            shape = tuple(int(d) for d in weight.shape)
            if short == "gamma":
                value = rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
            elif short in ("beta", "moving_mean"):
                value = rng.normal(size=shape) * 0.5
            elif short == "moving_variance":
                value = rng.uniform(0.5, 2.0, shape)
            elif short == "bias":
                value = np.zeros(shape) if zero_bias else rng.normal(size=shape) * 0.3
            elif short == "alpha":
                value = rng.uniform(0.05, 0.5, shape)
            else:
                fan_in = int(np.prod(shape[:-1])) or 1
                value = rng.normal(size=shape) / math.sqrt(fan_in)
            new.append(value.astype(np.float32))
        layer.set_weights(new)


def _keras_predict(model, inputs):
    return np.asarray(model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0))


class Entry:
    """A built Keras model, its saved files and its test inputs."""

    def __init__(self, model, meta, paths, inputs):
        self.model = model
        self.meta = meta
        self.paths = paths
        self.inputs = inputs
        self._expected = None

        self._twin = None

    def twin(self):
        """The channels_last twin of a channels_first model, with its weights."""
        if self._twin is None:
            self._twin = self.meta["twin"]()
            self._twin.set_weights(self.model.get_weights())
        return self._twin

    def twin_inputs(self):
        return [np.transpose(x, p) for x, p in zip(self.inputs, self.meta["perms"])]

    def expected(self):
        """Keras' own prediction (of the channels_last twin for channels_first models)."""
        if self._expected is None:
            if "twin" in self.meta:
                self._expected = _keras_predict(self.twin(), self.twin_inputs())
            else:
                self._expected = _keras_predict(self.model, self.inputs)
        return self._expected


@pytest.fixture(scope="module")
def factory(tmp_path_factory):
    """``get(kind, package)`` -> Entry, built once per module and cached."""
    root = tmp_path_factory.mktemp("conversion")
    cache = {}

    def get(kind, package):
        key = (kind, package)
        if key not in cache:
            K = importlib.import_module(package)
            model, meta = BUILDERS[kind](K)
            _randomise(model, seed=sorted(BUILDERS).index(kind),
                       zero_bias=meta.get("zero_bias", False))
            if "post" in meta:
                meta["post"](model)
            paths = {"h5": root / f"{package}_{kind}.h5"}
            model.save(str(paths["h5"]))
            if package == "keras":
                paths["keras"] = root / f"{package}_{kind}.keras"
                model.save(str(paths["keras"]))
            rng = np.random.default_rng(100 + len(cache))
            scale = meta.get("input_scale", 1.0)
            inputs = [(rng.normal(size=(N_EXAMPLES,) + tuple(shape)) * scale).astype(np.float32)
                      for shape in meta["input_shapes"]]
            cache[key] = Entry(model, meta, paths, inputs)
        return cache[key]

    return get


def _convert(factory, kind, source, **kwargs):
    """Converts model ``kind`` from ``source``; returns (Entry, deeplift model)."""
    entry = factory(kind, PACKAGE_OF[source])
    kwargs.setdefault("verbose", False)
    if source == "k3_live":
        return entry, convert_keras_model(entry.model, **kwargs)
    if source == "k3_keras":
        return entry, convert_model_from_saved_files(str(entry.paths["keras"]), **kwargs)
    return entry, convert_model_from_saved_files(entry.paths["h5"], **kwargs)


def _dl_predict(dl_model, inputs, output_name=None):
    if isinstance(dl_model, SequentialModel):
        predict = dl_model.get_prediction_function(input_layer_idx=0, output_layer_idx=-1)
    else:
        predict = dl_model.get_prediction_function(
            input_layer_names=dl_model.get_input_layer_names(), output_layer_name=output_name)
    return predict(inputs, batch_size=4)


def _names(dl_model):
    if isinstance(dl_model, SequentialModel):
        return [layer.name for layer in dl_model.get_layers()]
    return list(dl_model.get_name_to_layer())


# ---------------------------------------------------------------- forward-pass models


def seq_conv1d(K):
    """Conv1D (dilated, same) / BN / pooling (same) / strided Conv1D without bias /
    padding / cropping / every no-op layer / Activation / Flatten / softmax."""
    L = K.layers
    model = K.Sequential([
        K.Input((16, 3)),
        L.Conv1D(4, 3, dilation_rate=2, padding="same", activation="relu", name="c1"),
        L.BatchNormalization(name="bn1"),
        L.MaxPooling1D(2, padding="same", name="mp1"),                      # 8
        L.Conv1D(4, 2, strides=2, use_bias=False, activation="elu", name="c2"),  # 4
        L.AveragePooling1D(2, strides=1, padding="same", name="ap1"),      # 4
        L.ZeroPadding1D((1, 2), name="zp"),                                # 7
        L.Cropping1D((2, 1), name="crop"),                                 # 4
        L.Dropout(0.5, name="drop"),
        L.SpatialDropout1D(0.3, name="sdrop"),
        L.GaussianNoise(0.5, name="gnoise"),
        L.GaussianDropout(0.3, name="gdrop"),
        L.AlphaDropout(0.2, name="adrop"),
        L.Activation("softplus", name="softplus"),
        L.MaxPooling1D(2, strides=1, name="mp2"),                          # 3
        L.AveragePooling1D(2, strides=1, name="ap2"),                      # 2
        L.Flatten(name="flat"),
        L.Dense(5, activation="tanh", name="d1"),
        L.Dense(3, activation="softmax", name="out"),
    ], name="seq_conv1d")
    return model, {"input_shapes": [(16, 3)]}


def seq_conv2d(K):
    L = K.layers
    model = K.Sequential([
        K.Input((10, 10, 2)),
        L.Conv2D(3, (3, 2), strides=(2, 1), padding="same", activation="sigmoid", name="c1"),
        L.BatchNormalization(scale=False, name="bn"),                      # 5x10
        L.MaxPooling2D(2, strides=1, name="mp1"),                          # 4x9
        L.AveragePooling2D(2, padding="same", name="ap1"),                 # 2x5
        L.ZeroPadding2D(((2, 1), (1, 2)), name="zp"),                      # 5x8
        L.Cropping2D(((1, 0), (0, 1)), name="crop"),                       # 4x7
        L.Conv2D(2, 2, dilation_rate=2, use_bias=False, activation="hard_sigmoid",
                 name="c2"),                                               # 2x5x2
        L.MaxPooling2D(2, padding="same", name="mp2"),                     # 1x3x2
        L.Reshape((3, 2), name="reshape"),
        L.GlobalAveragePooling1D(name="gap"),
        L.Dense(2, activation="sigmoid", name="out"),
    ], name="seq_conv2d")
    return model, {"input_shapes": [(10, 10, 2)], "input_scale": 2.0}


def seq_conv3d(K):
    L = K.layers
    model = K.Sequential([
        K.Input((5, 4, 4, 2)),
        L.Conv3D(3, 2, activation="relu", name="c1"),                      # 4x3x3
        L.MaxPooling3D(2, strides=1, padding="same", name="mp1"),          # 4x3x3
        L.Conv3D(2, (2, 2, 1), strides=(1, 2, 1), padding="same", use_bias=False,
                 name="c2"),                                               # 4x2x3
        L.Conv3D(2, (2, 1, 2), dilation_rate=(2, 1, 1), activation="tanh",
                 name="c3"),                                               # 2x2x2
        L.AveragePooling3D((2, 1, 2), strides=1, padding="same", name="ap1"),
        L.AveragePooling3D(2, name="ap2"),                                 # 1x1x1
        L.MaxPooling3D(1, name="mp2"),
        L.Flatten(name="flat"),
        L.Dense(2, name="out"),
    ], name="seq_conv3d")
    return model, {"input_shapes": [(5, 4, 4, 2)]}


def func_pools(K):
    """BatchNormalization over axis 1 (and center=False), global pools, Concatenate."""
    L = K.layers
    img = K.Input((3, 5, 4), name="img")
    seq = K.Input((7, 3), name="seq")
    normed = L.BatchNormalization(axis=1, center=False, name="bn_ax1")(img)
    normed2 = L.BatchNormalization(axis=1, name="bn_ax1_full")(seq)
    pooled = [
        L.GlobalMaxPooling2D(name="gmp2")(normed),
        L.GlobalAveragePooling2D(name="gap2")(normed),
        L.GlobalMaxPooling1D(name="gmp1")(normed2),
        L.GlobalAveragePooling1D(name="gap1")(seq),
    ]
    cat = L.Concatenate(name="cat")(pooled)
    out = L.Dense(3, name="out")(cat)
    return K.Model([img, seq], out, name="func_pools"), {
        "input_shapes": [(3, 5, 4), (7, 3)], "output": "out_0"}


ACTS = ["relu", "sigmoid", "tanh", "softmax", "linear", "elu", "softplus", "hard_sigmoid"]


def func_acts(K):
    """Every Activation layer, fused activation and activation layer class."""
    L = K.layers
    x = K.Input((6,), name="x")
    h = L.Dense(8, name="h")(x)
    branches = [L.Activation(a, name=f"act_{a}")(h) for a in ACTS]
    branches += [L.Dense(3, activation=a, name=f"fused_{a}")(h) for a in ACTS]
    branches += [
        L.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.2, name="relu_general")(h),
        L.ReLU(max_value=2.0, name="relu_max")(h),
        L.ReLU(negative_slope=0.3, name="relu_slope")(h),
        L.ReLU(threshold=0.5, name="relu_threshold")(h),
        L.ReLU(name="relu_plain")(h),
        _leaky(K, 0.25, "leaky")(h),
        L.PReLU(name="prelu")(h),
        L.ELU(alpha=0.7, name="elu_layer")(h),
        L.Softmax(name="softmax_layer")(h),
    ]
    out = L.Concatenate(name="all")(branches)
    return K.Model(x, out, name="func_acts"), {
        "input_shapes": [(6,)], "output": "all_0", "input_scale": 2.0}


def _inner_seq(K):
    L = K.layers
    return K.Sequential([
        K.Input((5, 3)),
        L.Dense(4, name="inner_dense"),
        L.Activation("tanh", name="inner_act"),
    ], name="inner")


def func_graph(K):
    """Three inputs, a shared Conv1D called twice, Add, Concatenate, a nested
    Sequential, Reshape, Flatten and a Dense named "output" with a sigmoid."""
    L = K.layers
    inp1 = K.Input((6, 4), name="inp1")
    inp2 = K.Input((6, 4), name="inp2")
    inp3 = K.Input((5,), name="inp3")
    shared = L.Conv1D(3, 2, activation="relu", name="shared")
    a, b = shared(inp1), shared(inp2)                                      # 5x3 each
    added = L.Add(name="add")([a, b])
    cat = L.Concatenate(name="cat")([a, b])                                # 5x6
    merged = L.Concatenate(axis=-1, name="cat2")([cat, _inner_seq(K)(added)])  # 5x10
    flat = L.Flatten(name="flat")(L.Reshape((10, 5), name="reshape")(merged))
    vec = L.Dense(3, activation="relu", name="vec_dense")(inp3)
    joined = L.Concatenate(name="cat3")([flat, vec])
    out = L.Dense(2, activation="sigmoid", name="output")(joined)
    return K.Model([inp1, inp2, inp3], out, name="func_graph"), {
        "input_shapes": [(6, 4), (6, 4), (5,)], "output": "output_0"}


def seq_nested(K):
    L = K.layers
    inner = K.Sequential([
        K.Input((5,)), L.Dense(3, activation="relu", name="d_in"), L.PReLU(name="prelu"),
    ], name="inner")
    model = K.Sequential([
        K.Input((4,), name="seq_in"), L.Dense(5, name="d0"), inner,
        L.Dense(2, activation="sigmoid", name="d_out"),
    ], name="outer")
    return model, {"input_shapes": [(4,)]}


def _cf_conv1d_layers(K, fmt):
    L = K.layers
    return [
        L.Conv1D(4, 3, padding="same", data_format=fmt, activation="relu", name="c1"),
        L.BatchNormalization(axis=1 if fmt == "channels_first" else -1, name="bn"),
        L.MaxPooling1D(2, data_format=fmt, name="mp"),                     # 6
        L.Conv1D(2, 2, dilation_rate=2, use_bias=False, data_format=fmt, name="c2"),  # 4
        L.AveragePooling1D(2, strides=1, padding="same", data_format=fmt, name="ap"),
        L.Flatten(data_format=fmt, name="flat"),
        L.Dense(2, activation="sigmoid", name="out"),
    ]


def cf_conv1d(K):
    """channels_first Conv1D model, compared against its channels_last twin."""
    model = K.Sequential([K.Input((3, 12))] + _cf_conv1d_layers(K, "channels_first"),
                         name="cf_conv1d")
    return model, {
        "input_shapes": [(3, 12)], "perms": [(0, 2, 1)],
        "twin": lambda: K.Sequential([K.Input((12, 3))]
                                     + _cf_conv1d_layers(K, "channels_last"))}


def _cf_conv2d_layers(K, fmt):
    L = K.layers
    return [
        L.Conv2D(3, (3, 2), strides=(2, 1), padding="same", data_format=fmt,
                 activation="tanh", name="c1"),                            # 4x7
        L.ZeroPadding2D(((1, 0), (0, 1)), data_format=fmt, name="zp"),     # 5x8
        L.Cropping2D(((0, 1), (1, 0)), data_format=fmt, name="crop"),      # 4x7
        L.AveragePooling2D(2, padding="same", data_format=fmt, name="ap"),  # 2x4
        L.Conv2D(3, 2, dilation_rate=(1, 2), data_format=fmt, name="c2"),  # 1x2
        L.MaxPooling2D((1, 1), data_format=fmt, name="mp"),
        L.GlobalMaxPooling2D(data_format=fmt, name="gmp"),
        L.Dense(2, name="out"),
    ]


def cf_conv2d(K):
    model = K.Sequential([K.Input((2, 8, 7))] + _cf_conv2d_layers(K, "channels_first"),
                         name="cf_conv2d")
    return model, {
        "input_shapes": [(2, 8, 7)], "perms": [(0, 2, 3, 1)],
        "twin": lambda: K.Sequential([K.Input((8, 7, 2))]
                                     + _cf_conv2d_layers(K, "channels_last"))}


def cf_global(K):
    """channels_first global average pooling and Flatten of a 2D map."""
    L = K.layers

    def layers(fmt):
        return [L.Conv2D(3, 2, data_format=fmt, activation="relu", name="c"),
                L.GlobalAveragePooling2D(data_format=fmt, name="gap")]

    model = K.Sequential([K.Input((2, 4, 5))] + layers("channels_first"), name="cf_global")
    return model, {
        "input_shapes": [(2, 4, 5)], "perms": [(0, 2, 3, 1)],
        "twin": lambda: K.Sequential([K.Input((4, 5, 2))] + layers("channels_last"))}


# ---------------------------------------------------------------- scoring models


def score_seq(K):
    """Piecewise-linear through the origin: with zero biases and a zero
    reference, Rescale contributions are gradient x input."""
    L = K.layers
    model = K.Sequential([
        K.Input((10, 3)),
        L.Conv1D(4, 3, padding="same", activation="relu", name="c1"),
        L.MaxPooling1D(2, name="mp"),
        L.Conv1D(3, 2, name="c2"),
        _leaky(K, 0.2, "leaky"),
        L.AveragePooling1D(2, padding="same", name="ap"),
        L.Flatten(name="flat"),
        L.Dense(4, activation="relu", name="d1"),
        L.Dense(3, activation="softmax", name="out"),
    ], name="score_seq")
    return model, {"input_shapes": [(10, 3)], "zero_bias": True}


def score_func(K):
    L = K.layers
    a = K.Input((6, 3), name="a")
    b = K.Input((6, 3), name="b")
    shared = L.Conv1D(3, 2, activation="relu", name="shared")
    ca, cb = shared(a), shared(b)
    added = L.Add(name="add")([ca, cb])
    cat = L.Concatenate(name="cat")([ca, added])
    hid = L.Dense(4, activation="relu", name="hid")(L.Flatten(name="flat")(cat))
    out = L.Dense(2, activation="sigmoid", name="output")(hid)
    return K.Model([a, b], out, name="score_func"), {
        "input_shapes": [(6, 3), (6, 3)], "zero_bias": True}


def delta_seq(K):
    L = K.layers
    model = K.Sequential([
        K.Input((10, 3)),
        L.Conv1D(4, 3, activation="relu", name="c1"),
        L.BatchNormalization(name="bn"),
        L.AveragePooling1D(2, name="ap"),
        L.Conv1D(3, 2, name="c2"),
        L.Flatten(name="flat"),
        L.Dense(5, activation="tanh", name="d1"),
        L.Dense(2, activation="softmax", name="out"),
    ], name="delta_seq")
    return model, {"input_shapes": [(10, 3)], "input_scale": 1.5}


def delta_func(K):
    L = K.layers
    a = K.Input((6, 3), name="a")
    b = K.Input((4,), name="b")
    ca = L.Conv1D(3, 2, activation="sigmoid", name="ca")(a)
    cb = L.Conv1D(3, 2, name="cb")(a)
    added = L.Add(name="add")([ca, cb])
    flat = L.Flatten(name="flat")(added)
    vb = L.Dense(3, activation="softplus", name="vb")(b)
    cat = L.Concatenate(name="cat")([flat, vb])
    hid = L.Dense(4, activation="tanh", name="hid")(cat)
    out = L.Dense(2, activation="sigmoid", name="output")(hid)
    return K.Model([a, b], out, name="delta_func"), {
        "input_shapes": [(6, 3), (4,)], "input_scale": 1.5}


def override_seq(K):
    L = K.layers
    model = K.Sequential([
        K.Input((4,)),
        L.Dense(5, activation="tanh", name="h1"),
        L.Dense(3, activation="sigmoid", name="h2"),
        L.Dense(1, name="out"),
    ], name="override_seq")
    return model, {"input_shapes": [(4,)], "input_scale": 2.0}


def override_func(K):
    L = K.layers
    x = K.Input((4,), name="x")
    h1 = L.Dense(5, activation="tanh", name="h1")(x)
    h2 = L.Dense(3, activation="relu", name="h2")(x)
    cat = L.Concatenate(name="cat")([h1, h2])
    out = L.Dense(1, name="out")(cat)
    return K.Model(x, out, name="override_func"), {"input_shapes": [(4,)], "output": "out_0"}


def hard_sigmoid_model(K):
    L = K.layers
    x = K.Input((9,), name="x")
    act = L.Activation("hard_sigmoid", name="hs")(x)
    fused = L.Dense(9, activation="hard_sigmoid", name="fused")(x)
    out = L.Concatenate(name="cat")([act, fused])

    def identity(model):
        model.get_layer("fused").set_weights([np.eye(9, dtype=np.float32),
                                              np.zeros(9, np.float32)])

    return K.Model(x, out, name="hard_sigmoid"), {
        "input_shapes": [(9,)], "output": "cat_0", "post": identity}


# ---------------------------------------------------------------- unsupported models


def one_unsupported(K):
    L = K.layers
    model = K.Sequential([
        K.Input((4,)), L.Dense(3, name="d1"), L.UnitNormalization(name="ln"),
        L.Dense(2, name="d2"),
    ], name="one_unsupported")
    return model, {"input_shapes": [(4,)]}


def two_unsupported(K):
    L = K.layers
    x = K.Input((4, 2), name="x")
    conv = L.Conv1D(3, 2, name="conv")(x)                                  # 3x3
    normed = L.LayerNormalization(name="ln")(conv)
    unit = L.UnitNormalization(name="un")(normed)
    pooled = L.GlobalAveragePooling1D(name="gap")(unit)
    out = L.Dense(1, name="out")(pooled)
    return K.Model(x, out, name="two_unsupported"), {
        "input_shapes": [(4, 2)], "output": "out_0"}


def mixed_unsupported(K):
    """An unsupported class and a supported class with an unsupported option."""
    L = K.layers
    x = K.Input((4, 2), name="x")
    conv = L.Conv1D(3, 2, name="conv")(x)
    normed = L.UnitNormalization(name="ln")(conv)
    causal = L.Conv1D(3, 2, padding="causal", name="up")(normed)
    out = L.Dense(1, name="out")(L.GlobalAveragePooling1D(name="gap")(causal))
    return K.Model(x, out, name="mixed_unsupported"), {
        "input_shapes": [(4, 2)], "output": "out_0"}


def causal_conv(K):
    L = K.layers
    model = K.Sequential([K.Input((5, 4)), L.Conv1D(2, 2, padding="causal", name="cconv")],
                         name="causal_conv")
    return model, {"input_shapes": [(5, 4)]}


def log_softmax_dense(K):
    L = K.layers
    model = K.Sequential([K.Input((3,)), L.Dense(2, activation="log_softmax", name="ldense")],
                         name="log_softmax_dense")
    return model, {"input_shapes": [(3,)]}


# ---------------------------------------------------------------- models exposing bugs


def reshape_minus_one(K):
    """Keras' Reshape accepts one -1 entry in target_shape."""
    L = K.layers
    model = K.Sequential([
        K.Input((6, 3)), L.Conv1D(4, 2, name="c"), L.Reshape((-1,), name="reshape"),
        L.Dense(2, name="out"),
    ], name="reshape_minus_one")
    return model, {"input_shapes": [(6, 3)]}


def max_pool_stride_gt_size(K):
    """Keras pools with strides larger than the pool size (skipping cells)."""
    L = K.layers
    model = K.Sequential([
        K.Input((9, 3)), L.MaxPooling1D(2, strides=3, name="mp"), L.Flatten(name="flat"),
        L.Dense(2, name="out"),
    ], name="max_pool_stride")
    return model, {"input_shapes": [(9, 3)]}


def avg_pool_stride_gt_size(K):
    L = K.layers
    model = K.Sequential([
        K.Input((7, 6, 2)), L.AveragePooling2D((2, 2), strides=(3, 1), name="ap"),
        L.Flatten(name="flat"), L.Dense(2, name="out"),
    ], name="avg_pool_stride")
    return model, {"input_shapes": [(7, 6, 2)]}


BUILDERS = {
    fn.__name__: fn for fn in [
        seq_conv1d, seq_conv2d, seq_conv3d, func_pools, func_acts, func_graph, seq_nested,
        cf_conv1d, cf_conv2d, cf_global, score_seq, score_func, delta_seq, delta_func,
        override_seq, override_func, hard_sigmoid_model, one_unsupported, two_unsupported,
        mixed_unsupported, causal_conv, log_softmax_dense, reshape_minus_one,
        max_pool_stride_gt_size,
        avg_pool_stride_gt_size,
    ]
}

FORWARD_KINDS = ["seq_conv1d", "seq_conv2d", "seq_conv3d", "func_pools", "func_acts",
                 "func_graph", "seq_nested", "cf_conv1d", "cf_conv2d", "cf_global"]


# ---------------------------------------------------------------- 1. forward pass


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("kind", FORWARD_KINDS)
def test_forward_pass_matches_keras(factory, kind, source):
    entry, dl_model = _convert(factory, kind, source, nonlinear_mxts_mode=M.Rescale)
    expected = entry.expected()
    assert np.abs(expected).max() > 1e-3  # not a degenerate all-zero output
    got = _dl_predict(dl_model, entry.inputs, entry.meta.get("output"))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL, err_msg=f"{kind} from {source}")


def test_batch_norm_is_not_identity(factory):
    """The randomised BN layers really change their input (else the forward
    tests would not exercise BatchNormalization)."""
    model = factory("func_pools", "keras").model
    for name in ("bn_ax1", "bn_ax1_full"):
        layer = model.get_layer(name)
        x = np.random.default_rng(0).normal(size=(2,) + tuple(layer.input.shape[1:]))
        y = np.asarray(layer(x.astype(np.float32), training=False))
        assert np.abs(y - x).max() > 0.1


@pytest.mark.parametrize("source", SOURCES)
def test_hard_sigmoid_semantics_follow_the_writer(factory, source):
    """Keras 2 files mean clip(0.2x + 0.5, 0, 1); Keras 3 files and live models
    mean relu6(x + 3) / 6 (for the Activation layer and the fused activation)."""
    entry, dl_model = _convert(factory, "hard_sigmoid_model", source,
                               nonlinear_mxts_mode=M.Rescale)
    x = np.array([[-4.0, -2.7, -2.0, -0.5, 0.0, 0.7, 2.0, 2.7, 4.0]], np.float32)
    if PACKAGE_OF[source] == "tf_keras":
        formula = np.clip(0.2 * x + 0.5, 0.0, 1.0)
    else:
        formula = np.minimum(np.maximum(x + 3.0, 0.0), 6.0) / 6.0
    expected = np.concatenate([formula, formula], axis=1)
    # The premise: Keras itself computes that formula.
    np.testing.assert_allclose(_keras_predict(entry.model, [x]), expected, rtol=0, atol=1e-6)
    got = _dl_predict(dl_model, [x], "cat_0")
    np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL)


# ---------------------------------------------------------------- 2. naming


@pytest.mark.parametrize("source", SOURCES)
def test_sequential_names(factory, source):
    _, dl_model = _convert(factory, "seq_nested", source)
    assert isinstance(dl_model, SequentialModel)
    # d0 -> 0; nested d_in (relu) -> preact_1, 1; prelu -> 2; d_out (sigmoid) -> preact_3, 3
    assert _names(dl_model) == ["input", "0", "preact_1", "1", "2", "preact_3", "3"]
    layers = dl_model.get_layers()
    assert isinstance(layers[0], dl.Input)
    assert isinstance(layers[2], dl.Dense) and isinstance(layers[3], dl.ReLU)
    assert isinstance(layers[4], dl.PReLU)
    assert isinstance(layers[-1], dl.Sigmoid)


@pytest.mark.parametrize("source", SOURCES)
def test_sequential_names_long_model(factory, source):
    entry, dl_model = _convert(factory, "seq_conv1d", source)
    keras_layers = [l for l in entry.model.layers]
    expected = ["input"]
    for i, layer in enumerate(keras_layers):
        activation = layer.get_config().get("activation")
        fused = layer.__class__.__name__ in ("Conv1D", "Dense") and activation != "linear"
        expected += [f"preact_{i}", str(i)] if fused else [str(i)]
    assert _names(dl_model) == expected
    last = len(keras_layers) - 1
    # target_layer_idx=-2 of a model ending in softmax is the logit layer.
    assert dl_model.get_layers()[-2].name == f"preact_{last}"
    assert isinstance(dl_model.get_layers()[-2], dl.Dense)
    assert isinstance(dl_model.get_layers()[-1], dl.Softmax)


@pytest.mark.parametrize("source", SOURCES)
def test_functional_names(factory, source):
    _, dl_model = _convert(factory, "func_graph", source)
    assert isinstance(dl_model, GraphModel)
    assert dl_model.get_input_layer_names() == ["inp1_0", "inp2_0", "inp3_0"]
    names = set(_names(dl_model))
    expected = {
        "inp1_0", "inp2_0", "inp3_0",
        "preact_shared_0", "shared_0", "preact_shared_1", "shared_1",
        "add_0", "cat_0", "inner_dense_0", "inner_act_0", "cat2_0", "reshape_0", "flat_0",
        "preact_vec_dense_0", "vec_dense_0", "cat3_0", "preact_output_0", "output_0",
    }
    assert names == expected
    layers = dl_model.get_name_to_layer()
    assert isinstance(layers["preact_output_0"], dl.Dense)
    assert isinstance(layers["output_0"], dl.Sigmoid)
    assert isinstance(layers["shared_0"], dl.ReLU) and isinstance(layers["shared_1"], dl.ReLU)
    assert isinstance(layers["preact_shared_1"], dl.Conv1D)
    assert isinstance(layers["add_0"], dl.Add) and isinstance(layers["cat_0"], dl.Concat)
    # The shared layer's two calls use the same weights.
    np.testing.assert_array_equal(np.asarray(layers["preact_shared_0"].kernel),
                                  np.asarray(layers["preact_shared_1"].kernel))
    # The logit layer's prediction equals Keras' pre-activation output.
    entry = factory("func_graph", PACKAGE_OF[source])
    joined = _submodel_output(entry.model, "output")(entry.inputs)
    kernel, bias = entry.model.get_layer("output").get_weights()
    logits = np.asarray(joined) @ kernel + bias
    got = _dl_predict(dl_model, entry.inputs, "preact_output_0")
    np.testing.assert_allclose(got, logits, rtol=0, atol=ATOL)


# ---------------------------------------------------------------- 3. scores


def _submodel_output(model, layer_name):
    """A callable giving the input tensor of ``layer_name`` (Keras forward pass)."""
    K = importlib.import_module(type(model).__module__.split(".")[0])
    sub = K.Model(model.inputs, model.get_layer(layer_name).input)

    def call(inputs):
        tensors = [tf.convert_to_tensor(x) for x in inputs]
        return sub(tensors if len(tensors) > 1 else tensors[0], training=False)

    return call


def _logits_and_grads(model, last_name, inputs):
    """Pre-activation output of layer ``last_name`` (a Dense) and its
    gradient w.r.t. every input, per task: (logits (N, T), [grads per task])."""
    hidden = _submodel_output(model, last_name)
    kernel, *rest = model.get_layer(last_name).get_weights()
    bias = rest[0] if rest else np.zeros(kernel.shape[1], np.float32)
    tensors = [tf.Variable(x) for x in inputs]
    grads = []
    with tf.GradientTape(persistent=True) as tape:
        h = hidden([t for t in tensors])
        logits = tf.matmul(tf.cast(h, tf.float32), kernel) + bias
        per_task = [tf.reduce_sum(logits[:, t]) for t in range(kernel.shape[1])]
    for target in per_task:
        grads.append([g.numpy() for g in tape.gradient(target, tensors)])
    del tape
    return logits.numpy(), grads


def _keras_logits(model, last_name, inputs):
    return _logits_and_grads(model, last_name, inputs)[0]


# Compiling a scoring function costs about a second, so the scoring tests use
# two sources each (the forward-pass tests cover every source and layer kind).
@pytest.mark.parametrize("source", ["k2_h5", "k3_keras"])
def test_rescale_zero_reference_is_gradient_times_input_sequential(factory, source):
    entry, dl_model = _convert(factory, "score_seq", source, nonlinear_mxts_mode=M.Rescale)
    assert dl_model.get_layers()[-2].name == f"preact_{len(entry.model.layers) - 1}"
    _, grads = _logits_and_grads(entry.model, "out", entry.inputs)
    contribs_func = dl_model.get_target_contribs_func(find_scores_layer_idx=0,
                                                      target_layer_idx=-2)
    x = entry.inputs[0]
    for task, grad in enumerate(grads):
        got = contribs_func(task_idx=task, input_data_list=[x], batch_size=4,
                            input_references_list=[np.zeros_like(x)])
        assert np.abs(grad[0] * x).max() > 1e-3
        np.testing.assert_allclose(got, grad[0] * x, rtol=1e-4, atol=ATOL)


@pytest.mark.parametrize("source", ["k3_h5", "k3_live"])
def test_rescale_zero_reference_is_gradient_times_input_functional(factory, source):
    entry, dl_model = _convert(factory, "score_func", source, nonlinear_mxts_mode=M.Rescale)
    _, grads = _logits_and_grads(entry.model, "output", entry.inputs)
    contribs_func = dl_model.get_target_contribs_func(
        find_scores_layer_name=["a_0", "b_0"], pre_activation_target_layer_name="preact_output_0")
    for task, grad in enumerate(grads):
        got = contribs_func(task_idx=task, input_data_list=entry.inputs, batch_size=4,
                            input_references_list=[np.zeros_like(x) for x in entry.inputs])
        assert len(got) == 2
        for c, g, x in zip(got, grad, entry.inputs):
            assert np.abs(g * x).max() > 1e-3
            np.testing.assert_allclose(c, g * x, rtol=1e-4, atol=ATOL)


def _assert_sums_to_delta(contribs, logits_x, logits_ref, task):
    total = sum(c.reshape(c.shape[0], -1).astype(np.float64).sum(axis=1) for c in contribs)
    delta = logits_x[:, task].astype(np.float64) - logits_ref[:, task].astype(np.float64)
    assert np.abs(delta).max() > 1e-2
    np.testing.assert_allclose(total, delta, rtol=0, atol=1e-4 * max(1.0, np.abs(delta).max()))


@pytest.mark.parametrize("source,mode", [("k2_h5", M.RevealCancel),
                                         ("k3_keras", M.DeepLIFT_GenomicsDefault)])
def test_summation_to_delta_sequential(factory, source, mode):
    entry, dl_model = _convert(factory, "delta_seq", source, nonlinear_mxts_mode=mode)
    x = entry.inputs[0]
    ref = np.random.default_rng(5).normal(size=x.shape).astype(np.float32) * 0.5
    logits_x = _keras_logits(entry.model, "out", [x])
    logits_ref = _keras_logits(entry.model, "out", [ref])
    contribs_func = dl_model.get_target_contribs_func(find_scores_layer_idx=0,
                                                      target_layer_idx=-2)
    for task in range(2):
        got = contribs_func(task_idx=task, input_data_list=[x], batch_size=4,
                            input_references_list=[ref])
        _assert_sums_to_delta([got], logits_x, logits_ref, task)


@pytest.mark.parametrize("source,mode", [("k3_live", M.RevealCancel),
                                         ("k2_h5", M.DeepLIFT_GenomicsDefault)])
def test_summation_to_delta_functional(factory, source, mode):
    entry, dl_model = _convert(factory, "delta_func", source, nonlinear_mxts_mode=mode)
    rng = np.random.default_rng(6)
    # One reference per input, broadcast to every example.
    refs = [rng.normal(size=(1,) + x.shape[1:]).astype(np.float32) for x in entry.inputs]
    logits_x = _keras_logits(entry.model, "output", entry.inputs)
    logits_ref = _keras_logits(entry.model, "output",
                               [np.repeat(r, N_EXAMPLES, axis=0) for r in refs])
    contribs_func = dl_model.get_target_contribs_func(
        find_scores_layer_name=dl_model.get_input_layer_names(),
        pre_activation_target_layer_name="preact_output_0")
    for task in range(2):
        got = contribs_func(task_idx=task, input_data_list=entry.inputs, batch_size=4,
                            input_references_list=refs)
        _assert_sums_to_delta(got, logits_x, logits_ref, task)


@pytest.mark.parametrize("source,kind,target", [
    ("k2_h5", "cf_conv1d", -2), ("k3_keras", "cf_conv2d", -1)])
def test_channels_first_gradient_scores(factory, source, kind, target):
    """With every rule on Gradient, contributions are grad x (x - ref); the
    gradient comes from the channels_last twin, transposed back."""
    entry, dl_model = _convert(factory, kind, source, nonlinear_mxts_mode=M.Gradient)
    x = entry.inputs[0]
    ref = np.full((1,) + x.shape[1:], 0.3, np.float32)
    perm = entry.meta["perms"][0]
    _, grads = _logits_and_grads(entry.twin(), "out", entry.twin_inputs())
    contribs_func = dl_model.get_target_contribs_func(find_scores_layer_idx=0,
                                                      target_layer_idx=target)
    for task, grad in enumerate(grads):
        grad_cf = np.transpose(grad[0], np.argsort(perm))
        got = contribs_func(task_idx=task, input_data_list=[x], batch_size=4,
                            input_references_list=[ref])
        np.testing.assert_allclose(got, grad_cf * (x - ref), rtol=1e-4, atol=ATOL)


def test_genomics_default_needs_a_preceding_conv_or_dense(factory):
    """The default mode on an Activation fed straight by an Input cannot be
    resolved; the error names the layer and its preceding layer's class."""
    _, dl_model = _convert(factory, "hard_sigmoid_model", "k3_live")
    with pytest.raises(ValueError, match=r"'hs_0'.*'x_0'.*Input"):
        dl_model.get_target_contribs_func("x_0", "cat_0")


@pytest.mark.parametrize("source,kind", [("k3_keras", "delta_seq"), ("k2_h5", "delta_func")])
def test_genomics_default_reported_as_the_resolved_rule_after_conversion(factory, source, kind):
    """As after 0.6's conversion, each nonlinearity's nonlinear_mxts_mode
    names the rule DeepLIFT_GenomicsDefault resolved to: Rescale after a
    convolution, RevealCancel after a Dense (looking through BN/NoOp)."""
    _, dl_model = _convert(factory, kind, source,
                           nonlinear_mxts_mode=M.DeepLIFT_GenomicsDefault)
    seen = set()
    for name, mode in _modes_of(dl_model).items():
        layer = _layer_named(dl_model, name)
        preceding = layer.inputs
        while isinstance(preceding, (dl.BatchNormalization, dl.NoOp)):
            preceding = preceding.inputs
        expected = M.Rescale if isinstance(preceding, dl.Conv) else M.RevealCancel
        assert isinstance(preceding, (dl.Conv, dl.Dense)), name
        assert mode == expected, name
        assert layer.requested_nonlinear_mxts_mode == M.DeepLIFT_GenomicsDefault
        seen.add(mode)
    assert seen


def _layer_named(dl_model, name):
    if isinstance(dl_model, SequentialModel):
        return next(layer for layer in dl_model.get_layers() if layer.name == name)
    return dl_model.get_name_to_layer()[name]


def test_unresolvable_genomics_default_keeps_reporting_it_after_conversion(factory):
    _, dl_model = _convert(factory, "hard_sigmoid_model", "k3_live")
    assert _modes_of(dl_model)["hs_0"] == M.DeepLIFT_GenomicsDefault


# ---------------------------------------------------------------- 4. overrides and custom funcs


def _modes_of(dl_model):
    """``{layer name: nonlinear_mxts_mode}`` of every nonlinearity."""
    if isinstance(dl_model, SequentialModel):
        layers = dl_model.get_layers()
    else:
        layers = dl_model.get_name_to_layer().values()
    return {layer.name: layer.nonlinear_mxts_mode for layer in layers
            if isinstance(layer, dl.Activation)}


GRADIENT = {"nonlinear_mxts_mode": M.Gradient}


@pytest.mark.parametrize("source", SOURCES)
def test_layer_overrides_sequential_modes(factory, source):
    # Layer "0" is Keras layer h1 (tanh), layer "1" is h2 (sigmoid).
    _, by_name = _convert(factory, "override_seq", source, nonlinear_mxts_mode=M.Rescale,
                          layer_overrides={"h1": GRADIENT})
    assert _modes_of(by_name) == {"0": M.Gradient, "1": M.Rescale}
    _, by_position = _convert(factory, "override_seq", source, nonlinear_mxts_mode=M.Rescale,
                              layer_overrides={1: {"nonlinear_mxts_mode": "Gradient"}})
    assert _modes_of(by_position) == {"0": M.Rescale, "1": M.Gradient}
    _, plain = _convert(factory, "override_seq", source, nonlinear_mxts_mode=M.Rescale)
    assert _modes_of(plain) == {"0": M.Rescale, "1": M.Rescale}
    _, both = _convert(factory, "override_seq", source, nonlinear_mxts_mode=M.Rescale,
                       layer_overrides={"h1": GRADIENT, 1: GRADIENT})
    assert _modes_of(both) == {"0": M.Gradient, "1": M.Gradient}
    # Overrides of other mode arguments leave the nonlinear mode alone.
    _, dense_only = _convert(factory, "override_seq", source, nonlinear_mxts_mode=M.Rescale,
                             layer_overrides={"h1": {"dense_mxts_mode": "Linear"}})
    assert _modes_of(dense_only) == {"0": M.Rescale, "1": M.Rescale}


@pytest.mark.parametrize("source", ["k2_h5", "k3_h5"])
def test_layer_overrides_sequential_scores(factory, source):
    """Every nonlinearity on Gradient: contributions are grad x (x - ref); all
    on Rescale: they sum to the output difference instead; one of each: neither."""
    entry, plain = _convert(factory, "override_seq", source, nonlinear_mxts_mode=M.Rescale)
    _, both = _convert(factory, "override_seq", source, nonlinear_mxts_mode=M.Rescale,
                       layer_overrides={"h1": GRADIENT, 1: GRADIENT})
    _, by_name = _convert(factory, "override_seq", source, nonlinear_mxts_mode=M.Rescale,
                          layer_overrides={"h1": GRADIENT})
    x = entry.inputs[0]
    ref = np.full((1, 4), 0.7, np.float32)
    logits_x, grads = _logits_and_grads(entry.model, "out", [x])
    logits_ref = _keras_logits(entry.model, "out", [np.repeat(ref, N_EXAMPLES, axis=0)])
    grad_times_delta = grads[0][0] * (x - ref)
    got_gradient = both.get_target_contribs_func(0, -1)(
        0, [x], batch_size=4, input_references_list=[ref])
    np.testing.assert_allclose(got_gradient, grad_times_delta, rtol=1e-4, atol=ATOL)
    got_rescale = plain.get_target_contribs_func(0, -1)(
        0, [x], batch_size=4, input_references_list=[ref])
    _assert_sums_to_delta([got_rescale], logits_x, logits_ref, 0)
    assert np.abs(got_rescale - grad_times_delta).max() > 1e-3
    got_mixed = by_name.get_target_contribs_func(0, -1)(
        0, [x], batch_size=4, input_references_list=[ref])
    assert np.abs(got_mixed - grad_times_delta).max() > 1e-4
    assert np.abs(got_mixed - got_rescale).max() > 1e-4


@pytest.mark.parametrize("source", ["k3_h5", "k3_live"])
def test_layer_overrides_functional(factory, source):
    entry, dl_model = _convert(factory, "override_func", source, nonlinear_mxts_mode=M.Rescale,
                               layer_overrides={"h2": {"nonlinear_mxts_mode": M.Gradient},
                                                "h1": {"nonlinear_mxts_mode": M.Gradient}})
    assert _modes_of(dl_model) == {"h1_0": M.Gradient, "h2_0": M.Gradient}
    _, only_h1 = _convert(factory, "override_func", source, nonlinear_mxts_mode=M.Rescale,
                          layer_overrides={"h1": {"nonlinear_mxts_mode": M.Gradient}})
    assert _modes_of(only_h1) == {"h1_0": M.Gradient, "h2_0": M.Rescale}
    x = entry.inputs[0]
    ref = np.full((1, 4), -0.4, np.float32)
    _, grads = _logits_and_grads(entry.model, "out", [x])
    got = dl_model.get_target_contribs_func("x_0", "out_0")(
        0, [x], batch_size=4, input_references_list=[ref])
    np.testing.assert_allclose(got, grads[0][0] * (x - ref), rtol=1e-4, atol=ATOL)


def test_layer_overrides_unknown_key(factory):
    with pytest.raises(ConversionError, match=r"layer_overrides\['h1'\].*bogus"):
        _convert(factory, "override_seq", "k3_live", layer_overrides={"h1": {"bogus": 1}})


@pytest.mark.parametrize("source", SOURCES)
def test_custom_conversion_funcs(factory, source):
    entry = factory("two_unsupported", PACKAGE_OF[source])
    seen = {}

    def as_noop(config, name, verbose, **modes):
        seen[config["name"]] = (name, config, modes)
        return [dl.NoOp(name=name, verbose=verbose)]

    _, dl_model = _convert(factory, "two_unsupported", source,
                           custom_conversion_funcs={"LayerNormalization": as_noop,
                                                    "UnitNormalization": as_noop})
    assert set(seen) == {"ln", "un"}
    ln_name, ln_config, ln_modes = seen["ln"]
    assert ln_name == "ln_0" and seen["un"][0] == "un_0"
    expected_ln_weights = entry.model.get_layer("ln").get_weights()
    assert len(ln_config["weights"]) == len(expected_ln_weights) == 2
    for got, want in zip(ln_config["weights"], expected_ln_weights):
        np.testing.assert_array_equal(got, want)
    assert seen["un"][1]["axis"] in (-1, [-1])
    assert "nonlinear_mxts_mode" in ln_modes
    assert isinstance(dl_model.get_name_to_layer()["ln_0"], dl.NoOp)
    # With the layer norm and the unit normalization dropped the output is out(gap(conv(x))), by Keras' own layers.
    model = entry.model
    x = tf.convert_to_tensor(entry.inputs[0])
    expected = model.get_layer("out")(model.get_layer("gap")(model.get_layer("conv")(x)))
    got = _dl_predict(dl_model, entry.inputs, "out_0")
    np.testing.assert_allclose(got, np.asarray(expected), rtol=0, atol=ATOL)


@pytest.mark.parametrize("source", ["k2_h5", "k3_keras"])
def test_custom_conversion_func_in_sequential(factory, source):
    entry = factory("one_unsupported", PACKAGE_OF[source])
    names = []

    def as_noop(config, name, verbose, **_):
        names.append(name)
        return [dl.NoOp(name=name)]

    _, dl_model = _convert(factory, "one_unsupported", source,
                           custom_conversion_funcs={"UnitNormalization": as_noop})
    assert names == ["1"]
    assert _names(dl_model) == ["input", "0", "1", "2"]
    w1, b1 = entry.model.get_layer("d1").get_weights()
    w2, b2 = entry.model.get_layer("d2").get_weights()
    x = entry.inputs[0]
    expected = (x @ w1 + b1) @ w2 + b2
    np.testing.assert_allclose(_dl_predict(dl_model, [x]), expected, rtol=0, atol=ATOL)


def test_custom_conversion_func_bad_return(factory):
    with pytest.raises(ConversionError, match=r"'ln' \(UnitNormalization\).*list of deeplift"):
        _convert(factory, "one_unsupported", "k3_live",
                 custom_conversion_funcs={"UnitNormalization": lambda **kw: None})


# ---------------------------------------------------------------- regressions


@pytest.mark.parametrize("source", ["k2_h5", "k3_keras"])
def test_reshape_with_minus_one(factory, source):
    entry, dl_model = _convert(factory, "reshape_minus_one", source)
    got = _dl_predict(dl_model, entry.inputs)
    np.testing.assert_allclose(got, entry.expected(), rtol=0, atol=ATOL)


@pytest.mark.parametrize("kind,source", [
    ("max_pool_stride_gt_size", "k3_keras"), ("avg_pool_stride_gt_size", "k2_h5")])
def test_pool_with_strides_larger_than_pool_size(factory, kind, source):
    entry, dl_model = _convert(factory, kind, source)
    got = _dl_predict(dl_model, entry.inputs)
    np.testing.assert_allclose(got, entry.expected(), rtol=0, atol=ATOL)


# ---------------------------------------------------------------- 5. bad input


def test_missing_file(tmp_path):
    path = tmp_path / "nope.h5"
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        convert_model_from_saved_files(path)
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        convert_model_from_saved_files(str(path))


def test_not_an_hdf5_file(tmp_path):
    path = tmp_path / "model.h5"
    path.write_text("not a model\n")
    with pytest.raises(ConversionError, match=r"model\.h5.*HDF5"):
        convert_model_from_saved_files(path)


def test_hdf5_without_model_config(tmp_path):
    path = tmp_path / "weights_only.h5"
    with h5py.File(path, "w") as h5_file:
        h5_file.create_group("dense")
    with pytest.raises(ConversionError, match=r"weights_only\.h5.*model config"):
        convert_model_from_saved_files(path)


@pytest.mark.parametrize("source", ["k2_h5", "k3_h5"])
def test_missing_weights_group(factory, tmp_path, source):
    entry = factory("delta_func", PACKAGE_OF[source])
    path = tmp_path / "broken.h5"
    shutil.copy(entry.paths["h5"], path)
    with h5py.File(path, "r+") as h5_file:
        del h5_file["model_weights/hid"]
    with pytest.raises(ConversionError, match=r"broken\.h5.*'hid' \(Dense\)"):
        convert_model_from_saved_files(path)


def _source_pattern(factory, kind, source):
    entry = factory(kind, PACKAGE_OF[source])
    if source == "k3_live":
        return f"live keras.Model '{entry.model.name}'"
    return (entry.paths["keras"] if source == "k3_keras" else entry.paths["h5"]).name


@pytest.mark.parametrize("source", SOURCES)
def test_unsupported_layer(factory, source):
    where = _source_pattern(factory, "one_unsupported", source)
    with pytest.raises(ConversionError) as info:
        _convert(factory, "one_unsupported", source)
    message = str(info.value)
    assert where in message
    assert "UnitNormalization x1 ('ln')" in message
    assert "custom_conversion_funcs" in message
    assert "deeplift convert --supported" in message


@pytest.mark.parametrize("source", SOURCES)
def test_two_unsupported_layers_in_one_error(factory, source):
    where = _source_pattern(factory, "mixed_unsupported", source)
    with pytest.raises(ConversionError) as info:
        _convert(factory, "mixed_unsupported", source)
    message = str(info.value)
    assert where in message
    # An unsupported class and an unsupported option, in one pass.
    assert "UnitNormalization x1 ('ln')" in message
    assert "Conv1D with padding='causal' x1 ('up')" in message
    assert "custom_conversion_funcs" in message
    # Supplying one of the two still reports the other.
    with pytest.raises(ConversionError) as info:
        _convert(factory, "mixed_unsupported", source, custom_conversion_funcs={
            "UnitNormalization": lambda config, name, verbose, **_: [dl.NoOp(name=name)]})
    assert "Conv1D with padding='causal' x1 ('up')" in str(info.value)
    assert "UnitNormalization" not in str(info.value)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("kind,layer,problem", [
    ("causal_conv", "cconv", "causal"),
    ("log_softmax_dense", "ldense", "log_softmax"),
])
def test_unsupported_option(factory, source, kind, layer, problem):
    where = _source_pattern(factory, kind, source)
    with pytest.raises(ConversionError) as info:
        _convert(factory, kind, source)
    message = str(info.value)
    assert where in message
    assert f"'{layer}'" in message
    assert problem in message
