"""The layer graph: ``Layer``, ``Input`` and the symbolic handles they expose.

A DeepLIFT model is a graph of ``Layer`` objects joined with ``set_inputs``.
Layers are small and pure: each knows its forward op, how it splits a
difference-from-reference into positive and negative parts, and how it sends
multipliers back to its inputs. Traversal lives in ``deeplift.graph``, the
nonlinear rules in ``deeplift.rules``, and the bases of linear and routing
layers (``LinearLayer``, ``RoutingLayer``) in ``deeplift.layers.linear``.

Tensor conventions used by every layer method:
  * activations have shape ``(N, ...)``; reference activations ``(N, ...)`` or
    ``(1, ...)`` when one reference serves every example (broadcasting does
    the rest);
  * multipliers carry a leading task axis, ``(T, N, ...)``, so that several
    target neurons are answered from one forward pass.

The ``get_*_vars``/``get_*_mxts`` methods of the original package return
lightweight ``SymbolicVar`` handles; ``deeplift.util.compile_func`` turns a
list of them into a callable backed by one ``tf.function``.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable

import tensorflow as tf

from deeplift.modes import ScoringMode
from deeplift.streams import map_streams, sign_split  # noqa: F401  (public here too)
from deeplift.rules import report_resolved_modes
from deeplift.traversal import ForwardPass, infer_shapes, topological_order

_name_counter = itertools.count()


@dataclass(frozen=True)
class SymbolicVar:
    """A named quantity of a layer, resolved when a function is compiled.

    Attributes:
        layer: the layer the quantity belongs to.
        kind: one of ``KINDS``.
    """

    layer: "Layer"
    kind: str

    KINDS = (
        "activation",
        "reference",
        "diff_from_reference",
        "pos_mxts",
        "neg_mxts",
        "mxts",
        "target_contribs",
        "pos_contribs",
        "neg_contribs",
    )

    def __post_init__(self):
        if self.kind not in self.KINDS:
            raise ValueError(
                f"Unknown symbolic quantity kind={self.kind!r}. "
                f"Expected one of {list(self.KINDS)}."
            )

    @property
    def needs_backward(self) -> bool:
        return self.kind in ("pos_mxts", "neg_mxts", "mxts", "target_contribs")

    def __hash__(self):
        return hash((id(self.layer), self.kind))

    def __eq__(self, other):
        return (
            isinstance(other, SymbolicVar)
            and other.layer is self.layer
            and other.kind == self.kind
        )


class Layer:
    """Base class of every DeepLIFT layer.

    Args:
        name: the layer's name (auto-generated when omitted).
        verbose: kept for compatibility with the original constructors.

    Subclasses set ``takes_list_input`` (``Concat``/``Add`` take a list of
    layers, every other layer a single one) and implement ``forward``,
    ``forward_parts`` and ``backward``. A layer whose parts may not add up
    to its difference from reference (Softmax under the element-wise rules)
    sets ``parts_sum_to_difference = False``, so that its contributions are
    built from the parts rather than from ``m * (y - y0)``.

    Two class attributes tell ``DeepLIFT_GenomicsDefault`` (see
    ``deeplift.rules.resolve_genomics_default``) what a nonlinearity right
    after this layer uses: ``genomics_default_mode`` (Rescale after a
    convolution, RevealCancel after a Dense layer, ``None``: undefined) and
    ``genomics_default_transparent`` (BatchNormalization and NoOp are looked
    through).
    """

    takes_list_input = False
    parts_sum_to_difference = True
    is_input = False
    genomics_default_mode = None
    genomics_default_transparent = False

    def __init__(self, name: str | None = None, verbose: bool = True):
        if name is None:
            name = f"{type(self).__name__.lower()}_{next(_name_counter)}"
        self.name = str(name)
        self.verbose = verbose
        self.inputs: "Layer | list[Layer] | None" = None
        self._consumers: list[Layer] = []
        self._scoring_mode: ScoringMode | None = None
        self._active = False
        self._task_index = 0
        self._shape: tuple | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    # ----- graph wiring -------------------------------------------------
    def set_inputs(self, inputs: "Layer | list[Layer]") -> "Layer":
        """Connects this layer to its input layer(s); returns ``self``.

        Raises:
            TypeError: ``inputs`` is not a layer (or a non-empty list of
                layers for layers that take a list).
        """
        if self.takes_list_input:
            if not isinstance(inputs, (list, tuple)) or not inputs:
                raise TypeError(
                    f"Layer {self.name!r} ({type(self).__name__}) takes a "
                    f"non-empty list of layers as inputs; got {inputs!r}."
                )
            inputs = list(inputs)
            bad = [x for x in inputs if not isinstance(x, Layer)]
        else:
            bad = [] if isinstance(inputs, Layer) else [inputs]
        if bad:
            raise TypeError(
                f"Layer {self.name!r} ({type(self).__name__}) expects "
                f"deeplift layers as inputs; got {bad[0]!r}."
            )
        for previous in self.input_layers():
            previous._consumers = [c for c in previous._consumers if c is not self]
        self.inputs = inputs
        for layer in self.input_layers():
            layer._consumers.append(self)
        return self

    def __call__(self, inputs):
        return self.set_inputs(inputs)

    def get_inputs(self):
        return self.inputs

    def input_layers(self) -> list["Layer"]:
        """The input layers as a list (empty for ``Input``)."""
        if self.inputs is None:
            return []
        return list(self.inputs) if self.takes_list_input else [self.inputs]

    def get_output_layers(self) -> list["Layer"]:
        return list(self._consumers)

    def get_name(self) -> str:
        return self.name

    def get_shape(self) -> tuple:
        """Static shape of the activation, batch axis ``None``."""
        if self._shape is None:
            infer_shapes([self])
        return self._shape

    def build_fwd_pass_vars(self, output_layer: "Layer | None" = None) -> None:
        """Checks the graph upstream of this layer and infers its shapes.

        Kept for the original low-level API; graphs are traced lazily, so this
        validates wiring, fills in ``get_shape()`` and, as the original did,
        resolves DeepLIFT_GenomicsDefault on every nonlinearity upstream (their
        ``nonlinear_mxts_mode`` then reports Rescale or RevealCancel).

        Raises:
            deeplift.rules.ModeResolutionError: (a RuntimeError and a
                ValueError) a DeepLIFT_GenomicsDefault nonlinearity has no
                convolution or Dense layer before it.
        """
        infer_shapes([self])
        report_resolved_modes(topological_order([self]), strict=True)

    def reset_mxts_updated(self) -> None:
        """Compatibility no-op: multipliers are recomputed on every call."""

    def update_mxts(self) -> None:
        """Compatibility no-op: backward passes are built when compiling."""

    # ----- targets (low-level API) ----------------------------------------
    def not_a_target_reason(self) -> str | None:
        """Why this layer cannot be a scoring target, or ``None`` if it can."""
        return None

    def set_scoring_mode(self, scoring_mode) -> None:
        """Marks this layer as a possible target of ``compile_func`` functions.

        Any layer can be a target here, activation layers included, as in the
        original low-level API; the model-level scoring functions refuse
        activation targets (score the pre-activation layer instead).
        """
        self._scoring_mode = ScoringMode.parse(scoring_mode, "scoring_mode")

    def set_active(self) -> None:
        """Makes this target seed the backward pass of compiled functions."""
        self._require_scoring_mode("set_active")
        self._active = True

    def set_inactive(self) -> None:
        """Stops seeding: compiled functions then return zero multipliers."""
        self._active = False

    def update_task_index(self, task_index: int | tuple) -> None:
        """Selects the target neuron read at call time: a flat index, or a
        tuple with one index per axis of this layer's per-example shape."""
        self._require_scoring_mode("update_task_index")
        self._task_index = (tuple(int(i) for i in task_index) if isinstance(task_index, tuple)
                            else int(task_index))

    def _require_scoring_mode(self, what: str) -> None:
        if self._scoring_mode is None:
            raise RuntimeError(
                f"Call set_scoring_mode(ScoringMode.OneAndZeros) on layer "
                f"{self.name!r} before {what}()."
            )

    # ----- symbolic handles -----------------------------------------------
    def get_activation_vars(self) -> SymbolicVar:
        return SymbolicVar(self, "activation")

    def get_reference_vars(self) -> SymbolicVar:
        return SymbolicVar(self, "reference")

    def get_diff_from_reference_vars(self) -> SymbolicVar:
        return SymbolicVar(self, "diff_from_reference")

    def get_pos_mxts(self) -> SymbolicVar:
        return SymbolicVar(self, "pos_mxts")

    def get_neg_mxts(self) -> SymbolicVar:
        return SymbolicVar(self, "neg_mxts")

    def get_mxts(self) -> SymbolicVar:
        """Multipliers ``(m+ + m-) / 2`` (equal to either when no
        RevealCancel layer is downstream)."""
        return SymbolicVar(self, "mxts")

    def get_pos_and_neg_contribs(self) -> tuple[SymbolicVar, SymbolicVar]:
        """The positive and negative contribution parts ``(dx+, dx-)`` of this
        layer's difference from reference (they sum to it), as symbolic
        handles for ``compile_func`` (which then needs the references)."""
        return SymbolicVar(self, "pos_contribs"), SymbolicVar(self, "neg_contribs")

    def get_target_contrib_vars(self) -> SymbolicVar:
        """Contributions ``m+ * dx+ + m- * dx-`` to the active target."""
        return SymbolicVar(self, "target_contribs")

    # ----- numerics: implemented by subclasses ----------------------------
    def forward(self, inputs: list[tf.Tensor]) -> tf.Tensor:
        """The layer's op on its inputs' activations (a list, one per input)."""
        raise NotImplementedError

    def forward_folded(self, value_of: Callable) -> tf.Tensor | None:
        """The layer's output computed from further up the graph than its
        inputs (``value_of(layer)`` gives any computed ancestor's value in
        the same stream), when that is cheaper; None (the default) to apply
        ``forward`` to the inputs."""
        return None

    def forward_parts(self, fp: "ForwardPass") -> tuple[tf.Tensor, tf.Tensor]:
        """Positive and negative parts of this layer's difference from
        reference; they sum to ``fp.diff(self)``."""
        raise NotImplementedError

    def takes_differences(self, fp: "ForwardPass") -> bool:
        """Whether ``forward_diff`` gives this layer's difference from
        reference from its inputs' differences alone (linear maps;
        RevealCancel nonlinearities through their parts). Used by forward
        passes in difference space; others compute ``act - ref``."""
        return False

    def reads_input_parts(self, fp: "ForwardPass") -> bool:
        """Whether ``forward_parts`` reads the inputs' parts (most layers);
        linear maps read only the inputs' differences."""
        return True

    def computes_own_parts(self, fp: "ForwardPass") -> bool:
        """Whether a pass computes this layer's parts even when nothing
        downstream asks for them (RevealCancel takes its difference from
        them in difference space)."""
        return False

    def forward_diff(self, fp: "ForwardPass") -> tf.Tensor:
        """``y - y0`` from ``fp.diff`` of the inputs, ``(N, ...)`` (only
        called when ``takes_differences``)."""
        raise NotImplementedError(f"{type(self).__name__} does not compute differences.")

    def backward(
        self, fp: "ForwardPass", pos: tf.Tensor, neg: tf.Tensor
    ) -> list[tuple[tf.Tensor, tf.Tensor]]:
        """Multiplier increments ``(pos, neg)`` for each input layer.

        ``pos is neg`` signals the single-stream fast path (no RevealCancel
        layer downstream); implementations keep returning one shared tensor
        in that case so that the fast path survives.
        """
        raise NotImplementedError


