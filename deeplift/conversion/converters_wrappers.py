"""Converter entry for TimeDistributed: the wrapped Keras layer is converted
by its own registered converter and wrapped in ``deeplift.layers.TimeDistributed``.
"""
from __future__ import annotations

from deeplift import layers as dl
from deeplift.conversion.layer_converters import (
    CONVERTERS, KERAS_MAJOR_KEY, KERAS_WEIGHTS_KEY, _unsupported, register,
)


@register("TimeDistributed")
def time_distributed_conversion(config, name, verbose, **modes):
    from deeplift.conversion.spec import normalise_layer_config

    inner = config.get("layer")
    if not isinstance(inner, dict) or "class_name" not in inner:
        _unsupported(config, name, "TimeDistributed without a wrapped layer config")
    class_name = inner["class_name"]
    if class_name not in CONVERTERS:
        _unsupported(config, name, f"the wrapped layer class {class_name!r} is not supported")
    inner_name = inner.get("config", {}).get("name", "layer")
    inner_config = normalise_layer_config(class_name, inner.get("config", {}), inner_name,
                                          f"layer {config.get('name', name)!r}")
    inner_config[KERAS_WEIGHTS_KEY] = config[KERAS_WEIGHTS_KEY]
    inner_config[KERAS_MAJOR_KEY] = config.get(KERAS_MAJOR_KEY, 3)
    layers = CONVERTERS[class_name](config=inner_config, name=f"{name}/{inner_name}",
                                    verbose=verbose, **modes)
    return [dl.TimeDistributed(layers, name=name, verbose=verbose)]
