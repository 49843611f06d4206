"""Keys of Keras model/layer config JSON and the normalisation of layer configs.

Keras writes the same layer config in several dialects (Keras 2 and 3, HDF5
and ``.keras``). :func:`normalise_layer_config` turns a raw layer config into
the one form the builder reads: ``InputLayer`` configs carry ``batch_shape``,
BatchNormalization ``axis`` is an int and ``activation`` a plain name such as
``"relu"``. :func:`infer_keras_major` tells the dialects apart.
"""
import copy
import re
from typing import Any

from deeplift.conversion.errors import ConversionError

# Keys of the Keras model / layer config JSON.
CLASS_NAME_KEY = "class_name"
CONFIG_KEY = "config"
NAME_KEY = "name"
LAYERS_KEY = "layers"
INBOUND_NODES_KEY = "inbound_nodes"
INPUT_LAYERS_KEY = "input_layers"
OUTPUT_LAYERS_KEY = "output_layers"
BATCH_SHAPE_KEY = "batch_shape"  # Keras 3
BATCH_INPUT_SHAPE_KEY = "batch_input_shape"  # Keras 2
INPUT_SHAPE_KEY = "input_shape"
SHAPE_KEY = "shape"
INPUT_DIM_KEY = "input_dim"
BUILD_INPUT_SHAPE_KEY = "build_input_shape"
ACTIVATION_KEY = "activation"
AXIS_KEY = "axis"
DTYPE_KEY = "dtype"
NODE_ARGS_KEY = "args"
NODE_KWARGS_KEY = "kwargs"
KERAS_HISTORY_KEY = "keras_history"
KERAS_TENSOR_CLASS = "__keras_tensor__"

INPUT_LAYER_CLASS = "InputLayer"
#: Layers whose calls pass tensors by keyword: their call signature's tensor
#: arguments in order. Their inputs are recorded by name (positional ones
#: first) under ``CALL_INPUTS_KEY`` in the config: one list per call.
TENSOR_KWARG_SIGNATURES = {
    "MultiHeadAttention": ("query", "value", "key", "attention_mask"),
}
CALL_INPUTS_KEY = "call_inputs"
# Keras-ops nodes (``x + 3.0``, ``keras.ops.mean(x)``) are saved like layers but
# with ``"module": "keras.src.ops.<numpy|nn|...>"``; they are renamed
# ``"ops.<ClassName>"`` (e.g. ``"ops.Add"``) so they never pass for the layer of
# the same class name, have no weights, and carry their call's arguments under
# OP_ARGS_KEY / OP_KWARGS_KEY, each input tensor replaced by
# ``{TENSOR_SLOT_KEY: i}`` (its position among the call's inputs) and each
# saved numpy constant by a float32 array.
MODULE_KEY = "module"
OPS_MODULE_PREFIXES = ("keras.src.ops", "keras.ops")
OPS_CLASS_PREFIX = "ops."
OP_ARGS_KEY = "op_args"
OP_KWARGS_KEY = "op_kwargs"
TENSOR_SLOT_KEY = "__tensor__"
NUMPY_CLASS = "__numpy__"
DEFAULT_ACTIVATION = "linear"
BATCH_NORM_CLASSES = frozenset({"BatchNormalization", "SyncBatchNormalization"})
# Layers that always own weights: finding none means the file lost them.
WEIGHTED_CLASSES = frozenset(
    {
        "Dense",
        "Conv1D",
        "Conv2D",
        "Conv3D",
        "Convolution1D",
        "Convolution2D",
        "Convolution3D",
        "Conv1DTranspose",
        "Conv2DTranspose",
        "Conv3DTranspose",
        "SeparableConv1D",
        "SeparableConv2D",
        "DepthwiseConv1D",
        "DepthwiseConv2D",
        "BatchNormalization",
        "SyncBatchNormalization",
        "PReLU",
        "Embedding",
    }
)
# Prefixes Keras may put in front of a built-in activation's registered name.
_BUILTIN_ACTIVATION_PREFIXES = ("keras>", "keras.activations>")
# Guard against reference cycles through nested models in a malformed config

def infer_keras_major(model_config: Any) -> int | None:
    """Guesses the writer's Keras major version from the config dialect.

    Keras 3 marks: dict inbound nodes (``{"args": ...}``), ``batch_shape`` on
    an InputLayer, DTypePolicy dicts. Keras 2 marks: list inbound nodes,
    ``batch_input_shape``, string dtypes.

    Args:
        model_config: a model config in either dialect.

    Returns:
        3 or 2, or ``None`` when the config shows neither dialect's marks.
    """
    found: set[int] = set()

    def visit(obj: Any) -> None:
        if isinstance(obj, dict):
            if BATCH_SHAPE_KEY in obj or NODE_ARGS_KEY in obj:
                found.add(3)
            if BATCH_INPUT_SHAPE_KEY in obj:
                found.add(2)
            dtype = obj.get(DTYPE_KEY)
            if isinstance(dtype, dict):
                found.add(3)
            nodes = obj.get(INBOUND_NODES_KEY)
            if isinstance(nodes, list) and nodes and isinstance(nodes[0], list):
                found.add(2)
            for value in obj.values():
                visit(value)
        elif isinstance(obj, (list, tuple)):
            for value in obj:
                visit(value)

    visit(model_config)
    if 3 in found:
        return 3
    if 2 in found:
        return 2
    return None


