"""The normalised model description that every Keras reader returns.

Keras writes the same model in several dialects (Keras 2 legacy HDF5, Keras 3
legacy HDF5, ``.keras`` zips, live models). The readers only locate the model
config and the weights; :func:`spec_from_config` turns any config dialect plus
a weights lookup into one :class:`ModelSpec`, so the builder sees one form:

* every model is a graph: a Sequential becomes a chain of single-call layers;
* nested models (a Sequential or Functional used as a layer) are flattened
  into the outer layer list, their InputLayers dropped and the references
  rewired to the layers that really produce and consume the tensors;
* ``InputLayer`` configs always carry ``batch_shape``; BatchNormalization
  ``axis`` is an int; ``activation`` is a plain name such as ``"relu"``.

Both inbound-node dialects are parsed by one function, in the manner of
Keras' own ``functional.deserialize_node``: Keras 2 lists
``[["inp", 0, 0, {}]]`` and Keras 3 dicts ``{"args": [...], "kwargs": {}}``
holding ``__keras_tensor__`` entries with a ``keras_history`` triple.
"""
import copy
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

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
# (far deeper than any real nesting, well below Python's recursion limit).
_MAX_RESOLVE_DEPTH = 200

_LocalRef = tuple[str, int, int]  # (layer, node, tensor) inside one model level


@dataclass(frozen=True)
class TensorRef:
    """One Keras tensor: output ``tensor_index`` of call ``node_index`` of ``layer``.

    ``node_index`` indexes the producing layer's ``LayerSpec.inbound`` list
    (one entry per call). An InputLayer has no calls; its tensor is
    ``TensorRef(name, 0, 0)``.
    """

    layer: str
    node_index: int
    tensor_index: int


@dataclass
class LayerSpec:
    """One (non-model) Keras layer, in normalised form.

    Attributes:
        name: the Keras layer name (nested layers keep their inner names).
        class_name: the Keras class name, e.g. ``"Dense"`` or ``"InputLayer"``.
        config: the Keras layer config, normalised (see module docstring).
        weights: float32 arrays in Keras ``get_weights()`` order (kernel,
            bias; BN gamma, beta, moving_mean, moving_variance as present;
            PReLU alpha). ``[]`` for layers without weights.
        inbound: one entry per call of the layer; each the list of input
            tensors of that call (several for merge layers). ``[]`` for an
            InputLayer.
    """

    name: str
    class_name: str
    config: dict
    weights: list[np.ndarray]
    inbound: list[list[TensorRef]]


@dataclass
class ModelSpec:
    """A whole Keras model as a flat graph of :class:`LayerSpec`.

    Attributes:
        layers: in config order, nested models flattened in place of the
            nested model (their InputLayers dropped).
        inputs: the model input tensors (InputLayer outputs), in order.
        outputs: the model output tensors, in order.
        is_sequential: the top-level model was a Sequential (its layers then
            form a chain, input first).
        keras_major: 2 for files written by Keras 2 (tf.keras, tf_keras),
            3 for Keras 3 files and live Keras 3 models. Decides e.g. the
            meaning of ``hard_sigmoid``.
        source: the file path, or ``"<live keras.Model 'name'>"``.
    """

    layers: list[LayerSpec]
    inputs: list[TensorRef]
    outputs: list[TensorRef]
    is_sequential: bool
    keras_major: int
    source: str

    def layer(self, name: str) -> LayerSpec:
        """Returns the layer called ``name``.

        Raises:
            KeyError: no layer has that name; the message lists the names.
        """
        for spec in self.layers:
            if spec.name == name:
                return spec
        raise KeyError(
            f"{self.source}: no layer named {name!r}; "
            f"layers are {[spec.name for spec in self.layers]}"
        )


