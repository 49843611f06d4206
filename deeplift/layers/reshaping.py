"""Routing layers that move or copy values without weighting them:
UpSampling1D/2D/3D, Permute, RepeatVector, ZeroPadding3D and Cropping3D.

Each is a bias-free linear map with non-negative weights (copies, zeros,
and for bilinear up-sampling convex combinations), so the same map is
applied to the positive and the negative parts and its transpose to each
multiplier stream (``RoutingLayer``).
"""
from __future__ import annotations

import tensorflow as tf

from deeplift.layers.linear import RoutingLayer
from deeplift.layers.core import _Cropping, _Padding
from deeplift.layers.helpers import channels_last_op, parse_data_format, standardize_tuple
from deeplift.modes import DataFormat


class _UpSampling(RoutingLayer):
    """Repeats every spatial position ``size`` times per axis (nearest)."""

    rank = 1
    INTERPOLATIONS = ("nearest",)

    def __init__(self, size=2, data_format=DataFormat.channels_last, interpolation="nearest",
                 **kwargs):
        super().__init__(**kwargs)
        self.size = standardize_tuple(size, self.rank, "size", self.name)
        self.data_format = parse_data_format(data_format, self.name)
        if interpolation not in self.INTERPOLATIONS:
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: interpolation={interpolation!r} is "
                f"not supported; expected one of {list(self.INTERPOLATIONS)} (the "
                f"interpolations whose weights are non-negative).")
        self.interpolation = interpolation

    def forward(self, inputs):
        def upsample(x_last):
            if self.interpolation == "bilinear":
                rows, cols = x_last.shape[1:3]
                return tf.image.resize(x_last, [rows * self.size[0], cols * self.size[1]],
                                       method="bilinear")
            for axis, size in enumerate(self.size):
                if size > 1:
                    x_last = tf.repeat(x_last, size, axis=1 + axis)
            return x_last

        return channels_last_op(upsample, inputs[0], self.data_format)


class UpSampling1D(_UpSampling):
    """Repeats each step ``size`` times: ``(N, steps, C) -> (N, steps * size, C)``."""

    rank = 1


class UpSampling2D(_UpSampling):
    """Up-samples rows and columns by ``size``, nearest or bilinear (as
    ``tf.image.resize`` without antialiasing, like Keras)."""

    rank = 2
    INTERPOLATIONS = ("nearest", "bilinear")


class UpSampling3D(_UpSampling):
    """Repeats positions along the three spatial axes."""

    rank = 3


class Permute(RoutingLayer):
    """Permutes the example axes: ``dims`` numbers them from 1 (the batch
    axis stays first), as Keras' ``Permute``."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"Permute {self.name!r}: dims must be a permutation of "
                             f"1..{len(self.dims)}; got {dims!r}.")

    def forward(self, inputs):
        return tf.transpose(inputs[0], (0,) + self.dims)


class RepeatVector(RoutingLayer):
    """``(N, F) -> (N, n, F)``: the input repeated ``n`` times."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = int(n)
        if self.n < 1:
            raise ValueError(f"RepeatVector {self.name!r}: n must be >= 1; got {n!r}.")

    def forward(self, inputs):
        return tf.repeat(inputs[0][:, None], self.n, axis=1)


class ZeroPadding3D(_Padding):
    """Pads the three spatial axes with zeros: int, 3 ints or 3 pairs."""

    rank = 3


class Cropping3D(_Cropping):
    """Crops the three spatial axes: int, 3 ints or 3 pairs."""

    rank = 3
