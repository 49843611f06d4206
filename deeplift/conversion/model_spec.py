"""The normalised model description every Keras reader returns (data types only).

See :mod:`deeplift.conversion.spec` for how a config becomes a
:class:`ModelSpec`.
"""
from dataclasses import dataclass
from typing import Protocol

import numpy as np


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
