"""The layer graph: ``Layer``, ``Input`` and the symbolic handles they expose.

A DeepLIFT model is a graph of ``Layer`` objects joined with ``set_inputs``.
Layers are small and pure: each knows its forward op, how it splits a
difference-from-reference into positive and negative parts, and how it sends
multipliers back to its inputs. Traversal lives in ``deeplift.graph`` and the
nonlinear rules in ``deeplift.rules``.

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

import tensorflow as tf

from deeplift import kernels
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

    def forward_parts(self, fp: "ForwardPass") -> tuple[tf.Tensor, tf.Tensor]:
        """Positive and negative parts of this layer's difference from
        reference; they sum to ``fp.diff(self)``."""
        raise NotImplementedError

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


def linear_vjp(fn, input_templates: list[tf.Tensor], mxts: tf.Tensor) -> list[tf.Tensor]:
    """Transposed linear map: ``J^T m`` for a linear ``fn`` of several inputs.

    Args:
        fn: a linear (bias-free) function of a list of tensors.
        input_templates: tensors whose ``shape[1:]`` is each input's
            per-example shape; their values and batch size are irrelevant
            because ``fn`` is linear and the batch comes from ``mxts``.
        mxts: multipliers on ``fn``'s output, shape ``(T, N, ...)``.

    Returns:
        One tensor per input, shape ``(T, N, ...)``.

    Autodiff produces the exact transposed ops (e.g. ``MatMul`` with the
    transposed kernel). The forward op on zeros is pruned from the graph
    unless some gradient reads the shape of its output: the squeeze around a
    1-d convolution does, which is why convolutions override
    ``LinearLayer.transpose`` with their own transposed op.
    """
    num_tasks = tf.shape(mxts)[0]
    flat_mxts = tf.reshape(mxts, tf.concat([[-1], tf.shape(mxts)[2:]], 0))
    batch = tf.shape(flat_mxts)[0]
    zeros = [
        tf.zeros(tf.concat([[batch], tf.shape(t)[1:]], 0), dtype=mxts.dtype)
        for t in input_templates
    ]
    with tf.GradientTape() as tape:
        for z in zeros:
            tape.watch(z)
        out = fn(zeros)
    grads = tape.gradient(out, zeros, output_gradients=flat_mxts,
                          unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return [
        tf.reshape(g, tf.concat([[num_tasks, -1], tf.shape(g)[1:]], 0))
        for g in grads
    ]


def static_tail(tensor: tf.Tensor) -> list[int] | None:
    """``tensor.shape[1:]`` as Python ints, or None when one is unknown.

    Transposes built from static sizes add a handful of ops to the graph
    where ``tf.shape`` arithmetic adds dozens; that matters for unrolled
    recurrent layers, whose thousands of small layers are traced one by one.
    """
    tail = tensor.shape[1:]
    return tail.as_list() if tail.is_fully_defined() else None


def leading_dims(tensor: tf.Tensor, count: int) -> tf.Tensor:
    """The first ``count`` entries of ``tf.shape(tensor)`` (int32 ``(count,)``)."""
    return tf.slice(tf.shape(tensor), [0], [count])


def as_float32_constant(value, what: str, layer_name: str) -> tf.Tensor:
    """Converts user weights to an eager float32 tensor, naming the layer on
    failure. Eager tensors are captured (not copied) by ``tf.function``."""
    try:
        tensor = tf.constant(value, dtype=tf.float32)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"Layer {layer_name!r}: {what} must be a numeric array; {err}"
        ) from None
    if not bool(tf.reduce_all(tf.math.is_finite(tensor))):
        raise ValueError(f"Layer {layer_name!r}: {what} contains NaN or inf values.")
    return tensor


class LinearLayer(Layer):
    """Base of layers computing ``y = W(x) + b`` (Dense, convolutions).

    Subclasses implement ``linear(x, kernel)``, the bias-free map. The
    contribution parts follow the original package: they are built from the
    sign of the *input's* difference from reference, ``dy+ = W+ dx+ + W- dx-``,
    computed here as ``(W dx + |W| |dx|) / 2`` (two linear maps instead of
    four). Both maps run on ``dx`` itself, not on ``y - y0``: when every term
    of a part has the same sign, ``W dx`` and ``|W| |dx|`` add the same
    magnitudes in the same order, so a part that should be exactly zero is
    exactly zero rather than rounding noise of the bias and the cancellation
    in ``y - y0``, noise RevealCancel would divide by.
    Backward, each input element takes ``W+^T m+ + W-^T m-`` when its
    ``dx > 0``, ``W-^T m+ + W+^T m-`` when ``dx < 0`` and ``W^T (m+ + m-) / 2``
    at zero, i.e. ``(W^T (m+ + m-) + sign(dx) |W|^T (m+ - m-)) / 2``; with a
    single stream this is the plain transpose ``W^T m``.
    """

    def __init__(self, kernel, bias=None, **kwargs):
        super().__init__(**kwargs)
        self.kernel = as_float32_constant(kernel, "kernel", self.name)
        units = self.output_units(self.kernel.shape)
        if bias is None:
            bias = tf.zeros([units])
        self.bias = as_float32_constant(bias, "bias", self.name)
        if self.bias.shape.rank != 1 or self.bias.shape[0] != units:
            raise ValueError(
                f"Layer {self.name!r}: bias must have shape ({units},) to match "
                f"the kernel of shape {tuple(self.kernel.shape)}; got "
                f"{tuple(self.bias.shape)}."
            )
        self._abs_kernel = tf.abs(self.kernel)

    @staticmethod
    def output_units(kernel_shape) -> int:
        """Number of output channels (the bias size) for a kernel shape:
        its last axis, unless a subclass lays its kernel out differently."""
        return int(kernel_shape[-1])

    def linear(self, x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
        raise NotImplementedError

    def add_bias(self, y: tf.Tensor) -> tf.Tensor:
        return y + self.bias

    def forward(self, inputs):
        return self.add_bias(self.linear(inputs[0], self.kernel))

    def forward_parts(self, fp):
        input_diff = fp.diff(self.inputs)
        net = self.linear(input_diff, self.kernel)
        spread = self.linear(tf.abs(input_diff), self._abs_kernel)
        return kernels.split_by_spread(net, spread)

    def transpose(self, mxts: tf.Tensor, kernel: tf.Tensor, template: tf.Tensor) -> tf.Tensor:
        """``kernel^T m``: multipliers ``(T, N, *out)`` on this layer's output
        to ``(T, N, *in)`` on its input; ``template`` is ``(B, *in)`` (only
        its ``shape[1:]`` is read).
        Subclasses with a dedicated transposed op override this."""
        (out,) = linear_vjp(lambda z: self.linear(z[0], kernel), [template], mxts)
        return out

    def backward(self, fp, pos, neg):
        template = fp.shape_template(self.inputs)
        if pos is neg:
            mxts = self.transpose(pos, self.kernel, template)
            return [(mxts, mxts)]
        total, difference = kernels.sum_and_difference(pos, neg)
        total = self.transpose(total, self.kernel, template)
        spread = self.transpose(difference, self._abs_kernel, template)
        mxts = kernels.combine_by_sign(total, spread, fp.diff(self.inputs))
        return [(mxts, mxts)]


class RoutingLayer(Layer):
    """Base of bias-free linear layers with non-negative weights: reshapes,
    padding, cropping, concatenation, addition, average pooling, no-ops.

    The same map is applied to the positive and the negative parts, and its
    transpose to each multiplier stream.
    """

    def forward_parts(self, fp):
        parts = [fp.parts(layer) for layer in self.input_layers()]
        return (
            self.forward([pos for pos, _ in parts]),
            self.forward([neg for _, neg in parts]),
        )

    def backward(self, fp, pos, neg):
        templates = [fp.shape_template(layer) for layer in self.input_layers()]
        pos_in = linear_vjp(self.forward, templates, pos)
        neg_in = pos_in if pos is neg else linear_vjp(self.forward, templates, neg)
        return list(zip(pos_in, neg_in))
