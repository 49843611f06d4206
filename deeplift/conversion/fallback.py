"""The opt-in per-layer fallback of the converter (``fallback_steps=K``).

For Keras layers the converter has no rule for, ``converters_for`` builds
``custom_conversion_funcs`` entries that wrap the Keras layer itself in a
``deeplift.layers.fallback.KerasFallback``: the live layer object for a live
model, or, for a file, the Keras built-in class re-created from its config
and weights. Lambda layers and custom classes are never instantiated from a
file (that would run code stored in it).
"""
from __future__ import annotations

from deeplift.conversion import layer_converters
from deeplift.conversion.errors import ConversionError
from deeplift.conversion.spec import INPUT_LAYER_CLASS, ModelSpec
from deeplift.conversion.subgraph import INPUT_SHAPES_KEY
from deeplift.layers.fallback import KerasFallback

#: Never rebuilt from a file: they carry code.
REFUSED_FROM_FILES = frozenset({"Lambda", "TFOpLambda", "SlicingOpLambda"})


def unsupported_classes(spec: ModelSpec, custom: dict) -> list[str]:
    return sorted({layer.class_name for layer in spec.layers
                   if layer.class_name != INPUT_LAYER_CLASS and layer.class_name not in custom
                   and layer.class_name not in layer_converters.CONVERTERS})


def _keras_layer_from_file(config, class_name, source):
    if class_name in REFUSED_FROM_FILES:
        raise ConversionError(
            f"layer {config.get('name')!r} is a {class_name}; the fallback never "
            f"rebuilds Lambda layers from a file (that would run code stored in it). Convert "
            f"the live model instead, or pass custom_conversion_funcs={{{class_name!r}: fn}}.")
    import keras

    keras_config = {k: v for k, v in config.items()
                    if k not in (layer_converters.KERAS_WEIGHTS_KEY,
                                 layer_converters.KERAS_MAJOR_KEY,
                                 layer_converters.NUM_INPUTS_KEY, INPUT_SHAPES_KEY)
                    and not k.startswith("_")}
    cls = getattr(keras.layers, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, keras.layers.Layer)):
        raise ConversionError(
            f"the fallback for layer {config.get('name')!r} ({class_name}) only "
            f"rebuilds Keras built-in classes (keras.layers.*) from a file; {class_name} is "
            f"not one. Convert the live model instead, or pass custom_conversion_funcs.")
    try:
        layer = cls.from_config(keras_config)
    except (TypeError, ValueError) as err:
        raise ConversionError(f"the fallback cannot rebuild layer {config.get('name')!r} "
                              f"({class_name}) from its config: {err}") from None
    shapes = config.get(INPUT_SHAPES_KEY) or []
    layer.build(shapes[0] if len(shapes) == 1 else shapes)
    layer.set_weights(config[layer_converters.KERAS_WEIGHTS_KEY])
    return layer


def converters_for(spec: ModelSpec, steps: int, custom: dict, live_model=None) -> dict:
    """``custom_conversion_funcs`` entries for every class without a converter."""
    def convert(config, name, verbose, **_):
        class_name = config["_fallback_class"]
        if live_model is not None:
            keras_layer = live_model.get_layer(config["name"]) if not _nested(live_model) \
                else _find(live_model, config["name"])
        else:
            keras_layer = _keras_layer_from_file(config, class_name, spec.source)
        num_inputs = len(config.get(INPUT_SHAPES_KEY) or [None])
        return [KerasFallback(keras_layer, steps, num_inputs=num_inputs, name=name,
                              verbose=verbose)]

    return {cls: convert for cls in unsupported_classes(spec, custom)}


def _nested(model) -> bool:
    return any(hasattr(layer, "layers") for layer in model.layers)


def _find(model, name):
    for layer in model.layers:
        if layer.name == name:
            return layer
        if hasattr(layer, "layers"):
            found = _find(layer, name)
            if found is not None:
                return found
    return None
