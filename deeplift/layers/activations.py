"""Nonlinearities: ReLU, PReLU (leaky ReLU), ELU, Sigmoid, HardSigmoid, Tanh,
Softmax, Softplus, and the smooth self-gated ones (SiLU/Swish, GELU,
HardSiLU, Mish) plus SELU, Softsign and Exponential.

An activation layer only knows its function ``fn`` and its derivative
``grad``; how multipliers cross it is decided by its ``nonlinear_mxts_mode``
through the rule table in ``deeplift.rules``.
"""
from __future__ import annotations

import math

import tensorflow as tf

from deeplift.layers import softmax
from deeplift.layers.base import Layer
from deeplift.layers.linear import as_float32_constant
from deeplift.modes import NonlinearMxtsMode
from deeplift.rules import effective_mode, get_rule


class Activation(Layer):
    """Base of element-wise nonlinearities.

    Args:
        nonlinear_mxts_mode: a ``NonlinearMxtsMode`` (or its string value);
            Rescale by default.
        name, verbose: see ``Layer``.
    """

    def __init__(self, nonlinear_mxts_mode=NonlinearMxtsMode.Rescale, **kwargs):
        super().__init__(**kwargs)
        self.nonlinear_mxts_mode = nonlinear_mxts_mode

    @property
    def nonlinear_mxts_mode(self) -> NonlinearMxtsMode:
        """The rule of this layer: the requested mode, or, once
        ``build_fwd_pass_vars`` (or model construction) has resolved it, the
        rule DeepLIFT_GenomicsDefault stands for (Rescale or RevealCancel)."""
        return self._resolved_mode or self._requested_mode

    @nonlinear_mxts_mode.setter
    def nonlinear_mxts_mode(self, mode) -> None:
        self._requested_mode = NonlinearMxtsMode.parse(mode, "nonlinear_mxts_mode")
        self._resolved_mode = None

    @property
    def requested_nonlinear_mxts_mode(self) -> NonlinearMxtsMode:
        """The mode as given (DeepLIFT_GenomicsDefault stays unresolved)."""
        return self._requested_mode

    def resolve_nonlinear_mxts_mode(self) -> NonlinearMxtsMode:
        """Resolves DeepLIFT_GenomicsDefault from the current wiring, so that
        ``nonlinear_mxts_mode`` reports the rule; returns it.

        Raises:
            deeplift.rules.ModeResolutionError: no convolution or Dense layer
                precedes this one (through BatchNormalization/NoOp).
        """
        self._resolved_mode = None
        if self._requested_mode == NonlinearMxtsMode.DeepLIFT_GenomicsDefault:
            self._resolved_mode = effective_mode(self)
        return self.nonlinear_mxts_mode

    def set_inputs(self, inputs):
        self._resolved_mode = None   # rewired: resolve again
        return super().set_inputs(inputs)

    def fn(self, x: tf.Tensor) -> tf.Tensor:
        raise NotImplementedError

    def grad(self, x: tf.Tensor) -> tf.Tensor:
        """Element-wise derivative ``f'(x)``."""
        raise NotImplementedError

    def gradient_vjp(self, x: tf.Tensor, mxts: tf.Tensor) -> tf.Tensor:
        """``J_f(x)^T m``; element-wise functions just scale by ``f'(x)``."""
        return self.grad(x) * mxts

    def forward(self, inputs):
        return self.fn(inputs[0])

    def forward_parts(self, fp):
        return get_rule(fp.mode(self)).parts(self, fp)

    def takes_differences(self, fp):
        """Under rules that compute the difference from the input's parts
        and reference (RevealCancel: ``f(x0 + dx+ + dx-) - f(x0)``)."""
        return (get_rule(fp.mode(self)).difference is not None
                and self.parts_sum_to_difference)

    def computes_own_parts(self, fp):
        return self.takes_differences(fp)

    def forward_diff(self, fp):
        return get_rule(fp.mode(self)).difference(self, fp)

    def not_a_target_reason(self) -> str | None:
        """Targets must be linear outputs, not activations (paper, section 3.6)."""
        before = self.inputs.name if isinstance(self.inputs, Layer) else None
        return (
            f"Layer {self.name!r} is an activation layer "
            f"({type(self).__name__}) and cannot be the target: pick the "
            f"layer before it (its pre-activation, {before!r}), e.g. "
            f"target_layer_idx=-2 for a model ending in a sigmoid/softmax."
        )

    def backward(self, fp, pos, neg):
        return [get_rule(fp.mode(self)).multipliers(self, fp, pos, neg)]


