"""The layer graph as a whole: traversal plus the graph-level checks.

The traversal (topological sort, lazily evaluated forward pass, backward
multiplier loop, shape inference) lives in :mod:`deeplift.traversal`, below
the layer classes, and is re-exported here; this module adds the checks that
need the layer classes: which layers may be targets and which concrete rule
each activation layer uses.
"""
from __future__ import annotations

from typing import Iterable

from deeplift.layers.activations import Activation
from deeplift.layers.base import Layer, check_can_be_target
from deeplift.layers.core import NoOp
from deeplift.layers.pooling import _GlobalMaxPool, _MaxPool
from deeplift.modes import NonlinearMxtsMode
from deeplift.rules import effective_mode
from deeplift.traversal import (
    ForwardPass, Mxts, backward, descendants, infer_shapes, input_layers_of, topological_order,
)

__all__ = [
    "ForwardPass", "Mxts", "backward", "check_can_be_target", "descendants", "infer_shapes",
    "input_layers_of", "resolve_modes", "topological_order",
]


def resolve_modes(layers: Iterable[Layer]) -> dict[int, NonlinearMxtsMode]:
    """Concrete rules of the activation layers among ``layers``.

    Raises:
        ValueError: DeepLIFT_GenomicsDefault cannot be resolved for a layer,
            or RevealCancel directly follows a max pool (whose contribution
            parts the original package never defined).
    """
    modes = {}
    for layer in layers:
        if not isinstance(layer, Activation):
            continue
        mode = modes[id(layer)] = effective_mode(layer)
        if mode != NonlinearMxtsMode.RevealCancel:
            continue
        preceding = layer.inputs
        while isinstance(preceding, NoOp):
            preceding = preceding.inputs
        if isinstance(preceding, (_MaxPool, _GlobalMaxPool)):
            raise ValueError(
                f"Layer {layer.name!r} uses RevealCancel right after the max "
                f"pool layer {preceding.name!r} ({type(preceding).__name__}); "
                f"RevealCancel needs the positive/negative split of its input, "
                f"which a max pool does not define. Use Rescale for this layer."
            )
    return modes
