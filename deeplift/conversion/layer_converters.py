"""Registry: Keras layer class name -> function building DeepLIFT layers.

A converter is ``fn(config, name, verbose, **modes) -> list[Layer]`` (the
signature the original package used for ``custom_conversion_funcs``):
``config`` is the normalised Keras layer config with the layer's weights
under ``config["weights"]`` (Keras ``get_weights()`` order) and the file's
Keras major version under ``config["keras_major"]``, the number of input
tensors of the call under ``config["keras_num_inputs"]``; ``name`` is the
DeepLIFT name for the (last) layer; ``modes`` holds ``nonlinear_mxts_mode``,
``dense_mxts_mode``, ``conv_mxts_mode`` and ``maxpool_deeplift_mode``. The
returned layers form a chain: the first takes the Keras layer's inputs and
the last is the Keras layer's output; a layer whose inputs the converter
already set (a small graph, e.g. a normalisation) keeps them.
"""
from __future__ import annotations

from typing import Callable

from deeplift import layers as dl
from deeplift.conversion.errors import ConversionError

KERAS_WEIGHTS_KEY = "weights"
KERAS_MAJOR_KEY = "keras_major"
NUM_INPUTS_KEY = "keras_num_inputs"  # inputs of this call of the Keras layer

CONVERTERS: dict[str, Callable] = {}


def register(*class_names: str):
    """Decorator registering a converter under one or more class names."""

    def wrap(fn):
        for class_name in class_names:
            CONVERTERS[class_name] = fn
        return fn

    return wrap


def _unsupported(config, name, message):
    raise ConversionError(f"layer {config.get('name', name)!r}: {message}")


# ----- activations -----------------------------------------------------------

def _hard_sigmoid(config, **kwargs):
    if config.get(KERAS_MAJOR_KEY, 3) >= 3:  # relu6(x + 3) / 6
        return dl.HardSigmoid(slope=1.0 / 6.0, offset=0.5, **kwargs)
    return dl.HardSigmoid(slope=0.2, offset=0.5, **kwargs)


#: Fused activation name -> builder of the DeepLIFT activation layer (None: linear).
ACTIVATIONS: dict[str, Callable | None] = {
    "linear": None,
    "relu": lambda config, **kw: dl.ReLU(**kw),
    "relu6": lambda config, **kw: dl.ReLU(max_value=6.0, **kw),
    "sigmoid": lambda config, **kw: dl.Sigmoid(**kw),
    "tanh": lambda config, **kw: dl.Tanh(**kw),
    "softmax": lambda config, **kw: dl.Softmax(**kw),
    "elu": lambda config, **kw: dl.ELU(**kw),
    "softplus": lambda config, **kw: dl.Softplus(**kw),
    "hard_sigmoid": _hard_sigmoid,
    "leaky_relu": lambda config, **kw: dl.PReLU(alpha=0.2, **kw),
}


def unsupported_activation(config) -> str | None:
    """The config's fused activation when no converter exists for it."""
    activation = config.get("activation")
    if activation is None or activation in ACTIVATIONS:
        return None
    return activation


def _with_activation(config, name, verbose, nonlinear_mxts_mode, linear_layer_factory):
    """A linear layer plus its fused activation (``preact_<name>`` + ``name``)."""
    activation = config.get("activation", "linear")
    if activation not in ACTIVATIONS:
        _unsupported(config, name, f"activation {activation!r} is not supported")
    builder = ACTIVATIONS[activation]
    if builder is None:
        return [linear_layer_factory(name)]
    return [linear_layer_factory(f"preact_{name}"),
            builder(config, name=name, verbose=verbose, nonlinear_mxts_mode=nonlinear_mxts_mode)]


@register("Activation")
def activation_conversion(config, name, verbose, nonlinear_mxts_mode, **_):
    activation = config.get("activation", "linear")
    if activation not in ACTIVATIONS:
        _unsupported(config, name, f"activation {activation!r} is not supported")
    builder = ACTIVATIONS[activation]
    if builder is None:
        return [dl.NoOp(name=name, verbose=verbose)]
    return [builder(config, name=name, verbose=verbose, nonlinear_mxts_mode=nonlinear_mxts_mode)]