@dataclass(frozen=True)
class LayerLocation:
    """Where a possibly nested layer's weights live in a saved model tree.

    Attributes:
        names: layer names from the outermost model down, e.g.
            ``("inner_seq", "inner_dense")`` for a Dense inside a nested
            Sequential, ``("out",)`` for a top-level layer.
        object_keys: the matching keys of Keras' object-tree saving
            (``.keras`` and ``.weights.h5``): the snake_case class name with
            ``_1``, ``_2``, ... for repeats, e.g. ``("sequential", "dense")``.
        class_name: the Keras class name of the layer itself.
    """

    names: tuple[str, ...]
    object_keys: tuple[str, ...]
    class_name: str

    def describe(self) -> str:
        """Returns the nesting path, e.g. ``'inner_seq/inner_dense'``."""
        return "/".join(self.names)


class WeightLookup(Protocol):
    """Finds a layer's weights in one storage format.

    Called with a :class:`LayerLocation`; returns the arrays in
    ``get_weights()`` order, ``[]`` for a stored layer without weights, or
    ``None`` when the storage has no entry for the layer at all.
    """

    def __call__(self, location: LayerLocation) -> list[np.ndarray] | None: ...


def spec_from_config(
    model_config: dict,
    weights: WeightLookup,
    *,
    keras_major: int,
    source: str,
) -> ModelSpec:
    """Turns a Keras model config plus a weights lookup into a ModelSpec.

    Args:
        model_config: ``{"class_name": ..., "config": ...}`` as in the
            ``model_config`` HDF5 attribute, ``config.json`` or
            ``model.to_json()``; either dialect.
        weights: the format's weights lookup.
        keras_major: the writer's Keras major version (2 or 3). Also decides
            how node indices of nested models are counted.
        source: file path or live-model description, used in messages.

    Returns:
        The flattened, normalised :class:`ModelSpec`.

    Raises:
        ConversionError: the config is malformed, a reference dangles, a
            layer name repeats after flattening, or a layer's weights are
            missing.
    """
    if not isinstance(model_config, dict) or CONFIG_KEY not in model_config:
        raise ConversionError(
            f"{source}: the model config must be a dict with 'class_name' and "
            f"'config' keys; got {type(model_config).__name__}"
        )
    parser = _Parser(source, keras_major)
    top = parser.parse_model(model_config, top_level=True)
    return _Flattener(top, weights, source, keras_major).run()


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


# --------------------------------------------------------------------------
# Parsing: one model level at a time, refs local to that level.


@dataclass(eq=False)
class _Entry:
    """One entry of a model's layer list (a layer or a nested model)."""

    name: str
    class_name: str
    config: dict
    calls: list[list[_LocalRef]]
    submodel: "_Model | None" = None
    object_key: str | None = None


@dataclass(eq=False)
class _Model:
    """One parsed model level; refs in ``calls``/``inputs``/``outputs`` are local."""

    name: str
    is_sequential: bool
    entries: list[_Entry]
    inputs: list[_LocalRef]
    outputs: list[_LocalRef]
    by_name: dict[str, _Entry] = field(default_factory=dict)


def _is_model_config(config: Any) -> bool:
    return isinstance(config, list) or (isinstance(config, dict) and LAYERS_KEY in config)


def _is_triple(obj: Any) -> bool:
    return (
        isinstance(obj, (list, tuple))
        and len(obj) >= 3
        and isinstance(obj[0], str)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in obj[1:3])
    )


def _sorted_values(obj: dict) -> list:
    # Keras flattens dict structures in sorted-key order.
    return [obj[key] for key in sorted(obj)]


def _collect_list_refs(obj: Any) -> list[_LocalRef]:
    """Keras 2 dialect: ``[name, node, tensor, kwargs]`` entries, possibly nested."""
    if _is_triple(obj):
        return [(obj[0], int(obj[1]), int(obj[2]))]
    if isinstance(obj, (list, tuple)):
        return [ref for item in obj for ref in _collect_list_refs(item)]
    if isinstance(obj, dict):
        return [ref for item in _sorted_values(obj) for ref in _collect_list_refs(item)]
    return []


