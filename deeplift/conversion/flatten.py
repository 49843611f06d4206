"""Flattening of a parsed model tree into one :class:`ModelSpec`.

Nested models (a Sequential or Functional used as a layer) are expanded into
the outer layer list once per call, their InputLayers dropped and every
reference rewired to the layer that really produces or consumes the tensor.
Each leaf layer's config is normalised and its weights looked up here.
"""
import numpy as np

from deeplift.conversion.config_parser import Entry, LocalRef, ParsedModel
from deeplift.conversion.errors import ConversionError
from deeplift.conversion.layer_config import (
    INPUT_LAYER_CLASS, OPS_CLASS_PREFIX, WEIGHTED_CLASSES, normalise_layer_config,
)
from deeplift.conversion.model_spec import (
    LayerLocation, LayerSpec, ModelSpec, TensorRef, WeightLookup,
)

# Guard against reference cycles through nested models in a malformed config
# (far deeper than any real nesting, well below Python's recursion limit).
_MAX_RESOLVE_DEPTH = 200

_Scope = tuple[tuple[str, int], ...]  # ((nested model name, call index), ...)


class Flattener:
    """Expands a parsed model tree into one flat list of LayerSpecs."""

    def __init__(
        self, top: ParsedModel, weights: WeightLookup, source: str, keras_major: int
    ) -> None:
        self.top = top
        self.weights = weights
        self.source = source
        self.keras_major = keras_major
        self.specs: dict[str, LayerSpec] = {}
        self.owners: dict[str, Entry] = {}
        self.order: list[LayerSpec] = []
        self.offsets: dict[tuple[_Scope, str], int] = {}
        self.pending: list[tuple[LayerSpec, int, _Scope, list[LocalRef]]] = []
        self.models: dict[_Scope, ParsedModel] = {(): top}

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
        self, model: ParsedModel, scope: _Scope, names: tuple[str, ...], keys: tuple[str, ...]
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
        self, entry: Entry, scope: _Scope, names: tuple[str, ...], keys: tuple[str, ...]
    ) -> None:
        spec = self.specs.get(entry.name)
        if spec is None:
            config = normalise_layer_config(entry.class_name, entry.config, entry.name, self.source)
            weights = []
            if entry.class_name != INPUT_LAYER_CLASS and not entry.class_name.startswith(
                    OPS_CLASS_PREFIX):
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

    def _weights_for(self, entry: Entry, location: LayerLocation) -> list[np.ndarray]:
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

    def _resolve(self, scope: _Scope, ref: LocalRef, referrer: str, depth: int) -> TensorRef:
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
        self, scope: _Scope, model: ParsedModel, entry: Entry, referrer: str, depth: int
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
