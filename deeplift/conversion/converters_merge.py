"""Converters of the Keras merges Multiply, Subtract, Average, Maximum and
Minimum (Add and Concatenate live in ``layer_converters``), and of
keras.applications InceptionResNetV2's ``CustomScaleLayer`` (``a + scale * b``).

Products and maxima take exactly two inputs; a merge of ``k > 2`` inputs is
folded pairwise, ``((x1 op x2) op x3) ...``, after stacking the inputs and
picking them apart again (both routing, so exact), since a converter's first
layer receives the Keras layer's inputs as one list. Rules: see
:mod:`deeplift.layers.merge` and :mod:`deeplift.layers.product`.
"""
from __future__ import annotations

from deeplift.conversion.layer_converters import NUM_INPUTS_KEY, _unsupported, register
from deeplift.layers.merge import (
    Average, ElementwiseMax, Stack, Subtract, Unstack, WeightedSum,
)
from deeplift.layers.product import Product


def fold_pairwise(make_pair, name, verbose, num_inputs):
    """Layers computing ``make_pair`` folded over ``num_inputs`` inputs; the
    first layer takes the list of inputs, the last (named ``name``) is the
    result. ``num_inputs`` None or 2: a single pair layer."""
    if num_inputs in (None, 2):
        return [make_pair(name)]
    stack = Stack(name=f"{name}_stack", verbose=verbose)
    picks = [Unstack(i, name=f"{name}_input{i}", verbose=verbose).set_inputs(stack)
             for i in range(num_inputs)]
    layers, result = [stack, *picks], picks[0]
    for i, pick in enumerate(picks[1:], start=1):
        step_name = name if i == num_inputs - 1 else f"{name}_fold{i}"
        result = make_pair(step_name).set_inputs([result, pick])
        layers.append(result)
    return layers


def _num_inputs(config):
    return config.get(NUM_INPUTS_KEY)


@register("Multiply")
def multiply_conversion(config, name, verbose, nonlinear_mxts_mode, **_):
    return fold_pairwise(
        lambda layer_name: Product(nonlinear_mxts_mode=nonlinear_mxts_mode, name=layer_name,
                                   verbose=verbose),
        name, verbose, _num_inputs(config))


def _extremum_conversion(sign):
    def convert(config, name, verbose, nonlinear_mxts_mode, **_):
        return fold_pairwise(
            lambda layer_name: ElementwiseMax(sign=sign, nonlinear_mxts_mode=nonlinear_mxts_mode,
                                              name=layer_name, verbose=verbose),
            name, verbose, _num_inputs(config))
    return convert


register("Maximum")(_extremum_conversion(1.0))
register("Minimum")(_extremum_conversion(-1.0))


@register("Subtract")
def subtract_conversion(config, name, verbose, **_):
    return [Subtract(name=name, verbose=verbose)]


@register("Average")
def average_conversion(config, name, verbose, **_):
    return [Average(name=name, verbose=verbose)]


@register("CustomScaleLayer")
def custom_scale_conversion(config, name, verbose, **_):
    """keras.applications InceptionResNetV2's residual merge
    ``inputs[0] + inputs[1] * scale`` (config key ``scale``, a number):
    a ``WeightedSum`` with ``b_weight = scale``."""
    scale = config.get("scale")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)):
        _unsupported(config, name, f"CustomScaleLayer needs a number 'scale' in its config "
                                   f"(inputs[0] + inputs[1] * scale); got {scale!r}")
    if _num_inputs(config) not in (None, 2):
        _unsupported(config, name, f"CustomScaleLayer takes two inputs [x, residual]; got "
                                   f"{_num_inputs(config)}")
    return [WeightedSum(float(scale), name=name, verbose=verbose)]
