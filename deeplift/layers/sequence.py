"""Layers for sequence models: ``Slice`` and ``Stack`` (the routing of an
unrolled recurrent layer) and ``Embedding`` (integer tokens to vectors).
"""
from __future__ import annotations

import tensorflow as tf

from deeplift.layers.base import Layer, RoutingLayer, as_float32_constant, sign_split

#: Reference token id meaning "the zero vector" rather than a row of the table.
ZERO_EMBEDDING_TOKEN = -1


class Slice(RoutingLayer):
    """``x[..., index, ...]`` on ``axis`` (counting the batch axis): one
    position (the axis is dropped) or, with ``stop``, ``x[..., index:stop, ...]``.

    Args:
        axis: the sliced axis, >= 1.
        index: first (or only) position.
        stop: end of a range (exclusive); ``None`` takes one position.
        name, verbose: see ``Layer``.
    """

    def __init__(self, axis: int, index: int, stop: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if int(axis) == 0:
            raise ValueError(f"Slice {self.name!r}: axis 0 is the batch axis; choose another.")
        self.axis, self.index = int(axis), int(index)
        self.stop = None if stop is None else int(stop)

    def forward(self, inputs):
        x = inputs[0]
        axis = self.axis % x.shape.rank
        key = slice(self.index, self.stop) if self.stop is not None else self.index
        return x[(slice(None),) * axis + (key,)]


class Stack(RoutingLayer):
    """Stacks a list of same-shaped layers along a new ``axis`` (default 1:
    time steps into a sequence)."""

    takes_list_input = True

    def __init__(self, axis: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def forward(self, inputs):
        return tf.stack(inputs, axis=self.axis)


class Embedding(Layer):
    """Looks up rows of ``table`` for integer token ids: ``(N, L)`` -> ``(N, L, D)``.

    The token ids are not a quantity DeepLIFT can differentiate, so this
    layer is where scores stop: contributions and multipliers are read on
    its output (``find_scores_layer`` = this layer), and
    ``deeplift.embedding.sum_per_token`` folds them to one score per token.
    Its reference is the embedding of the reference token ids fed to the
    integer input; the id ``ZERO_EMBEDDING_TOKEN`` (-1) stands for the zero
    vector. Asking for scores on the integer input itself raises an error.

    Args:
        table: ``(vocabulary, D)`` array.
        name, verbose: see ``Layer``.
    """

    def __init__(self, table, **kwargs):
        super().__init__(**kwargs)
        self.table = as_float32_constant(table, "embeddings", self.name)
        if self.table.shape.rank != 2:
            raise ValueError(f"Embedding {self.name!r}: the table must be (vocabulary, dim); "
                             f"got shape {tuple(self.table.shape)}.")

    def forward(self, inputs):
        ids = tf.cast(tf.round(inputs[0]), tf.int32)
        rows = tf.gather(self.table, tf.maximum(ids, 0))
        return tf.where((ids >= 0)[..., None], rows, tf.zeros_like(rows))

    def forward_parts(self, fp):
        return sign_split(fp.diff(self))

    def backward(self, fp, pos, neg):
        return []  # nothing flows into token ids


def embedding_consumers(layer: Layer) -> list[Layer]:
    """The ``Embedding`` layers reading ``layer`` (an integer input)."""
    return [c for c in layer.get_output_layers() if isinstance(c, Embedding)]
