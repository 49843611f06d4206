"""Convolutions: Conv1D, Conv2D and Conv3D on one shared base."""
from __future__ import annotations

import math

import tensorflow as tf

from deeplift import kernels
from deeplift.layers.linear import LinearLayer
from deeplift.layers.helpers import (
    channels_last_op, parse_data_format, standardize_tuple, to_channels_first, to_channels_last,
)
from deeplift.modes import (  # noqa: F401  (PoolMode: legacy name)
    ConvMxtsMode, DataFormat, NonlinearMxtsMode, PaddingMode, PoolMode,
)


class _Conv(LinearLayer):
    """N-d convolution ``y = conv(x, kernel) + bias`` with Keras semantics.

    Args:
        kernel: array ``(*kernel_size, in_channels, out_channels)``.
        bias: array ``(out_channels,)``; zeros when omitted.
        strides, dilation_rate: int or one int per spatial axis.
        padding: ``PaddingMode.valid``/``same`` (or "valid"/"same").
        data_format: channels_last (default) or channels_first.
        conv_mxts_mode: ``ConvMxtsMode.Linear`` (the only rule).
    """

    genomics_default_mode = NonlinearMxtsMode.Rescale

    rank = 2

    def __init__(self, kernel, bias=None, strides=1, padding=PaddingMode.valid,
                 data_format=DataFormat.channels_last, dilation_rate=1,
                 conv_mxts_mode=ConvMxtsMode.Linear, **kwargs):
        super().__init__(kernel, bias, **kwargs)
        if self.kernel.shape.rank != self.rank + 2:
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: kernel must have rank "
                f"{self.rank + 2} (*kernel_size, in_channels, out_channels); "
                f"got shape {tuple(self.kernel.shape)}."
            )
        self.strides = standardize_tuple(strides, self.rank, "strides", self.name)
        self.dilation_rate = standardize_tuple(dilation_rate, self.rank, "dilation_rate", self.name)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: strides > 1 together "
                f"with dilation_rate > 1 is not supported (as in Keras)."
            )
        try:
            self.padding = PaddingMode.parse(padding)
        except ValueError as err:
            raise ValueError(f"Layer {self.name!r}: {err}") from None
        self.data_format = parse_data_format(data_format, self.name)
        self.conv_mxts_mode = ConvMxtsMode.parse(conv_mxts_mode, "conv_mxts_mode")

    def kernel_scaled_per_unit(self, scale):
        return self.kernel * scale  # (*kernel_size, in, out): units last

    def output_channel_axis(self, rank):
        return 1 if self.data_format == DataFormat.channels_first else rank - 1

    def linear(self, x, kernel):
        def conv(x_last):
            return tf.nn.convolution(
                x_last, kernel, strides=self.strides, padding=self.padding.value,
                dilations=self.dilation_rate,
            )

        return channels_last_op(conv, x, self.data_format)

    def transpose(self, mxts, kernel, template):
        # A layer with few input channels and a large kernel (a first layer
        # over one-hot DNA or grey-scale images) is where oneDNN's transposed
        # convolution is slowest: it writes only a few channels per position.
        # Instead, one matrix product takes every output position's
        # multipliers back through all kernel taps at once, then the taps
        # are shifted and added (fused by XLA). Used for stride 1 when those
        # per-tap results are at most twice the size of the multipliers.
        *kernel_size, in_channels, out_channels = self.kernel.shape
        num_taps = math.prod(kernel_size)
        channels_first = self.data_format == DataFormat.channels_first
        in_spatial = tuple(template.shape[2:] if channels_first else template.shape[1:-1])
        out_spatial = tuple(mxts.shape[3:] if channels_first else mxts.shape[2:-1])
        if (max(self.strides) == 1 and None not in in_spatial + out_spatial
                and num_taps * in_channels <= 2 * out_channels):
            return self._transpose_by_taps(mxts, kernel, template, in_spatial, out_spatial)
        return self._transpose_op(mxts, kernel, template)

    def _transpose_by_taps(self, mxts, kernel, template, in_spatial, out_spatial):
        *kernel_size, in_channels, out_channels = self.kernel.shape
        flat = to_channels_last(tf.reshape(mxts, tf.concat([[-1], tf.shape(mxts)[2:]], 0)),
                                self.data_format)
        rank = len(kernel_size)
        by_tap = tf.reshape(tf.transpose(kernel, [rank + 1] + list(range(rank + 1))),
                            [out_channels, -1])
        per_tap = tf.reshape(tf.matmul(tf.reshape(flat, [-1, out_channels]), by_tap),
                             [-1, *out_spatial, by_tap.shape[1] // in_channels, in_channels])
        pad_before = tuple(0 if self.padding == PaddingMode.valid else ((k - 1) * d) // 2
                           for k, d in zip(kernel_size, self.dilation_rate))
        out = kernels.overlap_add_taps(per_tap, in_spatial, out_spatial, tuple(kernel_size),
                                       pad_before, tuple(self.dilation_rate))
        out = to_channels_first(out, self.data_format)
        return tf.reshape(out, tf.concat([tf.shape(mxts)[:2], tf.shape(template)[1:]], 0))

    def _transpose_op(self, mxts, kernel, template):
        # The transposed convolution op itself. (Differentiating the forward
        # convolution of zeros gives the same op, but for 1-d convolutions
        # the gradient of the squeeze around the 2-d op reads the forward
        # output's shape, so the forward convolution would run as well.)
        flat = tf.reshape(mxts, tf.concat([[-1], tf.shape(mxts)[2:]], 0))
        in_shape = tf.shape(to_channels_last(template, self.data_format))[1:]
        out_shape = tf.concat([tf.shape(flat)[:1], in_shape], 0)

        def conv_transpose(m_last):
            return tf.nn.conv_transpose(
                m_last, kernel, out_shape, strides=self.strides,
                padding=self.padding.value, dilations=self.dilation_rate,
            )

        out = channels_last_op(conv_transpose, flat, self.data_format)
        return tf.reshape(out, tf.concat([tf.shape(mxts)[:2], tf.shape(template)[1:]], 0))

    def add_bias(self, y):
        if self.data_format == DataFormat.channels_last:
            return y + self.bias
        return y + tf.reshape(self.bias, [-1] + [1] * self.rank)


class Conv1D(_Conv):
    """1-d convolution over ``(N, steps, channels)`` inputs.

    Accepts the original keyword ``stride`` as well as ``strides``.
    """

    rank = 1

    def __init__(self, kernel, bias=None, stride=None, padding=PaddingMode.valid,
                 strides=None, **kwargs):
        if stride is not None and strides is not None and stride != strides:
            raise ValueError("Conv1D: pass either stride or strides, not both.")
        super().__init__(kernel, bias, strides=stride or strides or 1, padding=padding, **kwargs)


class Conv2D(_Conv):
    """2-d convolution over ``(N, rows, cols, channels)`` inputs."""

    rank = 2


class Conv3D(_Conv):
    """3-d convolution over ``(N, d1, d2, d3, channels)`` inputs."""

    rank = 3


#: The original's name of the convolution base class (for isinstance checks).
Conv = _Conv
