"""Keras -> DeepLIFT autoconversion, under the original module path.

``convert_model_from_saved_files`` reads Keras 2 legacy HDF5, Keras 3 HDF5
and ``.keras`` archives straight from disk (h5py, json and zipfile; no Keras
layer is ever instantiated, so custom losses or objects elsewhere in the
model do not matter). ``convert_keras_model`` converts a live
``keras.Model``.
"""
from __future__ import annotations

import os

from deeplift.conversion.build import build_model
from deeplift.conversion.errors import ConversionError
from deeplift.conversion.layer_converters import (  # noqa: F401  (the original's names)
    CONVERTERS, activation_conversion, batchnorm_conversion, dense_conversion,
    flatten_conversion, prelu_conversion, relu_conversion, softmax_conversion,
)
from deeplift.conversion.readers import read_model_spec
from deeplift.legacy import enum
from deeplift.modes import ConvMxtsMode, DenseMxtsMode, MaxPoolDeepLiftMode, NonlinearMxtsMode

__all__ = [
    "convert_model_from_saved_files", "convert_keras_model", "convert_sequential_model",
    "convert_functional_model", "ConversionError", "layer_name_to_conversion_function",
    "ActivationTypes", "default_maxpool_deeplift_mode",
]


def _parse_modes(nonlinear_mxts_mode, dense_mxts_mode, conv_mxts_mode, maxpool_deeplift_mode):
    return dict(
        nonlinear_mxts_mode=NonlinearMxtsMode.parse(nonlinear_mxts_mode, "nonlinear_mxts_mode"),
        dense_mxts_mode=DenseMxtsMode.parse(dense_mxts_mode, "dense_mxts_mode"),
        conv_mxts_mode=ConvMxtsMode.parse(conv_mxts_mode, "conv_mxts_mode"),
        maxpool_deeplift_mode=MaxPoolDeepLiftMode.parse(maxpool_deeplift_mode,
                                                        "maxpool_deeplift_mode"),
    )


def convert_model_from_saved_files(
        h5_file: str | os.PathLike, json_file: str | os.PathLike | None = None,
        yaml_file: str | os.PathLike | None = None,
        nonlinear_mxts_mode=NonlinearMxtsMode.DeepLIFT_GenomicsDefault, verbose: bool = True,
        dense_mxts_mode=DenseMxtsMode.Linear, conv_mxts_mode=ConvMxtsMode.Linear,
        maxpool_deeplift_mode=MaxPoolDeepLiftMode.gradient, layer_overrides: dict | None = None,
        custom_conversion_funcs: dict | None = None, fallback_steps: int | None = None):
    """Converts a saved Keras model (``.h5`` of Keras 2 or 3, or ``.keras``).

    Args:
        h5_file: the saved model (or weights, with ``json_file``).
        json_file: architecture JSON for a weights-only HDF5 file.
        yaml_file: unsupported (Keras >= 2.6 dropped YAML); raises.
        nonlinear_mxts_mode: rule for every nonlinearity; the default
            DeepLIFT_GenomicsDefault means Rescale after convolutions and
            RevealCancel after Dense layers.
        verbose: kept for compatibility.
        dense_mxts_mode, conv_mxts_mode, maxpool_deeplift_mode: other rules.
        layer_overrides: per-layer mode overrides, keyed by Keras layer name
            (or, for Sequential models, position), e.g.
            ``{"conv1": {"nonlinear_mxts_mode": NonlinearMxtsMode.Gradient}}``.
        custom_conversion_funcs: ``{"KerasClassName": fn}`` for layers this
            package does not convert (see ``layer_converters``).
        fallback_steps: opt-in: convert every layer without a rule by its
            path-averaged gradient over this many steps
            (``deeplift.layers.fallback``); from a file only Keras built-in
            classes (never Lambda or custom classes). ``None``: unsupported
            layers are an error.

    Returns:
        ``SequentialModel`` for Sequential Keras models, else ``GraphModel``.

    Raises:
        FileNotFoundError: the file does not exist.
        ConversionError: unreadable file, missing weights, unsupported layers.
    """
    spec = read_model_spec(h5_file, json_file=json_file, yaml_file=yaml_file)
    return build_model(spec, verbose=verbose, layer_overrides=layer_overrides,
                       custom_conversion_funcs=custom_conversion_funcs,
                       fallback_steps=fallback_steps,
                       **_parse_modes(nonlinear_mxts_mode, dense_mxts_mode, conv_mxts_mode,
                                      maxpool_deeplift_mode))


def convert_keras_model(
        model, nonlinear_mxts_mode=NonlinearMxtsMode.DeepLIFT_GenomicsDefault,
        verbose: bool = True, dense_mxts_mode=DenseMxtsMode.Linear,
        conv_mxts_mode=ConvMxtsMode.Linear, maxpool_deeplift_mode=MaxPoolDeepLiftMode.gradient,
        layer_overrides: dict | None = None, custom_conversion_funcs: dict | None = None,
        fallback_steps: int | None = None):
    """Converts an in-memory ``keras.Model`` (Sequential or functional);
    keyword arguments as in ``convert_model_from_saved_files`` (the
    fallback wraps the live layer objects, of any class)."""
    spec = read_model_spec(model)
    return build_model(spec, verbose=verbose, layer_overrides=layer_overrides,
                       custom_conversion_funcs=custom_conversion_funcs,
                       fallback_steps=fallback_steps, live_model=model,
                       **_parse_modes(nonlinear_mxts_mode, dense_mxts_mode, conv_mxts_mode,
                                      maxpool_deeplift_mode))


def convert_sequential_model(model, **kwargs):
    """Converts a Sequential model (a live model or a saved file path)."""
    if isinstance(model, (str, os.PathLike)):
        return convert_model_from_saved_files(model, **kwargs)
    return convert_keras_model(model, **kwargs)


def convert_functional_model(model, **kwargs):
    """Converts a functional model (a live model or a saved file path)."""
    return convert_sequential_model(model, **kwargs)


# ----- the original module's other public names, for old scripts ----------
default_maxpool_deeplift_mode = MaxPoolDeepLiftMode.gradient
ActivationTypes = enum(relu="relu", prelu="prelu", sigmoid="sigmoid", softmax="softmax",
                       linear="linear")


def layer_name_to_conversion_function(layer_name: str):
    """The converter registered for a Keras layer class name, in any
    capitalisation (``"dense"``, ``"Conv1D"``, ...); converters take
    ``(config, name, verbose, **modes)`` and return a list of layers.

    Raises:
        ConversionError: no converter is registered for ``layer_name``.
    """
    by_lower_name = {name.lower(): fn for name, fn in CONVERTERS.items()}
    try:
        return by_lower_name[str(layer_name).lower()]
    except KeyError:
        raise ConversionError(
            f"No converter is registered for Keras layer class {layer_name!r}; "
            f"registered: {sorted(CONVERTERS)}.") from None


# The original's per-layer converter names, where a converter exists.
(conv1d_conversion, conv2d_conversion, maxpool1d_conversion, maxpool2d_conversion,
 avgpool1d_conversion, avgpool2d_conversion, dropout_conversion) = (
    layer_name_to_conversion_function(name) for name in (
        "Conv1D", "Conv2D", "MaxPooling1D", "MaxPooling2D", "AveragePooling1D",
        "AveragePooling2D", "Dropout"))
