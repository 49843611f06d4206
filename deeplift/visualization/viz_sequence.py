"""Sequence logos of per-base scores (e.g. DeepLIFT contributions of DNA).

Each position of an (L, 4) score array is drawn as a stack of the letters A, C, G
and T, each a filled polygon whose height is its score: positive scores stack
upwards from zero, negative scores downwards, smaller magnitudes nearer the
axis. matplotlib is imported inside the functions, so ``import deeplift`` does
not need it.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_COLORS",
    "DEFAULT_PLOT_FUNCS",
    "default_colors",
    "default_plot_funcs",
    "plot_a",
    "plot_c",
    "plot_g",
    "plot_t",
    "plot_weights",
    "plot_weights_given_ax",
]

LETTER_GID_PREFIX = "deeplift-letter-"
HIGHLIGHT_GID = "deeplift-highlight"

# A letter function draws one letter into ax: fn(ax, base, left_edge, height, color).
PlotFunc = Callable[[Any, float, float, float, Any], None]


def _arc(center: tuple[float, float], radii: tuple[float, float], start_deg: float, stop_deg: float, num: int = 40) -> np.ndarray:
    """Points on an ellipse from start_deg to stop_deg (counter-clockwise if stop > start).

    The multiples of 90 degrees in the range are included, so the arc reaches
    the ellipse's extreme points and a letter's height is exactly its score.
    """
    lo, hi = min(start_deg, stop_deg), max(start_deg, stop_deg)
    cardinal = np.arange(np.ceil(lo / 90.0), np.floor(hi / 90.0) + 1) * 90.0
    angles = np.unique(np.concatenate([np.linspace(lo, hi, num), cardinal]))
    if stop_deg < start_deg:
        angles = angles[::-1]
    angles = np.deg2rad(angles)
    return np.stack([center[0] + radii[0] * np.cos(angles), center[1] + radii[1] * np.sin(angles)], axis=1)


def _signed_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


# Letter outlines in the unit box [0, 1] x [0, 1]: (outer ring, hole rings).
_STROKE = 0.17
_LETTER_A = (
    np.array([[0.0, 0.0], [0.2, 0.0], [0.312, 0.28], [0.688, 0.28], [0.8, 0.0], [1.0, 0.0], [0.6, 1.0], [0.4, 1.0]]),
    [np.array([[0.368, 0.42], [0.5, 0.75], [0.632, 0.42]])],
)
_LETTER_T = (
    np.array([[0.4, 0.0], [0.6, 0.0], [0.6, 0.8], [1.0, 0.8], [1.0, 1.0], [0.0, 1.0], [0.0, 0.8], [0.4, 0.8]]),
    [],
)
_INNER_RADII = (0.5 - _STROKE, 0.5 - _STROKE)
_LETTER_C = (
    np.concatenate([_arc((0.5, 0.5), (0.5, 0.5), 40, 320), _arc((0.5, 0.5), _INNER_RADII, 320, 40)]),
    [],
)
# G: the C's outer arc runs on to the right-hand side, a bar runs in at mid-height,
# and the inner arc starts where the bar's lower edge meets it.
_G_BAR_BOTTOM, _G_BAR_LEFT = 0.36, 0.55
_G_INNER_START = 360.0 + np.rad2deg(np.arcsin((_G_BAR_BOTTOM - 0.5) / _INNER_RADII[1]))
_LETTER_G = (
    np.concatenate([
        _arc((0.5, 0.5), (0.5, 0.5), 40, 360),
        [[_G_BAR_LEFT, 0.5], [_G_BAR_LEFT, _G_BAR_BOTTOM]],
        _arc((0.5, 0.5), _INNER_RADII, _G_INNER_START, 40),
    ]),
    [],
)


def _draw_letter(ax, outline, letter: str, base: float, left_edge: float, height: float, color) -> None:
    """Adds one letter, scaled to [left_edge, left_edge + 1] x the height, as a PathPatch.

    Negative heights are drawn upright below ``base``. The patch's gid is
    ``"deeplift-letter-<letter>"`` so plots can be inspected.
    """
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MplPath

    bottom = min(base, base + height)
    outer, holes = outline
    rings = []
    # Outer ring counter-clockwise, holes clockwise: with matplotlib's nonzero
    # fill rule the holes then stay empty.
    for ring, want_positive in [(outer, True)] + [(hole, False) for hole in holes]:
        ring = np.asarray(ring, dtype=float)
        if (_signed_area(ring) > 0) != want_positive:
            ring = ring[::-1]
        rings.append(ring * [1.0, abs(height)] + [left_edge, bottom])
    vertices = np.concatenate([np.concatenate([r, r[:1]]) for r in rings])
    codes = np.concatenate(
        [[MplPath.MOVETO] + [MplPath.LINETO] * (len(r) - 1) + [MplPath.CLOSEPOLY] for r in rings]
    )
    patch = PathPatch(MplPath(vertices, codes), facecolor=color, edgecolor="none", linewidth=0)
    patch.set_gid(f"{LETTER_GID_PREFIX}{letter}")
    ax.add_patch(patch)


def plot_a(ax, base: float, left_edge: float, height: float, color) -> None:
    """Draws the letter A into ``ax`` (see :func:`plot_weights_given_ax`)."""
    _draw_letter(ax, _LETTER_A, "A", base, left_edge, height, color)


def plot_c(ax, base: float, left_edge: float, height: float, color) -> None:
    """Draws the letter C into ``ax``."""
    _draw_letter(ax, _LETTER_C, "C", base, left_edge, height, color)


def plot_g(ax, base: float, left_edge: float, height: float, color) -> None:
    """Draws the letter G into ``ax``."""
    _draw_letter(ax, _LETTER_G, "G", base, left_edge, height, color)


def plot_t(ax, base: float, left_edge: float, height: float, color) -> None:
    """Draws the letter T into ``ax``."""
    _draw_letter(ax, _LETTER_T, "T", base, left_edge, height, color)


DEFAULT_COLORS: dict[int, Any] = {0: "green", 1: "blue", 2: "orange", 3: "red"}
DEFAULT_PLOT_FUNCS: dict[int, PlotFunc] = {0: plot_a, 1: plot_c, 2: plot_g, 3: plot_t}
#: The original's lower-case names of the two defaults.
default_colors, default_plot_funcs = DEFAULT_COLORS, DEFAULT_PLOT_FUNCS


def _check_scores(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(
            f"array must have shape (L, 4) (positions x ACGT); received shape {array.shape}. "
            "Transpose (4, L) arrays and select one sequence of an (N, L, 4) batch first."
        )
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"array must be numeric; received dtype {array.dtype}.")
    return array.astype(float)


def _check_channel_map(name: str, mapping: Mapping[int, Any] | None, default: Mapping[int, Any]) -> Mapping[int, Any]:
    if mapping is None:
        return default
    missing = [channel for channel in range(4) if channel not in mapping]
    if missing:
        raise ValueError(
            f"{name} must map every channel 0-3 (A, C, G, T); channels {missing} are missing "
            f"from the received keys {sorted(mapping)}."
        )
    return mapping


def plot_weights_given_ax(
    ax,
    array: np.ndarray,
    height_padding_factor: float = 0.2,
    length_padding: float = 1.0,
    subticks_frequency: float = 1.0,
    colors: Mapping[int, Any] | None = None,
    plot_funcs: Mapping[int, PlotFunc] | None = None,
    highlight: Mapping[Any, Sequence[tuple[int, int]]] | None = None,
):
    """Draws a sequence logo of ``array`` into an existing matplotlib Axes.

    Args:
        ax: a ``matplotlib.axes.Axes``.
        array: scores of shape (L, 4), channels in A, C, G, T order. Position i
            is drawn in the x range [i, i + 1].
        height_padding_factor: vertical margin, as a fraction of the range of
            the stacked heights.
        length_padding: horizontal margin in positions on each side.
        subticks_frequency: spacing of the x ticks, in positions.
        colors: channel index -> matplotlib color; ``None`` uses
            :data:`DEFAULT_COLORS` (A green, C blue, G orange, T red).
        plot_funcs: channel index -> ``fn(ax, base, left_edge, height, color)``
            drawing one letter; ``None`` uses :data:`DEFAULT_PLOT_FUNCS`.
        highlight: color -> list of ``(start, end)`` position intervals, each
            outlined by an unfilled rectangle from x = start to x = end.

    Returns:
        ``ax``.

    Raises:
        ValueError: ``array`` is not (L, 4), a color/plot function is missing,
            or a highlight interval has end < start.
    """
    from matplotlib.patches import Rectangle

    scores = _check_scores(array)
    colors = _check_channel_map("colors", colors, DEFAULT_COLORS)
    plot_funcs = _check_channel_map("plot_funcs", plot_funcs, DEFAULT_PLOT_FUNCS)
    highlight = {} if highlight is None else highlight
    length = scores.shape[0]

    max_pos, min_neg = 0.0, 0.0
    for position, row in enumerate(scores):
        above, below = 0.0, 0.0
        # Smaller magnitudes first, so they sit nearest the axis.
        for channel in sorted(range(4), key=lambda c: abs(row[c])):
            height = row[channel]
            if height == 0 or not np.isfinite(height):
                continue
            base = above if height > 0 else below
            plot_funcs[channel](ax, base, position, height, colors[channel])
            if height > 0:
                above += height
            else:
                below += height
        max_pos, min_neg = max(max_pos, above), min(min_neg, below)

    for color, intervals in highlight.items():
        for start, end in intervals:
            if end < start:
                raise ValueError(
                    f"highlight intervals must be (start, end) with start <= end; "
                    f"received ({start}, {end}) for color {color!r}."
                )
            rect = Rectangle(
                (start, min_neg), end - start, max_pos - min_neg, fill=False, edgecolor=color, linewidth=1.5
            )
            rect.set_gid(HIGHLIGHT_GID)
            ax.add_patch(rect)

    span = max_pos - min_neg
    padding = height_padding_factor * span if span > 0 else 1.0
    ax.set_xlim(-length_padding, length + length_padding)
    ax.set_ylim(min_neg - padding, max_pos + padding)
    ax.xaxis.set_ticks(np.arange(0.0, length + 1, subticks_frequency))
    return ax


def plot_weights(
    array: np.ndarray,
    figsize: tuple[float, float] = (20, 2),
    height_padding_factor: float = 0.2,
    length_padding: float = 1.0,
    subticks_frequency: float = 1.0,
    colors: Mapping[int, Any] | None = None,
    plot_funcs: Mapping[int, PlotFunc] | None = None,
    highlight: Mapping[Any, Sequence[tuple[int, int]]] | None = None,
    ax=None,
    out_path: str | os.PathLike | None = None,
):
    """Plots a sequence logo of an (L, 4) score array.

    Args:
        array: scores of shape (L, 4), channels in A, C, G, T order.
        figsize: size in inches of a new figure (ignored when ``ax`` is given).
        height_padding_factor, length_padding, subticks_frequency, colors,
            plot_funcs, highlight: see :func:`plot_weights_given_ax`.
        ax: Axes to draw into; ``None`` makes a new figure.
        out_path: if given, the figure is saved there as a PNG. A new figure is
            then built on matplotlib's non-interactive Agg canvas, outside
            pyplot, so scripts and tests need no display and leave no open
            pyplot figures behind.

    Returns:
        The ``matplotlib.figure.Figure`` drawn into.

    Raises:
        ValueError: see :func:`plot_weights_given_ax`.
    """
    _check_scores(array)  # fail before creating a figure
    if ax is None:
        if out_path is not None:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure

            fig = Figure(figsize=figsize)
            FigureCanvasAgg(fig)
            ax = fig.add_subplot(1, 1, 1)
        else:
            import matplotlib.pyplot as plt

            fig, ax = plt.subplots(figsize=figsize)
    fig = ax.figure
    plot_weights_given_ax(
        ax,
        array,
        height_padding_factor=height_padding_factor,
        length_padding=length_padding,
        subticks_frequency=subticks_frequency,
        colors=colors,
        plot_funcs=plot_funcs,
        highlight=highlight,
    )
    if out_path is not None:
        fig.savefig(out_path, format="png", bbox_inches="tight")
    return fig
