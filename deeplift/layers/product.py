"""The product of two variable tensors: Keras ``Multiply``, gates, and the
matrix products inside attention.

``z = B(a, b)`` is bilinear: an element-wise product (with broadcasting) or an
``einsum`` of the two inputs. Neither input is a constant, so no single
weight matrix exists; DeepLIFT splits the difference from reference between
the two factors the Shapley way (exact for two players)::

    z - z0 = B(a - a0, (b + b0) / 2) + B((a + a0) / 2, b - b0)

i.e. the product is a linear map of ``(da, db)`` with "weights" the factors'
midpoints ``bm = (b + b0) / 2`` and ``am = (a + a0) / 2``. Everything else
follows SEMANTICS.md's linear-layer rule with those weights:

* contribution parts (per product term, by the sign of the input's ``dx``):
  ``dz+ = (net + spread) / 2`` and ``dz- = (net - spread) / 2`` with
  ``net = B(da, bm) + B(am, db)`` and ``spread = B(|da|, |bm|) + B(|am|, |db|)``;
* multipliers: ``m_a = B_a^T(m; bm)`` (the transpose of ``B(., bm)``) and
  ``m_b = B_b^T(m; am)``; with two streams (RevealCancel downstream) each input
  element takes ``(B^T(m+ + m-; w) + sign(dx) B^T(m+ - m-; |w|)) / 2``.

Hence ``sum(m_a da) + sum(m_b db) == sum(m dz)``: contributions sum to delta
through any number of products.

The gradient-based modes (Gradient, GuidedBackprop, DeconvNet, PassThrough)
backpropagate through a product with the chain rule instead, i.e. the factors'
actual values replace their midpoints, so Gradient mode equals
``tf.GradientTape``.
"""
from __future__ import annotations

import string

import tensorflow as tf

from deeplift import kernels
from deeplift.layers.base import Layer
from deeplift.layers.linear import static_tail
from deeplift.modes import NonlinearMxtsMode

#: Modes whose multipliers are gradients: the chain rule, not the Shapley split.
CHAIN_RULE_MODES = frozenset({
    NonlinearMxtsMode.Gradient, NonlinearMxtsMode.GuidedBackprop,
    NonlinearMxtsMode.DeconvNet, NonlinearMxtsMode.PassThrough,
})


