"""ModelSpec -> linked DeepLIFT layers, named as the original package named them.

* Sequential models give a ``SequentialModel``: index 0 is the ``Input``
  (named ``"input"``); the Keras layer at position ``i`` (from 0, after any
  leading InputLayer, nested models flattened in place) is named ``"i"``; a
  fused non-linear activation splits into ``"preact_i"`` and ``"i"``.
* Functional models give a ``GraphModel`` with one DeepLIFT layer (chain)
  per Keras node, named ``"<keras name>_<node index>"``, fused activations
  split into ``"preact_<name>_<node>"`` and ``"<name>_<node>"``.

The builder ignores which file format the spec came from.
"""
from __future__ import annotations

from typing import Callable

from deeplift import layers as dl
from deeplift.conversion import layer_converters
from deeplift.conversion import fallback
from deeplift.conversion.errors import ConversionError
from deeplift.conversion.spec import (
    CALL_INPUTS_KEY, INPUT_LAYER_CLASS, LayerSpec, ModelSpec, TensorRef,
)
from deeplift.conversion.subgraph import INPUT_SHAPES_KEY, NEEDS_INPUT_SHAPES, Subgraph
from deeplift.conversion.support import check_supported
from deeplift.models import GraphModel, SequentialModel

MODE_ARGUMENTS = ("nonlinear_mxts_mode", "dense_mxts_mode", "conv_mxts_mode",
                  "maxpool_deeplift_mode")


class _Builder:
    def __init__(self, spec: ModelSpec, modes: dict, verbose: bool, layer_overrides: dict,
                 custom_conversion_funcs: dict):
        self.spec = spec
        self.modes = modes
        self.verbose = verbose
        self.layer_overrides = layer_overrides
        self.converters = {**layer_converters.CONVERTERS, **custom_conversion_funcs}
        self.by_name = {layer.name: layer for layer in spec.layers}
        self.fallback_classes: set[str] = set()

    def convert_layer(self, layer: LayerSpec, name: str, position: int | None,
                      node: int = 0, inputs: list[dl.Layer] = ()) -> list[dl.Layer]:
        modes = dict(self.modes)
        for key in (layer.name, position):
            if key is not None and key in self.layer_overrides:
                overrides = self.layer_overrides[key]
                unknown = sorted(set(overrides) - set(MODE_ARGUMENTS))
                if unknown:
                    raise ConversionError(
                        f"layer_overrides[{key!r}] has unknown keys {unknown}; expected "
                        f"some of {list(MODE_ARGUMENTS)}.")
                modes.update(overrides)
        config = dict(layer.config)
        config[layer_converters.KERAS_WEIGHTS_KEY] = layer.weights
        config[layer_converters.KERAS_MAJOR_KEY] = self.spec.keras_major
        config[layer_converters.NUM_INPUTS_KEY] = len(inputs)
        config.setdefault("name", layer.name)
        if layer.class_name in self.fallback_classes:
            config["_fallback_class"] = layer.class_name
        if layer.class_name in NEEDS_INPUT_SHAPES or layer.class_name in self.fallback_classes:
            config[INPUT_SHAPES_KEY] = [tuple(x.get_shape()) for x in inputs]
        if CALL_INPUTS_KEY in config:  # input names of this call only
            calls = config[CALL_INPUTS_KEY]
            config[CALL_INPUTS_KEY] = list(calls[node]) if node < len(calls) else []
        try:
            converted = self.converters[layer.class_name](
                config=config, name=name, verbose=self.verbose, **modes)
        except ConversionError as err:
            raise ConversionError(f"{self.spec.source}: {err}") from None
        except (ValueError, TypeError, KeyError, IndexError) as err:
            raise ConversionError(
                f"{self.spec.source}: converting layer {layer.name!r} "
                f"({layer.class_name}) failed: {err}") from err
        if not converted or not all(isinstance(l, dl.Layer) for l in converted):
            raise ConversionError(
                f"{self.spec.source}: the converter for layer {layer.name!r} "
                f"({layer.class_name}) must return a non-empty list of deeplift layers; "
                f"got {converted!r}.")
        if isinstance(converted, Subgraph):
            return converted
        for previous, current in zip(converted[:-1], converted[1:]):
            if current.inputs is None:  # layers the converter wired itself stay so
                current.set_inputs(previous)
        return converted

    def input_layer(self, layer: LayerSpec, name: str) -> dl.Input:
        return dl.Input(batch_shape=layer.config["batch_shape"], name=name, verbose=self.verbose)

    def build_sequential(self) -> SequentialModel:
        layers = self.spec.layers
        first, rest = layers[0], layers[1:]
        if first.class_name != INPUT_LAYER_CLASS:
            raise ConversionError(f"{self.spec.source}: a Sequential model must start "
                                  f"with its input shape.")
        chain: list[dl.Layer] = [self.input_layer(first, "input")]
        for position, layer in enumerate(rest):
            converted = self.convert_layer(layer, str(position), position, 0, [chain[-1]])
            _connect(converted, [chain[-1]], layer)
            chain.extend(converted)
        return SequentialModel(chain, output_name=rest[-1].name if rest else None)

    def build_functional(self) -> GraphModel:
        name_to_layer: dict[str, dl.Layer] = {}
        outputs_of: dict[tuple[str, int], dl.Layer] = {}
        pending = [(layer, node) for layer in self.spec.layers
                   for node in range(max(1, len(layer.inbound)))]
        visiting: set = set()

        def produce(ref: TensorRef, referrer: str) -> dl.Layer:
            key = (ref.layer, ref.node_index)
            if key not in outputs_of:
                build_node(self.by_name[ref.layer], ref.node_index)
            if ref.tensor_index >= len(outputs_of[key]):
                raise ConversionError(
                    f"{self.spec.source}: layer {referrer!r} uses output {ref.tensor_index} of "
                    f"layer {ref.layer!r}, which gives {len(outputs_of[key])} output(s).")
            return outputs_of[key][ref.tensor_index]

        def build_node(layer: LayerSpec, node: int) -> None:
            key = (layer.name, node)
            if key in outputs_of:
                return
            if key in visiting:
                raise ConversionError(f"{self.spec.source}: cycle through layer {layer.name!r}.")
            visiting.add(key)
            name = f"{layer.name}_{node}"
            if layer.class_name == INPUT_LAYER_CLASS:
                converted = [self.input_layer(layer, name)]
            else:
                inputs = [produce(ref, layer.name) for ref in layer.inbound[node]]
                converted = self.convert_layer(layer, name, None, node, inputs)
                _connect(converted, inputs, layer)
            for deeplift_layer in converted:
                name_to_layer[deeplift_layer.name] = deeplift_layer
            outputs_of[key] = (converted.outputs if isinstance(converted, Subgraph)
                               else [converted[-1]])
            visiting.discard(key)

        for layer, node in pending:
            build_node(layer, node)
        input_names = [f"{ref.layer}_0" for ref in self.spec.inputs]
        # Outputs keyed by Keras layer name (plus the node when a layer
        # gives several outputs).
        repeated = {ref.layer for ref in self.spec.outputs
                    if sum(r.layer == ref.layer for r in self.spec.outputs) > 1}
        outputs = {(f"{ref.layer}_{ref.node_index}" if ref.layer in repeated else ref.layer):
                   produce(ref, "the model outputs").name for ref in self.spec.outputs}
        return GraphModel(name_to_layer, input_names, outputs)


