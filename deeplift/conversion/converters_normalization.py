"""Converters of LayerNormalization and GroupNormalization.

Each becomes the small graph of primitives documented (with its exactly
conserving rule) in :mod:`deeplift.layers.group_norm`: centre, square, group
mean, ``1/sqrt(v + eps)``, the product of the centred input with that scale,
then ``gamma``/``beta``. The returned layers are wired among themselves; the
first takes the Keras layer's input and the last is its output.
"""
from __future__ import annotations

from deeplift.conversion.errors import ConversionError
from deeplift.conversion.layer_converters import KERAS_WEIGHTS_KEY, register
from deeplift.layers.core import NoOp
from deeplift.layers.group_norm import (
    ElementwiseAffine, GroupCentre, Grouping, GroupMean, InverseSqrt, Square,
)
from deeplift.layers.product import CHAIN_RULE_MODES, Product
from deeplift.modes import NonlinearMxtsMode


def inner_mode(nonlinear_mxts_mode) -> NonlinearMxtsMode:
    """The rule of a normalisation's internal nonlinearities: Gradient under
    the gradient-based modes (so Gradient mode equals the true gradient),
    Rescale under every DeepLIFT mode."""
    mode = NonlinearMxtsMode.parse(nonlinear_mxts_mode, "nonlinear_mxts_mode")
    return NonlinearMxtsMode.Gradient if mode in CHAIN_RULE_MODES else NonlinearMxtsMode.Rescale


def _gamma_beta(config, name):
    weights = list(config[KERAS_WEIGHTS_KEY])
    scale, center = config.get("scale", True), config.get("center", True)
    if config.get("rms_scaling"):
        center = False
    expected = int(bool(scale)) + int(bool(center))
    if len(weights) != expected:
        raise ConversionError(
            f"layer {config.get('name', name)!r}: expected {expected} weight arrays "
            f"({', '.join(w for w, on in (('gamma', scale), ('beta', center)) if on) or 'none'}),"
            f" found {len(weights)}")
    gamma = weights.pop(0) if scale else None
    beta = weights.pop(0) if center else None
    return gamma, beta


def normalisation_graph(grouping, gamma, beta, affine_axes, epsilon, name, verbose,
                        nonlinear_mxts_mode, rms_scaling=False):
    """The primitives of one normalisation, wired; first = input side."""
    mode = inner_mode(nonlinear_mxts_mode)
    common = dict(verbose=verbose)
    layers = []
    if rms_scaling:  # Keras: x * rsqrt(var(x) + eps) * gamma (x itself is not centred)
        head = NoOp(name=f"{name}_input", **common)
        layers.append(head)
        centre = GroupCentre(grouping, name=f"{name}_centre", **common).set_inputs(head)
        numerator = head
    else:
        centre = head = GroupCentre(grouping, name=f"{name}_centre", **common)
        numerator = centre
    layers.append(centre)
    square = Square(nonlinear_mxts_mode=mode, name=f"{name}_square", **common).set_inputs(centre)
    variance = GroupMean(grouping, name=f"{name}_variance", **common).set_inputs(square)
    inverse = InverseSqrt(epsilon, nonlinear_mxts_mode=mode, name=f"{name}_inverse_std",
                          **common).set_inputs(variance)
    has_affine = gamma is not None or beta is not None
    product = Product(nonlinear_mxts_mode=nonlinear_mxts_mode,
                      name=f"{name}_normalised" if has_affine else name,
                      **common).set_inputs([numerator, inverse])
    layers += [square, variance, inverse, product]
    if has_affine:
        layers.append(ElementwiseAffine(gamma, beta, affine_axes, name=name, **common)
                      .set_inputs(product))
    return layers


@register("LayerNormalization")
def layer_normalization_conversion(config, name, verbose, nonlinear_mxts_mode, **_):
    axes = config.get("axis", -1)
    axes = [axes] if isinstance(axes, int) else list(axes)
    gamma, beta = _gamma_beta(config, name)
    return normalisation_graph(Grouping(axes=axes), gamma, beta, axes,
                               config.get("epsilon", 1e-3), name, verbose,
                               nonlinear_mxts_mode, rms_scaling=bool(config.get("rms_scaling")))


@register("GroupNormalization")
def group_normalization_conversion(config, name, verbose, nonlinear_mxts_mode, **_):
    axis = config.get("axis", -1)
    if isinstance(axis, (list, tuple)):
        (axis,) = axis
    gamma, beta = _gamma_beta(config, name)
    return normalisation_graph(Grouping(groups=config.get("groups", 32), channel_axis=axis),
                               gamma, beta, [axis], config.get("epsilon", 1e-3), name,
                               verbose, nonlinear_mxts_mode)
