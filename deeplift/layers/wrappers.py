"""TimeDistributed: a chain of DeepLIFT layers applied to every step.

The wrapped chain sees inputs of shape ``(N * T, ...)`` (examples and steps
merged), exactly as Keras' TimeDistributed runs its layer. Its activations,
references, contribution parts and multipliers are those of a private
sub-graph whose input is fed the merged activations and references and the
merged contribution parts of this layer's input; the multipliers of the
sub-graph's input are split back into ``(T_tasks, N, T, ...)``. So every
rule of the wrapped layers (nonlinear modes included) applies unchanged and
conservation holds whenever it holds for the wrapped chain.
"""
from __future__ import annotations

import tensorflow as tf

from deeplift.layers.base import Input, Layer
from deeplift.traversal import ForwardPass, backward


class TimeDistributed(Layer):
    """Applies ``layers`` (a chain, each fed by the previous one; the first
    left unconnected) to every step of a ``(N, T, ...)`` input.

    Args:
        layers: the wrapped DeepLIFT layers, e.g. ``[Dense, ReLU]``.
        name, verbose: see ``Layer``.
    """

    def __init__(self, layers, **kwargs):
        super().__init__(**kwargs)
        layers = list(layers)
        if not layers or not all(isinstance(layer, Layer) for layer in layers):
            raise TypeError(f"TimeDistributed {self.name!r}: layers must be a non-empty list "
                            f"of deeplift layers; got {layers!r}.")
        if any(layer.takes_list_input or isinstance(layer, Input) for layer in layers):
            raise ValueError(f"TimeDistributed {self.name!r}: the wrapped layers must each "
                             f"take one input.")
        for previous, layer in zip(layers[:-1], layers[1:]):
            if layer.inputs is None:
                layer.set_inputs(previous)
        self.layers = layers
        self._inner_input: Input | None = None

    def _input_for(self, step_shape) -> Input:
        """The sub-graph's Input, created for the first per-step shape seen."""
        step_shape = tuple(step_shape)
        if self._inner_input is None:
            self._inner_input = Input(batch_shape=(None,) + step_shape,
                                      name=f"{self.name}/input")
            self.layers[0].set_inputs(self._inner_input)
        elif self._inner_input.get_batch_shape()[1:] != step_shape:
            raise ValueError(
                f"TimeDistributed {self.name!r}: built for steps of shape "
                f"{self._inner_input.get_batch_shape()[1:]}, got {step_shape}.")
        return self._inner_input

    @staticmethod
    def _merge(t: tf.Tensor, leading: int) -> tf.Tensor:
        """Merges the ``leading + 1``-th axis into the one before it."""
        shape = tf.shape(t)
        return tf.reshape(t, tf.concat([shape[:leading - 1], [-1], shape[leading + 1:]], 0))

    @staticmethod
    def _split(t: tf.Tensor, leading_shape: tf.Tensor, leading: int) -> tf.Tensor:
        shape = tf.shape(t)
        return tf.reshape(t, tf.concat([shape[:leading - 1], leading_shape, shape[leading:]], 0))

    def forward(self, inputs):
        x = inputs[0]
        self._input_for(x.shape[2:])
        y = self._merge(x, 1)
        for layer in self.layers:
            y = layer.forward([y])
        return self._split(y, tf.shape(x)[:2], 1)

    def _inner_pass(self, fp):
        def build():
            act = fp.act(self.inputs)
            ref = tf.broadcast_to(fp.ref(self.inputs), tf.shape(act))
            inner_input = self._input_for(act.shape[2:])
            inner = ForwardPass({inner_input: (self._merge(act, 1), self._merge(ref, 1))})
            pos, neg = fp.parts(self.inputs)
            inner.cached(inner_input, "parts", lambda: (self._merge(pos, 1), self._merge(neg, 1)))
            return inner

        return fp.cached(self, "inner_pass", build)

    def forward_parts(self, fp):
        inner = self._inner_pass(fp)
        steps = tf.shape(fp.act(self.inputs))[:2]
        pos, neg = inner.parts(self.layers[-1])
        return self._split(pos, steps, 1), self._split(neg, steps, 1)

    def backward(self, fp, pos, neg):
        inner = self._inner_pass(fp)
        steps = tf.shape(fp.act(self.inputs))[:2]
        seeds = (self._merge(pos, 2),) * 2 if pos is neg else (self._merge(pos, 2),
                                                               self._merge(neg, 2))
        result = backward(inner, [(self.layers[-1], seeds)], [self._inner_input])
        if id(self._inner_input) not in result:
            zeros = tf.zeros(tf.concat([tf.shape(pos)[:1], tf.shape(fp.act(self.inputs))], 0))
            return [(zeros, zeros)]
        in_pos, in_neg = result[id(self._inner_input)]
        in_pos_split = self._split(in_pos, steps, 2)
        return [(in_pos_split, in_pos_split if in_neg is in_pos else self._split(in_neg, steps, 2))]
