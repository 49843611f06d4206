"""Reader for ``.keras`` archives (Keras 3, and tf_keras >= 2.13).

A ``.keras`` file is a zip holding ``config.json`` (the architecture, in the
writer's dialect), ``metadata.json`` (``keras_version``) and
``model.weights.h5``. The weights file mirrors the model's object tree rather
than layer names (observed with Keras 3.15 and tf_keras 2.21)::

    layers/<snake_case class name>[_N]/vars/0..n          top-level layer
    layers/sequential/layers/dense/vars/0..n              layer of a nested model
    vars                                                  the model's own (none)

``_N`` counts earlier layers of the same class in the model's ``layers`` list,
which for a Sequential omits the InputLayer. Keras 3 also stores the layer
name as the ``name`` attribute of each ``vars`` group; this reader prefers
that, and falls back to the class-name key (tf_keras writes no names). Arrays
``vars/0``, ``vars/1``, ... are in ``get_weights()`` order.
"""
import io
import json
import os
import zipfile

import h5py
import numpy as np

from deeplift.conversion import _hdf5
from deeplift.conversion import spec as spec_lib
from deeplift.conversion.errors import ConversionError

CONFIG_FILENAME = "config.json"
METADATA_FILENAME = "metadata.json"
WEIGHTS_FILENAME = "model.weights.h5"
KERAS_VERSION_KEY = "keras_version"
LAYERS_GROUP = "layers"
# Where early object-tree writers (tf.keras 2.12-2.13) put the layer list.
LEGACY_LAYERS_GROUP = "_layer_checkpoint_dependencies"
VARS_GROUP = "vars"
WRAPPED_LAYER_GROUP = "layer"
NAME_ATTR = "name"
DEFAULT_MAJOR = 3
#: Composite layers keep their weights in sub-objects, not in their own
#: ``vars``: the sub-object keys in ``get_weights()`` order, per class.
NESTED_VARS = {
    "MultiHeadAttention": ("query_dense", "key_dense", "value_dense", "output_dense"),
    "LSTM": ("cell",), "GRU": ("cell",), "SimpleRNN": ("cell",),
    "Bidirectional": ("forward_layer/cell", "backward_layer/cell"),
}


class ObjectTreeWeights:
    """Weights lookup for Keras' object-tree layout (``model.weights.h5``).

    Args:
        root: the root group of the weights file.
        source: file path, for messages.
    """

    def __init__(self, root: h5py.Group, source: str) -> None:
        self.root = root
        self.source = source
        self._name_index: dict[str, dict[str, str]] = {}

    def __call__(self, location: spec_lib.LayerLocation) -> list[np.ndarray] | None:
        group = self.root
        for name, key in zip(location.names, location.object_keys):
            group = self._child(group, name, key)
            if group is None:
                return None
        if location.class_name in NESTED_VARS and not _has_vars(group):
            arrays = []
            for path in NESTED_VARS[location.class_name]:
                child = group.get(path)
                found = None if child is None else self._vars_of(child, location)
                if found is None:
                    return None
                arrays.extend(found)
            return arrays
        return self._vars_of(group, location)

    def _vars_of(self, group: h5py.Group, location: spec_lib.LayerLocation
                 ) -> list[np.ndarray] | None:
        variables = group.get(VARS_GROUP)
        # A wrapper (TimeDistributed, Bidirectional's halves) keeps no
        # variables of its own; the wrapped layer's are under "layer".
        while (isinstance(group.get(WRAPPED_LAYER_GROUP), h5py.Group)
               and (not isinstance(variables, h5py.Group) or not len(variables))):
            group = group[WRAPPED_LAYER_GROUP]
            variables = group.get(VARS_GROUP)
        if not isinstance(variables, h5py.Group):
            return None
        keys = list(variables.keys())
        if not all(key.isdigit() for key in keys):
            raise ConversionError(
                f"{self.source}: the weights of layer {location.describe()!r} "
                f"({location.class_name}) in group {variables.name!r} are named "
                f"{keys}; expected 0, 1, ..."
            )
        return [
            np.asarray(variables[key][()], dtype=np.float32)
            for key in sorted(keys, key=int)
        ]

    def _child(self, group: h5py.Group, name: str, key: str) -> h5py.Group | None:
        for container_name in (LAYERS_GROUP, LEGACY_LAYERS_GROUP):
            container = group.get(container_name)
            if not isinstance(container, h5py.Group):
                continue
            by_name = self._names_in(container)
            if by_name:
                # The writer recorded layer names: they are authoritative, and a
                # class-name key could belong to another layer.
                if name in by_name:
                    return container[by_name[name]]
                continue
            for candidate in (key, name):
                child = container.get(candidate) if candidate else None
                if isinstance(child, h5py.Group):
                    return child
        return None

    def _names_in(self, container: h5py.Group) -> dict[str, str]:
        """Maps layer names (``vars`` ``name`` attributes) to child keys."""
        if container.name not in self._name_index:
            index = {}
            for key, child in container.items():
                variables = child.get(VARS_GROUP) if isinstance(child, h5py.Group) else None
                if isinstance(variables, h5py.Group):
                    layer_name = _hdf5.read_str_attr(variables, NAME_ATTR)
                    if layer_name is not None:
                        index[layer_name] = key
            self._name_index[container.name] = index
        return self._name_index[container.name]


