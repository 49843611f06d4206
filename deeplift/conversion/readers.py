"""One entry point that reads any supported Keras model into a ModelSpec.

Dispatch, by type and then by content (never by file extension):

* an object with ``get_config`` / ``layers`` / ``get_weights``: a live model
  (:func:`deeplift.conversion.live_model.read_live_model`);
* ``json_file`` given: architecture JSON + HDF5 weights
  (:func:`deeplift.conversion.keras2_h5.read_keras2_h5`);
* a zip file: a ``.keras`` archive
  (:func:`deeplift.conversion.keras_zip.read_keras_archive`);
* an HDF5 file: legacy ``.h5``; Keras 2 vs 3 decided by the root
  ``keras_version`` attribute (its major number), else a Keras-3-only
  ``backend`` attribute (jax, torch, numpy, openvino), else the config
  dialect (``batch_shape`` / dict ``inbound_nodes`` / DTypePolicy dicts mean
  Keras 3), else Keras 2.
"""
import os
import zipfile
from typing import Any

import h5py

from deeplift.conversion import _hdf5
from deeplift.conversion import spec as spec_lib
from deeplift.conversion.errors import ConversionError
from deeplift.conversion.keras2_h5 import read_keras2_h5
from deeplift.conversion.keras3_h5 import read_keras3_h5
from deeplift.conversion.keras_zip import read_keras_archive
from deeplift.conversion.live_model import read_live_model


def read_model_spec(
    path_or_model: str | os.PathLike | Any,
    json_file: str | os.PathLike | None = None,
    yaml_file: str | os.PathLike | None = None,
) -> spec_lib.ModelSpec:
    """Reads a saved or live Keras model into a :class:`ModelSpec`.

    Args:
        path_or_model: a ``.h5`` / ``.keras`` path, or a live Keras model.
        json_file: architecture JSON for a weights-only HDF5 file.
        yaml_file: not supported (Keras >= 2.6 removed YAML configs).

    Returns:
        The normalised, flattened model description.

    Raises:
        FileNotFoundError: a given path does not exist.
        ConversionError: ``yaml_file`` given, an unrecognised file, or any
            problem in the file's config or weights.
        TypeError: ``path_or_model`` is neither a path nor a Keras model.
    """
    if yaml_file is not None:
        raise ConversionError(
            f"{os.fspath(yaml_file)}: YAML model configs are not supported (Keras "
            f">= 2.6 can neither write nor read them); pass json_file=<the "
            f"model's architecture JSON> instead"
        )
    if not isinstance(path_or_model, (str, os.PathLike)):
        if all(hasattr(path_or_model, attr) for attr in ("get_config", "layers", "get_weights")):
            if json_file is not None:
                raise ConversionError(
                    f"json_file={os.fspath(json_file)!r} was given with a live "
                    f"model; expected json_file only with a weights-only HDF5 path"
                )
            return read_live_model(path_or_model)
        raise TypeError(
            f"read_model_spec expects a file path or a keras.Model; got "
            f"{type(path_or_model).__name__}"
        )
    path = _hdf5.check_file(path_or_model)
    if json_file is not None:
        return read_keras2_h5(path, json_file=json_file)
    if zipfile.is_zipfile(path):
        return read_keras_archive(path)
    if h5py.is_hdf5(path):
        return _read_h5(path)
    raise ConversionError(
        f"{path} is neither an HDF5 file nor a .keras (zip) archive; expected a "
        f"Keras model saved with model.save('model.h5') or model.save('model.keras')"
    )


def _read_h5(path: str) -> spec_lib.ModelSpec:
    """Dispatches a legacy ``.h5`` file to the Keras 2 or Keras 3 reader."""
    with _hdf5.open_hdf5(path) as h5_file:
        major = _hdf5.keras_major_from_attrs(h5_file, h5_file.get(_hdf5.MODEL_WEIGHTS_GROUP))
        if major is None:
            major = spec_lib.infer_keras_major(_hdf5.read_model_config(h5_file, path))
    if major is not None and major >= 3:
        return read_keras3_h5(path)
    return read_keras2_h5(path)
