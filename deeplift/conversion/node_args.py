"""Tensor references and arguments of one call in a saved inbound node.

Both dialects: Keras 2 lists ``[["inp", 0, 0, {}]]`` and Keras 3 dicts
``{"args": [...], "kwargs": {}}`` holding ``__keras_tensor__`` entries with a
``keras_history`` triple. Also the argument template of Keras-ops nodes
(tensor slots and constants, see ``layer_config.OP_ARGS_KEY``).
"""
from typing import Any

import numpy as np

from deeplift.conversion.layer_config import (
    CLASS_NAME_KEY, CONFIG_KEY, KERAS_HISTORY_KEY, KERAS_TENSOR_CLASS, NODE_ARGS_KEY,
    NODE_KWARGS_KEY, NUMPY_CLASS, OP_ARGS_KEY, OP_KWARGS_KEY, TENSOR_SLOT_KEY,
)

LocalRef = tuple[str, int, int]  # (layer, node, tensor) inside one model level


def _is_triple(obj: Any) -> bool:
    return (
        isinstance(obj, (list, tuple))
        and len(obj) >= 3
        and isinstance(obj[0], str)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in obj[1:3])
    )


def _sorted_values(obj: dict) -> list:
    # Keras flattens dict structures in sorted-key order.
    return [obj[key] for key in sorted(obj)]


def collect_list_refs(obj: Any) -> list[LocalRef]:
    """Keras 2 dialect: ``[name, node, tensor, kwargs]`` entries, possibly nested."""
    if _is_triple(obj):
        return [(obj[0], int(obj[1]), int(obj[2]))]
    if isinstance(obj, (list, tuple)):
        return [ref for item in obj for ref in collect_list_refs(item)]
    if isinstance(obj, dict):
        return [ref for item in _sorted_values(obj) for ref in collect_list_refs(item)]
    return []


def collect_keras_tensors(obj: Any) -> list[LocalRef]:
    """Keras 3 dialect: ``__keras_tensor__`` dicts anywhere in a structure."""
    if isinstance(obj, dict):
        if obj.get(CLASS_NAME_KEY) == KERAS_TENSOR_CLASS:
            history = (obj.get(CONFIG_KEY) or {}).get(KERAS_HISTORY_KEY)
            if not _is_triple(history):
                return []
            return [(history[0], int(history[1]), int(history[2]))]
        return [ref for item in _sorted_values(obj) for ref in collect_keras_tensors(item)]
    if isinstance(obj, (list, tuple)):
        return [ref for item in obj for ref in collect_keras_tensors(item)]
    return []


def named_call_tensors(node: Any, signature: tuple[str, ...]
                        ) -> tuple[list[str], list[LocalRef]]:
    """The tensors of one call, named by ``signature``: positional arguments
    first, then keyword arguments in signature order (both dialects)."""
    if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
        positional = [collect_keras_tensors(arg) for arg in node.get(NODE_ARGS_KEY) or []]
        keywords = {key: collect_keras_tensors(value)
                    for key, value in (node.get(NODE_KWARGS_KEY) or {}).items()}
    elif isinstance(node, (list, tuple)) and len(node) == 1 and len(node[0]) >= 3:
        # Keras 2: [[name, node, tensor, {kwarg: [name, node, tensor], ...}]]
        first = node[0]
        positional = [[(first[0], int(first[1]), int(first[2]))]]
        keywords = {key: collect_list_refs(value)
                    for key, value in (first[3] if len(first) > 3 else {}).items()}
    else:
        return [], []
    names, refs = [], []
    for name, found in zip(signature, positional):
        names += [name] * len(found)
        refs += found
    for name in signature:
        found = keywords.get(name) or []
        names += [name] * len(found)
        refs += found
    return names, refs


def _op_template(obj: Any, slots: list[int]) -> Any:
    """``obj`` with Keras tensors replaced by numbered slots (in the order
    :func:`collect_keras_tensors` lists them) and numpy constants by arrays."""
    if isinstance(obj, dict):
        if obj.get(CLASS_NAME_KEY) == KERAS_TENSOR_CLASS:
            slots.append(len(slots))
            return {TENSOR_SLOT_KEY: slots[-1]}
        if obj.get(CLASS_NAME_KEY) == NUMPY_CLASS:
            return np.asarray((obj.get(CONFIG_KEY) or {}).get("value"), dtype=np.float32)
        return {key: _op_template(obj[key], slots) for key in sorted(obj)}
    if isinstance(obj, (list, tuple)):
        return [_op_template(item, slots) for item in obj]
    return obj


def with_op_arguments(config: Any, node: Any) -> dict:
    """An ops node's config plus its call's arguments (see ``OP_ARGS_KEY``)."""
    config = dict(config) if isinstance(config, dict) else {}
    slots: list[int] = []
    if isinstance(node, dict):
        config[OP_ARGS_KEY] = _op_template(node.get(NODE_ARGS_KEY, []), slots)
        config[OP_KWARGS_KEY] = _op_template(node.get(NODE_KWARGS_KEY) or {}, slots)
    return config
