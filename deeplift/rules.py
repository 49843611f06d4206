"""The nonlinear multiplier rules, one table keyed by ``NonlinearMxtsMode``.

Each rule is a pair of pure tensor functions on an activation layer:
``parts(layer, fp) -> (dy+, dy-)`` splits the layer's difference from
reference, and ``multipliers(layer, fp, m+, m-) -> (m_in+, m_in-)`` sends
multipliers to its input. Only RevealCancel has its own ``parts``; every
other rule scales the input's parts by the rescale factor. A new rule is one
``register_rule`` call.

Multipliers ``m`` carry a leading task axis ``(T, N, ...)``; forward
quantities are ``(N, ...)`` and broadcast against them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import tensorflow as tf

from deeplift import kernels
from deeplift.modes import NonlinearMxtsMode
from deeplift.streams import map_streams


@dataclass(frozen=True)
class Rule:
    """How one NonlinearMxtsMode treats a nonlinearity."""

    multipliers: Callable
    parts: Callable
    difference: Callable | None = None


NONLINEAR_RULES: dict[NonlinearMxtsMode, Rule] = {}


def rescale_factor(layer, fp) -> tf.Tensor:
    """``s = dy / dx``, or ``f'(x0)`` where ``|dx| < 1e-7`` (cached per pass)."""

    def compute():
        x, rows = fp.act_and_rows(layer.inputs)
        y, _ = fp.act_and_rows(layer)
        if rows is None:
            return kernels.rescale_factor(x, fp.ref(layer.inputs), y, fp.ref(layer), layer.grad)
        return kernels.rescale_factor_of_rows(x, fp.ref(layer.inputs), y, fp.ref(layer),
                                              rows, layer.grad)

    return fp.cached(layer, "rescale_factor", compute)


def scale_input_parts(layer, fp):
    """``dy± = dx± * s``: the parts of every rule but RevealCancel."""
    scale = rescale_factor(layer, fp)
    pos_in, neg_in = fp.parts(layer.inputs)
    return pos_in * scale, neg_in * scale


def register_rule(mode: NonlinearMxtsMode, multipliers: Callable,
                  parts: Callable = scale_input_parts,
                  difference: Callable | None = None) -> None:
    """Adds (or replaces) the rule used for ``mode``. ``difference(layer,
    fp)``, when given, is the layer's ``y - y0`` computed from its input's
    parts and reference alone (it lets a forward pass in difference space
    skip the activations; see ``traversal.ForwardPass``)."""
    NONLINEAR_RULES[NonlinearMxtsMode.parse(mode, "mode")] = Rule(multipliers, parts, difference)


def get_rule(mode) -> Rule:
    """The rule for ``mode``.

    Raises:
        ValueError: no rule is registered; lists the modes that have one.
    """
    mode = NonlinearMxtsMode.parse(mode, "nonlinear_mxts_mode")
    try:
        return NONLINEAR_RULES[mode]
    except KeyError:
        valid = sorted(m.value for m in NONLINEAR_RULES)
        raise ValueError(
            f"No multiplier rule is registered for nonlinear_mxts_mode="
            f"{mode.value!r}; rules exist for {valid}. "
            f"DeepLIFT_GenomicsDefault is resolved per layer before scoring."
        ) from None


def _rescale(layer, fp, pos, neg):
    scale = rescale_factor(layer, fp)
    streams = map_streams(lambda m: scale * m, pos, neg)
    x, rows = fp.act_and_rows(layer.inputs)
    if pos is neg and rows is None:
        # a per-channel scale below may form m * s * scale in one loop
        fp.note_streams(streams, rescaled=(pos, x, fp.ref(layer.inputs), fp.act(layer),
                                           fp.ref(layer), layer.grad))
    return streams


def _gradient(layer, fp, pos, neg):
    x = fp.act(layer.inputs)
    return map_streams(lambda m: layer.gradient_vjp(x, m), pos, neg)


def _guided_backprop(layer, fp, pos, neg):
    x = fp.act(layer.inputs)
    passes = tf.cast(pos > 0, pos.dtype)
    return map_streams(lambda m: layer.gradient_vjp(x, passes * m), pos, neg)


def _guided_backprop_rescale(layer, fp, pos, neg):
    scale = rescale_factor(layer, fp)
    passes = tf.cast(pos > 0, pos.dtype)
    return map_streams(lambda m: scale * passes * m, pos, neg)


def _deconvnet(layer, fp, pos, neg):
    return map_streams(layer.fn, pos, neg)


def _pass_through(layer, fp, pos, neg):
    return pos, neg


def _reveal_cancel_forward(layer, fp):
    """``(dy+, dy-, dy, slope+, slope-)`` of ``kernels.reveal_cancel_forward``,
    computed once per pass."""
    def compute():
        pos_in, neg_in = fp.parts(layer.inputs)
        return kernels.reveal_cancel_forward(fp.ref(layer.inputs), pos_in, neg_in, layer.fn)

    return fp.cached(layer, "reveal_cancel", compute)