def _collect_keras_tensors(obj: Any) -> list[_LocalRef]:
    """Keras 3 dialect: ``__keras_tensor__`` dicts anywhere in a structure."""
    if isinstance(obj, dict):
        if obj.get(CLASS_NAME_KEY) == KERAS_TENSOR_CLASS:
            history = (obj.get(CONFIG_KEY) or {}).get(KERAS_HISTORY_KEY)
            if not _is_triple(history):
                return []
            return [(history[0], int(history[1]), int(history[2]))]
        return [ref for item in _sorted_values(obj) for ref in _collect_keras_tensors(item)]
    if isinstance(obj, (list, tuple)):
        return [ref for item in obj for ref in _collect_keras_tensors(item)]
    return []


def _named_call_tensors(node: Any, signature: tuple[str, ...]
                        ) -> tuple[list[str], list[_LocalRef]]:
    """The tensors of one call, named by ``signature``: positional arguments
    first, then keyword arguments in signature order (both dialects)."""
    if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
        positional = [_collect_keras_tensors(arg) for arg in node.get(NODE_ARGS_KEY) or []]
        keywords = {key: _collect_keras_tensors(value)
                    for key, value in (node.get(NODE_KWARGS_KEY) or {}).items()}
    elif isinstance(node, (list, tuple)) and len(node) == 1 and len(node[0]) >= 3:
        # Keras 2: [[name, node, tensor, {kwarg: [name, node, tensor], ...}]]
        first = node[0]
        positional = [[(first[0], int(first[1]), int(first[2]))]]
        keywords = {key: _collect_list_refs(value)
                    for key, value in (first[3] if len(first) > 3 else {}).items()}
    else:
        return [], []
    names, refs = [], []
    for name, found in zip(signature, positional):
        names += [name] * len(found)
        refs += found
    for name in signature:
        found = keywords.get(name) or []
        names += [name] * len(found)
        refs += found
    return names, refs


