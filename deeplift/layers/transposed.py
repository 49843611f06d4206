"""Transposed convolutions: Conv1DTranspose, Conv2DTranspose, Conv3DTranspose.

``y = conv_transpose(x, kernel) + bias`` with Keras' output size
(``output_padding`` included). The map is linear: contribution parts and
multipliers follow ``LinearLayer``, and its transpose is the ordinary
convolution with the same kernel, strides, padding and dilation. The layer
counts as a convolution for DeepLIFT_GenomicsDefault.
"""
from __future__ import annotations

import tensorflow as tf

from deeplift.layers.convolutional import _Conv
from deeplift.layers.helpers import (
    channels_last_op, to_channels_first, to_channels_last,
)
from deeplift.modes import PaddingMode


class _ConvTranspose(_Conv):
    """N-d transposed convolution with Keras semantics.

    Args:
        kernel: array ``(*kernel_size, out_channels, in_channels)`` (Keras'
            layout for transposed convolutions).
        bias: array ``(out_channels,)``; zeros when omitted.
        output_padding: None, or an int / one int per spatial axis, each
            smaller than the stride: extra rows added at the end.
        strides, padding, data_format, dilation_rate, conv_mxts_mode: as
            for ``Conv2D``.
    """

    def kernel_scaled_per_unit(self, scale):
        return self.kernel * tf.reshape(scale, [-1, 1])  # (*kernel_size, out, in)

    def __init__(self, kernel, bias=None, output_padding=None, **kwargs):
        super().__init__(kernel, bias, **kwargs)
        if output_padding is None:
            self.output_padding = None
        else:
            values = ((output_padding,) * self.rank if isinstance(output_padding, int)
                      else tuple(output_padding))
            ok = (len(values) == self.rank and all(isinstance(v, int) and v >= 0 for v in values)
                  and all(v < max(s, d) for v, s, d in zip(values, self.strides,
                                                          self.dilation_rate)))
            if not ok:
                raise ValueError(
                    f"Layer {self.name!r}: output_padding must be None or {self.rank} "
                    f"non-negative ints, each smaller than the stride; got "
                    f"{output_padding!r} with strides {self.strides}.")
            self.output_padding = values

    @staticmethod
    def output_units(kernel_shape) -> int:
        return int(kernel_shape[-2])

    def output_length(self, axis: int, length: int) -> int:
        """Keras' ``deconv_output_length`` for spatial axis ``axis``."""
        size = self.kernel.shape[axis]
        stride, dilation = self.strides[axis], self.dilation_rate[axis]
        size = size + (size - 1) * (dilation - 1)
        if self.output_padding is None:
            if self.padding == PaddingMode.valid:
                return length * stride + max(size - stride, 0)
            return length * stride
        pad = size // 2 if self.padding == PaddingMode.same else 0
        return (length - 1) * stride + size - 2 * pad + self.output_padding[axis]

    def linear(self, x, kernel):
        def conv_transpose(x_last):
            spatial = x_last.shape[1:-1]
            if None in spatial:
                raise ValueError(
                    f"Layer {self.name!r}: a transposed convolution needs known "
                    f"spatial sizes; got input shape {tuple(x_last.shape)}.")
            out_shape = tf.concat([tf.shape(x_last)[:1],
                                   [self.output_length(i, n) for i, n in enumerate(spatial)],
                                   [kernel.shape[-2]]], 0)
            return tf.nn.conv_transpose(x_last, kernel, out_shape, strides=self.strides,
                                        padding=self.padding.value,
                                        dilations=self.dilation_rate)

        return channels_last_op(conv_transpose, x, self.data_format)

    def transpose(self, mxts, kernel, template):
        flat = to_channels_last(tf.reshape(mxts, tf.concat([[-1], tf.shape(mxts)[2:]], 0)),
                                self.data_format)
        # conv_transpose is the input-gradient of this convolution, so the
        # convolution is its exact transpose (the sizes line up because the
        # forward output size is one the convolution maps back to the input's).
        out = tf.nn.convolution(flat, kernel, strides=self.strides, padding=self.padding.value,
                                dilations=self.dilation_rate)
        out = to_channels_first(out, self.data_format)
        return tf.reshape(out, tf.concat([tf.shape(mxts)[:2], tf.shape(template)[1:]], 0))


class Conv1DTranspose(_ConvTranspose):
    """Transposed 1-d convolution over ``(N, steps, channels)`` inputs."""

    rank = 1


class Conv2DTranspose(_ConvTranspose):
    """Transposed 2-d convolution over ``(N, rows, cols, channels)`` inputs."""

    rank = 2


class Conv3DTranspose(_ConvTranspose):
    """Transposed 3-d convolution over ``(N, d1, d2, d3, channels)`` inputs."""

    rank = 3
