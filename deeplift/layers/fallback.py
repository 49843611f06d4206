"""An opt-in fallback for Keras layers without a DeepLIFT rule.

``KerasFallback`` runs the Keras layer itself forward, and sends multipliers
back with its Jacobian averaged along the straight path from the reference
input to the actual input (``steps`` midpoints, integrated-gradients
style)::

    m_in = (1/K) sum_k J(x0 + (k + 1/2)/K (x - x0))^T m

For a linear layer this is exact; for a layer with a DeepLIFT rule it
converges to that rule's Rescale form as ``K`` grows only where the two
agree (element-wise nonlinearities). In general ``sum(m_in dx)`` differs from
``sum(m dy)`` by a residual that shrinks with ``K``; ``residual`` measures it
so the convergence report can show what the fallback costs.
"""
from __future__ import annotations

import tensorflow as tf

from deeplift.layers.base import Layer, map_streams, sign_split


class KerasFallback(Layer):
    """A Keras layer treated by path-averaged gradients.

    Args:
        keras_layer: a built, callable Keras layer (weights loaded).
        steps: number of path points ``K`` (>= 1).
        num_inputs: how many tensors the Keras layer is called with.
        name, verbose: see ``Layer``.
    """

    def __init__(self, keras_layer, steps: int, num_inputs: int = 1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise ValueError(f"KerasFallback {self.name!r}: steps must be a positive int; "
                             f"got {steps!r}.")
        self.keras_layer = keras_layer
        self.steps = steps
        self.num_inputs = int(num_inputs)
        self.takes_list_input = self.num_inputs > 1

    def _call(self, inputs):
        out = self.keras_layer(inputs if self.takes_list_input else inputs[0])
        return tf.convert_to_tensor(out, dtype=tf.float32)

    def forward(self, inputs):
        return self._call(inputs)

    def forward_parts(self, fp):
        return sign_split(fp.diff(self))

    def path_vjp(self, fp, mxts: tf.Tensor) -> list[tf.Tensor]:
        """``(1/K) sum_k J(x_k)^T m`` for each input; ``mxts`` ``(T, N, ...)``."""
        acts = [fp.act(x) for x in self.input_layers()]
        diffs = [fp.diff(x) for x in self.input_layers()]
        tasks = tf.shape(mxts)[0]
        flat_m = tf.reshape(mxts, tf.concat([[-1], tf.shape(mxts)[2:]], 0))
        total = None
        for k in range(self.steps):
            alpha = (k + 0.5) / self.steps
            points = [tf.reshape(tf.tile((a - (1.0 - alpha) * d)[None], tf.concat(
                [[tasks], tf.ones([tf.rank(a)], tf.int32)], 0)),
                tf.concat([[-1], tf.shape(a)[1:]], 0)) for a, d in zip(acts, diffs)]
            with tf.GradientTape() as tape:
                for p in points:
                    tape.watch(p)
                out = self._call(points)
            grads = tape.gradient(out, points, output_gradients=flat_m,
                                  unconnected_gradients=tf.UnconnectedGradients.ZERO)
            total = grads if total is None else [t + g for t, g in zip(total, grads)]
        return [tf.reshape(t / self.steps, tf.concat([[tasks, -1], tf.shape(t)[1:]], 0))
                for t in total]

    def backward(self, fp, pos, neg):
        if pos is neg:
            return [(m, m) for m in self.path_vjp(fp, pos)]
        return list(zip(self.path_vjp(fp, pos), self.path_vjp(fp, neg)))

    def residual(self, fp, mxts: tf.Tensor) -> tf.Tensor:
        """``sum(m_in dx) - sum(m dy)`` per task and example, ``(T, N)``: the
        part of the output's contribution the fallback loses (0 = exact)."""
        def per_example(t):
            return tf.reduce_sum(tf.reshape(t, tf.concat([tf.shape(t)[:2], [-1]], 0)), -1)

        into = self.path_vjp(fp, mxts)
        kept = tf.add_n([per_example(m * fp.diff(x)) for m, x in zip(into, self.input_layers())])
        return kept - per_example(mxts * fp.diff(self))
