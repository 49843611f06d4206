"""Converters of Keras-ops nodes (``x + 3.0``, ``a * b``, ``keras.ops.mean``,
``keras.ops.silu``, ...), registered as ``"ops.<ClassName>"``.

The parser renames ops nodes and attaches their call's arguments (see
``deeplift.conversion.layer_config.OP_ARGS_KEY``): an argument is either an
input tensor slot or a constant. Supported:

* ``Add``, ``Subtract``, ``Multiply``, ``Divide``/``TrueDivide`` (constant
  divisor), ``Negative``: with a constant, ``ConstantAffine``; between two
  tensors, ``PairSum``/``Subtract``/``Product``;
* ``Maximum``/``Minimum``: of two tensors ``ElementwiseMax``; with a
  constant ``c``, ``max(x, c) = relu(x - c) + c`` and
  ``min(x, c) = c - relu(c - x)``;
* ``Mean``/``Sum`` over non-batch axes, ``Reshape`` (batch axis kept),
  ``Transpose``, ``Concatenate``, ``ExpandDims``, ``Squeeze``;
* the activation ops whose name is a supported fused activation
  (``layer_converters.ACTIVATIONS``), plus ``LeakyRelu`` and ``Softmax`` over
  the last axis.

Anything else (and these ops with arguments they cannot take) joins the one
unsupported-layer error.
"""
from __future__ import annotations

from typing import Any

from deeplift.conversion import layer_converters
from deeplift.conversion.errors import ConversionError
from deeplift.conversion.layer_config import (
    OP_ARGS_KEY, OP_KWARGS_KEY, OPS_CLASS_PREFIX, TENSOR_SLOT_KEY,
)
from deeplift.conversion.layer_converters import register
from deeplift.conversion.option_checks import register_option_check
from deeplift.layers.activations import PReLU, ReLU
from deeplift.layers.core import Concat, Reshape
from deeplift.layers.merge import ElementwiseMax, PairSum, Subtract
from deeplift.layers.product import Product
from deeplift.layers.tensor_ops import (
    ConstantAffine, ExpandDims, Reduce, Squeeze, Transpose, constant_array,
)

ARITHMETIC = ("Add", "Subtract", "Multiply", "Divide", "TrueDivide", "Maximum", "Minimum")
ACTIVATION_OPS = {
    "Relu": "relu", "Relu6": "relu6", "Sigmoid": "sigmoid", "Tanh": "tanh",
    "Softplus": "softplus", "Elu": "elu", "Selu": "selu", "Silu": "silu", "Swish": "silu",
    "Gelu": "gelu", "HardSilu": "hard_silu", "HardSwish": "hard_silu",
    "HardSigmoid": "hard_sigmoid", "Softsign": "softsign", "Mish": "mish",
    "Exp": "exponential",
}