class Input(Layer):
    """An input of the network.

    Args:
        batch_shape: shape including the batch axis, e.g. ``(None, 1000, 4)``.
        name, verbose: see ``Layer``.
    """

    is_input = True

    def __init__(self, batch_shape, **kwargs):
        super().__init__(**kwargs)
        try:
            batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        except TypeError:
            raise TypeError(
                f"Input {self.name!r}: batch_shape must be a sequence such as "
                f"(None, 1000, 4); got {batch_shape!r}."
            ) from None
        if len(batch_shape) < 2:
            raise ValueError(
                f"Input {self.name!r}: batch_shape must include the batch axis "
                f"and at least one more, e.g. (None, 10); got {batch_shape!r}."
            )
        self._batch_shape = (None,) + batch_shape[1:]
        self._shape = self._batch_shape

    def set_inputs(self, inputs):
        raise TypeError(f"Input layer {self.name!r} takes no inputs.")

    def get_batch_shape(self) -> tuple:
        return self._batch_shape

    def forward(self, inputs):
        raise RuntimeError("Input layers are fed, not computed.")

    def forward_parts(self, fp):
        return sign_split(fp.diff(self))

    def backward(self, fp, pos, neg):
        return []


def check_can_be_target(layer: "Layer") -> None:
    """Targets must be linear outputs, not activations (paper, section 3.6).

    Raises:
        ValueError: ``layer`` cannot be a target (``not_a_target_reason``).
    """
    reason = layer.not_a_target_reason()
    if reason is not None:
        raise ValueError(reason)
