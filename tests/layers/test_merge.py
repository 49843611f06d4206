"""Merge layers: a hand-computed cross_max example for ElementwiseMax
(maximum and minimum) and the exact Subtract split."""
import numpy as np

import deeplift.layers as L
from deeplift.layers.merge import ElementwiseMax, Subtract
from deeplift.models import GraphModel
from deeplift.modes import NonlinearMxtsMode as M


def _two_input_model(merge):
    a_in, b_in = L.Input(batch_shape=(None, 2), name="a"), L.Input(batch_shape=(None, 2), name="b")
    merged = merge([a_in, b_in])
    out = L.Dense(kernel=np.ones((2, 1)), bias=np.zeros(1), name="out")(merged)
    return GraphModel({"a": a_in, "b": b_in, "m": merged, "out": out}, ["a", "b"])


def _scores(model, kind, inputs, refs):
    get = (model.get_target_contribs_func if kind == "contribs"
           else model.get_target_multipliers_func)
    func = get(find_scores_layer_name=["a", "b"], pre_activation_target_layer_name="out")
    return func(task_idx=0, input_data_list=inputs, input_references_list=refs, batch_size=2)


A, B = np.array([[3.0, 1.0]]), np.array([[2.0, 4.0]])
A0, B0 = np.array([[0.0, 5.0]]), np.array([[1.0, 0.0]])


def test_maximum_cross_max_by_hand():
    model = _two_input_model(ElementwiseMax(sign=1.0, nonlinear_mxts_mode=M.Rescale, name="m"))
    c_a, c_b = _scores(model, "contribs", [A, B], [A0, B0])
    # Element 0: max 3 (a), reference max 1 (b0), M = 3: a gets 3 - 1 = 2, b0's side 3 - 3 = 0.
    # Element 1: max 4 (b), reference max 5 (a0), M = 5: b gets 5 - 5 = 0, a gets 4 - 5 = -1.
    np.testing.assert_allclose(c_a, [[2.0, -1.0]], atol=1e-6)
    np.testing.assert_allclose(c_b, [[0.0, 0.0]], atol=1e-6)
    m_a, m_b = _scores(model, "mxts", [A, B], [A0, B0])
    np.testing.assert_allclose(m_a, [[2.0 / 3.0, 0.25]], atol=1e-6)
    np.testing.assert_allclose(m_b, [[0.0, 0.0]], atol=1e-6)


def test_minimum_cross_max_by_hand():
    model = _two_input_model(ElementwiseMax(sign=-1.0, nonlinear_mxts_mode=M.Rescale, name="m"))
    c_a, c_b = _scores(model, "contribs", [A, B], [A0, B0])
    # min = -max(-a, -b). Element 0: input min 2 (b), reference min 0 (a0),
    # M' = min(2, 0) = 0: b (input's arg-min) gets M' - 0 = 0, a (reference's)
    # gets 2 - M' = 2. Element 1: input min 1 (a), reference min 0 (b0), M' = 0:
    # a gets 0, b gets 1 - 0 = 1.
    np.testing.assert_allclose(c_a, [[2.0, 0.0]], atol=1e-6)
    np.testing.assert_allclose(c_b, [[0.0, 1.0]], atol=1e-6)
    np.testing.assert_allclose(c_a.sum() + c_b.sum(),
                               np.minimum(A, B).sum() - np.minimum(A0, B0).sum())


def test_maximum_gradient_mode_routes_to_the_argmax():
    model = _two_input_model(ElementwiseMax(sign=1.0, nonlinear_mxts_mode=M.Gradient, name="m"))
    m_a, m_b = _scores(model, "mxts", [A, B], [A0, B0])
    np.testing.assert_allclose(m_a, [[1.0, 0.0]])
    np.testing.assert_allclose(m_b, [[0.0, 1.0]])


def test_subtract_by_hand():
    model = _two_input_model(Subtract(name="m"))
    c_a, c_b = _scores(model, "contribs", [A, B], [A0, B0])
    np.testing.assert_allclose(c_a, A - A0, atol=1e-6)
    np.testing.assert_allclose(c_b, -(B - B0), atol=1e-6)
