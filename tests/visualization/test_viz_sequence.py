"""Tests for deeplift.visualization.viz_sequence (sequence logos)."""
import numpy as np
import pytest

pytest.importorskip("matplotlib")

from deeplift.visualization.viz_sequence import plot_weights, plot_weights_given_ax  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _letter_patches(ax):
    return [p for p in ax.patches if (p.get_gid() or "").startswith("deeplift-letter-")]


def _data_extents(patch):
    # Letter paths are built in data coordinates, so the path's own extents are
    # the letter's box in the plot.
    return patch.get_path().get_extents()


def test_png_written(tmp_path):
    scores = np.random.default_rng(0).normal(size=(30, 4))
    out = tmp_path / "logo.png"
    fig = plot_weights(scores, out_path=out)
    assert out.is_file() and out.stat().st_size > 0
    assert out.read_bytes()[:8] == PNG_SIGNATURE
    assert fig.axes


def test_single_score_gives_one_letter_of_that_height(tmp_path):
    scores = np.zeros((8, 4))
    scores[3, 2] = 1.7  # G at position 3
    fig = plot_weights(scores, out_path=tmp_path / "g.png")
    letters = _letter_patches(fig.axes[0])
    assert len(letters) == 1
    assert letters[0].get_gid() == "deeplift-letter-G"
    box = _data_extents(letters[0])
    assert box.y0 == pytest.approx(0.0, abs=1e-9)
    assert box.height == pytest.approx(1.7, rel=1e-6)
    assert box.x0 == pytest.approx(3.0, abs=1e-6)
    assert box.x1 == pytest.approx(4.0, abs=1e-6)


def test_stacking_and_negative_scores(tmp_path):
    scores = np.zeros((5, 4))
    scores[1] = [0.5, 1.0, 0.0, -0.4]  # A and C stack upwards, T goes below zero
    fig = plot_weights(scores, out_path=tmp_path / "stack.png")
    boxes = {p.get_gid()[-1]: _data_extents(p) for p in _letter_patches(fig.axes[0])}
    assert set(boxes) == {"A", "C", "T"}
    assert (boxes["A"].y0, boxes["A"].y1) == pytest.approx((0.0, 0.5))
    assert (boxes["C"].y0, boxes["C"].y1) == pytest.approx((0.5, 1.5))
    assert (boxes["T"].y0, boxes["T"].y1) == pytest.approx((-0.4, 0.0))


def test_highlight_rectangles(tmp_path):
    scores = np.abs(np.random.default_rng(1).normal(size=(20, 4)))
    highlight = {"red": [(2, 5), (10, 12)], "blue": [(15, 18)]}
    fig = plot_weights(scores, highlight=highlight, out_path=tmp_path / "hl.png")
    rects = [p for p in fig.axes[0].patches if p.get_gid() == "deeplift-highlight"]
    spans = sorted((r.get_x(), r.get_x() + r.get_width()) for r in rects)
    assert spans == [(2, 5), (10, 12), (15, 18)]
    assert all(not r.get_fill() for r in rects)


def test_given_ax_and_custom_colors(tmp_path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    scores = np.zeros((4, 4))
    scores[0, 0] = 1.0
    colors = {0: "black", 1: "blue", 2: "orange", 3: "red"}
    assert plot_weights_given_ax(ax, scores, colors=colors) is ax
    (letter,) = _letter_patches(ax)
    assert letter.get_facecolor()[:3] == pytest.approx((0.0, 0.0, 0.0))


@pytest.mark.parametrize("shape", [(4, 10), (10,), (2, 10, 4), (10, 3)])
def test_bad_shape_raises(shape):
    with pytest.raises(ValueError, match=r"\(L, 4\)"):
        plot_weights(np.zeros(shape))


def test_incomplete_colors_and_bad_interval_raise(tmp_path):
    scores = np.ones((5, 4))
    with pytest.raises(ValueError, match="colors"):
        plot_weights(scores, colors={0: "red"}, out_path=tmp_path / "x.png")
    with pytest.raises(ValueError, match="start <= end"):
        plot_weights(scores, highlight={"red": [(3, 1)]}, out_path=tmp_path / "y.png")