class Product(Layer):
    """``einsum(equation, a, b)``, or ``a * b`` element-wise.

    Args:
        equation: an ``einsum`` equation with two operands and an explicit
            output, e.g. ``"bqhd,bkhd->bhqk"`` (every axis written out, the
            batch axis included, no ellipsis, no axis repeated inside one
            operand, every axis of an operand present in the other operand
            or the output). ``None`` (the default) multiplies element-wise
            with broadcasting over axes of size 1, as Keras ``Multiply`` does;
            both inputs then have the same rank.
        nonlinear_mxts_mode: a ``NonlinearMxtsMode``; the gradient-based
            modes (``CHAIN_RULE_MODES``) use the chain rule, every other mode
            (the default, Rescale, RevealCancel, GenomicsDefault) the Shapley
            split.
        name, verbose: see ``Layer``.

    Inputs: a list of exactly two layers ``[a, b]``.
    """

    takes_list_input = True

    def __init__(self, equation: str | None = None,
                 nonlinear_mxts_mode=NonlinearMxtsMode.DeepLIFT_GenomicsDefault, **kwargs):
        super().__init__(**kwargs)
        self.nonlinear_mxts_mode = NonlinearMxtsMode.parse(nonlinear_mxts_mode,
                                                           "nonlinear_mxts_mode")
        self.equation = None if equation is None else str(equation).replace(" ", "")
        self._transposes = None
        if self.equation is not None:
            self._transposes = _einsum_transposes(self.equation, self.name)

    def set_inputs(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise TypeError(
                f"Product {self.name!r} multiplies exactly two layers; got "
                f"{inputs!r}. Fold longer products pairwise."
            )
        return super().set_inputs(inputs)

    # ----- the bilinear map and its transposes ---------------------------
    def _bilinear(self, a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
        if self.equation is None:
            return a * b
        return tf.einsum(self.equation, a, b)

    def _transpose(self, which: int, mxts: tf.Tensor, other: tf.Tensor,
                   template: tf.Tensor) -> tf.Tensor:
        """``B^T`` onto input ``which`` (0: a, 1: b) of multipliers ``mxts``
        ``(T, N, *out)``, the other factor ``other`` ``(N, ...)`` held fixed.
        ``template``'s ``shape[1:]`` is input ``which``'s per-example shape."""
        if self.equation is not None:
            return tf.einsum(self._transposes[which], mxts, other)
        grad = mxts * other
        tail = static_tail(template)
        if (tail is not None and static_tail(other) == tail
                and grad.shape.rank is not None and grad.shape[2:].as_list() == tail):
            return grad   # nothing was broadcast: no axes to sum back
        full_shape = tf.concat([tf.shape(mxts)[:2], tf.shape(template)[1:]], 0)
        reduce_axes, _ = tf.raw_ops.BroadcastGradientArgs(s0=full_shape, s1=tf.shape(grad))
        return tf.reshape(tf.reduce_sum(grad, reduce_axes), full_shape)

    def _midpoints(self, fp) -> tuple[tf.Tensor, tf.Tensor]:
        """``((a + a0) / 2, (b + b0) / 2)``, each ``(N, ...)``."""

        def compute():
            return tuple(fp.act(x) - 0.5 * fp.diff(x) for x in self.input_layers())

        return fp.cached(self, "midpoints", compute)

    def _backward_factors(self, fp) -> tuple[tf.Tensor, tf.Tensor]:
        """The values ``(a, b)`` are held at in the transposes: midpoints,
        or the actual activations under the chain-rule modes."""
        if self.nonlinear_mxts_mode in CHAIN_RULE_MODES:
            return tuple(fp.act(x) for x in self.input_layers())
        return self._midpoints(fp)

    # ----- Layer interface -------------------------------------------------
    def forward(self, inputs):
        a, b = inputs
        if self.equation is None and a.shape.rank != b.shape.rank:
            raise ValueError(
                f"Product {self.name!r}: element-wise inputs must have the same "
                f"rank (broadcasting over axes of size 1); got shapes "
                f"{tuple(a.shape)} and {tuple(b.shape)}."
            )
        return self._bilinear(a, b)

    def forward_parts(self, fp):
        a_layer, b_layer = self.input_layers()
        a_mid, b_mid = self._midpoints(fp)
        da, db = fp.diff(a_layer), fp.diff(b_layer)
        net = self._bilinear(da, b_mid) + self._bilinear(a_mid, db)
        spread = (self._bilinear(tf.abs(da), tf.abs(b_mid))
                  + self._bilinear(tf.abs(a_mid), tf.abs(db)))
        return kernels.split_by_spread(net, spread)

    def backward(self, fp, pos, neg):
        a_layer, b_layer = self.input_layers()
        a_mid, b_mid = self._backward_factors(fp)
        increments = []
        for which, (layer, other) in enumerate(((a_layer, b_mid), (b_layer, a_mid))):
            template = fp.shape_template(layer)
            if pos is neg:
                mxts = self._transpose(which, pos, other, template)
            else:
                total, difference = kernels.sum_and_difference(pos, neg)
                total = self._transpose(which, total, other, template)
                spread = self._transpose(which, difference, tf.abs(other), template)
                mxts = kernels.combine_by_sign(total, spread, fp.diff(layer))
            increments.append((mxts, mxts))
        return increments


def _einsum_transposes(equation: str, layer_name: str) -> tuple[str, str]:
    """The two ``einsum`` equations of ``B^T``: multipliers with a leading
    task axis times the other factor, onto each operand.

    Raises:
        ValueError: ``equation`` is not of the supported form.
    """
    def invalid(why: str) -> ValueError:
        return ValueError(
            f"Product {layer_name!r}: equation={equation!r} {why}; expected two "
            f"operands and an explicit output of letters, e.g. 'bqd,bkd->bqk'."
        )

    if "->" not in equation or "." in equation:
        raise invalid("needs an explicit '->' output and no ellipsis")
    operands, output = equation.split("->")
    operands = operands.split(",")
    if len(operands) != 2:
        raise invalid(f"has {len(operands)} operand(s)")
    for term in (*operands, output):
        if not term.isalpha() or len(set(term)) != len(term):
            raise invalid(f"has a term {term!r} that is not distinct letters")
    a_term, b_term = operands
    for this, other in ((a_term, b_term), (b_term, a_term)):
        lonely = set(this) - set(other) - set(output)
        if lonely:
            raise invalid(f"sums axes {sorted(lonely)} of one operand only")
    task = next(c for c in string.ascii_letters if c not in equation)
    return (f"{task}{output},{b_term}->{task}{a_term}",
            f"{task}{output},{a_term}->{task}{b_term}")
