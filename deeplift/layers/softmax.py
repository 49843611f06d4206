"""A softmax rule that sums to delta, for a softmax inside a network
(attention over keys, a gating softmax), optionally masked.

The softmax over the last axis is decomposed into steps whose rules each
conserve exactly (SEMANTICS.md, "Softmax inside a network")::

    e = exp(z - c)     element-wise: Rescale (or RevealCancel) rule
    S = sum(e)         linear, non-negative weights
    r = 1 / S          Rescale on the per-row scalar
    y = e * r          Shapley product rule (midpoints ebar, rbar)

``c`` is one shift per row, the same for input and reference:
``max(max z, max z0)`` over the row's unmasked entries, so every exponent is
<= 0. The steps live inside one layer because the shift needs both streams.
Parts: ``y± = rbar e± + ebar r±`` with ``r± = s_r S±`` and ``S± = sum e±``;
multipliers run the same steps backwards:
``m_e = rbar m_y + s_r sum(ebar m_y)``, then the exp rule onto ``z``. Both
sum exactly to ``y - y0``. Gradient mode uses the exact softmax Jacobian.

Masked entries (mask <= 0.5) are excluded and their output is 0, as in
Keras; a fully masked row gives zeros here (Keras versions differ on such
rows: uniform weights in tf_keras and Keras 3's fused attention path). The
mask must be the same for the input and the reference.
"""
from __future__ import annotations

import tensorflow as tf

from deeplift import kernels
from deeplift.kernels import fused
from deeplift.layers.base import Layer, map_streams
from deeplift.modes import NonlinearMxtsMode

#: Modes whose exp step is the Rescale rule (GenomicsDefault: Rescale here).
RESCALE_MODES = (NonlinearMxtsMode.Rescale, NonlinearMxtsMode.DeepLIFT_GenomicsDefault,
                 NonlinearMxtsMode.GuidedBackpropRescale)
SUPPORTED_MODES = RESCALE_MODES + (NonlinearMxtsMode.RevealCancel, NonlinearMxtsMode.Gradient)


def _mask_like(mask: tf.Tensor | None, z: tf.Tensor) -> tf.Tensor | None:
    """Mask as booleans with ``z``'s rank (axes inserted after the batch axis,
    as Keras' attention inserts the heads axis)."""
    if mask is None:
        return None
    mask = mask > 0.5
    while mask.shape.rank < z.shape.rank:
        mask = tf.expand_dims(mask, 1)
    return mask


def masked_softmax(z: tf.Tensor, mask: tf.Tensor | None) -> tf.Tensor:
    """Softmax over the last axis; masked entries 0 (forward of one stream)."""
    mask = _mask_like(mask, z)
    if mask is None:
        return tf.nn.softmax(z, axis=-1)
    e = tf.where(mask, tf.exp(z - _row_max(z, mask)), 0.0)
    total = tf.reduce_sum(e, -1, keepdims=True)
    return tf.math.divide_no_nan(e, total)


def _row_max(z, mask):
    low = tf.where(mask, z, z.dtype.min) if mask is not None else z
    top = tf.reduce_max(low, -1, keepdims=True)
    return tf.stop_gradient(tf.where(top > z.dtype.min / 2, top, 0.0))


class _Steps:
    """The decomposition's intermediate quantities for one forward pass
    (computed by one fused kernel: they are attention-map sized)."""

    def __init__(self, z, z0, mask):
        self.mask = _mask_like(mask, z)
        self.z0 = z0
        self.s_exp, self.s_inv, self.e_mid, self.r_mid = _steps_kernel(z, z0, self.mask)
        self._z = z

    @property
    def x0(self):
        """``z0 - c``, the exp step's reference input (RevealCancel only)."""
        shift = tf.maximum(_row_max(self._z, self.mask), _row_max(self.z0, self.mask))
        return tf.broadcast_to(self.z0, tf.shape(self._z)) - shift


@fused
def _steps_kernel(z, z0, mask):
    z0 = tf.broadcast_to(z0, tf.shape(z))
    shift = tf.maximum(_row_max(z, mask), _row_max(z0, mask))
    x0 = z0 - shift
    e, e0 = tf.exp(z - shift), tf.exp(x0)
    if mask is not None:
        e, e0 = tf.where(mask, e, 0.0), tf.where(mask, e0, 0.0)
    total, total0 = tf.reduce_sum(e, -1, keepdims=True), tf.reduce_sum(e0, -1, keepdims=True)
    r, r0 = tf.math.divide_no_nan(1.0, total), tf.math.divide_no_nan(1.0, total0)
    return (_ratio(e - e0, z - z0, e0), _ratio(r - r0, total - total0, -r0 * r0),
            0.5 * (e + e0), 0.5 * (r + r0))


@fused
def _onto_scores(m, s_exp, s_inv, e_mid, r_mid):
    """Rescale multipliers on ``z`` from those on ``y`` (``m``: ``(T, N, ...)``)."""
    return s_exp * (r_mid * m + s_inv * tf.reduce_sum(e_mid * m, -1, keepdims=True))


def _ratio(dy, dx, fallback):
    near_zero = tf.abs(dx) < kernels.NEAR_ZERO_THRESHOLD
    return tf.where(near_zero, fallback, dy / tf.where(near_zero, 1.0, dx))


def _steps(layer: Layer, fp) -> _Steps:
    def compute():
        z_layer, mask_layer = _inputs(layer)
        mask = None if mask_layer is None else fp.act(mask_layer)
        if mask_layer is not None:
            tf.debugging.assert_equal(
                fp.diff(mask_layer), tf.zeros([], fp.diff(mask_layer).dtype),
                message=f"Layer {layer.name!r}: the attention mask's reference must equal "
                        f"the mask itself (pass the mask as its own reference).")
        return _Steps(fp.act(z_layer), fp.ref(z_layer), mask)

    return fp.cached(layer, "softmax_steps", compute)


