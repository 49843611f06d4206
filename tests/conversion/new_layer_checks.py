"""Shared checks for the converter tests of newly supported Keras layers.

``check_conversion`` converts a tiny Sequential model ending in a linear
Dense layer from the requested sources and compares, independently of the
library:

* the forward pass with Keras' own output;
* under Rescale and RevealCancel, with a non-zero reference: the summed
  input contributions with Keras' ``t(x) - t(x0)`` (summation to delta);
* under Gradient (every rule): the input multipliers with
  ``tf.GradientTape`` on the Keras model.
"""
from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from deeplift.conversion.kerasapi_conversion import (
    convert_keras_model, convert_model_from_saved_files,
)
from deeplift.modes import NonlinearMxtsMode as M

ATOL = 2e-5


def randomise(model, seed):
    """Random weights: kernels ~ N(0, 1/fan_in), biases and shifts ~ N(0, 0.3),
    variances in (0.5, 2), Normalization counts left alone."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        new = []
        for weight in layer.weights:
            short = weight.name.split("/")[-1].split(":")[0]
            shape = tuple(int(d) for d in weight.shape)
            if short in ("variance", "moving_variance"):
                value = rng.uniform(0.5, 2.0, shape)
            elif short == "count":
                value = np.asarray(weight.numpy())
            elif len(shape) <= 1:
                value = rng.normal(size=shape) * 0.3 + (1.0 if short == "gamma" else 0.0)
            else:
                fan_in = int(np.prod(shape[:-1])) or 1
                value = rng.normal(size=shape) / math.sqrt(fan_in)
            new.append(np.asarray(value, np.float32))
        if new:
            layer.set_weights(new)
            if hasattr(layer, "finalize_state"):  # Normalization: recompute its mean/std
                layer.finalize_state()
    return model


def inputs_and_reference(model, seed):
    """Four normal random examples shaped like ``model``'s input and a
    per-example reference of half their scale."""
    rng = np.random.default_rng(seed)
    shape = (4,) + tuple(model.input_shape[1:])
    return (rng.normal(size=shape).astype(np.float32),
            (0.5 * rng.normal(size=shape)).astype(np.float32))


def convert(model, source, tmp_path, **kwargs):
    kwargs.setdefault("verbose", False)
    if source == "live":
        return convert_keras_model(model, **kwargs)
    path = tmp_path / f"{model.name}.{source}"
    if not path.exists():
        model.save(str(path))
    return convert_model_from_saved_files(str(path), **kwargs)


def check_conversion(model, tmp_path, x, ref, sources=("live",), delta_modes=(M.Rescale,
                     M.RevealCancel), gradient=True, atol=ATOL):
    """Runs the checks of the module docstring on ``model`` (a Sequential
    whose last layer is a linear Dense with >= 2 units)."""
    expected = np.asarray(model(x))
    assert np.abs(expected).max() > 1e-3
    logits_ref = np.asarray(model(ref)).astype(np.float64)
    tasks = range(min(2, expected.shape[-1]))
    for source in sources:
        dl_model = convert(model, source, tmp_path, nonlinear_mxts_mode=M.Rescale)
        got = dl_model.get_prediction_function(input_layer_idx=0, output_layer_idx=-1)(
            [x], batch_size=4)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=atol,
                                   err_msg=f"{model.name} forward from {source}")
    for mode in delta_modes:
        dl_model = convert(model, sources[0], tmp_path, nonlinear_mxts_mode=mode)
        func = dl_model.get_target_contribs_func(find_scores_layer_idx=0, target_layer_idx=-1)
        for task in tasks:
            contribs = func(task_idx=task, input_data_list=[x], batch_size=4,
                            input_references_list=[ref])
            total = contribs.reshape(len(x), -1).astype(np.float64).sum(axis=1)
            delta = expected[:, task] - logits_ref[:, task]
            np.testing.assert_allclose(total, delta, rtol=1e-4, atol=1e-4 * max(1, np.abs(delta).max()),
                                       err_msg=f"{model.name} {mode.value} sum to delta, task {task}")
    if gradient:
        dl_model = convert(model, sources[0], tmp_path, nonlinear_mxts_mode=M.Gradient)
        func = dl_model.get_target_multipliers_func(find_scores_layer_idx=0, target_layer_idx=-1)
        xt = tf.constant(x)
        for task in tasks:
            with tf.GradientTape() as tape:
                tape.watch(xt)
                out = model(xt)[:, task]
            want = np.asarray(tape.gradient(out, xt))
            got = func(task_idx=task, input_data_list=[x], batch_size=4,
                       input_references_list=[ref])
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=atol,
                                       err_msg=f"{model.name} Gradient vs GradientTape")
