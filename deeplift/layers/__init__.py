"""DeepLIFT layers and the mode enums, importable as ``deeplift.layers.X``."""
from deeplift.layers.activations import (
    ELU, GELU, SELU, Activation, Exponential, HardSigmoid, HardSiLU, HardSwish, Mish, PReLU,
    ReLU, Sigmoid, SiLU, Softmax, Softplus, Softsign, Swish, Tanh,
)
from deeplift.layers.affine import ScaleShift
from deeplift.layers.base import Input, Layer, SymbolicVar
from deeplift.layers.convolutional import Conv, Conv1D, Conv2D, Conv3D
from deeplift.layers.core import (
    Blob, Node, Add, Concat, Cropping1D, Cropping2D, Dense, Flatten, NoOp, Reshape,
    ZeroPadding1D, ZeroPadding2D,
)
from deeplift.layers.depthwise import DepthwiseConv1D, DepthwiseConv2D
from deeplift.layers.normalization import BatchNormalization
from deeplift.layers.pooling import (
    AvgPool1D, AvgPool2D, AvgPool3D, GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D,
    GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D, MaxPool1D, MaxPool2D, MaxPool3D,
)
from deeplift.layers.product import Product
from deeplift.layers.reshaping import (
    Cropping3D, Permute, RepeatVector, UpSampling1D, UpSampling2D, UpSampling3D, ZeroPadding3D,
)
from deeplift.layers.transposed import Conv1DTranspose, Conv2DTranspose, Conv3DTranspose
from deeplift.layers.wrappers import TimeDistributed
from deeplift.modes import (
    ActivationNames, PoolMode, ConvMxtsMode, DataFormat, DenseMxtsMode, MaxPoolDeepLiftMode,
    NonlinearMxtsMode, PaddingMode, ScoringMode,
)

__all__ = [
    "Layer", "Input", "SymbolicVar", "Dense", "Flatten", "Reshape", "NoOp",
    "Concat", "Add", "ZeroPadding1D", "ZeroPadding2D", "Cropping1D", "Cropping2D",
    "Conv1D", "Conv2D", "Conv3D", "DepthwiseConv1D", "DepthwiseConv2D",
    "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "ScaleShift",
    "UpSampling1D", "UpSampling2D", "UpSampling3D", "Permute", "RepeatVector",
    "ZeroPadding3D", "Cropping3D", "GlobalMaxPool3D", "GlobalAvgPool3D", "TimeDistributed", "MaxPool1D", "MaxPool2D", "MaxPool3D",
    "AvgPool1D", "AvgPool2D", "AvgPool3D", "GlobalMaxPool1D", "GlobalMaxPool2D",
    "GlobalAvgPool1D", "GlobalAvgPool2D", "BatchNormalization", "Product", "Activation",
    "ReLU", "PReLU", "ELU", "Sigmoid", "HardSigmoid", "Tanh", "Softmax",
    "Softplus", "SiLU", "Swish", "GELU", "HardSiLU", "HardSwish", "Mish", "SELU",
    "Softsign", "Exponential", "NonlinearMxtsMode", "DenseMxtsMode", "ConvMxtsMode",
    "MaxPoolDeepLiftMode", "ScoringMode", "PaddingMode", "DataFormat",
    "PoolMode", "ActivationNames", "Blob", "Node", "Conv",
]
