"""What can be converted: the up-front check of a whole model and the list
behind ``deeplift convert --supported``.

The check runs before anything is built and reports every problem at once,
grouped by class, one line each, e.g.
``SeparableConv2D x34 ('block2_sepconv1', 'block2_sepconv2', ...)``;
unsupported options (a fused activation, ``groups`` > 1, causal padding) are
reported in the same pass as ``Conv2D with groups=2 x1 ('conv')``.
"""
from __future__ import annotations

from typing import Callable

from deeplift.conversion import converters_merge, converters_normalization  # noqa: F401  (register)
from deeplift.conversion import layer_converters
from deeplift.conversion.errors import ConversionError
from deeplift.conversion.layer_config import INPUT_LAYER_CLASS
from deeplift.conversion.model_spec import ModelSpec

#: class name -> fn(config) returning a short description of an unsupported
#: option ("groups=2"), or None. Registered next to the converters.
OPTION_CHECKS: dict[str, Callable[[dict], str | None]] = {}
_NAMES_SHOWN = 3


def register_option_check(*class_names: str):
    """Decorator registering ``fn(config) -> str | None`` for ``class_names``."""

    def wrap(fn):
        for class_name in class_names:
            OPTION_CHECKS[class_name] = fn
        return fn

    return wrap


@register_option_check("Conv1D", "Conv2D", "Conv3D", "Convolution1D", "Convolution2D",
                       "Convolution3D")
def _conv_options(config: dict) -> str | None:
    if config.get("groups", 1) not in (1, None):
        return f"groups={config['groups']}"
    padding = str(config.get("padding", "valid")).lower()
    if padding not in ("valid", "same"):
        return f"padding={padding!r}"
    return None


def unsupported_option(class_name: str, config: dict) -> str | None:
    """The first unsupported option of a layer the registry knows, or None."""
    activation = layer_converters.unsupported_activation(config)
    if activation is not None:
        return f"activation {activation!r}"
    check = OPTION_CHECKS.get(class_name)
    return None if check is None else check(config)


def supported_classes() -> list[str]:
    """Keras class names with a converter, sorted."""
    return sorted(layer_converters.CONVERTERS)


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
