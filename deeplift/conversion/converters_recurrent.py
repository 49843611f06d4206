"""Converters for SimpleRNN, LSTM, GRU and Bidirectional: unrolled over the
(fixed) sequence length into linear maps, activation layers, products and
additions, so every rule works through them.

The input projection ``x W + b`` runs once over all steps (one Dense on
``(N, L, D)``); step ``t`` slices it, adds ``h_{t-1} R`` and applies the
gates. Gate order and weight layout are Keras' (the same in Keras 2 and 3):
LSTM ``[i, f, c, o]``, GRU ``[z, r, h]`` (``reset_after=True``: bias
``(2, 3U)``, input then recurrent bias); states start at zero.
DeepLIFT_GenomicsDefault resolves to RevealCancel for the gate
nonlinearities, whose inputs are dense maps.
"""
from __future__ import annotations

import numpy as np

from deeplift import layers as dl
from deeplift.conversion import spec as spec_lib
from deeplift.conversion.layer_converters import (
    ACTIVATIONS, KERAS_MAJOR_KEY, KERAS_WEIGHTS_KEY, _unsupported, register,
)
from deeplift.conversion.errors import ConversionError
from deeplift.conversion.subgraph import INPUT_SHAPES_KEY, Subgraph, entry
from deeplift.layers.einsum_dense import Scale
from deeplift.layers.product import Product
from deeplift.layers.sequence import Slice, Stack
from deeplift.modes import NonlinearMxtsMode

GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}


_PROTOTYPES: dict[tuple, dl.Layer] = {}


def share_callables(layer: dl.Layer) -> dl.Layer:
    """Points ``layer.fn``/``layer.grad`` at those of one prototype per
    activation kind and parameters. The fused rule kernels are traced once
    per distinct callable; an unrolled layer has thousands of identical
    activations, which would otherwise each trigger an XLA compilation."""
    params = tuple(sorted((k, v) for k, v in vars(layer).items()
                          if isinstance(v, (int, float)) and not isinstance(v, bool)))
    key = (type(layer), params)
    prototype = _PROTOTYPES.setdefault(key, layer)
    layer.fn, layer.grad = prototype.fn, prototype.grad
    return layer


