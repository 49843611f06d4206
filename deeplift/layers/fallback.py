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

from deeplift.layers.base import Layer, sign_split


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

    def residual(self, fp, pos: tf.Tensor, neg: tf.Tensor | None = None) -> tf.Tensor:
        """This layer's own conservation error, ``(T, N)`` per task and example.

        The contributions the fallback hands its inputs minus its own,
        ``sum(m_in+ dx+ + m_in- dx-) - sum(m+ dy+ + m- dy-)`` (``dx+/-``: the
        inputs' positive and negative parts, ``dy+/-``: this layer's), so 0
        means the layer conserves; the midpoint rule makes it shrink like
        ``1/K**2`` for a smooth layer.

        Args:
            fp: the forward pass of the scored inputs and references.
            pos, neg: this layer's output multipliers ``(T, N, ...)``; ``neg``
                None (or ``pos`` itself) on the single stream.
        """
        neg = pos if neg is None else neg

        def per_example(t):
            return tf.reduce_sum(tf.reshape(t, tf.concat([tf.shape(t)[:2], [-1]], 0)), -1)

        kept = []
        for (m_pos, m_neg), x in zip(self.backward(fp, pos, neg), self.input_layers()):
            x_pos, x_neg = fp.parts(x)
            kept.append(per_example(m_pos * x_pos + m_neg * x_neg))
        y_pos, y_neg = fp.parts(self)
        return tf.add_n(kept) - per_example(pos * y_pos + neg * y_neg)
