"""Shared pieces of the sequence-model tests (recurrent, attention): tiny
Keras models with random weights, conversion from every source, and the
independent expectations (Keras forward passes, tf.GradientTape)."""
from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from deeplift.conversion.kerasapi_conversion import (
    convert_keras_model, convert_model_from_saved_files,
)

SOURCES = ("k3_live", "k3_keras", "k3_h5", "k2_h5")


def randomise(model, seed=0):
    """Kernels ~ N(0, 1/fan_in), biases ~ N(0, 0.3^2), so gates are far from 0.5."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        shape = tuple(int(d) for d in weight.shape)
        if "bias" in weight.name:
            value = rng.normal(size=shape) * 0.3
        else:
            value = rng.normal(size=shape) / math.sqrt(int(np.prod(shape[:-1])) or 1)
        weight.assign(value.astype(np.float32))
    return model


def convert(model, source, tmp_path, **kwargs):
    """Converts ``model`` (Keras 3 for k3_*, tf_keras for k2_h5) from ``source``."""
    kwargs.setdefault("verbose", False)
    if source == "k3_live":
        return convert_keras_model(model, **kwargs)
    path = tmp_path / ("m.keras" if source == "k3_keras" else "m.h5")
    model.save(str(path))
    return convert_model_from_saved_files(str(path), **kwargs)


def predict(dl_model, inputs, output_name):
    fn = dl_model.get_prediction_function(
        input_layer_names=dl_model.get_input_layer_names(), output_layer_name=output_name)
    return fn(inputs, batch_size=8)


def scores(dl_model, kind, inputs, refs, scored, target, task=0):
    """Contributions (``kind="contribs"``) or multipliers of ``scored`` layers."""
    names = scored if isinstance(scored, list) else [scored]
    getter = (dl_model.get_target_contribs_func if kind == "contribs"
              else dl_model.get_target_multipliers_func)
    fn = getter(find_scores_layer_name=names, pre_activation_target_layer_name=target)
    out = fn(task_idx=task, input_data_list=inputs, input_references_list=refs,
             batch_size=8, progress_update=None)
    return out if isinstance(out, list) else [out]


def tape_gradient(model, inputs, task=0):
    """d output[:, task] / d inputs by tf.GradientTape on the Keras model."""
    tensors = [tf.constant(x) for x in inputs]
    with tf.GradientTape() as tape:
        for t in tensors:
            tape.watch(t)
        out = model(tensors if len(tensors) > 1 else tensors[0])
        out = tf.reshape(out, [tf.shape(out)[0], -1])[:, task]
    grads = tape.gradient(out, tensors)
    return [np.zeros_like(x) if g is None else g.numpy() for g, x in zip(grads, inputs)]


def keras_out(model, inputs, task=0):
    out = np.asarray(model(inputs if len(inputs) > 1 else inputs[0]))
    return out.reshape(len(out), -1)[:, task].astype(np.float64)


def assert_sums(contribs, delta, rtol=1e-5):
    total = sum(c.reshape(len(c), -1).astype(np.float64).sum(1) for c in contribs)
    err = np.abs(total - delta)
    tol = rtol * np.maximum(1.0, np.abs(delta))
    assert np.all(err <= tol), f"sum-to-delta off by {err.max():.3g} (delta {delta})"
