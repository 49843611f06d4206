"""Reader for Keras 2 legacy HDF5 model files (Keras 2.x, tf.keras, tf_keras).

Handles what Keras 2 writers put in ``model.save('x.h5')``: class names
``Sequential``, ``Model`` (Keras <= 2.3) and ``Functional``; a Sequential
config as a bare list (very old) or a dict with ``layers``, with or without a
leading InputLayer; list-style ``inbound_nodes`` (``[[["inp", 0, 0, {}]]]``);
``input_layers`` / ``output_layers`` as lists of triples; weights under
``model_weights/<layer>`` listed by ``weight_names`` (possibly chunked).

With ``json_file`` the architecture comes from a JSON file
(``model.to_json()``) and the HDF5 file may hold weights only: the legacy
layout at its root (``model.save_weights('w.h5')``) or under
``model_weights``, or Keras 3's object-tree ``.weights.h5`` layout.
"""
import os

import h5py

from deeplift.conversion import _hdf5
from deeplift.conversion import keras_zip
from deeplift.conversion import spec as spec_lib

KERAS_MAJOR = 2
JSON_KERAS_VERSION_KEY = "keras_version"


def read_keras2_h5(
    h5_path: str | os.PathLike, json_file: str | os.PathLike | None = None
) -> spec_lib.ModelSpec:
    """Reads a Keras 2 ``.h5`` model (or JSON architecture + HDF5 weights).

    ``ModelSpec.keras_major`` comes from the JSON's ``keras_version`` key,
    else the HDF5 ``keras_version`` / ``backend`` attributes, else the config
    dialect, else 2.

    Args:
        h5_path: the ``.h5`` model file, or the weights file with ``json_file``.
        json_file: optional architecture JSON; when given, the model config in
            ``h5_path`` (if any) is ignored.

    Returns:
        The normalised, flattened model description with float32 weights.

    Raises:
        FileNotFoundError: ``h5_path`` or ``json_file`` does not exist.
        ConversionError: not an HDF5 file, no model config (and no
            ``json_file``), a malformed config, or a layer's weights missing.
    """
    if json_file is None:
        return _hdf5.read_legacy_model(h5_path, default_major=KERAS_MAJOR)
    json_path = _hdf5.check_file(json_file)
    with open(json_path, "rb") as handle:
        raw = handle.read()
    model_config = _hdf5.parse_model_json(raw, json_path)
    source = os.fspath(h5_path)
    with _hdf5.open_hdf5(source) as h5_file:
        major = _hdf5.parse_major(_json_keras_version(model_config))
        if major is None:
            major = _hdf5.keras_major_from_attrs(h5_file, h5_file.get(_hdf5.MODEL_WEIGHTS_GROUP))
        if major is None:
            major = spec_lib.infer_keras_major(model_config) or KERAS_MAJOR
        _hdf5.check_keras_major(major, json_path)
        if keras_zip.is_object_tree_weights(h5_file):
            lookup = keras_zip.ObjectTreeWeights(h5_file, source)
        else:
            root = h5_file.get(_hdf5.MODEL_WEIGHTS_GROUP)
            if not isinstance(root, h5py.Group):
                root = h5_file  # save_weights() puts the layer groups at the root
            lookup = _hdf5.LegacyH5Weights(root, source)
        model_spec = spec_lib.spec_from_config(
            model_config, lookup, keras_major=major, source=source
        )
        if isinstance(lookup, _hdf5.LegacyH5Weights):
            lookup.check_all_claimed()
        _hdf5.check_backend(_hdf5.read_str_attr(h5_file, _hdf5.BACKEND_ATTR), model_spec)
    return model_spec


def _json_keras_version(model_config: dict) -> str | None:
    version = model_config.get(JSON_KERAS_VERSION_KEY)
    return version if isinstance(version, str) else None