def _inputs(layer: Layer):
    inputs = layer.input_layers()
    return inputs[0], (inputs[1] if len(inputs) > 1 else None)


def _exp_parts(layer, fp, mode, steps):
    z_pos, z_neg = fp.parts(_inputs(layer)[0])
    if mode == NonlinearMxtsMode.RevealCancel:
        e_pos, e_neg = kernels.reveal_cancel_parts(steps.x0, z_pos, z_neg, tf.exp)
        if steps.mask is not None:
            e_pos, e_neg = tf.where(steps.mask, e_pos, 0.0), tf.where(steps.mask, e_neg, 0.0)
        return e_pos, e_neg
    return z_pos * steps.s_exp, z_neg * steps.s_exp


def conserving_parts(layer: Layer, fp, mode: NonlinearMxtsMode):
    """``(y+, y-)`` of the decomposition; they sum to ``y - y0``."""
    steps = _steps(layer, fp)
    e_pos, e_neg = _exp_parts(layer, fp, mode, steps)
    r_pos = tf.reduce_sum(e_pos, -1, keepdims=True) * steps.s_inv
    r_neg = tf.reduce_sum(e_neg, -1, keepdims=True) * steps.s_inv
    return (steps.r_mid * e_pos + steps.e_mid * r_pos,
            steps.r_mid * e_neg + steps.e_mid * r_neg)


def conserving_backward(layer: Layer, fp, mode: NonlinearMxtsMode, pos, neg):
    """Multipliers ``(T, N, ...)`` onto the scores ``z``."""
    steps = _steps(layer, fp)
    if mode == NonlinearMxtsMode.Gradient:
        y = fp.act(layer)
        return map_streams(lambda m: y * (m - tf.reduce_sum(m * y, -1, keepdims=True)), pos, neg)

    if mode != NonlinearMxtsMode.RevealCancel:
        return map_streams(lambda m: _onto_scores(m, steps.s_exp, steps.s_inv, steps.e_mid,
                                                  steps.r_mid), pos, neg)

    def onto_e(m):
        return steps.r_mid * m + steps.s_inv * tf.reduce_sum(steps.e_mid * m, -1, keepdims=True)

    m_pos, m_neg = map_streams(onto_e, pos, neg)
    if mode == NonlinearMxtsMode.RevealCancel:
        z_pos, z_neg = fp.parts(_inputs(layer)[0])
        slope_pos, slope_neg = kernels.reveal_cancel_slopes(steps.x0, z_pos, z_neg, tf.exp)
        if steps.mask is not None:  # masked entries: e = e0 = 0 whatever z does
            slope_pos = tf.where(steps.mask, slope_pos, 0.0)
            slope_neg = tf.where(steps.mask, slope_neg, 0.0)
        return m_pos * slope_pos, m_neg * slope_neg
    return map_streams(lambda m: steps.s_exp * m, m_pos, m_neg)


def check_mode(mode, layer_name: str) -> None:
    if mode not in SUPPORTED_MODES:
        raise ValueError(
            f"Layer {layer_name!r}: the conserving softmax supports "
            f"nonlinear_mxts_mode in {[m.value for m in SUPPORTED_MODES]}; got {mode.value!r}.")


class MaskedSoftmax(Layer):
    """Softmax over the last axis of ``z`` with the conserving rule, inputs
    ``[z]`` or ``[z, mask]`` (the mask broadcast from ``z``'s trailing axes,
    entries <= 0.5 excluded), as in Keras' attention.

    Args:
        nonlinear_mxts_mode: Rescale (default), RevealCancel or Gradient
            (DeepLIFT_GenomicsDefault means Rescale here).
        name, verbose: see ``Layer``.
    """

    takes_list_input = True

    def __init__(self, nonlinear_mxts_mode=NonlinearMxtsMode.Rescale, **kwargs):
        super().__init__(**kwargs)
        self.nonlinear_mxts_mode = NonlinearMxtsMode.parse(nonlinear_mxts_mode,
                                                           "nonlinear_mxts_mode")
        check_mode(self.nonlinear_mxts_mode, self.name)

    def forward(self, inputs):
        return masked_softmax(inputs[0], inputs[1] if len(inputs) > 1 else None)

    def forward_parts(self, fp):
        return conserving_parts(self, fp, self.nonlinear_mxts_mode)

    def backward(self, fp, pos, neg):
        increments = [conserving_backward(self, fp, self.nonlinear_mxts_mode, pos, neg)]
        if len(self.input_layers()) > 1:  # the mask: no difference, no contribution
            mask_shape = tf.shape(fp.shape_template(self.inputs[1]))[1:]
            zeros = tf.zeros(tf.concat([tf.shape(pos)[:2], mask_shape], 0))
            increments.append((zeros, zeros))
        return increments


def use_conserving_softmax(model) -> list[str]:
    """Switches every ``Softmax`` layer of ``model`` (a converted
    ``GraphModel`` or ``SequentialModel``) that feeds other layers to the
    conserving rule; a final softmax keeps the original's treatment.
    Returns the names of the switched layers."""
    layers = (model.get_layers() if hasattr(model, "get_layers")
              else list(model.get_name_to_layer().values()))
    switched = []
    for layer in layers:
        # Softmax layers are the ones with a rule choice (no import of
        # deeplift.layers.activations, which imports this module).
        is_softmax = callable(getattr(layer, "uses_conserving_rule", None))
        if is_softmax and layer.get_output_layers():
            layer.conserving = True
            switched.append(layer.name)
    return switched