def _connect(converted: list[dl.Layer], inputs: list[dl.Layer], layer: LayerSpec) -> None:
    """Feeds the Keras layer's input tensors to its converted layers."""
    if isinstance(converted, Subgraph):
        if len(inputs) != len(converted.entries):
            raise ConversionError(
                f"layer {layer.name!r} ({layer.class_name}) was converted for "
                f"{len(converted.entries)} input(s); the model gives it {len(inputs)}.")
        for entry, tensor in zip(converted.entries, inputs):
            entry.set_inputs(tensor)
        return
    head = converted[0]
    head.set_inputs(inputs if head.takes_list_input else _single(inputs, layer))


def _single(inputs: list, layer: LayerSpec):
    if len(inputs) != 1:
        raise ConversionError(f"layer {layer.name!r} ({layer.class_name}) takes one input; "
                              f"the model gives it {len(inputs)}.")
    return inputs[0]


def build_model(spec: ModelSpec, *, nonlinear_mxts_mode, dense_mxts_mode, conv_mxts_mode,
                maxpool_deeplift_mode, verbose: bool = True, layer_overrides: dict | None = None,
                custom_conversion_funcs: dict[str, Callable] | None = None,
                fallback_steps: int | None = None, live_model=None):
    """Builds the DeepLIFT model of ``spec``: a ``SequentialModel`` for
    Sequential Keras models, a ``GraphModel`` otherwise.

    Raises:
        ConversionError: unsupported layers (all listed in one message),
            unsupported options, or a converter failure, naming the file.
    """
    custom_conversion_funcs = dict(custom_conversion_funcs or {})
    fallbacks = {}
    if fallback_steps is not None:
        fallbacks = fallback.converters_for(spec, fallback_steps, custom_conversion_funcs,
                                            live_model)
        custom_conversion_funcs.update(fallbacks)
    check_supported(spec, custom_conversion_funcs)
    modes = dict(nonlinear_mxts_mode=nonlinear_mxts_mode, dense_mxts_mode=dense_mxts_mode,
                 conv_mxts_mode=conv_mxts_mode, maxpool_deeplift_mode=maxpool_deeplift_mode)
    builder = _Builder(spec, modes, verbose, dict(layer_overrides or {}), custom_conversion_funcs)
    builder.fallback_classes = set(fallbacks)
    return builder.build_sequential() if spec.is_sequential else builder.build_functional()
