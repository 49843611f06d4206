"""What can be converted: the up-front check of a whole model and the list
behind ``deeplift convert --supported``.

The check runs before anything is built and reports every problem at once,
grouped by class, one line each, e.g.
``SeparableConv2D x34 ('block2_sepconv1', 'block2_sepconv2', ...)``;
unsupported options (a fused activation, causal padding, an op's arguments)
are reported in the same pass as ``Conv1D with padding='causal' x1 ('conv')``.
"""
from __future__ import annotations

# Every converter module, imported for its registrations in layer_converters'
# tables (the builder and `deeplift convert --supported` both come through here).
from deeplift.conversion import (  # noqa: F401
    converters_activations, converters_attention, converters_convolutional, converters_merge,
    converters_normalization, converters_ops, converters_preprocessing, converters_recurrent,
    converters_reshaping, converters_wrappers, layer_converters,
)
from deeplift.conversion.errors import ConversionError
from deeplift.conversion.layer_config import INPUT_LAYER_CLASS, OPS_CLASS_PREFIX
from deeplift.conversion.model_spec import ModelSpec
from deeplift.conversion.option_checks import OPTION_CHECKS

_NAMES_SHOWN = 3


def unsupported_option(class_name: str, config: dict) -> str | None:
    """The first unsupported option of a layer the registry knows, or None."""
    activation = layer_converters.unsupported_activation(config)
    if activation is not None:
        return f"activation {activation!r}"
    check = OPTION_CHECKS.get(class_name)
    return None if check is None else check(config)


def supported_classes() -> list[str]:
    """Keras layer class names with a converter, sorted."""
    return sorted(name for name in layer_converters.CONVERTERS
                  if not name.startswith(OPS_CLASS_PREFIX))


def supported_ops() -> list[str]:
    """Keras-ops node classes with a converter (``"ops.Add"``...), sorted."""
    return sorted(name for name in layer_converters.CONVERTERS
                  if name.startswith(OPS_CLASS_PREFIX))


def supported_activations() -> list[str]:
    """Fused activation names the converters accept, sorted."""
    return sorted(layer_converters.ACTIVATIONS)


def check_supported(spec: ModelSpec, custom_conversion_funcs: dict) -> None:
    """Raises one short error grouping every layer that cannot be converted.

    Raises:
        ConversionError: one line per unsupported class (or class with an
            unsupported option), with a count and the first layer names.
    """
    groups: dict[str, list[str]] = {}
    for layer in spec.layers:
        if layer.class_name == INPUT_LAYER_CLASS or layer.class_name in custom_conversion_funcs:
            continue
        if layer.class_name not in layer_converters.CONVERTERS:
            key = layer.class_name
        else:
            option = unsupported_option(layer.class_name, layer.config)
            if option is None:
                continue
            key = f"{layer.class_name} with {option}"
        groups.setdefault(key, []).append(layer.name)
    if not groups:
        return
    lines = []
    for key, names in groups.items():
        shown = ", ".join(repr(name) for name in names[:_NAMES_SHOWN])
        more = ", ..." if len(names) > _NAMES_SHOWN else ""
        lines.append(f"  {key} x{len(names)} ({shown}{more})")
    total = sum(len(names) for names in groups.values())
    raise ConversionError(
        f"{spec.source}: cannot convert {total} layer(s):\n" + "\n".join(lines)
        + "\nRun `deeplift convert --supported` (or see the README) for the supported "
        "layers and activations; to convert another class pass "
        "custom_conversion_funcs={'ClassName': fn}, fn(config, name, verbose, **modes) "
        "returning a list of deeplift layers."
    )

