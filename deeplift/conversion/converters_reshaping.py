"""Converter entries for the routing layers: Identity, UpSampling1D/2D/3D,
Permute, RepeatVector, ZeroPadding3D, Cropping3D and the 3-d global pools."""
from __future__ import annotations

from deeplift import layers as dl
from deeplift.conversion.layer_converters import _global_pool_conversion, _unsupported, register


def _data_format(config):
    return config.get("data_format") or "channels_last"


@register("Identity")
def identity_conversion(config, name, verbose, **_):
    return [dl.NoOp(name=name, verbose=verbose)]


def _upsampling_conversion(layer_class):
    def convert(config, name, verbose, **_):
        interpolation = config.get("interpolation", "nearest")
        if interpolation not in layer_class.INTERPOLATIONS:
            _unsupported(config, name, f"interpolation={interpolation!r} is not supported; "
                                       f"expected one of {list(layer_class.INTERPOLATIONS)}")
        size = config.get("size", 2)
        size = size if isinstance(size, int) else tuple(size)
        kwargs = {} if layer_class is dl.UpSampling1D else {"data_format": _data_format(config)}
        return [layer_class(size=size, interpolation=interpolation, name=name, verbose=verbose,
                            **kwargs)]
    return convert


register("UpSampling1D")(_upsampling_conversion(dl.UpSampling1D))
register("UpSampling2D")(_upsampling_conversion(dl.UpSampling2D))
register("UpSampling3D")(_upsampling_conversion(dl.UpSampling3D))


@register("Permute")
def permute_conversion(config, name, verbose, **_):
    return [dl.Permute(dims=config["dims"], name=name, verbose=verbose)]


@register("RepeatVector")
def repeat_vector_conversion(config, name, verbose, **_):
    return [dl.RepeatVector(n=config["n"], name=name, verbose=verbose)]


@register("ZeroPadding3D")
def zero_padding_3d_conversion(config, name, verbose, **_):
    return [dl.ZeroPadding3D(padding=config.get("padding", 1), data_format=_data_format(config),
                             name=name, verbose=verbose)]


@register("Cropping3D")
def cropping_3d_conversion(config, name, verbose, **_):
    return [dl.Cropping3D(cropping=config.get("cropping", 1), data_format=_data_format(config),
                          name=name, verbose=verbose)]


register("GlobalMaxPooling3D", "GlobalMaxPool3D")(
    _global_pool_conversion(dl.GlobalMaxPool3D, True))
register("GlobalAveragePooling3D", "GlobalAvgPool3D")(
    _global_pool_conversion(dl.GlobalAvgPool3D, False))
