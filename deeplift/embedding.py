"""Helpers for models whose input is integer tokens read by an Embedding.

Scores are taken on the Embedding layer's output ``(N, L, D)`` (see
``deeplift.layers.sequence.Embedding``); these helpers fold them per token
and build references.
"""
from __future__ import annotations

import numpy as np

from deeplift.layers.sequence import ZERO_EMBEDDING_TOKEN

__all__ = ["sum_per_token", "reference_tokens", "ZERO_EMBEDDING_TOKEN"]


def sum_per_token(scores) -> np.ndarray:
    """Sums contributions (or multipliers) over the embedding axis.

    Args:
        scores: ``(N, L, D)`` array, or a list of them.

    Returns:
        ``(N, L)``: one score per token (a list for a list input).

    Raises:
        ValueError: an array is not three-dimensional.
    """
    if isinstance(scores, (list, tuple)):
        return [sum_per_token(s) for s in scores]
    scores = np.asarray(scores)
    if scores.ndim != 3:
        raise ValueError(f"sum_per_token expects scores of shape (N, L, D) on an Embedding's "
                         f"output; got shape {scores.shape}.")
    return scores.sum(axis=-1)


def reference_tokens(tokens, token: int | None = None) -> np.ndarray:
    """Reference token ids shaped like ``tokens``: all ``token``, or, with
    ``token=None``, ``ZERO_EMBEDDING_TOKEN`` (the zero embedding vector).
    Pass the result as the integer input's reference."""
    value = ZERO_EMBEDDING_TOKEN if token is None else int(token)
    return np.full(np.shape(tokens), value, dtype=np.float32)
