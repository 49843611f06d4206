"""Plots for DeepLIFT scores (matplotlib is imported only when a plot is drawn).

See :mod:`deeplift.visualization.viz_sequence` for sequence logos of per-base scores.
"""
