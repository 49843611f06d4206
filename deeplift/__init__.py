"""DeepLIFT attributions for TensorFlow 2 / Keras 3 models.

Implements "Learning Important Features Through Propagating Activation
Differences" (Shrikumar, Greenside & Kundaje, ICML 2017, arXiv:1704.02685):
the Rescale and RevealCancel rules, plus gradients, gradient x input, guided
backprop, DeconvNet and integrated gradients, behind the public API of the
original ``deeplift`` 0.6 package.
"""
__version__ = "1.0.0"

from deeplift import layers, models, targets, util
from deeplift.modes import (
    ConvMxtsMode, DataFormat, DenseMxtsMode, MaxPoolDeepLiftMode,
    NonlinearMxtsMode, PaddingMode, ScoringMode,
)

__all__ = [
    "__version__", "layers", "models", "targets", "util", "NonlinearMxtsMode",
    "DenseMxtsMode", "ConvMxtsMode", "MaxPoolDeepLiftMode", "ScoringMode",
    "PaddingMode", "DataFormat",
]