def _is_slot(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {TENSOR_SLOT_KEY}


def _binary_operands(config) -> tuple[str, Any]:
    """``("tt", None)`` for two tensors, ``("tc", c)`` / ``("ct", c)`` for a
    tensor and a constant; raises for anything else."""
    args = list(config.get(OP_ARGS_KEY) or [])
    kwargs = config.get(OP_KWARGS_KEY) or {}
    args += [kwargs[key] for key in ("x2",) if key in kwargs]
    if len(args) != 2:
        raise ConversionError(f"layer {config.get('name')!r}: expected two operands, "
                              f"got {len(args)}")
    kinds = "".join("t" if _is_slot(a) else "c" for a in args)
    if kinds == "cc":
        raise ConversionError(f"layer {config.get('name')!r}: both operands are constants")
    constant = None if kinds == "tt" else constant_array(args[kinds.index("c")])
    return kinds, constant


def _binary_problem(op: str, config) -> str | None:
    try:
        kinds, _ = _binary_operands(config)
    except ConversionError as err:
        return str(err).split(": ", 1)[-1]
    if op in ("Divide", "TrueDivide") and kinds != "tc":
        return "a tensor divisor"
    return None


def _relu_chain(name, verbose, mode, before, after):
    return [ConstantAffine(**before, name=f"{name}_in", verbose=verbose),
            ReLU(nonlinear_mxts_mode=mode, name=f"{name}_relu", verbose=verbose),
            ConstantAffine(**after, name=name, verbose=verbose)]


def _binary_conversion(op):
    def convert(config, name, verbose, nonlinear_mxts_mode, **_):
        kinds, c = _binary_operands(config)
        kw = dict(name=name, verbose=verbose)
        if kinds == "tt":
            if op == "Add":
                return [PairSum(**kw)]
            if op == "Subtract":
                return [Subtract(**kw)]
            if op == "Multiply":
                return [Product(nonlinear_mxts_mode=nonlinear_mxts_mode, **kw)]
            if op in ("Maximum", "Minimum"):
                return [ElementwiseMax(sign=1.0 if op == "Maximum" else -1.0,
                                       nonlinear_mxts_mode=nonlinear_mxts_mode, **kw)]
        elif op == "Add":
            return [ConstantAffine(shift=c, **kw)]
        elif op == "Subtract":
            return [ConstantAffine(shift=-c, **kw) if kinds == "tc"
                    else ConstantAffine(scale=-1.0, shift=c, **kw)]
        elif op == "Multiply":
            return [ConstantAffine(scale=c, **kw)]
        elif op in ("Divide", "TrueDivide") and kinds == "tc":
            return [ConstantAffine(scale=1.0 / c, **kw)]
        elif op == "Maximum":  # relu(x - c) + c
            return _relu_chain(name, verbose, nonlinear_mxts_mode, {"shift": -c}, {"shift": c})
        elif op == "Minimum":  # c - relu(c - x)
            return _relu_chain(name, verbose, nonlinear_mxts_mode,
                               {"scale": -1.0, "shift": c}, {"scale": -1.0, "shift": c})
        raise ConversionError(f"layer {config.get('name', name)!r}: ops.{op} with "
                              f"{_binary_problem(op, config)} is not supported")
    return convert


for _op in ARITHMETIC:
    register(OPS_CLASS_PREFIX + _op)(_binary_conversion(_op))
    register_option_check(OPS_CLASS_PREFIX + _op)(
        lambda config, op=_op: _binary_problem(op, config))


@register(OPS_CLASS_PREFIX + "Negative")
def negative_conversion(config, name, verbose, **_):
    return [ConstantAffine(scale=-1.0, name=name, verbose=verbose)]


def _reduce_conversion(kind):
    def convert(config, name, verbose, **_):
        axis = config.get("axis")
        if axis is None:
            raise ConversionError(f"layer {config.get('name', name)!r}: ops.{kind} over every "
                                  f"axis (the batch too) is not supported; give axis=")
        return [Reduce(kind, axis, keepdims=config.get("keepdims", False), name=name,
                       verbose=verbose)]
    return convert


register(OPS_CLASS_PREFIX + "Mean")(_reduce_conversion("mean"))
register(OPS_CLASS_PREFIX + "Sum")(_reduce_conversion("sum"))


@register_option_check(OPS_CLASS_PREFIX + "Mean", OPS_CLASS_PREFIX + "Sum")
def _reduce_problem(config):
    axis = config.get("axis")
    if axis is None or axis == 0 or (isinstance(axis, list) and 0 in axis):
        return f"axis={axis} (the batch axis)"
    return None


@register(OPS_CLASS_PREFIX + "Reshape")
def reshape_op_conversion(config, name, verbose, **_):
    problem = _reshape_problem(config)
    if problem:
        raise ConversionError(f"layer {config.get('name', name)!r}: ops.Reshape with {problem}")
    return [Reshape(target_shape=list(config["newshape"])[1:], name=name, verbose=verbose)]


@register_option_check(OPS_CLASS_PREFIX + "Reshape")
def _reshape_problem(config):
    shape = config.get("newshape")
    if not isinstance(shape, (list, tuple)) or not shape or shape[0] not in (-1, None):
        return f"newshape={shape} (the batch axis must stay first, as -1)"
    return None


@register(OPS_CLASS_PREFIX + "Transpose")
def transpose_op_conversion(config, name, verbose, **_):
    return [Transpose(config["axes"], name=name, verbose=verbose)]


@register_option_check(OPS_CLASS_PREFIX + "Transpose")
def _transpose_problem(config):
    axes = config.get("axes")
    if not axes or axes[0] != 0:
        return f"axes={axes} (the batch axis must stay first)"
    return None


@register(OPS_CLASS_PREFIX + "Concatenate")
def concatenate_op_conversion(config, name, verbose, **_):
    return [Concat(axis=config.get("axis", 0), name=name, verbose=verbose)]


@register_option_check(OPS_CLASS_PREFIX + "Concatenate")
def _concatenate_problem(config):
    return "axis=0 (the batch axis)" if config.get("axis", 0) == 0 else None


@register(OPS_CLASS_PREFIX + "ExpandDims")
def expand_dims_op_conversion(config, name, verbose, **_):
    return [ExpandDims(config["axis"], name=name, verbose=verbose)]


@register(OPS_CLASS_PREFIX + "Squeeze")
def squeeze_op_conversion(config, name, verbose, **_):
    return [Squeeze(config.get("axis"), name=name, verbose=verbose)]


@register_option_check(OPS_CLASS_PREFIX + "ExpandDims", OPS_CLASS_PREFIX + "Squeeze")
def _axis_problem(config):
    axis = config.get("axis")
    return "axis=0 (the batch axis)" if axis == 0 or (isinstance(axis, list) and 0 in axis) \
        else None


def _activation_name(activation, config):
    """``keras.ops.gelu`` defaults to the tanh approximation, which the
    activation table names ``"gelu_approximate"`` (the plain ``"gelu"`` of
    ``activation="gelu"`` is exact)."""
    if activation == "gelu" and config.get("approximate", True):
        return "gelu_approximate"
    return activation


def _activation_conversion(op_activation):
    def convert(config, name, verbose, nonlinear_mxts_mode, **_):
        activation = _activation_name(op_activation, config)
        builder = layer_converters.ACTIVATIONS.get(activation)
        if activation not in layer_converters.ACTIVATIONS:
            raise ConversionError(f"layer {config.get('name', name)!r}: activation "
                                  f"{activation!r} is not supported")
        if builder is None:
            return [ConstantAffine(name=name, verbose=verbose)]
        return [builder(config, name=name, verbose=verbose,
                        nonlinear_mxts_mode=nonlinear_mxts_mode)]
    return convert


def _activation_problem(op_activation):
    def check(config):
        activation = _activation_name(op_activation, config)
        if activation not in layer_converters.ACTIVATIONS:
            return f"activation {activation!r}"
        return None
    return check


for _op, _activation in ACTIVATION_OPS.items():
    register(OPS_CLASS_PREFIX + _op)(_activation_conversion(_activation))
    register_option_check(OPS_CLASS_PREFIX + _op)(_activation_problem(_activation))


@register(OPS_CLASS_PREFIX + "LeakyRelu")
def leaky_relu_op_conversion(config, name, verbose, nonlinear_mxts_mode, **_):
    return [PReLU(alpha=config.get("negative_slope", 0.2), name=name, verbose=verbose,
                  nonlinear_mxts_mode=nonlinear_mxts_mode)]


@register(OPS_CLASS_PREFIX + "Softmax")
def softmax_op_conversion(config, name, verbose, nonlinear_mxts_mode, **_):
    return layer_converters.softmax_conversion(config, name, verbose, nonlinear_mxts_mode)


@register_option_check(OPS_CLASS_PREFIX + "Softmax")
def _softmax_problem(config):
    return None if config.get("axis", -1) in (-1, [-1]) else f"axis={config.get('axis')}"
