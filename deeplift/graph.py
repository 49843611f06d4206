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
from deeplift.layers.base import Input, Layer, check_can_be_target
from deeplift.layers.linear import LinearLayer
from deeplift.layers.pooling import _GlobalMaxPool, _MaxPool
from deeplift.layers.product import Product
from deeplift.modes import MaxPoolDeepLiftMode, NonlinearMxtsMode
from deeplift.rules import effective_mode
from deeplift.traversal import (
    ForwardPass, Mxts, backward, descendants, infer_shapes, input_layers_of, topological_order,
)

__all__ = [
    "ForwardPass", "Mxts", "backward", "check_can_be_target", "descendants",
    "gradient_max_pool_feeding", "infer_shapes", "input_layers_of", "resolve_modes",
    "topological_order",
]


def resolve_modes(layers: Iterable[Layer]) -> dict[int, NonlinearMxtsMode]:
    """Concrete rules of the activation layers among ``layers``.

    Raises:
        ValueError: DeepLIFT_GenomicsDefault cannot be resolved for a layer,
            or a RevealCancel layer sees a gradient-mode max pool's output
            (see ``gradient_max_pool_feeding``).
    """
    modes = {}
    for layer in layers:
        if not isinstance(layer, Activation):
            continue
        mode = modes[id(layer)] = effective_mode(layer)
        if mode != NonlinearMxtsMode.RevealCancel:
            continue
        found = gradient_max_pool_feeding(layer)
        if found is None:
            continue
        pool, path = found
        requested = getattr(layer, "requested_nonlinear_mxts_mode", layer.nonlinear_mxts_mode)
        resolved = "" if requested == mode else f" (resolved from {requested.value})"
        through = (f" through {' -> '.join(repr(l.name) for l in path)}" if path
                   else " directly")
        raise ValueError(
            f"Layer {layer.name!r} ({type(layer).__name__}) uses RevealCancel"
            f"{resolved} and takes the output of the max pool layer {pool.name!r} "
            f"({type(pool).__name__}, maxpool_deeplift_mode=gradient){through}. "
            f"RevealCancel needs the positive/negative parts of its input, which a "
            f"gradient-mode max pool does not define, so the contributions would not "
            f"add up. Fix: use maxpool_deeplift_mode='cross_max' (conversion argument "
            f"or the pool's constructor), or give {layer.name!r} the Rescale rule."
        )
    return modes


def gradient_max_pool_feeding(layer: Layer) -> tuple[Layer, list[Layer]] | None:
    """The first gradient-mode max pool whose output reaches ``layer``
    through layers that pass their inputs' positive and negative parts on
    (routing, BatchNormalization, Add, Concatenate, padding, cropping,
    reshapes, no-ops, average pools, element-wise nonlinearities, cross_max
    max pools), with the layers in between (nearest to ``layer`` first); None
    when there is none.

    Dense and convolutional layers (every ``LinearLayer``) and products of
    two variable tensors end the search: they split their own output by the
    sign of their inputs' differences and send their inputs one multiplier
    stream, so nothing below them sees RevealCancel's two streams.
    """
    seen: set[int] = set()
    stack = [(parent, []) for parent in reversed(layer.input_layers())]
    while stack:
        node, path = stack.pop()
        if id(node) in seen or isinstance(node, (Input, LinearLayer, Product)):
            continue
        seen.add(id(node))
        if (isinstance(node, (_MaxPool, _GlobalMaxPool))
                and node.maxpool_deeplift_mode == MaxPoolDeepLiftMode.gradient):
            return node, path
        stack.extend((parent, path + [node]) for parent in reversed(node.input_layers()))
    return None
