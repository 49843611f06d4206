"""Dense and the routing layers: Flatten, Reshape, NoOp, Concat, Add,
ZeroPadding1D/2D and Cropping1D/2D.

The mode enums are re-exported here because old scripts import them from
``deeplift.layers.core``.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from deeplift.layers.base import Input, Layer, SymbolicVar
from deeplift.layers.linear import LinearLayer, RoutingLayer, leading_dims, static_tail
from deeplift.layers.helpers import parse_data_format, standardize_pairs, to_channels_last
from deeplift.modes import (
    ActivationNames,
    ConvMxtsMode,
    DataFormat,
    DenseMxtsMode,
    MaxPoolDeepLiftMode,
    NonlinearMxtsMode,
    PaddingMode,
    ScoringMode,
)

__all__ = [
    "Layer", "Input", "SymbolicVar", "Dense", "Flatten", "Reshape", "NoOp",
    "Concat", "Add", "ZeroPadding1D", "ZeroPadding2D", "Cropping1D",
    "Cropping2D", "NonlinearMxtsMode", "DenseMxtsMode", "ConvMxtsMode",
    "MaxPoolDeepLiftMode", "ScoringMode", "PaddingMode", "DataFormat",
    "ActivationNames", "Blob", "Node",
]


class Dense(LinearLayer):
    """Fully connected layer ``y = x @ kernel + bias``.

    Args:
        kernel: array ``(in_features, out_features)``.
        bias: array ``(out_features,)``; zeros when omitted.
        dense_mxts_mode: ``DenseMxtsMode.Linear`` (the only rule).
        name, verbose: see ``Layer``.

    Inputs of rank > 2 are contracted on their last axis, as Keras does.
    """

    genomics_default_mode = NonlinearMxtsMode.RevealCancel

    def __init__(self, kernel, bias=None, dense_mxts_mode=DenseMxtsMode.Linear, **kwargs):
        super().__init__(kernel, bias, **kwargs)
        if self.kernel.shape.rank != 2:
            raise ValueError(
                f"Dense {self.name!r}: kernel must have shape (in_features, "
                f"out_features); got {tuple(self.kernel.shape)}."
            )
        self.dense_mxts_mode = DenseMxtsMode.parse(dense_mxts_mode, "dense_mxts_mode")

    def kernel_scaled_per_unit(self, scale):
        return self.kernel * scale

    def linear(self, x, kernel):
        if x.shape.rank == 2:
            return tf.matmul(x, kernel)
        return tf.tensordot(x, kernel, axes=[[x.shape.rank - 1], [0]])

    def transpose(self, mxts, kernel, template):
        """``m @ kernel^T`` on the last axis, as one 2-d ``MatMul`` (the op
        autodiff emits for ``linear``, so the numbers are the same)."""
        if mxts.shape.rank is None:
            return super().transpose(mxts, kernel, template)
        units_in, units_out = (int(d) for d in kernel.shape)
        flat = tf.matmul(tf.reshape(mxts, [-1, units_out]), kernel, transpose_b=True)
        return tf.reshape(flat, tf.concat([leading_dims(mxts, mxts.shape.rank - 1),
                                           [units_in]], 0))


class NoOp(RoutingLayer):
    """Identity (Dropout, GaussianNoise and friends at inference time)."""

    genomics_default_transparent = True

    def forward(self, inputs):
        return inputs[0]

    def forward_parts(self, fp):
        return fp.parts(self.inputs)

    def backward(self, fp, pos, neg):
        return [(pos, neg)]


class Flatten(RoutingLayer):
    """Flattens every axis but the batch axis.

    Args:
        data_format: for channels_first inputs the channel axis is moved last
            before flattening, as Keras' ``Flatten`` does.
    """

    def __init__(self, data_format=DataFormat.channels_last, **kwargs):
        super().__init__(**kwargs)
        self.data_format = parse_data_format(data_format, self.name)

    def forward(self, inputs):
        x = to_channels_last(inputs[0], self.data_format)
        return tf.reshape(x, [tf.shape(x)[0], int(np.prod(x.shape[1:]))])


class Reshape(RoutingLayer):
    """Reshapes every example to ``target_shape`` (batch axis excluded; one
    entry may be -1)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)

    def forward(self, inputs):
        x = inputs[0]
        target = list(self.target_shape)
        size = x.shape[1:].num_elements()
        if -1 in target and size is not None:  # resolve it statically, keeping shapes known
            target[target.index(-1)] = size // -int(np.prod(target))
        return tf.reshape(x, tf.concat([tf.shape(x)[:1], target], 0))