def snake_case(class_name: str) -> str:
    """Returns Keras' snake_case form of a class name (``"PReLU"`` -> ``"p_re_lu"``).

    Keras' object-tree saving names each layer's group this way.
    """
    name = re.sub(r"\W+", "", class_name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def normalise_layer_config(
    class_name: str, config: dict, layer_name: str, source: str
) -> dict:
    """Returns a copy of a layer config in the one dialect the builder reads.

    * InputLayer: ``batch_shape`` as a tuple (``None`` batch dimension),
      whichever of ``batch_shape`` / ``batch_input_shape`` / ``shape`` the
      file used; ``batch_input_shape`` removed.
    * BatchNormalization: ``axis`` an int (Keras 2 stores ``[2]``).
    * any ``activation``: a plain name such as ``"relu"``.

    Args:
        class_name: the layer's Keras class name.
        config: the layer's raw config.
        layer_name: for messages.
        source: file path or model description, for messages.

    Returns:
        The normalised config (the input is not modified).

    Raises:
        ConversionError: an InputLayer without a shape, a multi-axis
            BatchNormalization, or an activation that is not a named one.
    """
    config = copy.deepcopy(config)
    if class_name == INPUT_LAYER_CLASS:
        batch_shape = batch_shape_from_config(config)
        if batch_shape is None:
            raise ConversionError(
                f"{source}: InputLayer {layer_name!r} has no 'batch_shape' / "
                f"'batch_input_shape' / 'shape' in its config; expected the "
                f"input shape"
            )
        config.pop(BATCH_INPUT_SHAPE_KEY, None)
        config[BATCH_SHAPE_KEY] = batch_shape
    if class_name in BATCH_NORM_CLASSES and AXIS_KEY in config:
        config[AXIS_KEY] = _single_axis(config[AXIS_KEY], layer_name, class_name, source)
    if ACTIVATION_KEY in config:
        config[ACTIVATION_KEY] = activation_name(
            config[ACTIVATION_KEY], layer_name, class_name, source
        )
    return config


def batch_shape_from_config(config: dict) -> tuple | None:
    """Returns the batch input shape stated in a layer config, or ``None``.

    Reads ``batch_shape`` (Keras 3), ``batch_input_shape`` (Keras 2), or
    ``shape`` / ``input_shape`` / ``input_dim`` without the batch dimension.
    """
    for key in (BATCH_SHAPE_KEY, BATCH_INPUT_SHAPE_KEY):
        if config.get(key) is not None:
            return tuple(config[key])
    for key in (SHAPE_KEY, INPUT_SHAPE_KEY):
        if config.get(key) is not None:
            return (None, *config[key])
    if config.get(INPUT_DIM_KEY) is not None:
        return (None, config[INPUT_DIM_KEY])
    return None


def activation_name(value: Any, layer_name: str, class_name: str, source: str) -> str:
    """Reduces a serialised activation to its plain name (e.g. ``"relu"``).

    Accepts a string, Keras 3's ``{"class_name": "function", "config":
    "relu"}``, and activation layers given as the activation (a default
    ``ReLU``, a ``Softmax`` over the last axis, an ``Activation``). Custom
    registered names (``"pkg>name"``) are kept whole so the builder can report
    them.

    Raises:
        ConversionError: the activation is some other object.
    """
    if value is None:
        return DEFAULT_ACTIVATION
    if isinstance(value, str):
        for prefix in _BUILTIN_ACTIVATION_PREFIXES:
            if value.startswith(prefix):
                return value[len(prefix):]
        return value
    if isinstance(value, dict):
        inner_class = value.get(CLASS_NAME_KEY)
        inner_config = value.get(CONFIG_KEY)
        if isinstance(inner_config, str):
            return activation_name(inner_config, layer_name, class_name, source)
        if isinstance(inner_config, dict):
            if inner_class == "Activation" and ACTIVATION_KEY in inner_config:
                return activation_name(
                    inner_config[ACTIVATION_KEY], layer_name, class_name, source
                )
            if inner_class == "ReLU" and not any(
                inner_config.get(key) for key in ("max_value", "negative_slope", "threshold")
            ):
                return "relu"
            if inner_class == "Softmax" and inner_config.get(AXIS_KEY, -1) == -1:
                return "softmax"
    raise ConversionError(
        f"{source}: layer {layer_name!r} ({class_name}) has activation {value!r}; "
        f"expected a named activation such as 'relu' (put other activation "
        f"layers in the model as separate layers)"
    )


def _single_axis(axis: Any, layer_name: str, class_name: str, source: str) -> int:
    if isinstance(axis, (list, tuple)):
        if len(axis) != 1:
            raise ConversionError(
                f"{source}: layer {layer_name!r} ({class_name}) normalises over "
                f"axes {list(axis)}; expected a single axis"
            )
        axis = axis[0]
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise ConversionError(
            f"{source}: layer {layer_name!r} ({class_name}) has axis {axis!r}; "
            f"expected an int"
        )
    return axis
