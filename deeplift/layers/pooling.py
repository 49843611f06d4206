"""Max and average pooling (1D/2D/3D) and their global variants.

Average pools are routing layers (linear, non-negative weights). Max pools
have two multiplier rules (``maxpool_deeplift_mode``):

* ``gradient`` (the original package's only rule, the Python API's
  default): each multiplier goes to the arg-max of the actual input inside
  its window (on a tie, the first maximum, as TensorFlow's max-pool gradient
  does); global max pools give the full multiplier to every position equal
  to the maximum. Summation-to-delta holds only where the reference's
  arg-max is the input's (e.g. a reference constant inside each window).
  Max pools whose windows tile the input (the usual genomics and image
  layouts) route all tasks' multipliers in one fused kernel
  (``kernels.route_to_first_max``); other layouts use TensorFlow's max-pool
  gradient on the input repeated once per task.
* ``cross_max`` (SHAP DeepExplainer's and tangermeme's rule): credits both
  the input's and the reference's arg-max and conserves for any reference;
  it also defines the output's positive/negative parts so that RevealCancel
  downstream conserves (see ``deeplift.layers.cross_max``).
"""
from __future__ import annotations

import tensorflow as tf

from deeplift import kernels
from deeplift.layers import cross_max
from deeplift.layers.base import Layer
from deeplift.layers.linear import RoutingLayer
from deeplift.streams import map_streams, sign_split
from deeplift.layers.helpers import (
    channels_last_op, parse_data_format, standardize_tuple, to_channels_first,
    to_channels_last,
)
from deeplift.modes import DataFormat, MaxPoolDeepLiftMode, PaddingMode


class _PoolOptions:
    """Validated pool size, strides, padding and data format."""

    rank = 2

    def _init_pool(self, pool_size, strides, padding, data_format):
        self.pool_size = standardize_tuple(pool_size, self.rank, "pool_size", self.name)
        self.strides = (self.pool_size if strides is None
                        else standardize_tuple(strides, self.rank, "strides", self.name))
        try:
            self.padding = PaddingMode.parse(padding)
        except ValueError as err:
            raise ValueError(f"Layer {self.name!r}: {err}") from None
        self.data_format = parse_data_format(data_format, self.name)

    def _pool(self, x, pooling_type: str):
        pool = tf.nn.max_pool if pooling_type == "MAX" else tf.nn.avg_pool

        def op(x_last):
            # tf.nn.max_pool/avg_pool (unlike tf.nn.pool) accept strides larger
            # than the window, as Keras does; "same" averages exclude padding.
            return pool(x_last, ksize=self.pool_size, strides=self.strides,
                        padding=self.padding.value)

        return channels_last_op(op, x, self.data_format)


class _MaxPool(_PoolOptions, Layer):
    def __init__(self, pool_size=2, strides=None, padding=PaddingMode.valid,
                 data_format=DataFormat.channels_last,
                 maxpool_deeplift_mode=MaxPoolDeepLiftMode.gradient, **kwargs):
        Layer.__init__(self, **kwargs)
        self._init_pool(pool_size, strides, padding, data_format)
        self.maxpool_deeplift_mode = MaxPoolDeepLiftMode.parse(
            maxpool_deeplift_mode, "maxpool_deeplift_mode")

    def forward(self, inputs):
        return self._pool(inputs[0], "MAX")

    def forward_parts(self, fp):
        if self.maxpool_deeplift_mode == MaxPoolDeepLiftMode.cross_max:
            return _cross_max_parts(self, fp)
        # The original left these undefined (zeros); splitting the output's
        # own difference by sign keeps "parts sum to the difference" true.
        return sign_split(fp.diff(self))

    def _windows(self, x: tf.Tensor) -> cross_max.Windows:
        """The cross_max window geometry for the channels_last input ``x``."""
        spatial = tuple(x.shape[1:-1])
        if None in spatial:
            raise ValueError(
                f"Layer {self.name!r} ({type(self).__name__}): "
                f"maxpool_deeplift_mode=cross_max needs the input's spatial sizes, "
                f"but they are unknown ({(None,) + spatial}); give the Input layer a "
                f"fixed shape.")
        return cross_max.Windows.of_pool(spatial, self.pool_size, self.strides,
                                         self.padding == PaddingMode.same)

    def _windows_tile_the_input(self) -> bool:
        """Strides = pool size over a channels_last input of known shape,
        with no padding (``same`` adds none when each window length divides
        its axis): ``kernels.route_to_first_max`` applies."""
        shape = self.inputs.get_shape()
        if (self.strides != self.pool_size or self.data_format != DataFormat.channels_last
                or len(shape) != len(self.pool_size) + 2 or None in shape[1:]):
            return False
        return self.padding == PaddingMode.valid or all(
            size % pool == 0 for size, pool in zip(shape[1:-1], self.pool_size))

    def backward(self, fp, pos, neg):
        if self.maxpool_deeplift_mode == MaxPoolDeepLiftMode.cross_max:
            return [_cross_max_backward(self, fp, pos, neg)]
        x, rows = fp.act_and_rows(self.inputs)
        if self._windows_tile_the_input():
            shape = self.inputs.get_shape()
            spatial, channels = tuple(shape[1:-1]), shape[-1]
            return [map_streams(
                lambda m: kernels.route_to_first_max(m, x, rows, tuple(self.pool_size),
                                                     spatial, channels), pos, neg)]

        def route(mxts):
            # The max-pool gradient of the input repeated once per task;
            # with shared rows, one gather builds that repetition.
            num_tasks = tf.shape(mxts)[0]
            if rows is None:
                tiled = tf.tile(x, tf.concat([[num_tasks], tf.ones([tf.rank(x) - 1], tf.int32)], 0))
            else:
                tiled = tf.gather(x, tf.tile(rows, [num_tasks]))
            flat = tf.reshape(mxts, tf.concat([[-1], tf.shape(mxts)[2:]], 0))
            with tf.GradientTape() as tape:
                tape.watch(tiled)
                pooled = self.forward([tiled])
            grad = tape.gradient(pooled, tiled, output_gradients=flat)
            return tf.reshape(grad, tf.concat([[num_tasks, -1], tf.shape(x)[1:]], 0))

        return [map_streams(route, pos, neg)]


