"""Converter entries for the modern activations (fused and as layers).

Adds names to ``layer_converters.ACTIVATIONS``, the table that both fused
``activation=`` arguments and ``Activation('...')`` layers read, so every
linear layer with a converter gets them too.
"""
from __future__ import annotations

from deeplift import layers as dl
from deeplift.conversion.layer_converters import ACTIVATIONS

ACTIVATIONS.update({
    "silu": lambda config, **kw: dl.SiLU(**kw),
    "swish": lambda config, **kw: dl.SiLU(**kw),
    "gelu": lambda config, **kw: dl.GELU(approximate=False, **kw),
    # keras.ops.gelu's default (the op converter maps it here); Keras'
    # activation "gelu" is the exact form.
    "gelu_approximate": lambda config, **kw: dl.GELU(approximate=True, **kw),
    "hard_silu": lambda config, **kw: dl.HardSiLU(**kw),
    "hard_swish": lambda config, **kw: dl.HardSiLU(**kw),
    "mish": lambda config, **kw: dl.Mish(**kw),
    "selu": lambda config, **kw: dl.SELU(**kw),
    "softsign": lambda config, **kw: dl.Softsign(**kw),
    "exponential": lambda config, **kw: dl.Exponential(**kw),
})