@register("ReLU")
def relu_conversion(config, name, verbose, nonlinear_mxts_mode, **_):
    return [dl.ReLU(max_value=config.get("max_value"),
                    negative_slope=config.get("negative_slope") or 0.0,
                    threshold=config.get("threshold") or 0.0,
                    name=name, verbose=verbose, nonlinear_mxts_mode=nonlinear_mxts_mode)]


@register("LeakyReLU")
def leaky_relu_conversion(config, name, verbose, nonlinear_mxts_mode, **_):
    slope = config.get("negative_slope", config.get("alpha", 0.3))
    return [dl.PReLU(alpha=slope, name=name, verbose=verbose,
                     nonlinear_mxts_mode=nonlinear_mxts_mode)]


@register("PReLU")
def prelu_conversion(config, name, verbose, nonlinear_mxts_mode, **_):
    (alpha,) = config[KERAS_WEIGHTS_KEY]
    return [dl.PReLU(alpha=alpha, name=name, verbose=verbose,
                     nonlinear_mxts_mode=nonlinear_mxts_mode)]


@register("ELU")
def elu_conversion(config, name, verbose, nonlinear_mxts_mode, **_):
    return [dl.ELU(alpha=config.get("alpha", 1.0), name=name, verbose=verbose,
                   nonlinear_mxts_mode=nonlinear_mxts_mode)]


@register("Softmax")
def softmax_conversion(config, name, verbose, nonlinear_mxts_mode, **_):
    axis = config.get("axis", -1)
    if axis not in (-1, [-1]):
        _unsupported(config, name, f"Softmax over axis {axis!r} is not supported; "
                                   f"only the last axis (-1)")
    return [dl.Softmax(name=name, verbose=verbose, nonlinear_mxts_mode=nonlinear_mxts_mode)]


# ----- linear layers -----------------------------------------------------------

def _kernel_and_bias(config, name):
    weights = config[KERAS_WEIGHTS_KEY]
    use_bias = config.get("use_bias", True)
    expected = 2 if use_bias else 1
    if len(weights) != expected:
        _unsupported(config, name, f"expected {expected} weight arrays (kernel"
                                   f"{', bias' if use_bias else ''}), found {len(weights)}")
    return weights[0], (weights[1] if use_bias else None)


@register("Dense")
def dense_conversion(config, name, verbose, dense_mxts_mode, nonlinear_mxts_mode, **_):
    kernel, bias = _kernel_and_bias(config, name)
    return _with_activation(config, name, verbose, nonlinear_mxts_mode, lambda layer_name: dl.Dense(
        kernel=kernel, bias=bias, dense_mxts_mode=dense_mxts_mode, name=layer_name, verbose=verbose))


def _conv_conversion(layer_class):
    def convert(config, name, verbose, conv_mxts_mode, nonlinear_mxts_mode, **_):
        if config.get("groups", 1) != 1:
            _unsupported(config, name, f"grouped convolution (groups={config['groups']}) is "
                                       f"not supported; expected groups=1")
        padding = str(config.get("padding", "valid")).lower()
        if padding not in ("valid", "same"):
            _unsupported(config, name, f"padding={padding!r} is not supported; expected "
                                       f"'valid' or 'same'")
        kernel, bias = _kernel_and_bias(config, name)
        return _with_activation(config, name, verbose, nonlinear_mxts_mode, lambda layer_name: layer_class(
            kernel=kernel, bias=bias, strides=tuple(config.get("strides", 1)),
            padding=padding, data_format=config.get("data_format") or "channels_last",
            dilation_rate=tuple(config.get("dilation_rate", 1)),
            conv_mxts_mode=conv_mxts_mode, name=layer_name, verbose=verbose))

    return convert


register("Conv1D", "Convolution1D")(_conv_conversion(dl.Conv1D))
register("Conv2D", "Convolution2D")(_conv_conversion(dl.Conv2D))
register("Conv3D", "Convolution3D")(_conv_conversion(dl.Conv3D))


@register("BatchNormalization")
def batchnorm_conversion(config, name, verbose, **_):
    weights = list(config[KERAS_WEIGHTS_KEY])
    gamma = weights.pop(0) if config.get("scale", True) else None
    beta = weights.pop(0) if config.get("center", True) else None
    if len(weights) != 2:
        _unsupported(config, name, "expected moving_mean and moving_variance weights")
    mean, var = weights
    return [dl.BatchNormalization(gamma=gamma, beta=beta, axis=config.get("axis", -1),
                                  mean=mean, var=var, epsilon=config.get("epsilon", 1e-3),
                                  name=name, verbose=verbose)]


