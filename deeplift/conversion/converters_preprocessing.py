"""Converter entries for Rescaling, Normalization and LayerScale, all
``ScaleShift`` layers (see ``deeplift.layers.affine``)."""
from __future__ import annotations

import numpy as np

from deeplift import layers as dl
from deeplift.conversion.layer_converters import KERAS_WEIGHTS_KEY, _unsupported, register

#: Keras' backend epsilon, the floor of Normalization's standard deviation.
KERAS_EPSILON = 1e-7


def _array(value, config, name, what):
    """A config value that Keras may store as a number, a list, or a
    serialised numpy array (``{"class_name": "__numpy__", "config": {"value": ...}}``)."""
    if isinstance(value, dict):
        value = value.get("config", {}).get("value", value)
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        _unsupported(config, name, f"{what}={value!r} is not a number or an array")


@register("Rescaling")
def rescaling_conversion(config, name, verbose, **_):
    scale = _array(config.get("scale", 1.0), config, name, "scale")
    offset = _array(config.get("offset", 0.0), config, name, "offset")
    return [dl.ScaleShift(scale=scale, offset=offset, name=name, verbose=verbose)]


@register("Normalization")
def normalization_conversion(config, name, verbose, **_):
    """``(x - mean) / max(sqrt(var), 1e-7)``, or with ``invert``
    ``mean + x * max(sqrt(var), 1e-7)``, per position of ``axis``."""
    if config.get("mean") is not None:
        mean = _array(config["mean"], config, name, "mean")
        variance = _array(config.get("variance"), config, name, "variance")
    else:
        weights = config[KERAS_WEIGHTS_KEY]
        if len(weights) < 2:
            _unsupported(config, name, "expected the stored mean and variance weights "
                                       "(was the layer adapted?)")
        mean, variance = (np.asarray(w, np.float64) for w in weights[:2])
    std = np.maximum(np.sqrt(variance), KERAS_EPSILON)
    if config.get("invert", False):
        scale, offset = std, mean
    else:
        scale, offset = 1.0 / std, -mean / std
    axis = config.get("axis", -1)
    if axis is not None and np.size(scale) == 1:
        axis = None  # one statistic for every element
    return [dl.ScaleShift(scale=scale, offset=offset, axis=axis, name=name, verbose=verbose)]


@register("LayerScale")
def layer_scale_conversion(config, name, verbose, **_):
    """keras.applications ConvNeXt's ``x * gamma`` over the last axis."""
    weights = config[KERAS_WEIGHTS_KEY]
    if len(weights) != 1:
        _unsupported(config, name, f"expected one weight array (gamma), found {len(weights)}")
    return [dl.ScaleShift(scale=weights[0], offset=0.0, axis=-1, name=name, verbose=verbose)]
