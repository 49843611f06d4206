"""``Scale`` (deeplift/layers/einsum_dense.py), the element-wise affine map of
the recurrent converter, against ``ScaleShift`` (deeplift/layers/affine.py).

Both compute ``y = x * scale + shift``, but their positive and negative parts
differ when the input's own parts are mixed: ``Scale`` is a ``LinearLayer``
(parts from the sign of the input's difference, the original's linear rule),
``ScaleShift`` carries the input's parts through, channel by channel. Under
RevealCancel the recurrent converter's numbers depend on which one it uses,
so they are not interchangeable. Expected values are worked by hand.
"""
import numpy as np
import pytest

import deeplift.layers as L
from deeplift.layers.einsum_dense import Scale
from deeplift.util import compile_func


@pytest.mark.parametrize("scale, scale_parts, scale_shift_parts", [
    (2.0, (2.0, 0.0), (6.0, -4.0)),      # ScaleShift: (2 * 3, 2 * -2)
    (-2.0, (0.0, -2.0), (4.0, -6.0)),    # ScaleShift: (-2 * -2, -2 * 3), swapped
])
def test_scale_parts_follow_the_input_difference_scale_shift_the_input_parts(
        scale, scale_parts, scale_shift_parts):
    # d = x1 - x2 with dx = (3, 2): d's parts are (3, -2), its difference 1
    x = L.Input(batch_shape=(None, 2), name="x")
    d = L.Dense(kernel=[[1.0], [-1.0]], bias=[0.5], name="d")(x)
    s = Scale(scale, 1.0, name="s")(d)
    ss = L.ScaleShift(scale=scale, offset=1.0, name="ss")(d)
    fn = compile_func([x.get_activation_vars(), x.get_reference_vars()],
                      [*d.get_pos_and_neg_contribs(), s.get_activation_vars(),
                       *s.get_pos_and_neg_contribs(), ss.get_activation_vars(),
                       *ss.get_pos_and_neg_contribs()])
    d_pos, d_neg, s_act, s_pos, s_neg, ss_act, ss_pos, ss_neg = fn(
        [np.array([[4.0, 1.0]], np.float32), np.array([[1.0, -1.0]], np.float32)])
    assert (d_pos.item(), d_neg.item()) == (3.0, -2.0)
    # same forward: (4 - 1 + 0.5) * scale + 1
    assert s_act.item() == ss_act.item() == 3.5 * scale + 1.0
    assert (s_pos.item(), s_neg.item()) == scale_parts
    assert (ss_pos.item(), ss_neg.item()) == scale_shift_parts