def _last(layer, x):
    return to_channels_last(x, layer.data_format)


def _cross_max_parts(layer, fp):
    """The pool output's parts under cross_max (see ``cross_max``)."""
    x, rows = fp.act_and_rows(layer.inputs)
    pos_in, neg_in = fp.parts(layer.inputs)
    x = _last(layer, x)
    windows = layer._windows(x)
    pos, neg = cross_max.cross_max_parts(x, _last(layer, fp.ref(layer.inputs)),
                                         _last(layer, pos_in), _last(layer, neg_in),
                                         rows, windows)
    # one value per window, channels_last -> the output's layout and shape
    last_shape = tf.concat([tf.shape(pos)[:1], windows.out_spatial, [-1]], 0)
    shape = tf.shape(fp.act(layer))
    return tuple(tf.reshape(to_channels_first(tf.reshape(part, last_shape), layer.data_format),
                            shape) for part in (pos, neg))


def _cross_max_backward(layer, fp, pos, neg):
    """Multipliers on the pool's input under cross_max; both streams go
    through one kernel call, stacked along the task axis."""
    x, rows = fp.act_and_rows(layer.inputs)
    x = _last(layer, x)
    x0 = _last(layer, fp.ref(layer.inputs))
    windows = layer._windows(x)
    act = fp.shape_template(layer)
    channels_first = layer.data_format == DataFormat.channels_first
    stacked = pos if pos is neg else tf.concat([pos, neg], 0)
    # (T, N, *out) -> (T, N, *out_spatial, C) channels_last
    mxts = tf.reshape(stacked, tf.concat([tf.shape(stacked)[:2], tf.shape(act)[1:]], 0))
    if channels_first:
        rank = mxts.shape.rank
        mxts = tf.transpose(mxts, [0, 1] + list(range(3, rank)) + [2])
    out_shape = [d for d in windows.out_spatial] + [-1]
    mxts = tf.reshape(mxts, tf.concat([tf.shape(mxts)[:2], out_shape], 0))
    result = cross_max.cross_max_multipliers(mxts, x, x0, rows, windows)
    if channels_first:
        rank = result.shape.rank
        result = tf.transpose(result, [0, 1, rank - 1] + list(range(2, rank - 1)))
    if pos is neg:
        return result, result
    return tuple(tf.split(result, 2, axis=0))


class _AvgPool(_PoolOptions, RoutingLayer):
    def __init__(self, pool_size=2, strides=None, padding=PaddingMode.valid,
                 data_format=DataFormat.channels_last, **kwargs):
        RoutingLayer.__init__(self, **kwargs)
        self._init_pool(pool_size, strides, padding, data_format)

    def forward(self, inputs):
        # tf.nn.pool's "same" average excludes padded cells, as Keras does.
        return self._pool(inputs[0], "AVG")


