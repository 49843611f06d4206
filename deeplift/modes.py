"""Enumerations that select DeepLIFT rules and layer options.

Every enum is a ``str`` enum whose values are the strings the original
``deeplift`` 0.6 package used, so ``NonlinearMxtsMode.Rescale == "Rescale"``
and old scripts that pass plain strings keep working.
"""
from __future__ import annotations

from enum import Enum, EnumMeta


class _StrEnumMeta(EnumMeta):
    """Gives every mode enum the original ``util.enum``'s ``vals``."""

    @property
    def vals(cls) -> list:
        """The members (each equal to its string value), in definition order."""
        return list(cls)


class _StrEnum(str, Enum, metaclass=_StrEnumMeta):
    """A string enum with an actionable error for unknown values."""

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: "str | _StrEnum", argument: str):
        """Returns the member equal to ``value``.

        Args:
            value: a member or its string value.
            argument: the argument name to quote in the error message.

        Raises:
            ValueError: ``value`` names no member; the message lists the valid ones.
        """
        if isinstance(value, cls):
            return value
        for member in cls:
            if value == member.value:
                return member
        valid = sorted(member.value for member in cls)
        raise ValueError(
            f"Unknown {argument}={value!r}. Expected one of {valid}."
        )


class NonlinearMxtsMode(_StrEnum):
    """How multipliers cross a nonlinearity (see SEMANTICS.md, "Backward")."""

    Gradient = "Gradient"
    Rescale = "Rescale"
    DeconvNet = "DeconvNet"
    GuidedBackprop = "GuidedBackprop"
    GuidedBackpropRescale = "GuidedBackpropRescale"
    RevealCancel = "RevealCancel"
    PassThrough = "PassThrough"
    DeepLIFT_GenomicsDefault = "DeepLIFT_GenomicsDefault"


class DenseMxtsMode(_StrEnum):
    """Multiplier rule of Dense layers. Only the linear rule exists."""

    Linear = "Linear"


class ConvMxtsMode(_StrEnum):
    """Multiplier rule of convolutions. Only the linear rule exists."""

    Linear = "Linear"


class MaxPoolDeepLiftMode(_StrEnum):
    """Multiplier rule of max pooling.

    ``gradient`` (the original's only rule, the Python API's default) routes
    each multiplier to the input's arg-max; it conserves only when the
    reference's arg-max is the same. ``cross_max`` (SHAP DeepExplainer's and
    tangermeme's rule) credits the input's and the reference's arg-max and
    conserves for any reference (see ``deeplift.layers.cross_max``).
    """

    gradient = "gradient"
    cross_max = "cross_max"


class ScoringMode(_StrEnum):
    """How a target layer seeds the backward pass."""

    OneAndZeros = "OneAndZeros"


class PaddingMode(_StrEnum):
    """Convolution and pooling padding, as TensorFlow spells it."""

    same = "SAME"
    valid = "VALID"

    @classmethod
    def parse(cls, value, argument: str = "padding"):
        """Accepts members and the strings "same"/"valid" in any case."""
        if isinstance(value, str) and not isinstance(value, cls):
            value = value.upper()
        return super().parse(value, argument)


class PoolMode(_StrEnum):
    """Kind of pooling, as the original ``deeplift.layers.convolutional`` named it."""

    max = "max"
    avg = "avg"


class ActivationNames(_StrEnum):
    """Activation names of the original ``deeplift.layers.core``."""

    sigmoid = "sigmoid"
    hard_sigmoid = "hard_sigmoid"
    tanh = "tanh"
    relu = "relu"
    linear = "linear"


class DataFormat(_StrEnum):
    """Position of the channel axis."""

    channels_first = "channels_first"
    channels_last = "channels_last"
