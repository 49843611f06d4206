"""Shared checks of converted Keras models against Keras itself.

Every expected number comes from Keras (``model(x)``), ``tf.GradientTape``
or the summation-to-delta identity, never from the code under test.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from deeplift.conversion.kerasapi_conversion import (
    convert_keras_model, convert_model_from_saved_files,
)
from deeplift.models import SequentialModel

SOURCES = ("keras", "h5", "live")


def save_both(model, tmp_path, stem):
    """Saves ``model`` as ``.keras`` and ``.h5``; returns ``{source: path or model}``."""
    paths = {"keras": tmp_path / f"{stem}.keras", "h5": tmp_path / f"{stem}.h5"}
    for path in paths.values():
        model.save(str(path))
    return {"keras": str(paths["keras"]), "h5": str(paths["h5"]), "live": model}


def convert(source_value, **kwargs):
    kwargs.setdefault("verbose", False)
    if isinstance(source_value, str):
        return convert_model_from_saved_files(source_value, **kwargs)
    return convert_keras_model(source_value, **kwargs)


def output_name(dl_model, keras_model):
    if isinstance(dl_model, SequentialModel):
        return None
    return f"{keras_model.outputs[0]._keras_history[0].name}_0"


def predict(dl_model, keras_model, inputs):
    if isinstance(dl_model, SequentialModel):
        fn = dl_model.get_prediction_function(input_layer_idx=0, output_layer_idx=-1)
    else:
        fn = dl_model.get_prediction_function(
            input_layer_names=dl_model.get_input_layer_names(),
            output_layer_name=output_name(dl_model, keras_model))
    return fn(inputs, batch_size=len(inputs[0]))


def _scoring(dl_model, keras_model, kind):
    if isinstance(dl_model, SequentialModel):
        get = (dl_model.get_target_contribs_func if kind == "contribs"
               else dl_model.get_target_multipliers_func)
        return get(find_scores_layer_idx=0, target_layer_idx=-1)
    get = (dl_model.get_target_contribs_func if kind == "contribs"
           else dl_model.get_target_multipliers_func)
    return get(find_scores_layer_name=dl_model.get_input_layer_names(),
               pre_activation_target_layer_name=output_name(dl_model, keras_model))


def scores(dl_model, keras_model, inputs, refs, task, kind="contribs"):
    func = _scoring(dl_model, keras_model, kind)
    out = func(task_idx=task, input_data_list=inputs, input_references_list=refs,
               batch_size=len(inputs[0]))
    return out if isinstance(out, list) else [out]


def assert_forward_matches(dl_model, keras_model, inputs, atol=1e-4, rtol=1e-4):
    expected = np.asarray(keras_model(inputs if len(inputs) > 1 else inputs[0]))
    got = predict(dl_model, keras_model, inputs)
    np.testing.assert_allclose(got, expected, atol=atol, rtol=rtol)


def assert_sums_to_delta(dl_model, keras_model, inputs, refs, task=0, atol=1e-4, rtol=1e-3):
    """Summed contributions of every input == output(x) - output(x0) for ``task``."""
    contribs = scores(dl_model, keras_model, inputs, refs, task)
    total = sum(c.reshape(len(c), -1).sum(axis=1) for c in contribs)
    call = (lambda xs: np.asarray(keras_model(xs if len(xs) > 1 else xs[0])))
    out, out0 = call(inputs), call([np.broadcast_to(r, x.shape) for r, x in zip(refs, inputs)])
    delta = (out - out0).reshape(len(out), -1)[:, task]
    np.testing.assert_allclose(total, delta, atol=atol, rtol=rtol)
    return contribs


def assert_gradient_matches_tape(dl_model, keras_model, inputs, task=0, atol=1e-4, rtol=1e-3):
    """Gradient-mode multipliers == tf.GradientTape gradients of the output."""
    refs = [np.zeros_like(x) for x in inputs]
    mxts = scores(dl_model, keras_model, inputs, refs, task, kind="mxts")
    tensors = [tf.constant(x) for x in inputs]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        out = keras_model(tensors if len(tensors) > 1 else tensors[0])
        target = tf.reshape(out, (len(inputs[0]), -1))[:, task]
    grads = tape.gradient(target, tensors)
    for got, expected in zip(mxts, grads):
        np.testing.assert_allclose(got, expected.numpy(), atol=atol, rtol=rtol)
