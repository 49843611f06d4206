"""Depthwise convolutions: DepthwiseConv1D and DepthwiseConv2D.

Each input channel ``c`` is convolved with its own ``depth_multiplier``
filters, giving output channels ``c * depth_multiplier + m``, as Keras'
DepthwiseConv layers do. The map is linear, so the contribution parts and
multipliers follow ``LinearLayer`` (two streams from ``W+``/``W-``) and the
layer counts as a convolution for DeepLIFT_GenomicsDefault.
"""
from __future__ import annotations

import tensorflow as tf

from deeplift.layers.convolutional import _Conv
from deeplift.layers.helpers import channels_last_op, to_channels_first, to_channels_last


class _DepthwiseConv(_Conv):
    """Depthwise convolution ``y = depthwise_conv(x, kernel) + bias``.

    Args:
        kernel: array ``(*kernel_size, in_channels, depth_multiplier)``.
        bias: array ``(in_channels * depth_multiplier,)``; zeros when omitted.
        strides, padding, data_format, dilation_rate, conv_mxts_mode: as
            for ``Conv2D``.
    """

    @staticmethod
    def output_units(kernel_shape) -> int:
        return int(kernel_shape[-2]) * int(kernel_shape[-1])

    def kernel_scaled_per_unit(self, scale):
        # output unit c * multiplier + m comes from kernel[..., c, m]
        return self.kernel * tf.reshape(scale, self.kernel.shape[-2:])

    def _as_2d(self, kernel):
        """The 4-d kernel, strides and dilations of the 2-d op (a 1-d
        convolution runs as a 2-d one over rows of height 1)."""
        if self.rank == 1:
            return kernel[None], (1, 1) + self.strides + (1,), (1,) + self.dilation_rate
        return kernel, (1,) + self.strides + (1,), self.dilation_rate

    def _depthwise_2d(self, x_last4, kernel):
        kernel4, strides, dilations = self._as_2d(kernel)
        return tf.nn.depthwise_conv2d(x_last4, kernel4, strides=strides,
                                      padding=self.padding.value, dilations=dilations)

    def linear(self, x, kernel):
        def conv(x_last):
            if self.rank == 1:
                return self._depthwise_2d(x_last[:, None], kernel)[:, 0]
            return self._depthwise_2d(x_last, kernel)

        return channels_last_op(conv, x, self.data_format)

    def transpose(self, mxts, kernel, template):
        # The gradient of the 2-d depthwise op is TensorFlow's native
        # depthwise backprop-input kernel; running it on 4-d tensors keeps
        # the 1-d case free of the squeeze whose gradient would read the
        # forward output's shape (and so run the forward op as well).
        flat = to_channels_last(tf.reshape(mxts, tf.concat([[-1], tf.shape(mxts)[2:]], 0)),
                                self.data_format)
        in_last = tf.shape(to_channels_last(template, self.data_format))[1:]
        if self.rank == 1:
            flat = flat[:, None]
            in_last = tf.concat([[1], in_last], 0)
        in_sizes = tf.concat([tf.shape(flat)[:1], in_last], 0)
        kernel4, strides, dilations = self._as_2d(kernel)
        if max(dilations) == 1:
            # The op the gradient below builds, called directly: no zeros
            # input has to be filled just to have its shape read.
            grad = tf.nn.depthwise_conv2d_backprop_input(
                in_sizes, kernel4, flat, strides=strides,
                padding=self.padding.value.upper())
        else:  # dilated: the forward op wraps the native one in space_to_batch
            zeros = tf.zeros(in_sizes, flat.dtype)
            with tf.GradientTape() as tape:
                tape.watch(zeros)
                out = self._depthwise_2d(zeros, kernel)
            grad = tape.gradient(out, zeros, output_gradients=flat)
        if self.rank == 1:
            grad = grad[:, 0]
        grad = to_channels_first(grad, self.data_format)
        return tf.reshape(grad, tf.concat([tf.shape(mxts)[:2], tf.shape(template)[1:]], 0))


class DepthwiseConv1D(_DepthwiseConv):
    """Depthwise 1-d convolution over ``(N, steps, channels)`` inputs."""

    rank = 1


class DepthwiseConv2D(_DepthwiseConv):
    """Depthwise 2-d convolution over ``(N, rows, cols, channels)`` inputs."""

    rank = 2
