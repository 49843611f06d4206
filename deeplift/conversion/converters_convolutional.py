"""Converter entries for depthwise, separable, transposed and grouped
convolutions.

* ``DepthwiseConv1D/2D`` -> ``DepthwiseConv1D/2D`` (+ fused activation).
* ``SeparableConv1D/2D`` -> a depthwise convolution without bias named
  ``depthwise_<name>``, then the pointwise (1x1) convolution with the bias,
  named as the Keras layer (``preact_<name>`` when an activation follows).
* ``Conv1D/2D/3DTranspose`` -> ``Conv1D/2D/3DTranspose``.
* ``Conv1D/2D/3D`` with ``groups`` > 1: one input channel per group (the
  depthwise case, ConvNeXt's ``groups=channels``) becomes a depthwise
  convolution; otherwise the grouped kernel is laid out block-diagonally
  into an ordinary convolution (same numbers; the zero blocks add nothing).
"""
from __future__ import annotations

import numpy as np

from deeplift import layers as dl
from deeplift.conversion.layer_converters import (
    KERAS_WEIGHTS_KEY, _conv_conversion, _unsupported, _with_activation, register,
)


def _conv_options(config, name):
    padding = str(config.get("padding", "valid")).lower()
    if padding not in ("valid", "same"):
        _unsupported(config, name, f"padding={padding!r} is not supported; expected "
                                   f"'valid' or 'same'")
    return dict(strides=tuple(np.atleast_1d(config.get("strides", 1)).tolist()),
                padding=padding, data_format=config.get("data_format") or "channels_last",
                dilation_rate=tuple(np.atleast_1d(config.get("dilation_rate", 1)).tolist()))


def _weights(config, name, what):
    """The layer's weights named by ``what`` (bias last and optional)."""
    weights = list(config[KERAS_WEIGHTS_KEY])
    use_bias = config.get("use_bias", True)
    expected = len(what) + (1 if use_bias else 0)
    if len(weights) != expected:
        _unsupported(config, name, f"expected {expected} weight arrays "
                                   f"({', '.join(what + (['bias'] if use_bias else []))}), "
                                   f"found {len(weights)}")
    return weights[:len(what)], (weights[-1] if use_bias else None)


def _depthwise_conversion(layer_class):
    def convert(config, name, verbose, conv_mxts_mode, nonlinear_mxts_mode, **_):
        (kernel,), bias = _weights(config, name, ["depthwise_kernel"])
        options = _conv_options(config, name)
        return _with_activation(config, name, verbose, nonlinear_mxts_mode, lambda layer_name: (
            layer_class(kernel=kernel, bias=bias, conv_mxts_mode=conv_mxts_mode,
                        name=layer_name, verbose=verbose, **options)))
    return convert


register("DepthwiseConv1D")(_depthwise_conversion(dl.DepthwiseConv1D))
register("DepthwiseConv2D")(_depthwise_conversion(dl.DepthwiseConv2D))


def _separable_conversion(depthwise_class, conv_class):
    def convert(config, name, verbose, conv_mxts_mode, nonlinear_mxts_mode, **_):
        (depthwise, pointwise), bias = _weights(config, name,
                                                ["depthwise_kernel", "pointwise_kernel"])
        options = _conv_options(config, name)
        first = depthwise_class(kernel=depthwise, conv_mxts_mode=conv_mxts_mode,
                                name=f"depthwise_{name}", verbose=verbose, **options)
        rest = _with_activation(config, name, verbose, nonlinear_mxts_mode, lambda layer_name: (
            conv_class(kernel=pointwise, bias=bias, data_format=options["data_format"],
                       conv_mxts_mode=conv_mxts_mode, name=layer_name, verbose=verbose)))
        return [first] + rest
    return convert


register("SeparableConv1D", "SeparableConvolution1D")(
    _separable_conversion(dl.DepthwiseConv1D, dl.Conv1D))
