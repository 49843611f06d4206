"""Tests of the Keras model readers in ``deeplift.conversion``.

Tiny models are built here with Keras 3 and with tf_keras (Keras 2), written
to a temporary directory in every supported format, and read back: the
ModelSpec must give the layers in config order, the flattened graph, the
normalised configs and exactly the weights of the original model.
"""
import io
import json
import shutil
import zipfile

import h5py
import numpy as np
import pytest

from deeplift.conversion import spec as spec_lib
from deeplift.conversion.errors import ConversionError
from deeplift.conversion.keras2_h5 import read_keras2_h5
from deeplift.conversion.keras3_h5 import read_keras3_h5
from deeplift.conversion.keras_zip import read_keras_archive
from deeplift.conversion.live_model import read_live_model
from deeplift.conversion.readers import read_model_spec

# Writers: (Keras package, format). "live" reads the in-memory model.
WRITERS = [
    ("tf_keras", "h5"),
    ("tf_keras", "keras"),
    ("tf_keras", "live"),
    ("keras", "h5"),
    ("keras", "keras"),
    ("keras", "live"),
]
MAJOR = {"tf_keras": 2, "keras": 3}

pytestmark = [
    # Writers' own noise: tf_keras/Keras call .h5 "legacy"; Keras' numpy bridge.
    pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5 file"),
    pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy"),
]


# ---------------------------------------------------------------- models


def _graph_model(K):
    """Two inputs, a shared Conv1D called twice, Concatenate, Add, BN, nested Sequential."""
    L = K.layers
    in_a = K.Input((6, 4), name="in_a")
    in_b = K.Input((6, 4), name="in_b")
    conv = L.Conv1D(3, 2, activation="relu", name="shared_conv")
    conv_a, conv_b = conv(in_a), conv(in_b)
    cat = L.Concatenate(name="cat")([conv_a, conv_b])
    added = L.Add(name="add")([conv_a, conv_b])
    normed = L.BatchNormalization(name="bn")(cat)
    inner = K.Sequential(
        [
            K.Input((5, 3)),
            L.Dense(3, name="inner_dense"),
            L.BatchNormalization(name="inner_bn"),
            L.Activation("tanh", name="inner_act"),
        ],
        name="inner_seq",
    )
    merged = L.Concatenate(name="cat2")([normed, inner(added)])
    out = L.Dense(2, activation="sigmoid", name="out")(L.Flatten(name="flat")(merged))
    return K.Model([in_a, in_b], out, name="graph")


def _siamese_model(K):
    """A nested Functional (holding a nested Sequential) called on two inputs."""
    L = K.layers
    block_in = K.Input((4,), name="block_in")
    block_seq = K.Sequential(
        [
            K.Input((4,)),
            L.Dense(3, name="seq_dense"),
            L.BatchNormalization(name="seq_bn"),
            L.Activation("relu", name="seq_relu"),
        ],
        name="block_seq",
    )
    # A frozen layer moves its weights to the end of a nested group in .h5.
    block_seq.get_layer("seq_dense").trainable = False
    block = K.Model(block_in, L.Dense(2, name="block_dense")(block_seq(block_in)), name="block")
    x1 = K.Input((4,), name="x1")
    x2 = K.Input((4,), name="x2")
    summed = L.Add(name="sum")([block(x1), block(x2)])
    return K.Model([x1, x2], L.Dense(1, name="head")(summed), name="siamese")


def _seq_in_seq_model(K):
    L = K.layers
    inner = K.Sequential(
        [K.Input((4,)), L.Dense(3, name="d_in"), L.PReLU(name="prelu")], name="inner"
    )
    return K.Sequential(
        [K.Input((4,), name="seq_in"), L.Dense(4, name="d0"), inner, L.Dense(1, name="d_out")],
        name="outer",
    )


