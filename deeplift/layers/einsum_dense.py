"""Linear layers of composite Keras layers: ``EinsumDense`` (the projections
of MultiHeadAttention, Keras' ``EinsumDense``) and ``Scale`` (an
element-wise affine map, e.g. ``1 - z`` in a GRU or the 1/2 of an average).

Both are ``LinearLayer``s: their contribution parts and two-stream
multipliers follow the linear rule of SEMANTICS.md with no extra code.
"""
from __future__ import annotations

import tensorflow as tf

from deeplift.layers.linear import LinearLayer, as_float32_constant, static_tail


class EinsumDense(LinearLayer):
    """``y = einsum(equation, x, kernel) + bias``.

    Args:
        equation: a two-operand ``einsum`` equation, input first, batch axis
            included, e.g. ``"abc,cde->abde"`` (Keras' EinsumDense form).
        kernel: the weight array, shaped as the equation's second operand.
        bias: an array broadcastable against the trailing axes of the output
            (e.g. ``(heads, key_dim)`` for ``"abc,cde->abde"``); none when
            omitted.
        name, verbose: see ``Layer``.
    """

    def __init__(self, equation: str, kernel, bias=None, **kwargs):
        super().__init__(kernel, None, **kwargs)
        self.equation = str(equation).replace(" ", "")
        if "->" not in self.equation or len(self.equation.split("->")[0].split(",")) != 2:
            raise ValueError(
                f"EinsumDense {self.name!r}: equation={equation!r} must have two "
                f"operands (input, kernel) and an explicit output, e.g. 'abc,cde->abde'.")
        kernel_axes = self.equation.split("->")[0].split(",")[1]
        if len(kernel_axes) != self.kernel.shape.rank:
            raise ValueError(
                f"EinsumDense {self.name!r}: the equation's kernel operand "
                f"{kernel_axes!r} has {len(kernel_axes)} axes but the kernel has shape "
                f"{tuple(self.kernel.shape)}.")
        self.bias = (tf.zeros([], tf.float32) if bias is None
                     else as_float32_constant(bias, "bias", self.name))

    def linear(self, x, kernel):
        return tf.einsum(self.equation, x, kernel)


class Scale(LinearLayer):
    """``y = x * scale + shift``, element-wise, both broadcast against the
    last axis (or scalars).

    The same forward map as ``deeplift.layers.affine.ScaleShift`` but not the
    same rule: as a ``LinearLayer`` its parts come from the sign of the
    input's difference and it sends one combined multiplier stream back,
    whereas ``ScaleShift`` carries the input's own parts and both streams
    through. With a single stream (no RevealCancel downstream) the two agree;
    under RevealCancel a GRU's numbers change (by ~5e-4 on contributions of
    ~1) if one replaces the other, so the recurrent converter keeps this one.

    Args:
        scale: scalar or ``(features,)`` array.
        shift: scalar or ``(features,)`` array; 0 when omitted.
        name, verbose: see ``Layer``.
    """

    def __init__(self, scale, shift=0.0, **kwargs):
        super().__init__(tf.reshape(tf.constant(scale, tf.float32), [-1]), None, **kwargs)
        self.bias = as_float32_constant(shift, "shift", self.name)

    def linear(self, x, kernel):
        return x * kernel

    def transpose(self, mxts, kernel, template):
        """``m * kernel`` when that keeps the input's shape (no broadcasting
        of the input to sum back)."""
        tail = static_tail(template)
        if tail and kernel.shape[0] in (1, tail[-1]):
            return mxts * kernel
        return super().transpose(mxts, kernel, template)