def _has_vars(group: h5py.Group) -> bool:
    variables = group.get(VARS_GROUP)
    return isinstance(variables, h5py.Group) and len(variables) > 0


def is_object_tree_weights(root: h5py.Group) -> bool:
    """Whether an HDF5 weights file uses the object-tree (``.weights.h5``) layout."""
    return (
        (LAYERS_GROUP in root or VARS_GROUP in root)
        and _hdf5.LAYER_NAMES_ATTR not in root.attrs
        and _hdf5.MODEL_WEIGHTS_GROUP not in root
    )


def read_keras_archive(path: str | os.PathLike) -> spec_lib.ModelSpec:
    """Reads a ``.keras`` zip archive into a :class:`ModelSpec`.

    ``keras_major`` comes from ``metadata.json``'s ``keras_version``, else
    from the config dialect.

    Args:
        path: the ``.keras`` file.

    Returns:
        The normalised, flattened model description with float32 weights.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ConversionError: not a zip, a missing or invalid member, or a
            layer's weights missing.
    """
    source = _hdf5.check_file(path)
    if not zipfile.is_zipfile(source):
        raise ConversionError(
            f"{source} is not a .keras archive (not a zip file); expected a file "
            f"written by model.save('model.keras')"
        )
    try:
        with zipfile.ZipFile(source) as archive:
            members = set(archive.namelist())
            for required in (CONFIG_FILENAME, WEIGHTS_FILENAME):
                if required not in members:
                    raise ConversionError(
                        f"{source} has no {required!r}; expected a .keras archive "
                        f"holding {CONFIG_FILENAME!r} and {WEIGHTS_FILENAME!r} "
                        f"(found {sorted(members)})"
                    )
            model_config = _hdf5.parse_model_json(archive.read(CONFIG_FILENAME), source)
            metadata = {}
            if METADATA_FILENAME in members:
                try:
                    metadata = json.loads(archive.read(METADATA_FILENAME))
                except json.JSONDecodeError as error:
                    raise ConversionError(
                        f"{source}: {METADATA_FILENAME!r} is not valid JSON: {error}"
                    ) from error
            weights_bytes = archive.read(WEIGHTS_FILENAME)
    except zipfile.BadZipFile as error:
        raise ConversionError(f"{source} is a damaged zip archive: {error}") from error
    version = metadata.get(KERAS_VERSION_KEY) if isinstance(metadata, dict) else None
    major = _hdf5.parse_major(version)
    if major is None:
        major = spec_lib.infer_keras_major(model_config) or DEFAULT_MAJOR
    _hdf5.check_keras_major(major, source)
    try:
        weights_file = h5py.File(io.BytesIO(weights_bytes), "r")
    except OSError as error:
        raise ConversionError(
            f"{source}: {WEIGHTS_FILENAME!r} is not a readable HDF5 file: {error}"
        ) from error
    with weights_file:
        lookup = ObjectTreeWeights(weights_file, source)
        return spec_lib.spec_from_config(model_config, lookup, keras_major=major, source=source)
