"""Parsing of Keras model configs, one model level at a time.

Both inbound-node dialects are parsed by one function, in the manner of
Keras' own ``functional.deserialize_node``: Keras 2 lists
``[["inp", 0, 0, {}]]`` and Keras 3 dicts ``{"args": [...], "kwargs": {}}``
holding ``__keras_tensor__`` entries with a ``keras_history`` triple. The
result is a tree of :class:`ParsedModel` (one per model level, nested models
as sub-trees) whose tensor references are local to their level;
:mod:`deeplift.conversion.flatten` resolves them globally.
"""
from dataclasses import dataclass, field
from typing import Any

from deeplift.conversion.errors import ConversionError
from deeplift.conversion.layer_config import (
    BATCH_SHAPE_KEY, BUILD_INPUT_SHAPE_KEY, CALL_INPUTS_KEY, CLASS_NAME_KEY, CONFIG_KEY,
    DTYPE_KEY, INBOUND_NODES_KEY, INPUT_LAYERS_KEY, INPUT_LAYER_CLASS, LAYERS_KEY, MODULE_KEY,
    NAME_KEY, NODE_ARGS_KEY, NODE_KWARGS_KEY, OPS_CLASS_PREFIX, OPS_MODULE_PREFIXES,
    OUTPUT_LAYERS_KEY, TENSOR_KWARG_SIGNATURES, batch_shape_from_config, snake_case,
)
from deeplift.conversion.node_args import (
    LocalRef, collect_keras_tensors, collect_list_refs, named_call_tensors, with_op_arguments,
)


@dataclass(eq=False)
class Entry:
    """One entry of a model's layer list (a layer or a nested model)."""

    name: str
    class_name: str
    config: dict
    calls: list[list[LocalRef]]
    submodel: "ParsedModel | None" = None
    object_key: str | None = None


@dataclass(eq=False)
class ParsedModel:
    """One parsed model level; refs in ``calls``/``inputs``/``outputs`` are local."""

    name: str
    is_sequential: bool
    entries: list[Entry]
    inputs: list[LocalRef]
    outputs: list[LocalRef]
    by_name: dict[str, Entry] = field(default_factory=dict)


def _is_model_config(config: Any) -> bool:
    return isinstance(config, list) or (isinstance(config, dict) and LAYERS_KEY in config)


