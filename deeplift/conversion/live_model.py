"""Reader for an in-memory Keras model (Keras 3, or tf_keras / Keras 2).

The architecture is the model's own serialised config (``model.to_json()``,
the very JSON the file formats store, so the same parser applies); weights
come from ``get_weights()`` of each layer, found by name through the model's
(possibly nested) ``layers``. Keras itself is not imported here: the model
object is only asked for its config and weights.
"""
import json
import sys
from typing import Any

import numpy as np

from deeplift.conversion import spec as spec_lib
from deeplift.conversion.errors import ConversionError

_KERAS_PACKAGES = {"tf_keras": 2, "keras": None, "tensorflow": 2}
DEFAULT_MAJOR = 3


def read_live_model(model: Any) -> spec_lib.ModelSpec:
    """Reads an in-memory Sequential or Functional Keras model.

    Args:
        model: a built ``keras.Model`` (Keras 3) or ``tf_keras.Model``.

    Returns:
        The normalised, flattened model description; ``source`` is
        ``"<live keras.Model 'name'>"`` and ``keras_major`` the major version
        of the Keras package the model belongs to.

    Raises:
        TypeError: ``model`` is not a Keras model.
        ConversionError: a subclassed model (no layer graph in its config),
            or a layer that cannot be found or reports no weights.
    """
    if not all(hasattr(model, attr) for attr in ("get_config", "layers", "get_weights")):
        raise TypeError(
            f"read_live_model expects a keras.Model; got {type(model).__name__}"
        )
    source = f"<live keras.Model {getattr(model, 'name', '?')!r}>"
    model_config = _model_config(model, source)
    return spec_lib.spec_from_config(
        model_config, _LiveWeights(model), keras_major=keras_major_of(model), source=source
    )


def keras_major_of(model: Any) -> int:
    """Returns the major version of the Keras package that defines ``model``'s class.

    Walks the class hierarchy (a user subclass of ``keras.Sequential`` lives
    in the user's module) to the first Keras class: ``tf_keras`` (and
    TensorFlow's bundled ``tf.keras`` of TF < 2.16) is Keras 2; ``keras`` is
    whatever version is installed.
    """
    for cls in type(model).__mro__:
        package = cls.__module__.split(".")[0]
        if package not in _KERAS_PACKAGES:
            continue
        major = _KERAS_PACKAGES[package]
        if major is None:
            version = str(getattr(sys.modules.get(package), "__version__", DEFAULT_MAJOR))
            head = version.split(".")[0]
            major = int(head) if head.isdigit() else DEFAULT_MAJOR
        return major
    return DEFAULT_MAJOR


def _model_config(model: Any, source: str) -> dict:
    try:
        model_config = json.loads(model.to_json())
    except NotImplementedError as error:
        raise ConversionError(
            f"{source} ({type(model).__name__}) cannot serialise its config: "
            f"{error}; expected a Sequential or Functional model (subclassed "
            f"models cannot be converted)"
        ) from error
    if not isinstance(model_config, dict):
        raise ConversionError(f"{source}: model.to_json() did not give a JSON object")
    return model_config


class _LiveWeights:
    """Weights lookup: walks ``layers`` by name and calls ``get_weights()``."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def __call__(self, location: spec_lib.LayerLocation) -> list[np.ndarray] | None:
        obj = self.model
        for name in location.names:
            obj = next((layer for layer in getattr(obj, "layers", []) if layer.name == name), None)
            if obj is None:
                return None
        return [np.asarray(array, dtype=np.float32) for array in obj.get_weights()]