class Concat(RoutingLayer):
    """Concatenates a list of layers along ``axis`` (counting the batch axis,
    as Keras does; -1 is the last axis)."""

    takes_list_input = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)
        if self.axis == 0:
            raise ValueError(f"Concat {self.name!r}: axis 0 is the batch axis; choose another.")

    def forward(self, inputs):
        return tf.concat(inputs, axis=self.axis)

    def backward(self, fp, pos, neg):
        """Splits the multipliers back into the inputs' pieces (the transpose
        of a concatenation), from the inputs' static sizes when known."""
        tails = [static_tail(fp.shape_template(layer)) for layer in self.input_layers()]
        if any(tail is None for tail in tails):
            return super().backward(fp, pos, neg)
        axis = self.axis % (len(tails[0]) + 1) + 1   # + 1: the task axis
        sizes = [tail[axis - 2] for tail in tails]
        pos_in = tf.split(pos, sizes, axis=axis)
        neg_in = pos_in if pos is neg else tf.split(neg, sizes, axis=axis)
        return list(zip(pos_in, neg_in))


class Add(RoutingLayer):
    """Element-wise sum of a list of layers (residual connections).

    Positive and negative parts add; every input receives the output's
    multipliers unchanged.
    """

    takes_list_input = True

    def forward(self, inputs):
        return tf.add_n(inputs)

    def backward(self, fp, pos, neg):
        return [(pos, neg) for _ in self.input_layers()]


class _Padding(RoutingLayer):
    rank = 1

    def __init__(self, padding=1, data_format=DataFormat.channels_last, **kwargs):
        super().__init__(**kwargs)
        self.padding = standardize_pairs(padding, self.rank, "padding", self.name)
        self.data_format = parse_data_format(data_format, self.name)

    def _spatial_pairs(self):
        pairs = [[0, 0]] + [list(p) for p in self.padding]
        if self.data_format == DataFormat.channels_last:
            return pairs + [[0, 0]]
        return [[0, 0], [0, 0]] + pairs[1:]

    def forward(self, inputs):
        return tf.pad(inputs[0], self._spatial_pairs())


class ZeroPadding1D(_Padding):
    """Pads the steps axis with zeros. ``padding``: int or (left, right)."""

    rank = 1


class ZeroPadding2D(_Padding):
    """Pads rows and columns with zeros. ``padding``: int, (rows, cols) or
    ((top, bottom), (left, right))."""

    rank = 2


class _Cropping(RoutingLayer):
    rank = 1

    def __init__(self, cropping=1, data_format=DataFormat.channels_last, **kwargs):
        super().__init__(**kwargs)
        self.cropping = standardize_pairs(cropping, self.rank, "cropping", self.name)
        self.data_format = parse_data_format(data_format, self.name)

    def forward(self, inputs):
        x = inputs[0]
        first_spatial = 1 if self.data_format == DataFormat.channels_last else 2
        slices = [slice(None)] * x.shape.rank
        for offset, (before, after) in enumerate(self.cropping):
            axis = first_spatial + offset
            slices[axis] = slice(before, -after if after else None)
        return x[tuple(slices)]


class Cropping1D(_Cropping):
    """Crops the steps axis. ``cropping``: int or (left, right)."""

    rank = 1


class Cropping2D(_Cropping):
    """Crops rows and columns. ``cropping``: int, (rows, cols) or
    ((top, bottom), (left, right))."""

    rank = 2


#: The original's names of the layer base classes (for isinstance checks).
Blob = Node = Layer
