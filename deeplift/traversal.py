"""Traversal of the layer graph: one topological sort, a lazily evaluated
forward pass, and one reversed loop that accumulates multipliers.

Everything here runs while a ``tf.function`` traces; nothing is stored on the
layers, so compiled functions carry no hidden state. The module knows layers
only through the ``Layer`` interface (``input_layers``, ``forward``,
``forward_parts``, ``backward``, ``is_input``), so ``deeplift.layers`` can use
it without an import cycle; ``deeplift.graph`` re-exports it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable

import tensorflow as tf

from deeplift.modes import NonlinearMxtsMode
from deeplift.rules import effective_mode

if TYPE_CHECKING:
    from deeplift.layers.base import Input, Layer

Mxts = tuple[tf.Tensor, tf.Tensor]


def topological_order(outputs: Iterable[Layer], skip=()) -> list[Layer]:
    """``outputs`` and all their ancestors, every layer after its inputs.

    Args:
        outputs: the layers to sort with their ancestors.
        skip: ids of layers to leave out together with the ancestors
            reachable only through them (``ForwardPass`` passes the layers it
            has computed, so evaluating every layer of a graph one by one
            walks each layer about once instead of once per descendant: that
            quadratic walk showed in unrolled recurrent graphs).

    Raises:
        ValueError: a non-input layer has no inputs, or the graph has a cycle.
    """
    order: list[Layer] = []
    state: dict[int, str] = {}
    for root in outputs:
        stack = [(root, False)]
        while stack:
            layer, expanded = stack.pop()
            key = id(layer)
            if expanded:
                state[key] = "done"
                order.append(layer)
                continue
            if state.get(key) == "done" or key in skip:
                continue
            if state.get(key) == "open":
                raise ValueError(f"The layer graph has a cycle through {layer.name!r}.")
            if not layer.is_input and layer.inputs is None:
                raise ValueError(
                    f"Layer {layer.name!r} ({type(layer).__name__}) has no inputs; "
                    f"call set_inputs() on it first."
                )
            state[key] = "open"
            stack.append((layer, True))
            for parent in reversed(layer.input_layers()):
                if state.get(id(parent)) != "done" and id(parent) not in skip:
                    stack.append((parent, False))
    return order


def descendants(layers: Iterable[Layer]) -> list[Layer]:
    """``layers`` and every layer downstream of them (via set_inputs links)."""
    seen: dict[int, Layer] = {}
    stack = list(layers)
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen[id(layer)] = layer
        stack.extend(layer.get_output_layers())
    return list(seen.values())


def input_layers_of(layers: Iterable[Layer]) -> list[Input]:
    """The ``Input`` layers upstream of ``layers``, in topological order."""
    return [layer for layer in topological_order(layers) if layer.is_input]


class ForwardPass:
    """Activations, references, differences and contribution parts of the
    layers of one graph, computed on demand and cached.

    Args:
        feeds: for each ``Input``, a pair (activations ``(N, ...)``,
            references ``(N, ...)`` or ``(1, ...)``).
        modes: the resolved ``NonlinearMxtsMode`` of each activation layer,
            keyed by ``id(layer)``.
        act_rows: optional int32 ``(N,)``. When given, the fed activations
            are ``(M, ...)`` distinct examples and example ``i`` of the batch
            is row ``act_rows[i]`` of them: the activation stream is computed
            once per distinct example (e.g. a sequence scored against many
            references) and gathered to ``(N, ...)`` per layer on demand.
        difference_space: compute differences from reference from the
            inputs' differences wherever a layer can (``takes_differences``:
            linear and routing layers, RevealCancel nonlinearities through
            their parts), and such a layer's activations, when anything asks
            for them, as ``ref + diff``. A two-stream (RevealCancel) pass
            needs every linear layer's ``W dx`` for its parts anyway; taking
            the difference from it spares one full-batch convolution or
            matrix product per linear layer (the activation stream) and has
            no cancellation noise. Activations then differ from the plain
            forward pass by float32 rounding. With shared rows
            (``act_rows``) a linear layer whose parts nothing asks for
            (``parts_requested``) keeps to the cheaper activation stream.
    """

    def __init__(self, feeds: dict[Input, tuple[tf.Tensor, tf.Tensor]],
                 modes: dict[int, NonlinearMxtsMode] | None = None,
                 act_rows: tf.Tensor | None = None, difference_space: bool = False):
        self._values = {"act": {}, "ref": {}}
        for layer, (act, ref) in feeds.items():
            self._values["act"][id(layer)] = act
            self._values["ref"][id(layer)] = ref
        self._modes = modes or {}
        self._act_rows = act_rows
        self.difference_space = difference_space
        self._cache: dict[tuple[int, str], tf.Tensor] = {}
        self._takes_differences: dict[int, bool] = {}
        self._parts_requested: dict[int, bool] = {}
        self._distinct_rows: set[int] = set()  # difference space: acts kept as (M, ...)
        self._stream_facts: dict[int, tuple[Mxts, dict]] = {}

    @property
    def shares_rows(self) -> bool:
        """Whether the activations are fed as distinct rows (``act_rows``)."""
        return self._act_rows is not None

    def act(self, layer: Layer) -> tf.Tensor:
        if self.difference_space:
            value = self._resolve(layer, "act")
            if id(layer) not in self._distinct_rows:
                return value
            return self.cached(layer, "act_rows", lambda: tf.gather(value, self._act_rows))
        if self._act_rows is None:
            return self._evaluate(layer, "act")
        return self.cached(layer, "act_rows",
                           lambda: tf.gather(self._evaluate(layer, "act"), self._act_rows))

    def act_and_rows(self, layer: Layer) -> tuple[tf.Tensor, tf.Tensor | None]:
        """``(a, rows)`` with ``act(layer) == tf.gather(a, rows)``, or
        ``(act(layer), None)`` without shared rows: lets a fused kernel do
        the gather instead of materialising it."""
        if self.difference_space:
            value = self._resolve(layer, "act")
            return value, (self._act_rows if id(layer) in self._distinct_rows else None)
        if self._act_rows is None:
            return self.act(layer), None
        return self._evaluate(layer, "act"), self._act_rows

    def shape_template(self, layer: Layer) -> tf.Tensor:
        """A tensor with ``layer``'s per-example shape ``(B, ...)`` for ops
        that read only ``shape[1:]`` (transposes); ``B`` may differ from the
        batch size, which spares gathering shared rows (or, in difference
        space, computing activations) just for a shape."""
        return self._evaluate(layer, "ref" if self.difference_space else "act")

    def batch_shape(self, layer: Layer) -> tf.Tensor:
        """``tf.shape`` of ``layer``'s ``(N, ...)`` values, from whichever of
        activations and differences this pass computes anyway."""
        return tf.shape(self.diff(layer) if self.difference_space else self.act(layer))

    def ref(self, layer: Layer) -> tf.Tensor:
        return self._evaluate(layer, "ref")

    def diff(self, layer: Layer) -> tf.Tensor:
        if self.difference_space:
            return self._resolve(layer, "diff")
        return self.cached(layer, "diff", lambda: self.act(layer) - self.ref(layer))

    def parts(self, layer: Layer) -> tuple[tf.Tensor, tf.Tensor]:
        return self.cached(layer, "parts", lambda: layer.forward_parts(self))

    def note_streams(self, streams: Mxts, **facts) -> None:
        """Records how two multiplier streams were formed (e.g. ``slopes=(m+,
        m-, slope+, slope-)``), so that the layer receiving exactly these
        tensors can fuse that step with its own (``streams_facts``). The
        unfused streams are still returned; a graph that does not use them
        drops them."""
        self._stream_facts[id(streams[0])] = (streams, facts)

    def streams_facts(self, pos: tf.Tensor, neg: tf.Tensor) -> dict:
        """What ``note_streams`` recorded for exactly ``(pos, neg)``, else {}."""
        streams, facts = self._stream_facts.get(id(pos), ((None, None), {}))
        return facts if streams[0] is pos and streams[1] is neg else {}

    def mode(self, layer: Layer) -> NonlinearMxtsMode:
        try:
            return self._modes[id(layer)]
        except KeyError:
            return effective_mode(layer)

    def cached(self, layer: Layer, what: str, compute: Callable):
        key = (id(layer), what)
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def _differences_suffice(self, layer: Layer) -> bool:
        key = id(layer)
        if key not in self._takes_differences:
            self._takes_differences[key] = (not layer.is_input
                                            and layer.takes_differences(self))
        return self._takes_differences[key]

    def parts_requested(self, layer: Layer) -> bool:
        """Whether, in this pass, some consumer of ``layer`` reads its parts
        to form parts that are computed anyway: looking downstream through
        layers that pass parts on, up to one that computes its own parts
        whatever happens (``computes_own_parts``)."""
        key = id(layer)
        if key not in self._parts_requested:
            seen, stack, found = set(), list(layer.get_output_layers()), False
            while stack and not found:
                consumer = stack.pop()
                if id(consumer) in seen or not consumer.reads_input_parts(self):
                    continue
                seen.add(id(consumer))
                found = consumer.computes_own_parts(self)
                stack.extend(consumer.get_output_layers())
            self._parts_requested[key] = found
        return self._parts_requested[key]

    def _dependencies(self, layer: Layer, what: str) -> list[tuple[Layer, str]]:
        """What ``_compute(layer, what)`` reads, in difference space."""
        from_differences = self._differences_suffice(layer)
        if what == "diff":
            if from_differences:
                return [(parent, "diff") for parent in layer.input_layers()]
            return [(layer, "act")]
        if layer.is_input:
            return []
        if from_differences:
            return [(layer, "diff")]
        return [(parent, "act") for parent in layer.input_layers()]

    def _compute(self, layer: Layer, what: str) -> tf.Tensor:
        from_differences = self._differences_suffice(layer)
        if what == "diff":
            if from_differences:
                return layer.forward_diff(self)
            return self.act(layer) - self.ref(layer)
        if layer.is_input:
            try:
                value = self._values["act"][id(layer)]
            except KeyError:
                raise ValueError(f"Input layer {layer.name!r} was not fed.") from None
            if self.shares_rows:
                self._distinct_rows.add(id(layer))
            return value
        if from_differences:
            return self.ref(layer) + self._cache[(id(layer), "diff")]
        parents = layer.input_layers()
        if all(id(parent) in self._distinct_rows for parent in parents):
            self._distinct_rows.add(id(layer))
            return self._apply(layer, [self._cache[(id(parent), "act")] for parent in parents])
        return self._apply(layer, [self.act(parent) for parent in parents])

    def _resolve(self, layer: Layer, what: str) -> tf.Tensor:
        """``what`` ("act" or "diff") of ``layer`` in difference space,
        computing what it depends on first, iteratively (a recursion would
        be as deep as the network)."""
        target = (id(layer), what)
        expanded = set()
        stack = [(layer, what)]
        while target not in self._cache:
            node, kind = stack[-1]
            key = (id(node), kind)
            if key in self._cache:
                stack.pop()
            elif key in expanded:
                stack.pop()
                self._cache[key] = self._compute(node, kind)
            else:
                expanded.add(key)
                stack.extend(dep for dep in self._dependencies(node, kind)
                             if (id(dep[0]), dep[1]) not in self._cache)
        return self._cache[target]

    def _apply(self, node: Layer, inputs: list[tf.Tensor]) -> tf.Tensor:
        try:
            return node.forward(inputs)
        except (ValueError, TypeError, tf.errors.InvalidArgumentError) as err:
            shapes = [tuple(t.shape) for t in inputs]
            raise ValueError(
                f"Layer {node.name!r} ({type(node).__name__}) cannot be "
                f"applied to inputs of shape {shapes}: {err}"
            ) from None

    def _evaluate(self, layer: Layer, stream: str) -> tf.Tensor:
        values = self._values[stream]
        if id(layer) in values:
            return values[id(layer)]
        for node in topological_order([layer], skip=values):
            if node.is_input:
                raise ValueError(f"Input layer {node.name!r} was not fed.")
            folded = node.forward_folded(lambda ancestor: values[id(ancestor)])
            values[id(node)] = folded if folded is not None else self._apply(
                node, [values[id(parent)] for parent in node.input_layers()])
        return values[id(layer)]


def _sum_mxts(increments: list[Mxts]) -> Mxts:
    """Sums multiplier increments, keeping the shared single stream when every
    increment has one."""
    if len(increments) == 1:
        return increments[0]
    if all(pos is neg for pos, neg in increments):
        total = tf.add_n([pos for pos, _ in increments])
        return total, total
    return (tf.add_n([pos for pos, _ in increments]),
            tf.add_n([neg for _, neg in increments]))


def backward(fp: ForwardPass, seeds: list[tuple[Layer, Mxts]],
             wanted: Iterable[Layer]) -> dict[int, Mxts]:
    """Propagates multipliers from the seeded target layers down to ``wanted``.

    Args:
        fp: the forward pass of the same inputs.
        seeds: (target layer, (m+, m-)) pairs, multipliers ``(T, N, ...)``.
        wanted: layers whose multipliers are needed.

    Returns:
        Multipliers keyed by ``id(layer)`` for every layer that lies on a path
        from a wanted layer to a target (layers off those paths are absent:
        their multipliers are zero).
    """
    wanted = list(wanted)
    below = {id(layer) for layer in descendants(wanted)}
    order = topological_order([layer for layer, _ in seeds])
    relevant = {id(layer) for layer in order if id(layer) in below}
    pending: dict[int, list[Mxts]] = {}
    for layer, mxts in seeds:
        if id(layer) in relevant:
            pending.setdefault(id(layer), []).append(mxts)
    result: dict[int, Mxts] = {}
    for layer in reversed(order):
        if id(layer) not in pending:
            continue
        pos, neg = result[id(layer)] = _sum_mxts(pending.pop(id(layer)))
        parents = layer.input_layers()
        if not any(id(parent) in relevant for parent in parents):
            continue
        for parent, increment in zip(parents, layer.backward(fp, pos, neg)):
            if id(parent) in relevant:
                pending.setdefault(id(parent), []).append(increment)
    return result


def infer_shapes(layers: Iterable[Layer]) -> None:
    """Fills ``layer._shape`` for ``layers`` and their ancestors by tracing
    the forward pass on symbolic inputs (errors name the failing layer)."""
    order = topological_order(layers)
    inputs = [layer for layer in order if layer.is_input]
    specs = [tf.TensorSpec(layer.get_batch_shape(), tf.float32) for layer in inputs]
    shapes: dict[int, tuple] = {}

    def trace(*tensors):
        fp = ForwardPass({layer: (t, t) for layer, t in zip(inputs, tensors)})
        for layer in order:
            shapes[id(layer)] = (None,) + tuple(fp.act(layer).shape[1:])
        return tf.constant(0.0)

    tf.function(trace, autograph=False).get_concrete_function(*specs)
    for layer in order:
        layer._shape = shapes[id(layer)]
