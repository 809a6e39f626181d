"""Tests for videollm.vq.plots: every figure builds from tensors and numpy arrays and draws what it says."""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure

from videollm.vq import plots as vq_plots


def _gids(fig: Figure) -> set[str]:
    return {a.get_gid() for ax in fig.axes for a in ax.get_children() if a.get_gid()}


def test_voronoi_cells_follow_the_nearest_code():
    fig = Figure()
    ax = fig.add_subplot()
    codes = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    vq_plots.draw_voronoi(ax, torch.tensor([[0.1, 0.1], [0.9, -0.1]]), codes, resolution=50)
    cells = [a for a in ax.get_images() if a.get_gid() == "voronoi-cells"][0].get_array()
    assert cells[:, 0].max() == 0 and cells[:, -1].min() == 1, "left half belongs to code 0, right half to code 1"
    ax2 = Figure().add_subplot()
    vq_plots.draw_voronoi(ax2, np.zeros((3, 2)), np.ones((2, 2)), cells=False)
    assert not ax2.get_images()


def test_straight_through_arrows_start_at_codes_and_latents():
    ax = Figure().add_subplot()
    z, q, grad = torch.zeros(3, 2), torch.ones(3, 2), torch.full((3, 2), 2.0)
    vq_plots.draw_straight_through(ax, z, q, grad, scale=0.5)
    arrows = {c.get_gid(): c for c in ax.collections if c.get_gid()}
    assert np.allclose(arrows["grad-at-latent"].get_offsets(), 0) and np.allclose(arrows["grad-at-code"].get_offsets(), 1)
    assert np.allclose(arrows["grad-at-latent"].U, -1.0), "the arrow is the descent step -scale * grad"


def test_usage_histograms_sort_codes_and_report_perplexity():
    usage = {"collapsed": torch.tensor([0.0, 1.0, 0.0, 0.0]), "uniform": np.full(4, 0.25)}
    fig = vq_plots.usage_histograms(usage, {"collapsed": 1.0, "uniform": 4.0})
    assert len(fig.axes) == 2 and "usage" in _gids(fig)
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == sorted(heights, reverse=True) and heights[0] == 1.0
    assert "1/4 codes used" in fig.axes[0].get_title() and "perplexity 4" in fig.axes[1].get_title()


def test_history_curves_and_reconstructions_and_token_map():
    history = {"psnr": list(range(30)), "perplexity": [5.0] * 30}
    fig = vq_plots.history_curves({"a": history, "b": history}, smooth=10)
    assert len(fig.axes) == 2 and len(fig.axes[0].get_lines()) == 2
    assert len(fig.axes[0].get_lines()[0].get_ydata()) == 21, "running mean of 10 over 30 steps"
    fig = vq_plots.reconstruction_rows({"x": torch.rand(3, 3, 8, 8), "y": np.random.rand(5, 3, 8, 8)}, n=4)
    assert len(fig.axes) == 8 and fig.axes[0].get_ylabel() == "x"
    ax = Figure().add_subplot()
    vq_plots.draw_token_map(ax, torch.arange(6).reshape(2, 3))
    assert [t.get_text() for t in ax.texts] == [str(i) for i in range(6)]
