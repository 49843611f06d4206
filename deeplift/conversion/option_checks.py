"""Per-class checks of layer options the converters cannot take.

``fn(config) -> str | None`` returns a short description of the first
unsupported option (``"padding='causal'"``) or None; the up-front support check
(:mod:`deeplift.conversion.support`) runs them for every layer so that all
problems are reported in one pass. Registered next to the converters.
"""
from __future__ import annotations

from typing import Callable

#: class name -> fn(config) returning a short description of an unsupported
#: option ("padding='causal'"), or None. Registered next to the converters.
OPTION_CHECKS: dict[str, Callable[[dict], str | None]] = {}


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
    padding = str(config.get("padding", "valid")).lower()
    if padding not in ("valid", "same"):
        return f"padding={padding!r}"
    return None