class ModelParser:
    """Parses model configs of either dialect into :class:`ParsedModel` trees."""

    def __init__(self, source: str, keras_major: int) -> None:
        self.source = source
        self.keras_major = keras_major

    def parse_model(self, model_entry: dict, *, top_level: bool) -> ParsedModel:
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

    def _entry(self, raw: Any, model_name: str) -> Entry:
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
        if self._is_ops_node(raw, class_name, config):
            class_name = OPS_CLASS_PREFIX + class_name
        entry = Entry(name=name, class_name=class_name, config=config, calls=[])
        if class_name != INPUT_LAYER_CLASS and _is_model_config(config):
            entry.submodel = self.parse_model(raw, top_level=False)
            if not isinstance(config, dict):
                entry.config = {}
        return entry

    def _is_ops_node(self, raw: dict, class_name: str, config: Any) -> bool:
        """Whether a layer-list entry is a Keras-ops node rather than a layer.

        ``.keras`` and live configs name the ops module. Keras 3's legacy
        ``.h5`` drops the module, but every Keras 3 layer config carries
        ``trainable`` and ``dtype`` (``Layer.get_config``) and no ops config
        does (``Operation.get_config``: the name plus the op's arguments).
        """
        module = raw.get(MODULE_KEY)
        if isinstance(module, str):
            return module.startswith(OPS_MODULE_PREFIXES)
        return (self.keras_major >= 3 and class_name != INPUT_LAYER_CLASS
                and isinstance(config, dict) and not _is_model_config(config)
                and "trainable" not in config and DTYPE_KEY not in config)

    def _parse_sequential(self, config: Any, *, top_level: bool) -> ParsedModel:
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
        model = ParsedModel(
            name=model_name,
            is_sequential=True,
            entries=[input_entry, *body],
            inputs=[(input_entry.name, 0, 0)],
            outputs=[(previous, 0, 0)],
        )
        self._index(model)
        return model

    def _synthesize_input(
        self, config: Any, entries: list[Entry], model_name: str, top_level: bool
    ) -> Entry:
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
        return Entry(
            name=name,
            class_name=INPUT_LAYER_CLASS,
            config={NAME_KEY: name, BATCH_SHAPE_KEY: batch_shape},
            calls=[],
        )

    def _parse_functional(self, config: dict) -> ParsedModel:
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
            if entry.class_name.startswith(OPS_CLASS_PREFIX) and nodes:
                entry.config = with_op_arguments(entry.config, nodes[0])
            entries.append(entry)
        _assign_object_keys(entries)
        model = ParsedModel(
            name=model_name,
            is_sequential=False,
            entries=entries,
            inputs=collect_list_refs(config.get(INPUT_LAYERS_KEY)),
            outputs=collect_list_refs(config.get(OUTPUT_LAYERS_KEY)),
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

    def _parse_node(self, node: Any, entry: Entry) -> list[LocalRef]:
        """Input tensors of one call, from either inbound-node dialect."""
        if entry.class_name in TENSOR_KWARG_SIGNATURES and isinstance(entry.config, dict):
            names, refs = named_call_tensors(node, TENSOR_KWARG_SIGNATURES[entry.class_name])
            call_kwargs = (node.get(NODE_KWARGS_KEY) if isinstance(node, dict)
                           else node[0][3] if isinstance(node, (list, tuple)) and node
                           and len(node[0]) > 3 else None) or {}
            if isinstance(call_kwargs, dict) and call_kwargs.get("use_causal_mask"):
                entry.config["use_causal_mask"] = True  # the converter refuses it
            if refs:
                entry.config.setdefault(CALL_INPUTS_KEY, []).append(names)
                return refs
        if isinstance(node, dict):  # Keras 3
            refs = collect_keras_tensors(node.get(NODE_ARGS_KEY, []))
            if not refs:  # called with keyword arguments only
                refs = collect_keras_tensors(list((node.get(NODE_KWARGS_KEY) or {}).values()))
        elif isinstance(node, (list, tuple)):  # Keras 2; kwargs tensors ignored
            refs = collect_list_refs(node)
        else:
            refs = []
        if not refs:
            raise ConversionError(
                f"{self.source}: layer {entry.name!r} ({entry.class_name}) has an "
                f"inbound node without input tensors: {str(node)[:200]}"
            )
        return refs

    def _index(self, model: ParsedModel) -> None:
        for entry in model.entries:
            if entry.name in model.by_name:
                raise ConversionError(
                    f"{self.source}: model {model.name!r} has two layers named "
                    f"{entry.name!r}; expected unique layer names"
                )
            model.by_name[entry.name] = entry

    def _nested_offset_rule(self, entry: Entry, *, model_io: bool) -> int:
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

    def _renumber_nested_calls(self, model: ParsedModel) -> None:
        """Rewrites node indices of refs to positions in the stored call lists.

        The writer's numbering rule is tried first and then the other one, so
        files from Keras versions with a different rule still read; a ref
        that fits neither raises.
        """
        inbound: list[tuple[str, list[LocalRef], int]] = []
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


def _assign_object_keys(entries: list[Entry]) -> None:
    counts: dict[str, int] = {}
    for entry in entries:
        if entry.class_name.startswith(OPS_CLASS_PREFIX):
            continue  # ops are not layers: Keras' object tree does not list them
        base = snake_case(entry.class_name)
        count = counts.get(base, 0)
        counts[base] = count + 1
        entry.object_key = base if count == 0 else f"{base}_{count}"
