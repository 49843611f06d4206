"""What a converter returns for a composite Keras layer (attention,
recurrent layers): a wired graph of DeepLIFT layers rather than a chain.

A converter normally returns a chain ``[first, ..., last]`` that the builder
links in order. A ``Subgraph`` is already linked inside; the builder only
connects each of its ``entries`` (one ``NoOp`` per Keras input tensor, in
the order of the Keras call's inputs) and reads its ``outputs`` (one per
Keras output tensor; most layers have one).
"""
from __future__ import annotations

from deeplift import layers as dl

#: Config key under which the builder passes a converter the static shapes
#: of the Keras layer's inputs (batch axis ``None``), for the classes below.
INPUT_SHAPES_KEY = "input_shapes"
NEEDS_INPUT_SHAPES = frozenset({"LSTM", "GRU", "SimpleRNN", "Bidirectional"})


class Subgraph(list):
    """The layers of an expanded Keras layer, in an order where each layer
    follows its inputs; the list form keeps ``converted[-1]`` meaning the
    output for code that expects a chain.

    Args:
        layers: every layer of the expansion (entries included).
        entries: one identity layer per Keras input tensor; the builder sets
            their inputs.
        outputs: the layers giving the Keras outputs (default: the last).
    """

    def __init__(self, layers: list[dl.Layer], entries: list[dl.NoOp],
                 outputs: list[dl.Layer] | None = None):
        super().__init__(layers)
        self.entries = list(entries)
        self.outputs = list(outputs) if outputs is not None else [layers[-1]]


def entry(name: str, verbose: bool) -> dl.NoOp:
    """An identity layer standing for one input of the Keras layer."""
    return dl.NoOp(name=name, verbose=verbose)