class _Unroller:
    """Builds the layers of one recurrent layer over ``steps`` time steps."""

    def __init__(self, config, name, verbose, mode, steps, source_layer, weights):
        self.config, self.name, self.verbose = config, name, verbose
        self.class_name = config["_class_name"]
        if mode == NonlinearMxtsMode.DeepLIFT_GenomicsDefault:
            mode = NonlinearMxtsMode.RevealCancel
        self.mode = mode
        self.steps = steps
        self.layers: list[dl.Layer] = []
        self.source = source_layer
        self.weights = weights
        self.units = int(config["units"])

    def add(self, layer, inputs):
        layer.set_inputs(inputs)
        self.layers.append(layer)
        return layer

    def activation(self, key, default, label, source):
        act = spec_lib.activation_name(self.config.get(key, default), self.name,
                                       self.class_name, "recurrent layer")
        if act not in ACTIVATIONS:
            _unsupported(self.config, self.name, f"{key}={act!r} is not supported")
        builder = ACTIVATIONS[act]
        if builder is None:
            return source
        layer = builder(self.config, name=f"{self.name}/{label}", verbose=self.verbose,
                        nonlinear_mxts_mode=self.mode)
        return self.add(share_callables(layer), source)

    def dense(self, label, kernel, bias, source):
        return self.add(dl.Dense(kernel, bias, name=f"{self.name}/{label}", verbose=self.verbose),
                        source)

    def gate(self, label, source, index):
        u = self.units
        return self.add(Slice(-1, index * u, (index + 1) * u, name=f"{self.name}/{label}",
                              verbose=self.verbose), source)

    def product(self, label, a, b):
        return self.add(Product(name=f"{self.name}/{label}", verbose=self.verbose,
                                nonlinear_mxts_mode=self.mode), [a, b])

    def plus(self, label, terms):
        terms = [t for t in terms if t is not None]
        if len(terms) == 1:
            return terms[0]
        return self.add(dl.Add(name=f"{self.name}/{label}", verbose=self.verbose), terms)

    def run(self):
        """Returns (outputs in processing order, last states)."""
        kernel, recurrent, bias = self.split_weights()
        projected = self.dense("x_proj", kernel, bias, self.source)
        order = range(self.steps - 1, -1, -1) if self.config.get("go_backwards") else range(self.steps)
        state, outputs = None, []
        for step_number, t in enumerate(order):
            label = f"t{step_number}"
            x_t = self.add(Slice(1, t, name=f"{self.name}/{label}/x", verbose=self.verbose),
                           projected)
            state = getattr(self, f"step_{self.class_name.lower()}")(label, x_t, state, recurrent)
            outputs.append(state[0])
        return outputs, state

    def split_weights(self):
        weights = list(self.weights)
        use_bias = self.config.get("use_bias", True)
        if len(weights) != (3 if use_bias else 2):
            _unsupported(self.config, self.name, f"expected kernel, recurrent_kernel"
                                                 f"{' and bias' if use_bias else ''}; found "
                                                 f"{len(weights)} weight arrays")
        kernel, recurrent = weights[0], weights[1]
        bias = weights[2] if use_bias else None
        self.recurrent_bias = None  # GRU reset_after: the candidate's recurrent bias
        if self.class_name == "GRU" and bias is not None and bias.ndim == 2:
            u = self.units
            # The z and r gates' recurrent bias is constant: fold it into the input bias.
            bias = bias[0] + np.concatenate([bias[1][:2 * u], np.zeros(u, bias.dtype)])
            self.recurrent_bias = weights[2][1][2 * u:]
        return kernel, recurrent, bias

    def step_simplernn(self, label, x_t, state, recurrent):
        rec = None if state is None else self.dense(f"{label}/h_proj", recurrent, None, state[0])
        pre = self.plus(f"{label}/pre", [x_t, rec])
        return (self.activation("activation", "tanh", f"{label}/h", pre),)

    def step_lstm(self, label, x_t, state, recurrent):
        rec = None if state is None else self.dense(f"{label}/h_proj", recurrent, None, state[0])
        pre = self.plus(f"{label}/pre", [x_t, rec])
        gates = [self.activation("recurrent_activation", "sigmoid", f"{label}/{g}",
                                 self.gate(f"{label}/{g}_pre", pre, i))
                 for i, g in ((0, "i"), (1, "f"), (3, "o"))]
        i, f, o = gates
        candidate = self.activation("activation", "tanh", f"{label}/g",
                                    self.gate(f"{label}/g_pre", pre, 2))
        kept = None if state is None else self.product(f"{label}/fc", f, state[1])
        c = self.plus(f"{label}/c", [kept, self.product(f"{label}/ig", i, candidate)])
        h = self.product(f"{label}/h", o, self.activation("activation", "tanh",
                                                          f"{label}/c_act", c))
        return h, c

    def step_gru(self, label, x_t, state, recurrent):
        u = self.units
        h_prev = None if state is None else state[0]
        reset_after = self.config.get("reset_after", True)
        x_zr = self.add(Slice(-1, 0, 2 * u, name=f"{self.name}/{label}/x_zr",
                              verbose=self.verbose), x_t)
        x_h = self.gate(f"{label}/x_h", x_t, 2)
        rec_zr = None if h_prev is None else self.dense(
            f"{label}/h_proj_zr", recurrent[:, :2 * u], None, h_prev)
        pre_zr = self.plus(f"{label}/pre_zr", [x_zr, rec_zr])
        z = self.activation("recurrent_activation", "sigmoid", f"{label}/z",
                            self.gate(f"{label}/z_pre", pre_zr, 0))
        r = self.activation("recurrent_activation", "sigmoid", f"{label}/r",
                            self.gate(f"{label}/r_pre", pre_zr, 1))
        rb = self.recurrent_bias
        if h_prev is None:  # the recurrent term is r * its bias (reset_after) or zero
            gated = None if rb is None else self.add(
                Scale(rb, 0.0, name=f"{self.name}/{label}/r_rec", verbose=self.verbose), r)
        elif reset_after:
            rec_h = self.dense(f"{label}/h_proj_h", recurrent[:, 2 * u:], rb, h_prev)
            gated = self.product(f"{label}/r_rec", r, rec_h)
        else:
            gated = self.dense(f"{label}/h_proj_h", recurrent[:, 2 * u:], None,
                               self.product(f"{label}/r_h", r, h_prev))
        candidate = self.activation("activation", "tanh", f"{label}/hh",
                                    self.plus(f"{label}/pre_h", [x_h, gated]))
        one_minus_z = self.add(Scale(-1.0, 1.0, name=f"{self.name}/{label}/1-z",
                                     verbose=self.verbose), z)
        new = self.product(f"{label}/new", one_minus_z, candidate)
        kept = None if h_prev is None else self.product(f"{label}/kept", z, h_prev)
        return (self.plus(f"{label}/h", [kept, new]),)


def _steps(config, name):
    shapes = config.get(INPUT_SHAPES_KEY) or []
    if len(shapes) != 1 or len(shapes[0]) != 3 or shapes[0][1] is None:
        _unsupported(config, name, f"input shape {shapes}; expected one input of shape "
                                   f"(batch, steps, features) with a fixed number of steps "
                                   f"(e.g. keras.Input((1000, 4)))")
    return int(shapes[0][1])


