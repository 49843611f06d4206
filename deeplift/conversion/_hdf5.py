"""HDF5 helpers shared by the Keras 2 and Keras 3 legacy ``.h5`` readers.

Both Keras generations write the same legacy layout (``model.save('x.h5')``):
the root attribute ``model_config`` holds the architecture JSON, and group
``model_weights`` holds one group per top-level layer whose ``weight_names``
attribute lists that layer's weight datasets in ``get_weights()`` order (the
attribute may be split into ``weight_names0``, ``weight_names1``, ... when
large, and its strings may be bytes). A nested model's group holds the weights
of all its inner layers. Only the config dialect differs between the two
writers, and :mod:`deeplift.conversion.spec` handles that.
"""
import contextlib
import json
import os
from collections.abc import Iterator
from typing import Any

import h5py
import numpy as np

from deeplift.conversion import spec as spec_lib
from deeplift.conversion.errors import ConversionError

MODEL_CONFIG_ATTR = "model_config"
KERAS_VERSION_ATTR = "keras_version"
BACKEND_ATTR = "backend"
MODEL_WEIGHTS_GROUP = "model_weights"
WEIGHT_NAMES_ATTR = "weight_names"
LAYER_NAMES_ATTR = "layer_names"
# Backends only Keras 3 has; a file naming one was written by Keras 3.
KERAS3_ONLY_BACKENDS = frozenset({"jax", "torch", "numpy", "openvino"})
# Theano's convolution flips kernels relative to TensorFlow's.
THEANO_BACKEND = "theano"
_CONV_CLASS_PREFIXES = ("Conv", "SeparableConv", "DepthwiseConv")


