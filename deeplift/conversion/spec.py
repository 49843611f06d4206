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

The work is split by concern: :mod:`~deeplift.conversion.layer_config` (config
keys, per-layer normalisation, dialect detection),
:mod:`~deeplift.conversion.config_parser` (one model level at a time, both
inbound-node dialects), :mod:`~deeplift.conversion.flatten` (nested models,
global references, weights) and :mod:`~deeplift.conversion.model_spec` (the
data types). Every public name stays importable from here.
"""
from deeplift.conversion.config_parser import ModelParser
from deeplift.conversion.errors import ConversionError
from deeplift.conversion.flatten import Flattener
from deeplift.conversion.layer_config import (  # noqa: F401  (public names of this module)
    ACTIVATION_KEY, AXIS_KEY, BATCH_INPUT_SHAPE_KEY, BATCH_NORM_CLASSES, BATCH_SHAPE_KEY,
    BUILD_INPUT_SHAPE_KEY, CALL_INPUTS_KEY, CLASS_NAME_KEY, CONFIG_KEY, DEFAULT_ACTIVATION,
    DTYPE_KEY,
    INBOUND_NODES_KEY, INPUT_DIM_KEY, INPUT_LAYER_CLASS, INPUT_LAYERS_KEY, INPUT_SHAPE_KEY,
    KERAS_HISTORY_KEY, KERAS_TENSOR_CLASS, LAYERS_KEY, NAME_KEY, NODE_ARGS_KEY,
    NODE_KWARGS_KEY, OUTPUT_LAYERS_KEY, SHAPE_KEY, TENSOR_KWARG_SIGNATURES, WEIGHTED_CLASSES,
    activation_name,
    batch_shape_from_config, infer_keras_major, normalise_layer_config, snake_case,
)
from deeplift.conversion.model_spec import (  # noqa: F401
    LayerLocation, LayerSpec, ModelSpec, TensorRef, WeightLookup,
)


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
    parser = ModelParser(source, keras_major)
    top = parser.parse_model(model_config, top_level=True)
    return Flattener(top, weights, source, keras_major).run()
