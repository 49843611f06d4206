"""Argument validation and data-format helpers shared by layer modules."""
from __future__ import annotations

import tensorflow as tf

from deeplift.modes import DataFormat


def standardize_tuple(value, rank: int, argument: str, layer_name: str) -> tuple[int, ...]:
    """Turns an int or a sequence of ``rank`` ints into a tuple of positive ints.

    Raises:
        ValueError: naming the layer, the argument and what was received.
    """
    values = (value,) * rank if isinstance(value, int) else tuple(value)
    if len(values) != rank or not all(isinstance(v, int) and v > 0 for v in values):
        raise ValueError(
            f"Layer {layer_name!r}: {argument} must be a positive int or "
            f"{rank} positive ints; got {value!r}."
        )
    return values


def standardize_pairs(value, rank: int, argument: str, layer_name: str) -> tuple[tuple[int, int], ...]:
    """Padding/cropping amounts as ``rank`` pairs ``(before, after)``.

    Accepts an int (same everywhere), ``rank`` ints (symmetric per axis),
    a single pair when ``rank == 1``, or ``rank`` pairs.
    """
    try:
        if isinstance(value, int):
            pairs = ((value, value),) * rank
        elif rank == 1 and len(value) == 2 and all(isinstance(v, int) for v in value):
            pairs = (tuple(value),)
        elif all(isinstance(v, int) for v in value):
            pairs = tuple((v, v) for v in value)
        else:
            pairs = tuple(tuple(int(x) for x in v) for v in value)
        ok = len(pairs) == rank and all(len(p) == 2 and min(p) >= 0 for p in pairs)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(
            f"Layer {layer_name!r}: {argument} must be an int, {rank} ints or "
            f"{rank} (before, after) pairs of non-negative ints; got {value!r}."
        )
    return pairs


def parse_data_format(value, layer_name: str) -> DataFormat:
    try:
        return DataFormat.parse(value, "data_format")
    except ValueError as err:
        raise ValueError(f"Layer {layer_name!r}: {err}") from None


def to_channels_last(x: tf.Tensor, data_format: DataFormat) -> tf.Tensor:
    """Moves axis 1 to the end for channels_first tensors.

    TensorFlow's CPU kernels only run channels_last convolutions and pools,
    so channels_first layers transpose around a channels_last op.
    """
    if data_format == DataFormat.channels_last:
        return x
    rank = x.shape.rank
    return tf.transpose(x, [0] + list(range(2, rank)) + [1])


def to_channels_first(x: tf.Tensor, data_format: DataFormat) -> tf.Tensor:
    """Inverse of ``to_channels_last``."""
    if data_format == DataFormat.channels_last:
        return x
    rank = x.shape.rank
    return tf.transpose(x, [0, rank - 1] + list(range(1, rank - 1)))


def channels_last_op(op, x: tf.Tensor, data_format: DataFormat) -> tf.Tensor:
    """Runs a channels_last ``op`` on ``x`` stored in ``data_format``."""
    return to_channels_first(op(to_channels_last(x, data_format)), data_format)