class ReLU(Activation):
    """Rectifier, optionally Keras' general form with Keras' exact formula

    ``y = clip(x * [x > threshold], 0, max_value) - negative_slope * relu(threshold - x)``

    (``relu(x)`` clipped when ``threshold == 0``). So ``x`` between
    ``threshold`` and ``max_value``, ``max_value`` above it, ``0`` at
    ``x == threshold`` and ``negative_slope * (x - threshold)`` below; a
    ``max_value`` below ``threshold`` leaves only ``0`` or ``max_value`` above
    the threshold, as in Keras.
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope = float(negative_slope)
        self.threshold = float(threshold)
        self._plain = self.max_value is None and self.negative_slope == 0 and self.threshold == 0

    def fn(self, x):
        if self._plain:
            return tf.nn.relu(x)
        if self.max_value == 6.0 and self.negative_slope == 0 and self.threshold == 0:
            return tf.nn.relu6(x)  # one op instead of relu + clip
        if self.threshold != 0:
            y = tf.where(x > self.threshold, x, tf.zeros_like(x))
        else:
            y = tf.nn.relu(x)
        if self.max_value is not None:
            y = tf.clip_by_value(y, 0.0, self.max_value)
        if self.negative_slope != 0:
            y = y - self.negative_slope * tf.nn.relu(self.threshold - x)
        return y

    def grad(self, x):
        rising = tf.logical_and(x > self.threshold, x > 0)
        if self.max_value is not None:
            rising = tf.logical_and(rising, x < self.max_value)
        return tf.where(rising, 1.0, tf.where(x < self.threshold, self.negative_slope, 0.0))


class PReLU(Activation):
    """Parametric ReLU: ``x`` for ``x > 0``, ``alpha * x`` otherwise. A
    scalar ``alpha`` gives leaky ReLU; an array broadcasts over the example
    axes (Keras' per-position alphas)."""

    def __init__(self, alpha=0.3, **kwargs):
        super().__init__(**kwargs)
        self.alpha = as_float32_constant(alpha, "alpha", self.name)

    def fn(self, x):
        return tf.where(x > 0, x, tf.cast(self.alpha, x.dtype) * x)

    def grad(self, x):
        return tf.where(x > 0, tf.ones_like(x), self.alpha * tf.ones_like(x))


class ELU(Activation):
    """``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def fn(self, x):
        return tf.where(x > 0, x, self.alpha * tf.math.expm1(tf.minimum(x, 0.0)))

    def grad(self, x):
        return tf.where(x > 0, 1.0, self.alpha * tf.exp(tf.minimum(x, 0.0)))


class Sigmoid(Activation):
    """Logistic function."""

    def fn(self, x):
        return tf.sigmoid(x)

    def grad(self, x):
        y = tf.sigmoid(x)
        return y * (1.0 - y)


class HardSigmoid(Activation):
    """``clip(slope * x + offset, 0, 1)``.

    Keras 2 used slope 0.2 (the default here); Keras 3 uses
    ``relu6(x + 3) / 6``, i.e. slope 1/6.
    """

    def __init__(self, slope=0.2, offset=0.5, **kwargs):
        super().__init__(**kwargs)
        self.slope = float(slope)
        self.offset = float(offset)

    def fn(self, x):
        return tf.clip_by_value(self.slope * x + self.offset, 0.0, 1.0)

    def grad(self, x):
        inside = tf.logical_and(self.slope * x + self.offset > 0, self.slope * x + self.offset < 1)
        return tf.where(inside, self.slope, 0.0)


class Tanh(Activation):
    """Hyperbolic tangent."""

    def fn(self, x):
        return tf.tanh(x)

    def grad(self, x):
        return 1.0 - tf.square(tf.tanh(x))


class Softplus(Activation):
    """``log(1 + exp(x))``."""

    def fn(self, x):
        return tf.nn.softplus(x)

    def grad(self, x):
        return tf.sigmoid(x)


class Softmax(Activation):
    """Softmax over the last axis.

    Args:
        conserving: ``False`` (default) keeps the original package's
            element-wise treatment below, so migrated models give the
            original's numbers; ``True`` uses the conserving rule of
            ``deeplift.layers.softmax`` (exp, sum, reciprocal, product: sums
            to delta and credits every logit for every output); ``None``
            the conserving rule when the softmax feeds other layers (inside
            a network) and the original's for a final softmax.
            ``deeplift.layers.softmax.use_conserving_softmax(model)`` switches
            a converted model's inner softmaxes.
        nonlinear_mxts_mode, name, verbose: see ``Activation``.

    Original treatment: not element-wise, so Gradient-type rules use the
    exact Jacobian; Rescale uses the element-wise ratio ``dy/dx`` (falling
    back to the diagonal of the Jacobian, ``y0 (1 - y0)``), which does not
    sum to delta. Softmax is normally the output, and scores are taken on
    the logits before it. For the same reason its own contributions are
    ``m * (dy+ + dy-)``, built from those parts, not ``m * (y - y0)``.
    """

    def __init__(self, conserving: bool | None = False, **kwargs):
        super().__init__(**kwargs)
        self.conserving = None if conserving is None else bool(conserving)

    def uses_conserving_rule(self, mode=None) -> bool:
        wanted = self.conserving if self.conserving is not None else bool(self._consumers)
        return wanted and (mode is None or mode in softmax.SUPPORTED_MODES)

    @property
    def parts_sum_to_difference(self) -> bool:
        return self.uses_conserving_rule()

    def takes_differences(self, fp):
        return False  # not element-wise: the element-wise RevealCancel kernel does not apply

    def forward_parts(self, fp):
        mode = fp.mode(self)
        if self.uses_conserving_rule(mode):
            return softmax.conserving_parts(self, fp, mode)
        return super().forward_parts(fp)

    def backward(self, fp, pos, neg):
        mode = fp.mode(self)
        if self.uses_conserving_rule(mode):
            return [softmax.conserving_backward(self, fp, mode, pos, neg)]
        return super().backward(fp, pos, neg)

    def fn(self, x):
        return tf.nn.softmax(x, axis=-1)

    def grad(self, x):
        y = tf.nn.softmax(x, axis=-1)
        return y * (1.0 - y)

    def gradient_vjp(self, x, mxts):
        y = tf.nn.softmax(x, axis=-1)
        return y * (mxts - tf.reduce_sum(mxts * y, axis=-1, keepdims=True))


class SiLU(Activation):
    """``x * sigmoid(x)`` (Keras ``silu``, alias ``swish``)."""

    def fn(self, x):
        return x * tf.sigmoid(x)

    def grad(self, x):
        s = tf.sigmoid(x)
        return s * (1.0 + x * (1.0 - s))


Swish = SiLU

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715


class GELU(Activation):
    """Gaussian error linear unit ``x * Phi(x)``.

    Args:
        approximate: False (Keras' default, ``activation="gelu"``) for the
            exact ``0.5 x (1 + erf(x / sqrt 2))``; True for the tanh form
            ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``.
    """

    def __init__(self, approximate=False, **kwargs):
        super().__init__(**kwargs)
        self.approximate = bool(approximate)

    def fn(self, x):
        if self.approximate:
            inner = _SQRT_2_OVER_PI * (x + _GELU_CUBIC * x * x * x)
            return 0.5 * x * (1.0 + tf.tanh(inner))
        return 0.5 * x * (1.0 + tf.math.erf(x / math.sqrt(2.0)))

    def grad(self, x):
        if self.approximate:
            t = tf.tanh(_SQRT_2_OVER_PI * (x + _GELU_CUBIC * x * x * x))
            d_inner = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_CUBIC * x * x)
            return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * d_inner
        cdf = 0.5 * (1.0 + tf.math.erf(x / math.sqrt(2.0)))
        return cdf + x * tf.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


class HardSiLU(Activation):
    """``x * relu6(x + 3) / 6`` (Keras 3 ``hard_silu``, alias ``hard_swish``)."""

    def fn(self, x):
        return x * tf.nn.relu6(x + 3.0) / 6.0

    def grad(self, x):
        inside = tf.logical_and(x > -3.0, x < 3.0)
        return tf.nn.relu6(x + 3.0) / 6.0 + tf.where(inside, x / 6.0, 0.0)


HardSwish = HardSiLU


class Mish(Activation):
    """``x * tanh(softplus(x))``."""

    def fn(self, x):
        return x * tf.tanh(tf.nn.softplus(x))

    def grad(self, x):
        t = tf.tanh(tf.nn.softplus(x))
        return t + x * (1.0 - t * t) * tf.sigmoid(x)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class SELU(Activation):
    """Scaled ELU: ``scale * x`` for ``x > 0``, ``scale * alpha * (exp(x) - 1)``
    otherwise, with Keras' fixed ``alpha`` and ``scale``."""

    def fn(self, x):
        return tf.nn.selu(x)

    def grad(self, x):
        return _SELU_SCALE * tf.where(x > 0, 1.0, _SELU_ALPHA * tf.exp(tf.minimum(x, 0.0)))


class Softsign(Activation):
    """``x / (1 + |x|)``."""

    def fn(self, x):
        return tf.nn.softsign(x)

    def grad(self, x):
        return 1.0 / tf.square(1.0 + tf.abs(x))


class Exponential(Activation):
    """``exp(x)``."""

    def fn(self, x):
        return tf.exp(x)

    def grad(self, x):
        return tf.exp(x)
