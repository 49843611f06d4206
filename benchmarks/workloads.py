"""The benchmark networks (random weights) and their DeepLIFT twins.

W1 genomics: one-hot (1000, 4) -> Conv1D 64x21 same relu -> Conv1D 64x11
  same relu -> MaxPool1D 4 -> Conv1D 64x5 same relu -> GlobalAveragePooling1D
  -> Dense 32 relu -> Dense 10.
W2 image: (28, 28, 1) -> Conv2D 32x3 relu -> Conv2D 64x3 relu -> MaxPool2D 2
  -> Flatten -> Dense 128 relu -> Dense 10.
W3 MLP: 512 -> 3 x Dense 1024 relu -> Dense 10.
"""
from __future__ import annotations

import numpy as np
import keras

from deeplift import layers as dl
from deeplift.models import SequentialModel


def genomics_cnn(seed: int = 0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((1000, 4)),
        keras.layers.Conv1D(64, 21, padding="same", activation="relu"),
        keras.layers.Conv1D(64, 11, padding="same", activation="relu"),
        keras.layers.MaxPooling1D(4),
        keras.layers.Conv1D(64, 5, padding="same", activation="relu"),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(10),
    ])

    def make_input(n, rng=np.random.default_rng(seed)):
        return np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(n, 1000))]

    return model, make_input


def image_cnn(seed: int = 0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.Conv2D(64, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10),
    ])

    def make_input(n, rng=np.random.default_rng(seed)):
        return rng.uniform(0, 1, size=(n, 28, 28, 1)).astype(np.float32)

    return model, make_input


def mlp(seed: int = 0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((512,))] + [
        keras.layers.Dense(1024, activation="relu") for _ in range(3)
    ] + [keras.layers.Dense(10)])

    def make_input(n, rng=np.random.default_rng(seed)):
        return rng.normal(size=(n, 512)).astype(np.float32)

    return model, make_input


WORKLOADS = {"W1-genomics": genomics_cnn, "W2-image": image_cnn, "W3-mlp": mlp}


def deeplift_model_from_keras(model, mode, maxpool_mode="gradient") -> SequentialModel:
    """DeepLIFT twin of the three sequential benchmark models (max pools in
    ``maxpool_mode``)."""
    out = [dl.Input(batch_shape=model.input_shape)]
    for layer in model.layers:
        weights = layer.get_weights()
        kind = type(layer).__name__
        if kind == "Conv1D":
            out.append(dl.Conv1D(weights[0], weights[1], stride=layer.strides[0],
                                 padding=layer.padding))
        elif kind == "Conv2D":
            out.append(dl.Conv2D(weights[0], weights[1], strides=layer.strides,
                                 padding=layer.padding))
        elif kind == "Dense":
            out.append(dl.Dense(weights[0], weights[1]))
        elif kind == "MaxPooling1D":
            out.append(dl.MaxPool1D(pool_length=layer.pool_size[0], stride=layer.strides[0],
                                    maxpool_deeplift_mode=maxpool_mode))
        elif kind == "MaxPooling2D":
            out.append(dl.MaxPool2D(pool_size=layer.pool_size, strides=layer.strides,
                                    maxpool_deeplift_mode=maxpool_mode))
        elif kind == "GlobalAveragePooling1D":
            out.append(dl.GlobalAvgPool1D())
        elif kind == "Flatten":
            out.append(dl.Flatten())
        else:
            raise ValueError(f"workloads: no mapping for {kind}")
        if getattr(layer, "activation", None) is keras.activations.relu:
            out.append(dl.ReLU(nonlinear_mxts_mode=mode))
    return SequentialModel(out)