def check_file(path: str | os.PathLike) -> str:
    """Returns ``path`` as a string after checking that it is an existing file.

    Raises:
        FileNotFoundError: nothing exists at ``path``.
        ConversionError: ``path`` is a directory.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"Keras model file not found: {path!r}")
    if os.path.isdir(path):
        raise ConversionError(
            f"{path} is a directory; expected a Keras model file (.h5 or .keras; "
            f"TensorFlow SavedModel directories are not supported)"
        )
    return path


@contextlib.contextmanager
def open_hdf5(path: str | os.PathLike) -> Iterator[h5py.File]:
    """Opens an HDF5 file read-only, with errors that name the file.

    Raises:
        FileNotFoundError: nothing exists at ``path``.
        ConversionError: the file is not an HDF5 file or cannot be opened.
    """
    path = check_file(path)
    if not h5py.is_hdf5(path):
        raise ConversionError(
            f"{path} is not an HDF5 file; expected a Keras .h5 model file (or a "
            f".keras archive)"
        )
    try:
        h5_file = h5py.File(path, "r")
    except OSError as error:
        raise ConversionError(f"{path}: cannot open the HDF5 file: {error}") from error
    with h5_file:
        yield h5_file


def decode(value: Any) -> str:
    """Returns an HDF5 attribute string value as ``str`` (it may be bytes)."""
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("utf-8")
    return str(value)


def read_str_attr(obj: h5py.HLObject, name: str) -> str | None:
    """Returns a scalar string attribute, or ``None`` if absent."""
    if name not in obj.attrs:
        return None
    value = obj.attrs[name]
    if isinstance(value, np.ndarray):
        value = value.item() if value.size == 1 else str(value.tolist())
    return decode(value)


def read_str_list_attr(obj: h5py.HLObject, name: str) -> list[str]:
    """Returns a list-of-strings attribute, joining chunks if it was split.

    Keras splits attributes larger than HDF5's 64 KiB header limit into
    ``<name>0``, ``<name>1``, ...; an absent attribute reads as ``[]``.
    """
    if name in obj.attrs:
        chunks = [obj.attrs[name]]
    else:
        chunks = []
        while f"{name}{len(chunks)}" in obj.attrs:
            chunks.append(obj.attrs[f"{name}{len(chunks)}"])
    values: list[str] = []
    for chunk in chunks:
        items = chunk.tolist() if isinstance(chunk, np.ndarray) else [chunk]
        if not isinstance(items, list):  # a 0-d array
            items = [items]
        values.extend(decode(item) for item in items)
    return values


def read_model_config(h5_file: h5py.File, path: str) -> dict:
    """Returns the parsed ``model_config`` JSON of a Keras HDF5 model file.

    Raises:
        ConversionError: the attribute is absent (a weights-only file) or is
            not a JSON model config.
    """
    raw = read_str_attr(h5_file, MODEL_CONFIG_ATTR)
    if raw is None:
        raise ConversionError(
            f"{path} holds no model config (no '{MODEL_CONFIG_ATTR}' attribute); "
            f"it may be a weights-only file: pass json_file=<the model's "
            f"architecture JSON> as well"
        )
    return parse_model_json(raw, path)


def parse_model_json(raw: str | bytes, source: str) -> dict:
    """Parses a model architecture JSON string.

    Raises:
        ConversionError: invalid JSON, or not a ``{"class_name", "config"}`` dict.
    """
    try:
        config = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConversionError(f"{source}: the model config is not valid JSON: {error}") from error
    if not isinstance(config, dict) or spec_lib.CONFIG_KEY not in config:
        raise ConversionError(
            f"{source}: the model config is not a Keras model config; expected a "
            f"JSON object with 'class_name' and 'config'"
        )
    return config


def parse_major(version: str | None) -> int | None:
    """Returns the major number of a version string like ``'2.21.0'``."""
    if not version:
        return None
    head = version.strip().split(".")[0]
    return int(head) if head.isdigit() else None


def keras_major_from_attrs(*objs: h5py.HLObject | None) -> int | None:
    """Returns the writer's Keras major version from HDF5 attributes.

    Uses ``keras_version`` when present, else a Keras-3-only ``backend``
    (jax, torch, numpy, openvino); ``None`` when neither decides.
    """
    present = [obj for obj in objs if obj is not None]
    for obj in present:
        major = parse_major(read_str_attr(obj, KERAS_VERSION_ATTR))
        if major is not None:
            return major
    for obj in present:
        if read_str_attr(obj, BACKEND_ATTR) in KERAS3_ONLY_BACKENDS:
            return 3
    return None


def check_keras_major(major: int, source: str) -> int:
    """Rejects files from Keras 1 (different layer names and weight layout).

    Raises:
        ConversionError: ``major`` is below 2.
    """
    if major < 2:
        raise ConversionError(
            f"{source} was written by Keras {major}; expected a file written by "
            f"Keras 2 or 3 (load it in Keras 2 and save it again)"
        )
    return major


def check_backend(backend: str | None, model_spec: spec_lib.ModelSpec) -> None:
    """Rejects Theano-written convolution kernels, which are flipped.

    Raises:
        ConversionError: the file was written with the Theano backend and
            holds convolution layers.
    """
    if backend != THEANO_BACKEND:
        return
    convs = [
        f"{layer.name} ({layer.class_name})"
        for layer in model_spec.layers
        if layer.class_name.startswith(_CONV_CLASS_PREFIXES)
    ]
    if convs:
        raise ConversionError(
            f"{model_spec.source} was written with the Theano backend, whose "
            f"convolution kernels are flipped relative to TensorFlow's; layers "
            f"{convs} would convert wrongly. Load it in Keras with TensorFlow and "
            f"save it again"
        )


class LegacyH5Weights:
    """Weights lookup for the legacy HDF5 layout (both Keras generations).

    A top-level layer's weights are the datasets its group lists in
    ``weight_names``, read in that order (names are never parsed, so
    ``kernel:0`` and ``seq/dense/kernel`` alike just name datasets). A nested
    model's group lists the weights of all its inner layers; an inner layer
    owns those whose next-to-last path component is its name
    (``inner_dense/kernel:0``, ``inner_seq/inner_dense/kernel``), kept in the
    stored order.

    Args:
        root: the group holding one group per top-level layer
            (``model_weights``, or the root of a ``save_weights`` file).
        source: file path, for messages.
    """

    def __init__(self, root: h5py.Group, source: str) -> None:
        self.root = root
        self.source = source
        self._nested_names: dict[str, list[str]] = {}
        self._claimed: dict[str, set[str]] = {}

    def __call__(self, location: spec_lib.LayerLocation) -> list[np.ndarray] | None:
        top = location.names[0]
        group = self.root.get(top)
        if not isinstance(group, h5py.Group):
            return None
        names = read_str_list_attr(group, WEIGHT_NAMES_ATTR)
        if len(location.names) > 1:
            leaf = location.names[-1]
            self._nested_names[top] = names
            selected = [name for name in names if _owner(name) == leaf]
            self._claimed.setdefault(top, set()).update(selected)
            names = selected
        return [self._read(group, name, location) for name in names]

    def check_all_claimed(self) -> None:
        """Checks that every weight of every nested model found its layer.

        Raises:
            ConversionError: some weights of a nested model's group belong to
                no inner layer.
        """
        for top, names in self._nested_names.items():
            left = [name for name in names if name not in self._claimed.get(top, set())]
            if left:
                raise ConversionError(
                    f"{self.source}: weights {left} in the group of nested model "
                    f"{top!r} belong to none of its layers; expected each weight "
                    f"name to be '<layer name>/<weight>'"
                )

    def _read(self, group: h5py.Group, name: str, location: spec_lib.LayerLocation) -> np.ndarray:
        dataset = group.get(name)
        if not isinstance(dataset, h5py.Dataset):
            raise ConversionError(
                f"{self.source}: weight {name!r} of layer {location.describe()!r} "
                f"({location.class_name}) is listed in '{WEIGHT_NAMES_ATTR}' of group "
                f"{group.name!r} but no such dataset exists"
            )
        return np.asarray(dataset[()], dtype=np.float32)


def _owner(weight_name: str) -> str | None:
    parts = weight_name.split("/")
    return parts[-2] if len(parts) >= 2 else None


def read_legacy_model(path: str | os.PathLike, default_major: int) -> spec_lib.ModelSpec:
    """Reads a legacy-layout Keras ``.h5`` model file (config and weights).

    The writer's Keras major version comes from the ``keras_version``
    attribute, else a Keras-3-only ``backend`` attribute, else the config
    dialect (:func:`deeplift.conversion.spec.infer_keras_major`), else
    ``default_major``.

    Args:
        path: the ``.h5`` file.
        default_major: the major version to assume when nothing decides it.

    Returns:
        The file's :class:`ModelSpec`.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ConversionError: not HDF5, no model config, or weights missing.
    """
    source = os.fspath(path)
    with open_hdf5(source) as h5_file:
        model_config = read_model_config(h5_file, source)
        weights_root = h5_file.get(MODEL_WEIGHTS_GROUP)
        if not isinstance(weights_root, h5py.Group):
            raise ConversionError(
                f"{source} has a model config but no '{MODEL_WEIGHTS_GROUP}' group; "
                f"expected the weights saved with the model"
            )
        major = keras_major_from_attrs(h5_file, weights_root)
        if major is None:
            major = spec_lib.infer_keras_major(model_config) or default_major
        check_keras_major(major, source)
        lookup = LegacyH5Weights(weights_root, source)
        model_spec = spec_lib.spec_from_config(
            model_config, lookup, keras_major=major, source=source
        )
        lookup.check_all_claimed()
        check_backend(read_str_attr(h5_file, BACKEND_ATTR), model_spec)
    return model_spec