def unroll(config, name, verbose, mode, source, weights, class_name, steps):
    """Unrolls one recurrent layer on ``source``.

    Returns:
        (its layers, its output, the last states): the output is the
        sequence of ``h`` in processing order (``return_sequences``) or the
        last ``h``; the states are ``[h, c]`` (LSTM) or ``[h]``.
    """
    if config.get("stateful"):
        _unsupported(config, name, "stateful=True is not supported")
    config = dict(config, _class_name=class_name)
    unroller = _Unroller(config, name, verbose, mode, steps, source, weights)
    outputs, state = unroller.run()
    result = outputs[-1]
    if config.get("return_sequences"):
        result = Stack(1, name=f"{name}/sequence", verbose=verbose).set_inputs(outputs)
        unroller.layers.append(result)
    return unroller.layers, result, list(state), outputs


def _recurrent_conversion(class_name):
    def convert(config, name, verbose, nonlinear_mxts_mode, **_):
        steps = _steps(config, name)
        source = entry(f"{name}/input", verbose)
        layers, result, state, _ = unroll(config, name, verbose, nonlinear_mxts_mode, source,
                                       config[KERAS_WEIGHTS_KEY], class_name, steps)
        result.name = name  # the Keras layer's output keeps the Keras name
        outputs = [result] + (state if config.get("return_state") else [])
        return Subgraph([source] + layers, entries=[source], outputs=outputs)
    return convert


for _cls in GATES:
    register(_cls)(_recurrent_conversion(_cls))


def _inner(raw, name, what):
    if not isinstance(raw, dict) or raw.get("class_name") not in GATES:
        raise ConversionError(f"layer {name!r} (Bidirectional): its {what} is "
                              f"{str(raw)[:100]}; expected an LSTM, GRU or SimpleRNN")
    return raw["class_name"], dict(raw.get("config") or {})


@register("Bidirectional")
def bidirectional_conversion(config, name, verbose, nonlinear_mxts_mode, **_):
    steps = _steps(config, name)
    fwd_class, fwd_config = _inner(config.get("layer"), name, "layer")
    if config.get("backward_layer"):
        bwd_class, bwd_config = _inner(config["backward_layer"], name, "backward_layer")
    else:  # Keras 2 files: the backward layer mirrors the forward one
        bwd_class, bwd_config = fwd_class, dict(fwd_config,
                                                go_backwards=not fwd_config.get("go_backwards"))
    for inner in (fwd_config, bwd_config):
        inner[KERAS_MAJOR_KEY] = config.get(KERAS_MAJOR_KEY)
    weights = list(config[KERAS_WEIGHTS_KEY])
    half = len(weights) // 2
    source = entry(f"{name}/input", verbose)
    layers = [source]
    fwd_layers, fwd, fwd_state, _ = unroll(fwd_config, f"{name}/forward", verbose,
                                        nonlinear_mxts_mode, source, weights[:half],
                                        fwd_class, steps)
    bwd_config = dict(bwd_config, return_sequences=False)
    bwd_layers, bwd, bwd_state, bwd_steps = unroll(bwd_config, f"{name}/backward", verbose,
                                             nonlinear_mxts_mode, source, weights[half:],
                                             bwd_class, steps)
    layers += fwd_layers + bwd_layers
    if fwd_config.get("return_sequences"):
        # The backward sequence is re-reversed so that step t aligns with input t.
        bwd = Stack(1, name=f"{name}/backward/sequence", verbose=verbose
                    ).set_inputs(bwd_steps[::-1])
        layers.append(bwd)
    mode = config.get("merge_mode", "concat")
    merged = None
    if mode == "concat":
        merged = dl.Concat(axis=-1, name=name, verbose=verbose).set_inputs([fwd, bwd])
    elif mode == "sum":
        merged = dl.Add(name=name, verbose=verbose).set_inputs([fwd, bwd])
    elif mode == "mul":
        merged = Product(name=name, verbose=verbose, nonlinear_mxts_mode=nonlinear_mxts_mode
                         ).set_inputs([fwd, bwd])
    elif mode == "ave":
        total = dl.Add(name=f"{name}/sum", verbose=verbose).set_inputs([fwd, bwd])
        layers.append(total)
        merged = Scale(0.5, name=name, verbose=verbose).set_inputs(total)
    elif mode is not None:
        _unsupported(config, name, f"merge_mode={mode!r} is not supported; expected "
                                   f"'concat', 'sum', 'mul', 'ave' or None")
    if merged is None:
        fwd.name, bwd.name = f"{name}/forward", f"{name}/backward"
    outputs = [merged] if merged is not None else [fwd, bwd]
    layers += [merged] if merged is not None else []
    if config.get("return_state") or fwd_config.get("return_state"):
        outputs += fwd_state + bwd_state
    return Subgraph(layers, entries=[source], outputs=outputs)