class _Parser:
    """Parses model configs of either dialect into :class:`_Model` trees."""

    def __init__(self, source: str, keras_major: int) -> None:
        self.source = source
        self.keras_major = keras_major

    def parse_model(self, model_entry: dict, *, top_level: bool) -> _Model:
        class_name = model_entry.get(CLASS_NAME_KEY)
        config = model_entry.get(CONFIG_KEY)
        if not _is_model_config(config):
            name = model_entry.get(NAME_KEY) or (
                config.get(NAME_KEY) if isinstance(config, dict) else None
            )
            raise ConversionError(
                f"{self.source}: model {name!r} of class "
                f"{class_name!r} has no 'layers' list in its config; expected a "
                f"Sequential or Functional model (subclassed models cannot be "
                f"converted)"
            )
        if isinstance(config, dict) and INPUT_LAYERS_KEY in config:
            return self._parse_functional(config)
        return self._parse_sequential(config, top_level=top_level)

    def _entry(self, raw: Any, model_name: str) -> _Entry:
        if not isinstance(raw, dict) or not isinstance(raw.get(CONFIG_KEY), (dict, list)):
            raise ConversionError(
                f"{self.source}: an entry of the layer list of model {model_name!r} "
                f"is not a {{'class_name', 'config'}} dict: {str(raw)[:200]}"
            )
        config = raw[CONFIG_KEY]
        name = raw.get(NAME_KEY) or (config.get(NAME_KEY) if isinstance(config, dict) else None)
        class_name = raw.get(CLASS_NAME_KEY)
        if not isinstance(name, str) or not isinstance(class_name, str):
            raise ConversionError(
                f"{self.source}: a layer of model {model_name!r} has no name or "
                f"class name: {str(raw)[:200]}"
            )
        entry = _Entry(name=name, class_name=class_name, config=config, calls=[])
        if class_name != INPUT_LAYER_CLASS and _is_model_config(config):
            entry.submodel = self.parse_model(raw, top_level=False)
            if not isinstance(config, dict):
                entry.config = {}
        return entry

    def _parse_sequential(self, config: Any, *, top_level: bool) -> _Model:
        raw_layers = config if isinstance(config, list) else config[LAYERS_KEY]
        model_name = (config.get(NAME_KEY) if isinstance(config, dict) else None) or "sequential"
        if not isinstance(raw_layers, list):
            raise ConversionError(
                f"{self.source}: Sequential model {model_name!r} has 'layers' of type "
                f"{type(raw_layers).__name__}; expected a list"
            )
        entries = [self._entry(raw, model_name) for raw in raw_layers]
        if entries and entries[0].class_name == INPUT_LAYER_CLASS:
            input_entry, body = entries[0], entries[1:]
        else:
            input_entry = self._synthesize_input(config, entries, model_name, top_level)
            body = entries
        for entry in body:
            if entry.class_name == INPUT_LAYER_CLASS:
                raise ConversionError(
                    f"{self.source}: Sequential model {model_name!r} has InputLayer "
                    f"{entry.name!r} after its first layer; expected it first"
                )
        previous = input_entry.name
        for entry in body:
            entry.calls = [[(previous, 0, 0)]]
            previous = entry.name
        # Sequential.layers (what Keras' object-tree saving walks) omits the InputLayer.
        _assign_object_keys(body)
        model = _Model(
            name=model_name,
            is_sequential=True,
            entries=[input_entry, *body],
            inputs=[(input_entry.name, 0, 0)],
            outputs=[(previous, 0, 0)],
        )
        self._index(model)
        return model

    def _synthesize_input(
        self, config: Any, entries: list[_Entry], model_name: str, top_level: bool
    ) -> _Entry:
        batch_shape = None
        if entries and entries[0].submodel is not None:
            # A nested model first: its own input shape is the model's.
            batch_shape = batch_shape_from_config(entries[0].submodel.entries[0].config)
        elif entries and isinstance(entries[0].config, dict):
            batch_shape = batch_shape_from_config(entries[0].config)
        if batch_shape is None and isinstance(config, dict):
            build_shape = config.get(BUILD_INPUT_SHAPE_KEY)
            if isinstance(build_shape, (list, tuple)) and not (
                build_shape and isinstance(build_shape[0], (list, tuple))
            ):
                batch_shape = tuple(build_shape)
        if batch_shape is None and top_level:
            first = ""
            if entries:
                first = f" (first layer {entries[0].name!r}, {entries[0].class_name})"
            raise ConversionError(
                f"{self.source}: Sequential model {model_name!r} has no InputLayer "
                f"and no input shape{first}; expected an InputLayer or "
                f"'batch_input_shape' / 'batch_shape' / 'input_shape' on the first layer"
            )
        # Keras names the input it creates for a Sequential "<first layer>_input".
        name = f"{entries[0].name}_input" if entries else "input"
        taken = {entry.name for entry in entries}
        while name in taken:
            name = f"{name}_"
        return _Entry(
            name=name,
            class_name=INPUT_LAYER_CLASS,
            config={NAME_KEY: name, BATCH_SHAPE_KEY: batch_shape},
            calls=[],
        )

    def _parse_functional(self, config: dict) -> _Model:
        model_name = config.get(NAME_KEY) or "functional"
        if not isinstance(config[LAYERS_KEY], list):
            raise ConversionError(
                f"{self.source}: functional model {model_name!r} has 'layers' of type "
                f"{type(config[LAYERS_KEY]).__name__}; expected a list"
            )
        entries = []
        for raw in config[LAYERS_KEY]:
            entry = self._entry(raw, model_name)
            nodes = raw.get(INBOUND_NODES_KEY) or []
            if not isinstance(nodes, list):
                raise ConversionError(
                    f"{self.source}: layer {entry.name!r} ({entry.class_name}) has "
                    f"'inbound_nodes' of type {type(nodes).__name__}; expected a list"
                )
            entry.calls = [self._parse_node(node, entry) for node in nodes]
            entries.append(entry)
        _assign_object_keys(entries)
        model = _Model(
            name=model_name,
            is_sequential=False,
            entries=entries,
            inputs=_collect_list_refs(config.get(INPUT_LAYERS_KEY)),
            outputs=_collect_list_refs(config.get(OUTPUT_LAYERS_KEY)),
        )
        self._index(model)
        if not model.inputs or not model.outputs:
            raise ConversionError(
                f"{self.source}: functional model {model_name!r} lists no "
                f"{'inputs' if not model.inputs else 'outputs'} in "
                f"'input_layers' / 'output_layers'"
            )
        self._renumber_nested_calls(model)
        return model

    def _parse_node(self, node: Any, entry: _Entry) -> list[_LocalRef]:
        """Input tensors of one call, from either inbound-node dialect."""
        if entry.class_name in TENSOR_KWARG_SIGNATURES and isinstance(entry.config, dict):
            names, refs = _named_call_tensors(node, TENSOR_KWARG_SIGNATURES[entry.class_name])
            call_kwargs = (node.get(NODE_KWARGS_KEY) if isinstance(node, dict)
                           else node[0][3] if isinstance(node, (list, tuple)) and node
                           and len(node[0]) > 3 else None) or {}
            if isinstance(call_kwargs, dict) and call_kwargs.get("use_causal_mask"):
                entry.config["use_causal_mask"] = True  # the converter refuses it
            if refs:
                entry.config.setdefault(CALL_INPUTS_KEY, []).append(names)
                return refs
        if isinstance(node, dict):  # Keras 3
            refs = _collect_keras_tensors(node.get(NODE_ARGS_KEY, []))
            if not refs:  # called with keyword arguments only
                refs = _collect_keras_tensors(list((node.get(NODE_KWARGS_KEY) or {}).values()))
        elif isinstance(node, (list, tuple)):  # Keras 2; kwargs tensors ignored
            refs = _collect_list_refs(node)
        else:
            refs = []
        if not refs:
            raise ConversionError(
                f"{self.source}: layer {entry.name!r} ({entry.class_name}) has an "
                f"inbound node without input tensors: {str(node)[:200]}"
            )
        return refs

    def _index(self, model: _Model) -> None:
        for entry in model.entries:
            if entry.name in model.by_name:
                raise ConversionError(
                    f"{self.source}: model {model.name!r} has two layers named "
                    f"{entry.name!r}; expected unique layer names"
                )
            model.by_name[entry.name] = entry

    def _nested_offset_rule(self, entry: _Entry, *, model_io: bool) -> int:
        """How the writer numbered the calls of a nested model in its refs.

        Keras 2 counts the calls of a nested model from 1 in every ref: the
        model starts out with a node of its own (a deferred Sequential gets
        one when first called), which is not saved. Keras 3 counts calls from
        0 in inbound nodes, but from 1 for a nested Functional (not
        Sequential) in the model's own ``input_layers`` / ``output_layers``.

        Args:
            entry: the nested model's entry.
            model_io: whether the ref comes from ``input_layers`` /
                ``output_layers`` rather than an inbound node.
        """
        if self.keras_major >= 3:
            return 1 if model_io and not entry.submodel.is_sequential else 0
        return 1

    def _renumber_nested_calls(self, model: _Model) -> None:
        """Rewrites node indices of refs to positions in the stored call lists.

        The writer's numbering rule is tried first and then the other one, so
        files from Keras versions with a different rule still read; a ref
        that fits neither raises.
        """
        inbound: list[tuple[str, list[_LocalRef], int]] = []
        for entry in model.entries:
            for call in entry.calls:
                inbound.extend((entry.name, call, i) for i in range(len(call)))
        model_io = [
            (f"outputs of model {model.name!r}", model.outputs, i)
            for i in range(len(model.outputs))
        ] + [
            (f"inputs of model {model.name!r}", model.inputs, i)
            for i in range(len(model.inputs))
        ]
        for is_io, refs_group in ((False, inbound), (True, model_io)):
            for entry in model.entries:
                if entry.submodel is None:
                    continue
                used = [item for item in refs_group if item[1][item[2]][0] == entry.name]
                if not used:
                    continue
                rule = self._nested_offset_rule(entry, model_io=is_io)
                for offset in (rule, 1 - rule):
                    if all(0 <= refs[i][1] - offset < len(entry.calls) for _, refs, i in used):
                        break
                else:
                    who, refs, i = max(used, key=lambda item: item[1][item[2]][1])
                    raise ConversionError(
                        f"{self.source}: {who!r} uses call {refs[i][1]} of nested model "
                        f"{entry.name!r} ({entry.class_name}), which has "
                        f"{len(entry.calls)} stored call(s)"
                    )
                for _, refs, i in used:
                    layer, node, tensor = refs[i]
                    refs[i] = (layer, node - offset, tensor)
        for _, refs, i in inbound + model_io:
            layer, _, tensor = refs[i]
            target = model.by_name.get(layer)
            if target is not None and target.class_name == INPUT_LAYER_CLASS:
                refs[i] = (layer, 0, tensor)  # Keras reads an InputLayer's node 0