register("SeparableConv2D", "SeparableConvolution2D")(
    _separable_conversion(dl.DepthwiseConv2D, dl.Conv2D))


def _transpose_conversion(layer_class):
    def convert(config, name, verbose, conv_mxts_mode, nonlinear_mxts_mode, **_):
        (kernel,), bias = _weights(config, name, ["kernel"])
        options = _conv_options(config, name)
        output_padding = config.get("output_padding")
        if output_padding is not None:
            output_padding = tuple(np.atleast_1d(output_padding).tolist())
        return _with_activation(config, name, verbose, nonlinear_mxts_mode, lambda layer_name: (
            layer_class(kernel=kernel, bias=bias, output_padding=output_padding,
                        conv_mxts_mode=conv_mxts_mode, name=layer_name, verbose=verbose,
                        **options)))
    return convert


register("Conv1DTranspose", "Convolution1DTranspose")(_transpose_conversion(dl.Conv1DTranspose))
register("Conv2DTranspose", "Convolution2DTranspose")(_transpose_conversion(dl.Conv2DTranspose))
register("Conv3DTranspose", "Convolution3DTranspose")(_transpose_conversion(dl.Conv3DTranspose))


def block_diagonal_kernel(kernel: np.ndarray, groups: int) -> np.ndarray:
    """A grouped kernel ``(*k, in/groups, out)`` as the equivalent full
    kernel ``(*k, in, out)``: group ``g``'s outputs read only its inputs."""
    *spatial, per_group_in, out = kernel.shape
    per_group_out = out // groups
    full = np.zeros((*spatial, per_group_in * groups, out), dtype=kernel.dtype)
    for g in range(groups):
        outs = slice(g * per_group_out, (g + 1) * per_group_out)
        full[..., g * per_group_in:(g + 1) * per_group_in, outs] = kernel[..., outs]
    return full


def _grouped_conv_conversion(conv_class, depthwise_class, plain):
    def convert(config, name, verbose, conv_mxts_mode, nonlinear_mxts_mode, **modes):
        groups = int(config.get("groups", 1) or 1)
        if groups == 1:
            return plain(config=config, name=name, verbose=verbose, conv_mxts_mode=conv_mxts_mode,
                         nonlinear_mxts_mode=nonlinear_mxts_mode, **modes)
        (kernel,), bias = _weights(config, name, ["kernel"])
        kernel = np.asarray(kernel)
        if kernel.shape[-1] % groups:
            _unsupported(config, name, f"groups={groups} does not divide the "
                                       f"{kernel.shape[-1]} filters")
        options = _conv_options(config, name)
        if kernel.shape[-2] == 1 and depthwise_class is not None:
            # One input channel per group: output o reads input o // multiplier,
            # exactly a depthwise convolution's channel order.
            layer_class = depthwise_class
            kernel = kernel.reshape(*kernel.shape[:-2], groups, kernel.shape[-1] // groups)
        else:
            layer_class = conv_class
            kernel = block_diagonal_kernel(kernel, groups)
        return _with_activation(config, name, verbose, nonlinear_mxts_mode, lambda layer_name: (
            layer_class(kernel=kernel, bias=bias, conv_mxts_mode=conv_mxts_mode,
                        name=layer_name, verbose=verbose, **options)))
    return convert


# Replaces the groups=1-only entries of layer_converters (delegating to them).
register("Conv1D", "Convolution1D")(
    _grouped_conv_conversion(dl.Conv1D, dl.DepthwiseConv1D, _conv_conversion(dl.Conv1D)))
register("Conv2D", "Convolution2D")(
    _grouped_conv_conversion(dl.Conv2D, dl.DepthwiseConv2D, _conv_conversion(dl.Conv2D)))
register("Conv3D", "Convolution3D")(
    _grouped_conv_conversion(dl.Conv3D, None, _conv_conversion(dl.Conv3D)))
