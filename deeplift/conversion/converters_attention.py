"""Converters for MultiHeadAttention and Embedding.

MultiHeadAttention is expanded into the layer graph (SEMANTICS.md)::

    q = EinsumDense(query) / sqrt(key_dim)    k = EinsumDense(key)
    v = EinsumDense(value)                    scores = Product(q, k)
    weights = MaskedSoftmax(scores[, mask])   (conserving; see layers.softmax)
    out = EinsumDense(Product(weights, v))

so the projections follow the linear rule, the two products of variable
tensors the Shapley product rule, and the softmax the conserving rule.
Inputs: query and value, optionally key (else the value) and an
``attention_mask`` passed to the call; rank-3 ``(batch, steps, features)``
with the default ``attention_axes``.
"""
from __future__ import annotations

import math

from deeplift import layers as dl
from deeplift.conversion.layer_converters import KERAS_WEIGHTS_KEY, _unsupported, register
from deeplift.conversion.spec import CALL_INPUTS_KEY
from deeplift.conversion.subgraph import Subgraph, entry
from deeplift.layers.einsum_dense import EinsumDense
from deeplift.layers.product import Product
from deeplift.layers.sequence import Embedding
from deeplift.layers.softmax import MaskedSoftmax
from deeplift.modes import NonlinearMxtsMode

#: Equations for rank-3 inputs (a: batch, b: query step, k: key step,
#: h: head, d: channel, e/f/g: output axes).
PROJECTION = "abc,chd->abhd"
SCORES = "abhd,akhd->ahbk"
COMBINE = "ahbk,akhd->abhd"


def attention_softmax_mode(mode) -> NonlinearMxtsMode:
    """The attention softmax's rule: Rescale when the model-wide mode is
    DeepLIFT_GenomicsDefault (no linear layer directly precedes it) or a
    mode the conserving softmax does not define, else the given mode."""
    mode = NonlinearMxtsMode.parse(mode, "nonlinear_mxts_mode")
    if mode in (NonlinearMxtsMode.RevealCancel, NonlinearMxtsMode.Gradient):
        return mode
    return NonlinearMxtsMode.Rescale


@register("MultiHeadAttention")
def multi_head_attention_conversion(config, name, verbose, nonlinear_mxts_mode, **_):
    axes = config.get("attention_axes")
    if axes not in (None, [1], (1,), 1, [-2], (-2,)):
        _unsupported(config, name, f"attention_axes={axes!r} is not supported; expected "
                                   f"the default (attention over the steps of rank-3 inputs)")
    if config.get("use_causal_mask"):
        _unsupported(config, name, "use_causal_mask=True is not supported; pass the causal "
                                   "mask as attention_mask (a model input) instead")
    weights = list(config[KERAS_WEIGHTS_KEY])
    use_bias = config.get("use_bias", True)
    per_dense = 2 if use_bias else 1
    if len(weights) != 4 * per_dense:
        _unsupported(config, name, f"expected {4 * per_dense} weight arrays (query, key, "
                                   f"value and output projections), found {len(weights)}")
    (wq, bq), (wk, bk), (wv, bv), (wo, bo) = [
        (weights[i], weights[i + 1] if use_bias else None)
        for i in range(0, len(weights), per_dense)]
    if wq.ndim != 3:
        _unsupported(config, name, f"query kernel of shape {wq.shape}; expected (features, "
                                   f"heads, key_dim) for rank-3 inputs")
    out_letters = "efg"[: wo.ndim - 2]
    output_equation = f"abhd,hd{out_letters}->ab{out_letters}"

    names = config.get(CALL_INPUTS_KEY) or ["query", "value"]
    known = ("query", "value", "key", "attention_mask")
    if any(n not in known for n in names) or "query" not in names or "value" not in names:
        _unsupported(config, name, f"call inputs {names}; expected query, value and "
                                   f"optionally key and attention_mask")
    entries = {n: entry(f"{name}/{n}", verbose) for n in names}
    scale = 1.0 / math.sqrt(float(wq.shape[-1]))

    def project(label, source, kernel, bias, factor=1.0):
        layer = EinsumDense(PROJECTION, kernel * factor,
                            None if bias is None else bias * factor,
                            name=f"{name}/{label}", verbose=verbose)
        return layer.set_inputs(source)

    query = project("query_proj", entries["query"], wq, bq, scale)
    key = project("key_proj", entries.get("key", entries["value"]), wk, bk)
    value = project("value_proj", entries["value"], wv, bv)
    scores = Product(SCORES, nonlinear_mxts_mode=nonlinear_mxts_mode, name=f"{name}/scores",
                     verbose=verbose).set_inputs([query, key])
    softmax_inputs = [scores] + ([entries["attention_mask"]] if "attention_mask" in entries
                                 else [])
    attention = MaskedSoftmax(attention_softmax_mode(nonlinear_mxts_mode),
                              name=f"{name}/attention", verbose=verbose
                              ).set_inputs(softmax_inputs)
    combined = Product(COMBINE, nonlinear_mxts_mode=nonlinear_mxts_mode,
                       name=f"{name}/combine", verbose=verbose).set_inputs([attention, value])
    output = EinsumDense(output_equation, wo, bo, name=name, verbose=verbose
                         ).set_inputs(combined)
    ordered = [entries[n] for n in names]
    return Subgraph(ordered + [query, key, value, scores, attention, combined, output],
                    entries=ordered)


@register("Embedding")
def embedding_conversion(config, name, verbose, **_):
    if config.get("mask_zero"):
        _unsupported(config, name, "mask_zero=True is not supported (the mask it passes to "
                                   "later layers is not converted); expected mask_zero=False")
    (table,) = config[KERAS_WEIGHTS_KEY]
    return [Embedding(table, name=name, verbose=verbose)]