def _reveal_cancel_parts(layer, fp):
    """Shapley-style split over the two players "positive part" and
    "negative part" of the input difference (paper, section 3.5.3):
    ``dy+ = [(f(x0+p) - f(x0)) + (f(x0+n+p) - f(x0+n))] / 2`` and
    symmetrically for ``dy-``."""
    dy_pos, dy_neg, _, _, _ = _reveal_cancel_forward(layer, fp)
    return dy_pos, dy_neg


def _reveal_cancel_difference(layer, fp):
    """``dy+ + dy- = f(x0 + p + n) - f(x0)``, from the input's parts."""
    return _reveal_cancel_forward(layer, fp)[2]


def _reveal_cancel(layer, fp, pos, neg):
    """``m_in+ = m+ dy+ / p``, ``m_in- = m- dy- / n``, with ``dy±``
    evaluated at ``p``, ``n`` nudged off zero (``kernels.reveal_cancel_slopes``).

    The layer's own parts (``_reveal_cancel_parts``) stay un-nudged, so
    contributions of an exactly-zero part stay 0 and sum to delta exactly.
    """
    _, _, _, slope_pos, slope_neg = _reveal_cancel_forward(layer, fp)
    streams = kernels.scale_streams(pos, neg, slope_pos, slope_neg)
    fp.note_streams(streams, slopes=(pos, neg, slope_pos, slope_neg))
    return streams


register_rule(NonlinearMxtsMode.Rescale, _rescale)
register_rule(NonlinearMxtsMode.Gradient, _gradient)
register_rule(NonlinearMxtsMode.GuidedBackprop, _guided_backprop)
register_rule(NonlinearMxtsMode.GuidedBackpropRescale, _guided_backprop_rescale)
register_rule(NonlinearMxtsMode.DeconvNet, _deconvnet)
register_rule(NonlinearMxtsMode.PassThrough, _pass_through)
register_rule(NonlinearMxtsMode.RevealCancel, _reveal_cancel, parts=_reveal_cancel_parts,
              difference=_reveal_cancel_difference)


class ModeResolutionError(RuntimeError, ValueError):
    """DeepLIFT_GenomicsDefault cannot be resolved for a nonlinearity.

    A RuntimeError as in the original package, and a ValueError as callers
    of this package have caught it.
    """


def resolve_genomics_default(layer) -> NonlinearMxtsMode:
    """DeepLIFT_GenomicsDefault for one nonlinearity: Rescale after a
    convolution, RevealCancel after a Dense layer, looking back through
    BatchNormalization and NoOp layers.

    The layer classes declare this themselves (``genomics_default_mode`` and
    ``genomics_default_transparent``, see ``deeplift.layers.base.Layer``), so
    the rule table needs no layer imports.

    Raises:
        ModeResolutionError: the nearest preceding layer is anything else.
    """
    preceding = layer.inputs
    while getattr(preceding, "genomics_default_transparent", False):
        preceding = preceding.inputs
    mode = getattr(preceding, "genomics_default_mode", None)
    if mode is not None:
        return mode
    raise ModeResolutionError(
        f"Cannot resolve nonlinear_mxts_mode=DeepLIFT_GenomicsDefault for layer "
        f"{layer.name!r} ({type(layer).__name__}): its preceding layer "
        f"{getattr(preceding, 'name', None)!r} is {_with_article(type(preceding).__name__)}, "
        f"but the default is only defined after a convolution (Rescale) or a "
        f"Dense layer (RevealCancel). Set an explicit mode on this layer."
    )


def _with_article(noun: str) -> str:
    return f"{'an' if noun[:1].upper() in 'AEIOU' else 'a'} {noun}"


def effective_mode(layer) -> NonlinearMxtsMode:
    """The concrete rule a nonlinearity uses (GenomicsDefault resolved from
    the current wiring)."""
    requested = getattr(layer, "requested_nonlinear_mxts_mode", layer.nonlinear_mxts_mode)
    if requested == NonlinearMxtsMode.DeepLIFT_GenomicsDefault:
        return resolve_genomics_default(layer)
    return requested


def report_resolved_modes(layers, strict: bool) -> None:
    """Makes ``nonlinear_mxts_mode`` of each nonlinearity among ``layers``
    report the rule DeepLIFT_GenomicsDefault resolves to, as the original's
    ``build_fwd_pass_vars`` did.

    Args:
        layers: any layers; only activation layers are touched.
        strict: raise for a nonlinearity that cannot be resolved (else it
            keeps reporting DeepLIFT_GenomicsDefault and scoring through it
            raises the same error).

    Raises:
        ModeResolutionError: ``strict`` and a nonlinearity cannot be resolved.
    """
    for layer in layers:
        resolve = getattr(layer, "resolve_nonlinear_mxts_mode", None)
        if resolve is None:  # not an activation layer
            continue
        try:
            resolve()
        except ModeResolutionError:
            if strict:
                raise