def _assign_object_keys(entries: list[_Entry]) -> None:
    counts: dict[str, int] = {}
    for entry in entries:
        base = snake_case(entry.class_name)
        count = counts.get(base, 0)
        counts[base] = count + 1
        entry.object_key = base if count == 0 else f"{base}_{count}"


# --------------------------------------------------------------------------
# Flattening: expand nested-model instances, then resolve refs globally.

_Scope = tuple[tuple[str, int], ...]  # ((nested model name, call index), ...)


class _Flattener:
    """Expands a parsed model tree into one flat list of LayerSpecs."""

    def __init__(self, top: _Model, weights: WeightLookup, source: str, keras_major: int) -> None:
        self.top = top
        self.weights = weights
        self.source = source
        self.keras_major = keras_major
        self.specs: dict[str, LayerSpec] = {}
        self.owners: dict[str, _Entry] = {}
        self.order: list[LayerSpec] = []
        self.offsets: dict[tuple[_Scope, str], int] = {}
        self.pending: list[tuple[LayerSpec, int, _Scope, list[_LocalRef]]] = []
        self.models: dict[_Scope, _Model] = {(): top}

    def run(self) -> ModelSpec:
        self._expand(self.top, (), (), ())
        for spec, index, scope, call in self.pending:
            spec.inbound[index] = [self._resolve(scope, ref, spec.name, 0) for ref in call]
        inputs = [self._resolve((), ref, "model inputs", 0) for ref in self.top.inputs]
        outputs = [self._resolve((), ref, "model outputs", 0) for ref in self.top.outputs]
        return ModelSpec(
            layers=self.order,
            inputs=inputs,
            outputs=outputs,
            is_sequential=self.top.is_sequential,
            keras_major=self.keras_major,
            source=self.source,
        )

    def _expand(
        self, model: _Model, scope: _Scope, names: tuple[str, ...], keys: tuple[str, ...]
    ) -> None:
        for entry in model.entries:
            if entry.class_name == INPUT_LAYER_CLASS:
                if not scope:  # nested InputLayers are dropped
                    self._add_leaf(entry, scope, names, keys)
            elif entry.submodel is not None:
                for call_index in range(len(entry.calls)):
                    inner_scope = (*scope, (entry.name, call_index))
                    self.models[inner_scope] = entry.submodel
                    self._expand(
                        entry.submodel,
                        inner_scope,
                        (*names, entry.name),
                        (*keys, entry.object_key or ""),
                    )
            else:
                self._add_leaf(entry, scope, names, keys)

    def _add_leaf(
        self, entry: _Entry, scope: _Scope, names: tuple[str, ...], keys: tuple[str, ...]
    ) -> None:
        spec = self.specs.get(entry.name)
        if spec is None:
            config = normalise_layer_config(entry.class_name, entry.config, entry.name, self.source)
            weights = []
            if entry.class_name != INPUT_LAYER_CLASS:
                location = LayerLocation(
                    names=(*names, entry.name),
                    object_keys=(*keys, entry.object_key or ""),
                    class_name=entry.class_name,
                )
                weights = self._weights_for(entry, location)
            spec = LayerSpec(entry.name, entry.class_name, config, weights, [])
            self.specs[entry.name] = spec
            self.owners[entry.name] = entry
            self.order.append(spec)
        elif self.owners[entry.name] is not entry:
            raise ConversionError(
                f"{self.source}: two layers are named {entry.name!r} "
                f"({self.owners[entry.name].class_name} and {entry.class_name}) once "
                f"nested models are flattened; expected unique layer names (rename "
                f"one of them in Keras and save again)"
            )
        self.offsets[(scope, entry.name)] = len(spec.inbound)
        for call in entry.calls:
            self.pending.append((spec, len(spec.inbound), scope, call))
            spec.inbound.append([])

    def _weights_for(self, entry: _Entry, location: LayerLocation) -> list[np.ndarray]:
        arrays = self.weights(location)
        if arrays is None:
            raise ConversionError(
                f"{self.source}: no weights stored for layer {entry.name!r} "
                f"({entry.class_name}) at {location.describe()!r}; expected a "
                f"weights entry for every layer of the model"
            )
        arrays = [np.asarray(array, dtype=np.float32) for array in arrays]
        if not arrays and entry.class_name in WEIGHTED_CLASSES:
            raise ConversionError(
                f"{self.source}: layer {entry.name!r} ({entry.class_name}) has no "
                f"stored weights at {location.describe()!r}; expected its "
                f"{entry.class_name} weights"
            )
        return arrays

    def _resolve(self, scope: _Scope, ref: _LocalRef, referrer: str, depth: int) -> TensorRef:
        if depth > _MAX_RESOLVE_DEPTH:
            raise ConversionError(
                f"{self.source}: the inputs of layer {referrer!r} form a cycle "
                f"through nested models; expected an acyclic graph"
            )
        model = self.models[scope]
        layer, node, tensor = ref
        entry = model.by_name.get(layer)
        if entry is None:
            raise ConversionError(
                f"{self.source}: layer {referrer!r} takes input from layer "
                f"{layer!r}, which model {model.name!r} does not contain"
            )
        if entry.class_name == INPUT_LAYER_CLASS:
            if not scope:
                return TensorRef(layer, 0, tensor)
            return self._resolve_inner_input(scope, model, entry, referrer, depth)
        if entry.submodel is not None:
            sub = entry.submodel
            if not 0 <= node < len(entry.calls) or not 0 <= tensor < len(sub.outputs):
                raise ConversionError(
                    f"{self.source}: layer {referrer!r} takes output {tensor} of call "
                    f"{node} of nested model {layer!r}, which has {len(entry.calls)} "
                    f"call(s) and {len(sub.outputs)} output(s)"
                )
            return self._resolve(
                (*scope, (layer, node)), sub.outputs[tensor], referrer, depth + 1
            )
        if not 0 <= node < len(entry.calls):
            raise ConversionError(
                f"{self.source}: layer {referrer!r} takes input from call {node} of "
                f"layer {layer!r} ({entry.class_name}), which has {len(entry.calls)} "
                f"stored call(s)"
            )
        return TensorRef(layer, self.offsets[(scope, layer)] + node, tensor)

    def _resolve_inner_input(
        self, scope: _Scope, model: _Model, entry: _Entry, referrer: str, depth: int
    ) -> TensorRef:
        input_names = [name for name, _, _ in model.inputs]
        if entry.name not in input_names:
            raise ConversionError(
                f"{self.source}: layer {referrer!r} uses InputLayer {entry.name!r}, "
                f"which is not an input of nested model {model.name!r}"
            )
        parent_scope, (nested_name, call_index) = scope[:-1], scope[-1]
        nested_entry = self.models[parent_scope].by_name[nested_name]
        call = nested_entry.calls[call_index]
        if len(call) != len(model.inputs):
            raise ConversionError(
                f"{self.source}: nested model {nested_name!r} "
                f"({nested_entry.class_name}) is called with {len(call)} input(s) "
                f"but has {len(model.inputs)}"
            )
        outer_ref = call[input_names.index(entry.name)]
        return self._resolve(parent_scope, outer_ref, referrer, depth + 1)
