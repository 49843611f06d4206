"""Layers for sequence models: ``Slice`` and ``Stack`` (the routing of an
unrolled recurrent layer) and ``Embedding`` (integer tokens to vectors).
"""
from __future__ import annotations

import tensorflow as tf

from deeplift.layers.base import Layer, sign_split
from deeplift.layers.linear import RoutingLayer, as_float32_constant, static_tail

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

    def _bounds(self, rank: int, size: int | None) -> tuple[int, int, int] | None:
        """(axis, start, stop) with non-negative positions inside ``size``
        (Python's slicing rules), or None when ``size`` is unknown."""
        axis = self.axis % rank
        if size is None:
            return None
        if self.stop is None:
            if not -size <= self.index < size:
                raise ValueError(f"Slice {self.name!r}: index {self.index} is out of range "
                                 f"for axis {self.axis} of size {size}.")
            start = self.index % size
            return axis, start, start + 1
        positions = range(size)[self.index:self.stop]
        start = positions.start if len(positions) else 0
        return axis, start, start + len(positions)

    def forward(self, inputs):
        x = inputs[0]
        axis = self.axis % x.shape.rank
        bounds = self._bounds(x.shape.rank, x.shape[axis])
        if bounds is None:
            key = slice(self.index, self.stop) if self.stop is not None else self.index
            return x[(slice(None),) * axis + (key,)]
        _, start, stop = bounds
        begin = [0] * x.shape.rank
        end = [0] * x.shape.rank
        begin[axis], end[axis] = start, stop
        mask = ((1 << x.shape.rank) - 1) & ~(1 << axis)   # every other axis in full
        return tf.strided_slice(x, begin, end, [1] * x.shape.rank, begin_mask=mask,
                                end_mask=mask,
                                shrink_axis_mask=(1 << axis) if self.stop is None else 0)

    def backward(self, fp, pos, neg):
        """Pads the multipliers with zeros back to the input's size (the
        transpose of a slice)."""
        tail = static_tail(fp.shape_template(self.inputs))
        if tail is None:
            return super().backward(fp, pos, neg)
        axis, start, stop = self._bounds(len(tail) + 1, tail[self.axis % (len(tail) + 1) - 1])
        paddings = [[0, 0]] * (len(tail) + 2)
        paddings[axis + 1] = [start, tail[axis - 1] - stop]   # + 1: the task axis

        def pad(m):
            return tf.pad(m if self.stop is not None else tf.expand_dims(m, axis + 1), paddings)

        pos_in = pad(pos)
        return [(pos_in, pos_in if pos is neg else pad(neg))]


class Stack(RoutingLayer):
    """Stacks a list of same-shaped layers along a new ``axis`` (default 1:
    time steps into a sequence)."""

    takes_list_input = True

    def __init__(self, axis: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def forward(self, inputs):
        return tf.stack(inputs, axis=self.axis)

    def backward(self, fp, pos, neg):
        """Unstacks the multipliers (the transpose of a stack)."""
        if pos.shape.rank is None:
            return super().backward(fp, pos, neg)
        axis = self.axis % (pos.shape.rank - 1) + 1   # + 1: the task axis
        count = len(self.input_layers())
        pos_in = tf.unstack(pos, num=count, axis=axis)
        neg_in = pos_in if pos is neg else tf.unstack(neg, num=count, axis=axis)
        return list(zip(pos_in, neg_in))


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