# ----- pooling ---------------------------------------------------------------

def _pool_kwargs(config):
    return dict(pool_size=tuple(config.get("pool_size", 2)),
                strides=None if config.get("strides") is None else tuple(config["strides"]),
                padding=config.get("padding", "valid"),
                data_format=config.get("data_format") or "channels_last")


def _max_pool_conversion(layer_class):
    def convert(config, name, verbose, maxpool_deeplift_mode, **_):
        return [layer_class(maxpool_deeplift_mode=maxpool_deeplift_mode, name=name,
                            verbose=verbose, **_pool_kwargs(config))]
    return convert


def _avg_pool_conversion(layer_class):
    def convert(config, name, verbose, **_):
        return [layer_class(name=name, verbose=verbose, **_pool_kwargs(config))]
    return convert


register("MaxPooling1D", "MaxPool1D")(_max_pool_conversion(dl.MaxPool1D))
register("MaxPooling2D", "MaxPool2D")(_max_pool_conversion(dl.MaxPool2D))
register("MaxPooling3D", "MaxPool3D")(_max_pool_conversion(dl.MaxPool3D))
register("AveragePooling1D", "AvgPool1D")(_avg_pool_conversion(dl.AvgPool1D))
register("AveragePooling2D", "AvgPool2D")(_avg_pool_conversion(dl.AvgPool2D))
register("AveragePooling3D", "AvgPool3D")(_avg_pool_conversion(dl.AvgPool3D))


def _global_pool_conversion(layer_class, is_max):
    def convert(config, name, verbose, maxpool_deeplift_mode=None, **_):
        kwargs = dict(data_format=config.get("data_format") or "channels_last",
                      keepdims=config.get("keepdims", False), name=name, verbose=verbose)
        if is_max:
            kwargs["maxpool_deeplift_mode"] = maxpool_deeplift_mode
        return [layer_class(**kwargs)]
    return convert


register("GlobalMaxPooling1D", "GlobalMaxPool1D")(_global_pool_conversion(dl.GlobalMaxPool1D, True))
register("GlobalMaxPooling2D", "GlobalMaxPool2D")(_global_pool_conversion(dl.GlobalMaxPool2D, True))
register("GlobalAveragePooling1D", "GlobalAvgPool1D")(
    _global_pool_conversion(dl.GlobalAvgPool1D, False))
register("GlobalAveragePooling2D", "GlobalAvgPool2D")(
    _global_pool_conversion(dl.GlobalAvgPool2D, False))


# ----- routing ---------------------------------------------------------------

@register("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
          "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization")
def noop_conversion(config, name, verbose, **_):
    return [dl.NoOp(name=name, verbose=verbose)]


@register("Flatten")
def flatten_conversion(config, name, verbose, **_):
    return [dl.Flatten(data_format=config.get("data_format") or "channels_last",
                       name=name, verbose=verbose)]


@register("Reshape")
def reshape_conversion(config, name, verbose, **_):
    return [dl.Reshape(target_shape=config["target_shape"], name=name, verbose=verbose)]


@register("ZeroPadding1D")
def zero_padding_1d_conversion(config, name, verbose, **_):
    return [dl.ZeroPadding1D(padding=config.get("padding", 1), name=name, verbose=verbose)]


@register("ZeroPadding2D")
def zero_padding_2d_conversion(config, name, verbose, **_):
    return [dl.ZeroPadding2D(padding=config.get("padding", 1),
                             data_format=config.get("data_format") or "channels_last",
                             name=name, verbose=verbose)]


@register("Cropping1D")
def cropping_1d_conversion(config, name, verbose, **_):
    return [dl.Cropping1D(cropping=config.get("cropping", 1), name=name, verbose=verbose)]


@register("Cropping2D")
def cropping_2d_conversion(config, name, verbose, **_):
    return [dl.Cropping2D(cropping=config.get("cropping", 0),
                          data_format=config.get("data_format") or "channels_last",
                          name=name, verbose=verbose)]


@register("Concatenate")
def concat_conversion(config, name, verbose, **_):
    return [dl.Concat(axis=config.get("axis", -1), name=name, verbose=verbose)]


@register("Add")
def add_conversion(config, name, verbose, **_):
    return [dl.Add(name=name, verbose=verbose)]