def _double_nested_model(K):
    """Sequential in Sequential in Functional, plus a shared Sequential without input."""
    L = K.layers
    deep = K.Sequential([K.Input((4,)), L.Dense(3, name="deep_d")], name="deep")
    mid = K.Sequential([K.Input((4,)), deep, L.Dense(2, name="mid_d")], name="mid")
    deferred = K.Sequential([L.Dense(2, name="nd_d")], name="deferred")
    x = K.Input((4,), name="x")
    hidden = mid(x)
    return K.Model(x, L.Add(name="sum")([deferred(hidden), deferred(hidden)]), name="dbl")


BUILDERS = {
    "graph": _graph_model,
    "siamese": _siamese_model,
    "seq_in_seq": _seq_in_seq_model,
    "double_nested": _double_nested_model,
}

EXPECTED_LAYERS = {
    "graph": [
        ("in_a", "InputLayer"),
        ("in_b", "InputLayer"),
        ("shared_conv", "Conv1D"),
        ("cat", "Concatenate"),
        ("add", "Add"),
        ("bn", "BatchNormalization"),
        ("inner_dense", "Dense"),
        ("inner_bn", "BatchNormalization"),
        ("inner_act", "Activation"),
        ("cat2", "Concatenate"),
        ("flat", "Flatten"),
        ("out", "Dense"),
    ],
    "siamese": [
        ("x1", "InputLayer"),
        ("x2", "InputLayer"),
        ("seq_dense", "Dense"),
        ("seq_bn", "BatchNormalization"),
        ("seq_relu", "Activation"),
        ("block_dense", "Dense"),
        ("sum", "Add"),
        ("head", "Dense"),
    ],
    "seq_in_seq": [
        ("seq_in", "InputLayer"),
        ("d0", "Dense"),
        ("d_in", "Dense"),
        ("prelu", "PReLU"),
        ("d_out", "Dense"),
    ],
    "double_nested": [
        ("x", "InputLayer"),
        ("deep_d", "Dense"),
        ("mid_d", "Dense"),
        ("nd_d", "Dense"),
        ("sum", "Add"),
    ],
}

# inbound, as (layer, node, tensor) triples per call
EXPECTED_INBOUND = {
    "graph": {
        "in_a": [],
        "in_b": [],
        "shared_conv": [[("in_a", 0, 0)], [("in_b", 0, 0)]],
        "cat": [[("shared_conv", 0, 0), ("shared_conv", 1, 0)]],
        "add": [[("shared_conv", 0, 0), ("shared_conv", 1, 0)]],
        "bn": [[("cat", 0, 0)]],
        "inner_dense": [[("add", 0, 0)]],
        "inner_bn": [[("inner_dense", 0, 0)]],
        "inner_act": [[("inner_bn", 0, 0)]],
        "cat2": [[("bn", 0, 0), ("inner_act", 0, 0)]],
        "flat": [[("cat2", 0, 0)]],
        "out": [[("flat", 0, 0)]],
    },
    "siamese": {
        "x1": [],
        "x2": [],
        "seq_dense": [[("x1", 0, 0)], [("x2", 0, 0)]],
        "seq_bn": [[("seq_dense", 0, 0)], [("seq_dense", 1, 0)]],
        "seq_relu": [[("seq_bn", 0, 0)], [("seq_bn", 1, 0)]],
        "block_dense": [[("seq_relu", 0, 0)], [("seq_relu", 1, 0)]],
        "sum": [[("block_dense", 0, 0), ("block_dense", 1, 0)]],
        "head": [[("sum", 0, 0)]],
    },
    "seq_in_seq": {
        "seq_in": [],
        "d0": [[("seq_in", 0, 0)]],
        "d_in": [[("d0", 0, 0)]],
        "prelu": [[("d_in", 0, 0)]],
        "d_out": [[("prelu", 0, 0)]],
    },
    "double_nested": {
        "x": [],
        "deep_d": [[("x", 0, 0)]],
        "mid_d": [[("deep_d", 0, 0)]],
        "nd_d": [[("mid_d", 0, 0)], [("mid_d", 0, 0)]],
        "sum": [[("nd_d", 0, 0), ("nd_d", 1, 0)]],
    },
}
EXPECTED_IO = {
    "graph": ([("in_a", 0, 0), ("in_b", 0, 0)], [("out", 0, 0)]),
    "siamese": ([("x1", 0, 0), ("x2", 0, 0)], [("head", 0, 0)]),
    "seq_in_seq": ([("seq_in", 0, 0)], [("d_out", 0, 0)]),
    "double_nested": ([("x", 0, 0)], [("sum", 0, 0)]),
}


