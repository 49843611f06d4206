"""DeepLIFT layers and the mode enums, importable as ``deeplift.layers.X``."""
from deeplift.layers.activations import (
    ELU, PReLU, ReLU, Activation, HardSigmoid, Sigmoid, Softmax, Softplus, Tanh,
)
from deeplift.layers.base import Input, Layer, SymbolicVar
from deeplift.layers.convolutional import Conv1D, Conv2D, Conv3D
from deeplift.layers.core import (
    Add, Concat, Cropping1D, Cropping2D, Dense, Flatten, NoOp, Reshape,
    ZeroPadding1D, ZeroPadding2D,
)
from deeplift.layers.normalization import BatchNormalization
from deeplift.layers.product import Product
from deeplift.layers.pooling import (
    AvgPool1D, AvgPool2D, AvgPool3D, GlobalAvgPool1D, GlobalAvgPool2D,
    GlobalMaxPool1D, GlobalMaxPool2D, MaxPool1D, MaxPool2D, MaxPool3D,
)
from deeplift.modes import (
    ConvMxtsMode, DataFormat, DenseMxtsMode, MaxPoolDeepLiftMode,
    NonlinearMxtsMode, PaddingMode, ScoringMode,
)

__all__ = [
    "Layer", "Input", "SymbolicVar", "Dense", "Flatten", "Reshape", "NoOp",
    "Concat", "Add", "ZeroPadding1D", "ZeroPadding2D", "Cropping1D", "Cropping2D",
    "Conv1D", "Conv2D", "Conv3D", "MaxPool1D", "MaxPool2D", "MaxPool3D",
    "AvgPool1D", "AvgPool2D", "AvgPool3D", "GlobalMaxPool1D", "GlobalMaxPool2D",
    "GlobalAvgPool1D", "GlobalAvgPool2D", "BatchNormalization", "Product", "Activation",
    "ReLU", "PReLU", "ELU", "Sigmoid", "HardSigmoid", "Tanh", "Softmax",
    "Softplus", "NonlinearMxtsMode", "DenseMxtsMode", "ConvMxtsMode",
    "MaxPoolDeepLiftMode", "ScoringMode", "PaddingMode", "DataFormat",
]
