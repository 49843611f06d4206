"""A small attention model on the simulated genomics data, for the attention
notebook: a convolution finds motif-like features, self-attention mixes the
positions (so "has both" can relate a GATA to a TAL1 site), and a pooled
dense layer predicts the three tasks."""
from __future__ import annotations

import numpy as np

from examples.genomics.simulation import TASK_NAMES


def build_and_train_attention(data, settings, heads: int = 2):
    """Conv1D -> MaxPool -> MultiHeadAttention (+ residual) -> global average
    pool -> Dense (sigmoid outputs), trained like the CNN of ``pipeline``."""
    import keras

    keras.utils.set_random_seed(settings.seed)
    x = keras.Input((settings.seq_len, 4), name="sequence")
    # valid padding: against a uniform reference the conv output is constant along the
    # sequence, so the max pool conserves (see the CNN notebook for the edge caveat)
    h = keras.layers.Conv1D(32, 15, padding="valid", activation="relu", name="conv")(x)
    h = keras.layers.MaxPooling1D(4, name="pool")(h)
    a = keras.layers.MultiHeadAttention(heads, 16, name="attention")(h, h)
    h = keras.layers.Add(name="residual")([h, a])
    h = keras.layers.GlobalAveragePooling1D(name="gap")(h)
    out = keras.layers.Dense(len(TASK_NAMES), activation="sigmoid", name="tasks")(h)
    model = keras.Model(x, out)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="binary_crossentropy")
    model.fit(data.one_hot, data.labels, epochs=settings.epochs + 2, batch_size=64, verbose=0)
    return model


def per_position(scores: np.ndarray) -> np.ndarray:
    """Contributions ``(N, L, 4)`` summed over the alphabet: ``(N, L)``."""
    return np.asarray(scores).sum(axis=-1)