def _leaf_weights(model) -> dict[str, list[np.ndarray]]:
    """``get_weights()`` of every non-model layer, nested models included."""
    found = {}
    for layer in model.layers:
        if hasattr(layer, "layers"):
            found.update(_leaf_weights(layer))
        else:
            found[layer.name] = layer.get_weights()
    return found


def _randomise(model, seed: int) -> None:
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in model.get_weights()])


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Every test model, per Keras package: the live model and its saved files."""
    import keras
    import tf_keras

    root = tmp_path_factory.mktemp("models")
    out = {}
    for package, K in (("tf_keras", tf_keras), ("keras", keras)):
        for index, (kind, builder) in enumerate(BUILDERS.items()):
            model = builder(K)
            _randomise(model, index)
            paths = {fmt: root / f"{package}_{kind}.{fmt}" for fmt in ("h5", "keras")}
            for path in paths.values():
                model.save(str(path))
            out[package, kind] = {"model": model, "weights": _leaf_weights(model), **paths}
    return out


def _source(saved, package, kind, fmt):
    entry = saved[package, kind]
    return entry["model"] if fmt == "live" else entry[fmt]


def _triples(refs):
    return [(ref.layer, ref.node_index, ref.tensor_index) for ref in refs]


def _assert_weights_equal(model_spec, expected):
    for layer in model_spec.layers:
        if layer.class_name == "InputLayer":
            assert layer.weights == []
            continue
        want = expected[layer.name]
        assert len(layer.weights) == len(want), layer.name
        for got, ref in zip(layer.weights, want):
            assert got.dtype == np.float32
            np.testing.assert_array_equal(got, ref, err_msg=layer.name)


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("kind", sorted(BUILDERS))
@pytest.mark.parametrize("package,fmt", WRITERS)
def test_round_trip(saved, package, fmt, kind):
    model_spec = read_model_spec(_source(saved, package, kind, fmt))
    assert [(l.name, l.class_name) for l in model_spec.layers] == EXPECTED_LAYERS[kind]
    inbound = {l.name: [_triples(call) for call in l.inbound] for l in model_spec.layers}
    assert inbound == EXPECTED_INBOUND[kind]
    assert (_triples(model_spec.inputs), _triples(model_spec.outputs)) == EXPECTED_IO[kind]
    assert model_spec.is_sequential == (kind == "seq_in_seq")
    assert model_spec.keras_major == MAJOR[package]
    _assert_weights_equal(model_spec, saved[package, kind]["weights"])
    if fmt == "live":
        assert model_spec.source.startswith("<live keras.Model")
    else:
        assert model_spec.source == str(saved[package, kind][fmt])


@pytest.mark.parametrize("package,fmt", WRITERS)
def test_configs_are_normalised(saved, package, fmt):
    model_spec = read_model_spec(_source(saved, package, "graph", fmt))
    in_a = model_spec.layer("in_a").config
    assert in_a["batch_shape"] == (None, 6, 4)
    assert "batch_input_shape" not in in_a
    # Keras 2 stores BN axis as [2], Keras 3 as -1.
    assert model_spec.layer("bn").config["axis"] == (2 if package == "tf_keras" else -1)
    assert model_spec.layer("inner_bn").config["axis"] == (2 if package == "tf_keras" else -1)
    assert model_spec.layer("shared_conv").config["activation"] == "relu"
    assert model_spec.layer("out").config["activation"] == "sigmoid"
    assert model_spec.layer("inner_act").config["activation"] == "tanh"
    assert model_spec.layer("inner_dense").config["activation"] == "linear"


def test_format_specific_readers(saved):
    graph_k2, graph_k3 = saved["tf_keras", "graph"], saved["keras", "graph"]
    assert read_keras2_h5(graph_k2["h5"]).keras_major == 2
    assert read_keras3_h5(graph_k3["h5"]).keras_major == 3
    assert read_keras_archive(graph_k3["keras"]).keras_major == 3
    assert read_keras_archive(graph_k2["keras"]).keras_major == 2
    live = read_live_model(graph_k3["model"])
    assert live.source == "<live keras.Model 'graph'>"
    # The keras_version attribute wins over the reader's default.
    assert read_keras3_h5(graph_k2["h5"]).keras_major == 2


def test_sequential_without_input_layer_tf_keras(tmp_path):
    import tf_keras

    model = tf_keras.Sequential(
        [
            tf_keras.layers.Dense(3, input_shape=(4,), name="first"),
            tf_keras.layers.Dense(1, activation="relu", name="second"),
        ],
        name="no_input",
    )
    _randomise(model, 7)
    path = tmp_path / "no_input.h5"
    model.save(str(path))
    expected = _leaf_weights(model)
    model_spec = read_model_spec(path)
    assert model_spec.is_sequential and model_spec.keras_major == 2
    input_spec, first, second = model_spec.layers
    assert input_spec.class_name == "InputLayer"
    assert input_spec.config["batch_shape"] == (None, 4)
    assert model_spec.inputs == [spec_lib.TensorRef(input_spec.name, 0, 0)]
    assert first.inbound == [[spec_lib.TensorRef(input_spec.name, 0, 0)]]
    assert second.inbound == [[spec_lib.TensorRef("first", 0, 0)]]
    assert model_spec.outputs == [spec_lib.TensorRef("second", 0, 0)]
    _assert_weights_equal(model_spec, expected)

    # Keras <= 2.2 wrote no InputLayer entry, only batch_input_shape on the first
    # layer, and very old files a bare list as the Sequential config.
    with h5py.File(path, "r+") as h5_file:
        config = json.loads(h5_file.attrs["model_config"])
        config["config"]["layers"] = config["config"]["layers"][1:]
        assert "batch_input_shape" in config["config"]["layers"][0]["config"]
        config["config"] = config["config"]["layers"]
        h5_file.attrs["model_config"] = json.dumps(config)
    old_spec = read_keras2_h5(path)
    assert [(l.name, l.class_name) for l in old_spec.layers] == [
        ("first_input", "InputLayer"),
        ("first", "Dense"),
        ("second", "Dense"),
    ]
    assert old_spec.layer("first_input").config["batch_shape"] == (None, 4)
    assert old_spec.layer("first").inbound == [[spec_lib.TensorRef("first_input", 0, 0)]]
    _assert_weights_equal(old_spec, expected)


def test_old_model_class_name_and_chunked_bytes_weight_names(saved, tmp_path):
    path = tmp_path / "old.h5"
    shutil.copy(saved["tf_keras", "graph"]["h5"], path)
    with h5py.File(path, "r+") as h5_file:
        config = json.loads(h5_file.attrs["model_config"])
        config["class_name"] = "Model"  # Keras <= 2.3
        h5_file.attrs["model_config"] = json.dumps(config).encode("utf-8")
        for layer in ("out", "bn"):
            group = h5_file["model_weights"][layer]
            names = [name.encode("utf-8") for name in group.attrs["weight_names"]]
            del group.attrs["weight_names"]
            group.attrs["weight_names0"] = np.array(names[:1])
            group.attrs["weight_names1"] = np.array(names[1:])
    model_spec = read_model_spec(path)
    assert [l.name for l in model_spec.layers] == [n for n, _ in EXPECTED_LAYERS["graph"]]
    _assert_weights_equal(model_spec, saved["tf_keras", "graph"]["weights"])


def test_json_file_with_weights_only_h5(saved, tmp_path):
    # tf_keras: model.to_json() + save_weights in the legacy layout (root groups).
    model = saved["tf_keras", "graph"]["model"]
    json_path, weights_path = tmp_path / "k2.json", tmp_path / "k2_weights.h5"
    json_path.write_text(model.to_json())
    model.save_weights(str(weights_path))
    with pytest.raises(ConversionError, match="holds no model config.*json_file"):
        read_model_spec(weights_path)
    model_spec = read_model_spec(weights_path, json_file=json_path)
    assert model_spec.keras_major == 2
    assert [l.name for l in model_spec.layers] == [n for n, _ in EXPECTED_LAYERS["graph"]]
    _assert_weights_equal(model_spec, saved["tf_keras", "graph"]["weights"])

    # Keras 3: to_json() + save_weights('x.weights.h5') in the object-tree layout.
    model = saved["keras", "siamese"]["model"]
    json_path, weights_path = tmp_path / "k3.json", tmp_path / "k3.weights.h5"
    json_path.write_text(model.to_json())
    model.save_weights(str(weights_path))
    model_spec = read_keras2_h5(weights_path, json_file=json_path)
    assert model_spec.keras_major == 3
    _assert_weights_equal(model_spec, saved["keras", "siamese"]["weights"])


def test_nested_functional_output_is_model_output():
    # Keras 3 numbers a nested Functional's calls from 1 in output_layers only.
    import keras

    block_in = keras.Input((4,), name="b_in")
    block = keras.Model(block_in, keras.layers.Dense(2, name="bd")(block_in), name="blk")
    x = keras.Input((4,), name="x")
    y = block(x)
    model = keras.Model(x, [y, keras.layers.Dense(1, name="z")(y)], name="wrap")
    config = json.loads(model.to_json())["config"]
    assert config["output_layers"][0] == ["blk", 1, 0]
    model_spec = read_live_model(model)
    assert _triples(model_spec.outputs) == [("bd", 0, 0), ("z", 0, 0)]
    assert _triples(model_spec.layer("z").inbound[0]) == [("bd", 0, 0)]


# ---------------------------------------------------------------- normalisation


def test_activation_names():
    def name(value):
        return spec_lib.activation_name(value, "lyr", "Dense", "f.h5")

    assert name("relu") == "relu"
    assert name(None) == "linear"
    assert name({"module": "builtins", "class_name": "function", "config": "hard_sigmoid",
                 "registered_name": "function"}) == "hard_sigmoid"
    relu_layer = {"name": "r", "max_value": None, "negative_slope": 0.0, "threshold": 0.0}
    assert name({"class_name": "ReLU", "config": relu_layer}) == "relu"
    assert name({"class_name": "Softmax", "config": {"axis": -1}}) == "softmax"
    assert name("my>swish") == "my>swish"  # custom: kept for the builder to report
    message = r"f\.h5.*'lyr' \(Dense\).*expected a named activation"
    with pytest.raises(ConversionError, match=message):
        name({"class_name": "ReLU", "config": {"max_value": 6.0}})


def test_batch_norm_axis_and_input_shape_normalisation():
    config = spec_lib.normalise_layer_config("BatchNormalization", {"axis": [2]}, "bn", "f.h5")
    assert config["axis"] == 2
    with pytest.raises(ConversionError, match=r"f\.h5.*'bn' \(BatchNormalization\).*\[1, 2\]"):
        spec_lib.normalise_layer_config("BatchNormalization", {"axis": [1, 2]}, "bn", "f.h5")
    config = spec_lib.normalise_layer_config(
        "InputLayer", {"batch_input_shape": [None, 5, 4]}, "inp", "f.h5"
    )
    assert config == {"batch_shape": (None, 5, 4)}
    with pytest.raises(ConversionError, match="InputLayer 'inp'"):
        spec_lib.normalise_layer_config("InputLayer", {"name": "inp"}, "inp", "f.h5")


def test_duplicate_names_after_flattening():
    import keras

    inner = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")], name="inner")
    x = keras.Input((3,), name="x")
    model = keras.Model(x, keras.layers.Dense(1, name="d")(inner(x)), name="dup")
    with pytest.raises(ConversionError, match="two layers are named 'd'"):
        read_live_model(model)


def test_subclassed_model_is_rejected():
    import keras

    class Custom(keras.Model):
        def __init__(self):
            super().__init__(name="custom")
            self.dense = keras.layers.Dense(1)

        def call(self, x):
            return self.dense(x)

    model = Custom()
    model(np.zeros((1, 2), np.float32))
    with pytest.raises(ConversionError, match="custom"):
        read_model_spec(model)


# ---------------------------------------------------------------- bad files


@pytest.mark.parametrize(
    "reader", [read_model_spec, read_keras2_h5, read_keras3_h5, read_keras_archive]
)
def test_missing_path(tmp_path, reader):
    path = tmp_path / "nope.h5"
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        reader(path)


def test_text_file(tmp_path):
    path = tmp_path / "model.h5"
    path.write_text("not a model\n")
    with pytest.raises(ConversionError, match="model.h5 is neither an HDF5 file nor"):
        read_model_spec(path)
    with pytest.raises(ConversionError, match="model.h5 is not an HDF5 file"):
        read_keras2_h5(path)
    with pytest.raises(ConversionError, match="model.h5 is not an HDF5 file"):
        read_keras3_h5(path)
    with pytest.raises(ConversionError, match="model.h5 is not a .keras archive"):
        read_keras_archive(path)


def test_hdf5_without_model_config(tmp_path):
    path = tmp_path / "weights_only.h5"
    with h5py.File(path, "w") as h5_file:
        h5_file.create_group("dense")
    for reader in (read_model_spec, read_keras2_h5, read_keras3_h5):
        message = r"weights_only\.h5 holds no model config.*json_file"
        with pytest.raises(ConversionError, match=message):
            reader(path)


def test_yaml_file_is_rejected(saved):
    with pytest.raises(ConversionError, match="YAML.*json_file"):
        read_model_spec(saved["tf_keras", "graph"]["h5"], yaml_file="model.yaml")


@pytest.mark.parametrize("package", ["tf_keras", "keras"])
def test_deleted_weights_group(saved, tmp_path, package):
    path = tmp_path / "broken.h5"
    shutil.copy(saved[package, "graph"]["h5"], path)
    with h5py.File(path, "r+") as h5_file:
        del h5_file["model_weights/out"]
    with pytest.raises(ConversionError, match=r"broken\.h5.*'out' \(Dense\)"):
        read_model_spec(path)


@pytest.mark.parametrize("package", ["tf_keras", "keras"])
def test_deleted_nested_weights_group(saved, tmp_path, package):
    path = tmp_path / "broken_nested.h5"
    shutil.copy(saved[package, "graph"]["h5"], path)
    with h5py.File(path, "r+") as h5_file:
        del h5_file["model_weights/inner_seq"]
    with pytest.raises(ConversionError, match=r"broken_nested\.h5.*'inner_dense' \(Dense\)"):
        read_model_spec(path)


def test_listed_weight_dataset_missing(saved, tmp_path):
    path = tmp_path / "no_kernel.h5"
    shutil.copy(saved["tf_keras", "graph"]["h5"], path)
    with h5py.File(path, "r+") as h5_file:
        del h5_file["model_weights/out/out/kernel:0"]
    with pytest.raises(ConversionError, match=r"no_kernel\.h5.*'out/kernel:0'.*'out' \(Dense\)"):
        read_model_spec(path)


@pytest.mark.parametrize("package", ["tf_keras", "keras"])
def test_keras_archive_with_deleted_weights(saved, tmp_path, package):
    source = saved[package, "graph"]["keras"]
    path = tmp_path / "broken.keras"
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    buffer = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buffer, "r+") as h5_file:
        del h5_file["layers/sequential/layers/dense"]  # inner_dense
    members["model.weights.h5"] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ConversionError, match=r"broken\.keras.*'inner_dense' \(Dense\)"):
        read_model_spec(path)


def test_zip_without_keras_members(tmp_path):
    path = tmp_path / "other.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ConversionError, match=r"other\.keras has no 'config\.json'"):
        read_model_spec(path)


def test_not_a_model_object():
    with pytest.raises(TypeError, match="keras.Model"):
        read_model_spec(42)


# ---------------------------------------------------------------- hand-written configs


def _dict_lookup(weights):
    """A WeightLookup over ``{layer name: arrays}`` (any nesting)."""
    return lambda location: weights.get(location.names[-1])


def test_spec_from_keras22_style_config():
    # Keras 2.2: class "Model", a nested Sequential with no InputLayer entry and
    # its calls counted from 1, a bare-list Sequential config.
    kernel, bias = np.ones((4, 3), np.float32), np.zeros(3, np.float32)
    config = {
        "class_name": "Model",
        "config": {
            "name": "old",
            "layers": [
                {"name": "x", "class_name": "InputLayer",
                 "config": {"name": "x", "batch_input_shape": [None, 4]}, "inbound_nodes": []},
                {"name": "seq", "class_name": "Sequential",
                 "config": [{"class_name": "Dense", "config": {
                     "name": "d", "units": 3, "activation": "relu",
                     "batch_input_shape": [None, 4]}}],
                 "inbound_nodes": [[["x", 0, 0, {}]], [["x", 0, 0, {}]]]},
                {"name": "add", "class_name": "Add", "config": {"name": "add"},
                 "inbound_nodes": [[["seq", 1, 0, {}], ["seq", 2, 0, {}]]]},
            ],
            "input_layers": [["x", 0, 0]],
            "output_layers": [["add", 0, 0]],
        },
    }
    model_spec = spec_lib.spec_from_config(
        config, _dict_lookup({"d": [kernel, bias], "add": []}), keras_major=2, source="old.h5"
    )
    assert [(l.name, l.class_name) for l in model_spec.layers] == [
        ("x", "InputLayer"), ("d", "Dense"), ("add", "Add")
    ]
    assert [_triples(call) for call in model_spec.layer("d").inbound] == [
        [("x", 0, 0)], [("x", 0, 0)]
    ]
    assert _triples(model_spec.layer("add").inbound[0]) == [("d", 0, 0), ("d", 1, 0)]
    assert model_spec.layer("x").config["batch_shape"] == (None, 4)
    assert model_spec.layer("d").config["activation"] == "relu"
    np.testing.assert_array_equal(model_spec.layer("d").weights[0], kernel)


def test_spec_from_config_errors():
    def functional(layers, outputs):
        return {"class_name": "Functional", "config": {
            "name": "m", "layers": layers, "input_layers": [["x", 0, 0]],
            "output_layers": outputs}}

    x = {"name": "x", "class_name": "InputLayer",
         "config": {"name": "x", "batch_shape": [None, 2]}, "inbound_nodes": []}
    dangling = functional(
        [x, {"name": "d", "class_name": "Dense", "config": {"name": "d"},
             "inbound_nodes": [[["ghost", 0, 0, {}]]]}],
        [["d", 0, 0]],
    )
    with pytest.raises(ConversionError, match=r"m\.h5: layer 'd' takes input from layer 'ghost'"):
        spec_lib.spec_from_config(
            dangling, _dict_lookup({"d": [np.ones((2, 2))]}), keras_major=2, source="m.h5"
        )
    no_weights = functional(
        [x, {"name": "d", "class_name": "Dense", "config": {"name": "d"},
             "inbound_nodes": [[["x", 0, 0, {}]]]}],
        [["d", 0, 0]],
    )
    with pytest.raises(ConversionError, match=r"m\.h5: layer 'd' \(Dense\) has no stored weights"):
        spec_lib.spec_from_config(no_weights, _dict_lookup({"d": []}), keras_major=2, source="m.h5")
    # A nested model whose output is its own input, fed by its own output.
    cycle = functional(
        [x, {"name": "s", "class_name": "Sequential", "config": {"name": "s", "layers": [
            {"class_name": "InputLayer", "config": {"name": "si", "batch_shape": [None, 2]}}]},
             "inbound_nodes": [[["s", 1, 0, {}]]]}],
        [["s", 1, 0]],
    )
    with pytest.raises(ConversionError, match="cycle"):
        spec_lib.spec_from_config(cycle, _dict_lookup({}), keras_major=2, source="m.h5")