class MaxPool1D(_MaxPool):
    """1-d max pooling. Original keywords ``pool_length``/``stride`` accepted."""

    rank = 1

    def __init__(self, pool_length=None, stride=None, padding=PaddingMode.valid,
                 pool_size=None, strides=None, **kwargs):
        super().__init__(pool_size=pool_length or pool_size or 2, strides=stride or strides,
                         padding=padding, **kwargs)


class AvgPool1D(_AvgPool):
    """1-d average pooling. Original keywords ``pool_length``/``stride`` accepted."""

    rank = 1

    def __init__(self, pool_length=None, stride=None, padding=PaddingMode.valid,
                 pool_size=None, strides=None, **kwargs):
        super().__init__(pool_size=pool_length or pool_size or 2, strides=stride or strides,
                         padding=padding, **kwargs)


class MaxPool2D(_MaxPool):
    """2-d max pooling over ``(N, rows, cols, channels)``."""

    rank = 2


class AvgPool2D(_AvgPool):
    """2-d average pooling over ``(N, rows, cols, channels)``."""

    rank = 2


class MaxPool3D(_MaxPool):
    """3-d max pooling."""

    rank = 3


class AvgPool3D(_AvgPool):
    """3-d average pooling."""

    rank = 3


class _GlobalPool:
    def _init_global(self, data_format, keepdims):
        self.data_format = parse_data_format(data_format, self.name)
        self.keepdims = bool(keepdims)

    def _reduce_keepdims(self, x, reducer):
        """Reduces the spatial axes, keeping them as size-1 axes."""
        first = 1 if self.data_format == DataFormat.channels_last else 2
        axes = list(range(first, first + x.shape.rank - 2))
        return reducer(x, axis=axes, keepdims=True)

    def _reduce(self, x, reducer):
        out = self._reduce_keepdims(x, reducer)
        if self.keepdims:
            return out
        return tf.reshape(out, [-1, int(out.shape[1:].num_elements())])


class _GlobalMaxPool(_GlobalPool, Layer):
    def __init__(self, maxpool_deeplift_mode=MaxPoolDeepLiftMode.gradient,
                 data_format=DataFormat.channels_last, keepdims=False, **kwargs):
        Layer.__init__(self, **kwargs)
        self._init_global(data_format, keepdims)
        self.maxpool_deeplift_mode = MaxPoolDeepLiftMode.parse(
            maxpool_deeplift_mode, "maxpool_deeplift_mode")

    def forward(self, inputs):
        return self._reduce(inputs[0], tf.reduce_max)

    def forward_parts(self, fp):
        if self.maxpool_deeplift_mode == MaxPoolDeepLiftMode.cross_max:
            return _cross_max_parts(self, fp)
        return sign_split(fp.diff(self))

    def _windows(self, x: tf.Tensor) -> cross_max.Windows:
        return cross_max.Windows.global_pool(x.shape.rank - 2)

    def backward(self, fp, pos, neg):
        if self.maxpool_deeplift_mode == MaxPoolDeepLiftMode.cross_max:
            return [_cross_max_backward(self, fp, pos, neg)]
        x = fp.act(self.inputs)
        pooled = self._reduce_keepdims(x, tf.reduce_max)
        is_max = tf.cast(tf.equal(x, pooled), x.dtype)

        def route(mxts):
            shape = tf.concat([tf.shape(mxts)[:1], tf.shape(pooled)], 0)
            return tf.reshape(mxts, shape) * is_max

        return [map_streams(route, pos, neg)]


class _GlobalAvgPool(_GlobalPool, RoutingLayer):
    def __init__(self, data_format=DataFormat.channels_last, keepdims=False, **kwargs):
        RoutingLayer.__init__(self, **kwargs)
        self._init_global(data_format, keepdims)

    def forward(self, inputs):
        return self._reduce(inputs[0], tf.reduce_mean)


class GlobalMaxPool1D(_GlobalMaxPool):
    """Maximum over the steps axis: ``(N, steps, C) -> (N, C)``."""


class GlobalMaxPool2D(_GlobalMaxPool):
    """Maximum over rows and columns: ``(N, rows, cols, C) -> (N, C)``."""


class GlobalAvgPool1D(_GlobalAvgPool):
    """Mean over the steps axis: ``(N, steps, C) -> (N, C)``."""


class GlobalAvgPool2D(_GlobalAvgPool):
    """Mean over rows and columns: ``(N, rows, cols, C) -> (N, C)``."""


class GlobalMaxPool3D(_GlobalMaxPool):
    """Maximum over the three spatial axes: ``(N, d1, d2, d3, C) -> (N, C)``."""


class GlobalAvgPool3D(_GlobalAvgPool):
    """Mean over the three spatial axes: ``(N, d1, d2, d3, C) -> (N, C)``."""
