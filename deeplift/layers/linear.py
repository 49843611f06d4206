"""Linear layers of the layer graph: ``LinearLayer`` (Dense, convolutions:
parts split by the sign of the input's difference, one multiplier stream
back) and ``RoutingLayer`` (bias-free maps with non-negative weights that
carry both parts and both streams), plus the transpose helpers they share.

Split from ``deeplift.layers.base``, which keeps the graph itself
(``Layer``, ``Input``, the symbolic handles).
"""
from __future__ import annotations

import tensorflow as tf

from deeplift import kernels
from deeplift.layers.base import Layer


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

    def kernel_scaled_per_unit(self, scale: tf.Tensor) -> tf.Tensor | None:
        """The kernel of ``scale * (W x)`` for a per-output-unit ``scale``
        ``(units,)``, or None when this layer's kernel layout is not known to
        put the output units last (subclasses that do say so)."""
        return None

    def output_channel_axis(self, rank: int) -> int:
        """The axis of the output's units in an output of rank ``rank``."""
        return rank - 1

    def add_bias(self, y: tf.Tensor) -> tf.Tensor:
        return y + self.bias

    def forward(self, inputs):
        return self.add_bias(self.linear(inputs[0], self.kernel))

    def forward_scaled(self, x: tf.Tensor, scale: tf.Tensor, shift: tf.Tensor) -> tf.Tensor | None:
        """``(W x + b) * scale + shift`` per output unit as one linear map
        (a BatchNormalization folded into this layer), or None when the
        kernel layout is unknown (``kernel_scaled_per_unit``)."""
        kernel = self.kernel_scaled_per_unit(scale)
        if kernel is None:
            return None
        y = self.linear(x, kernel)
        bias = self.bias * scale + shift
        axis = self.output_channel_axis(y.shape.rank)
        if axis != y.shape.rank - 1:
            bias = tf.reshape(bias, [-1] + [1] * (y.shape.rank - 1 - axis))
        return y + bias

    def takes_differences(self, fp):
        """Always, but with shared rows (where the activation stream costs a
        fraction of ``W dx``) only when ``W dx`` is needed for the parts."""
        return not fp.shares_rows or fp.parts_requested(self)

    def reads_input_parts(self, fp):
        return False

    def forward_diff(self, fp):
        """``W dx``: the bias cancels."""
        return fp.cached(self, "net", lambda: self.linear(fp.diff(self.inputs), self.kernel))

    def net_and_spread(self, fp) -> tuple[tf.Tensor, tf.Tensor]:
        """``(W dx, |W| |dx|)``, from which the parts are split."""
        spread = fp.cached(self, "spread", lambda: self.linear(tf.abs(fp.diff(self.inputs)),
                                                               self._abs_kernel))
        return self.forward_diff(fp), spread

    def forward_parts(self, fp):
        return kernels.split_by_spread(*self.net_and_spread(fp))

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
        total, difference = sum_and_difference(fp, pos, neg)
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

    def takes_differences(self, fp):
        return True

    def forward_diff(self, fp):
        return self.forward([fp.diff(layer) for layer in self.input_layers()])

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


def scaled_parts(fp, layer, scale: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """The parts of ``scale * layer`` for a ``scale`` broadcast against it,
    e.g. per channel: ``layer``'s parts scaled, swapping where ``scale < 0``.
    After a ``LinearLayer`` (a BatchNormalization after a convolution), the
    parts of the composed linear map ``scale * W``, split directly from the
    linear layer's ``W dx`` and ``|W| |dx|`` (the same numbers, one pass over
    memory instead of two; the linear layer's own parts are then never
    formed unless something else asks for them)."""
    if isinstance(layer, LinearLayer):
        return kernels.split_by_spread_scaled(*layer.net_and_spread(fp), scale)
    pos_in, neg_in = fp.parts(layer)
    return kernels.scale_parts_by_sign(pos_in, neg_in, scale)


def scaled_streams(fp, layer, pos: tf.Tensor, neg: tf.Tensor,
                   scale: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """The multiplier streams ``(pos, neg)`` on ``scale * layer`` sent to
    ``layer`` (swapped where ``scale < 0``). A single stream that a Rescale
    nonlinearity just formed is scaled in the same loop. When ``layer`` is a
    ``LinearLayer``, which only needs two streams' sum and difference, those
    are noted for it, computed in one loop with this step and, when the
    streams come from RevealCancel's slopes, with that one too."""
    if pos is neg:
        rescaled = fp.streams_facts(pos, neg).get("rescaled")
        if rescaled is None:
            mxts = pos * scale
        else:
            mxts, x, x0, y, y0, grad = rescaled
            mxts = kernels.rescale_and_scale(mxts, x, x0, y, y0, scale, grad)
        return mxts, mxts
    streams = kernels.scale_parts_by_sign(pos, neg, scale)
    if isinstance(layer, LinearLayer):
        slopes = fp.streams_facts(pos, neg).get("slopes")
        if slopes is not None:
            fused = kernels.sloped_sum_and_difference(*slopes, scale)
        else:
            fused = kernels.scaled_sum_and_difference(pos, neg, scale)
        fp.note_streams(streams, sum_and_difference=fused)
    return streams


def sum_and_difference(fp, pos: tf.Tensor, neg: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """``(m+ + m-, m+ - m-)`` of two streams, fused with the step that
    formed them when it noted how (``scaled_streams``, RevealCancel)."""
    facts = fp.streams_facts(pos, neg)
    if "sum_and_difference" in facts:
        return facts["sum_and_difference"]
    if "slopes" in facts:
        return kernels.sloped_sum_and_difference(*facts["slopes"], 1.0)
    return kernels.sum_and_difference(pos, neg)
