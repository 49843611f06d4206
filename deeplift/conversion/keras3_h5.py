"""Reader for Keras 3 legacy HDF5 model files (``model.save('x.h5')``).

Keras 3 writes the same HDF5 layout as Keras 2 (see
:mod:`deeplift.conversion._hdf5`) with a Keras 3 config dialect: ``batch_shape``
on InputLayers, dict ``inbound_nodes`` holding ``__keras_tensor__`` entries,
DTypePolicy dicts, a flat triple for a single ``input_layers`` /
``output_layers`` entry, weight names without ``:0`` (prefixed with the model
name inside a Sequential), and nested groups. The dialect is handled by
:func:`deeplift.conversion.spec.spec_from_config`.
"""
import os

from deeplift.conversion import _hdf5
from deeplift.conversion.spec import ModelSpec

KERAS_MAJOR = 3


def read_keras3_h5(h5_path: str | os.PathLike) -> ModelSpec:
    """Reads a Keras 3 ``.h5`` model file into a :class:`ModelSpec`.

    The ``keras_version`` attribute, when present, decides
    ``ModelSpec.keras_major`` (so a Keras 2 file read here still reports 2).

    Args:
        h5_path: path of the ``.h5`` file.

    Returns:
        The normalised, flattened model description with float32 weights.

    Raises:
        FileNotFoundError: ``h5_path`` does not exist.
        ConversionError: not an HDF5 file, no model config, a malformed
            config, or a layer's weights missing.
    """
    return _hdf5.read_legacy_model(h5_path, default_major=KERAS_MAJOR)
