"""Tests for videollm.motion.plots: the arrows, error maps, strips and token grids it promises (Agg, no display)."""

from io import BytesIO

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.quiver import Quiver  # noqa: E402

from videollm.motion import plots as motion_plots  # noqa: E402


def _frame(h=32, w=48):
    return np.random.default_rng(0).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def _render(fig):
    fig.savefig(BytesIO(), format="png")


def _quivers(fig):
    return [c for ax in fig.axes for c in ax.collections if isinstance(c, Quiver) and c.get_gid() == "block-arrows"]


def test_block_arrows_one_arrow_per_moving_block_from_its_centre():
    field = torch.zeros(2, 3, 2)
    field[0, 1] = torch.tensor([3.0, -1.0])
    field[1, 2] = torch.tensor([0.0, 2.0])
    field[1, 0] = float("nan")  # no estimate: nothing drawn
    fig = motion_plots.block_arrows(_frame(), field, gain=2.0)
    assert isinstance(fig, Figure)
    (q,) = _quivers(fig)
    assert q.N == 2
    assert sorted(map(tuple, q.get_offsets().tolist())) == [(23.5, 7.5), (39.5, 23.5)], "block centres"
    assert sorted(zip(q.U.tolist(), q.V.tolist())) == [(0.0, 2.0), (3.0, -1.0)]
    _render(fig)


def test_compare_fields_draws_truth_estimates_and_error_maps():
    truth = torch.zeros(2, 3, 2)
    truth[0, 0] = torch.tensor([2.0, 0.0])
    est = truth.clone()
    est[1, 1] = torch.tensor([3.0, 4.0])  # one block 5 px off
    fig = motion_plots.compare_fields(_frame(), {"estimate": est}, truth)
    maps = [im for ax in fig.axes for im in ax.get_images() if im.get_gid() == "error-map"]
    assert len(maps) == 2 and len(_quivers(fig)) == 2
    assert np.asarray(maps[1].get_array())[1, 1] == pytest.approx(5.0) and np.asarray(maps[0].get_array()).max() == 0
    _render(fig)


def test_motion_strip_and_token_grid():
    fields = torch.randn(2, 4, 3, 5, 2)
    fig = motion_plots.motion_strip(fields, rows=["a", "b"])
    assert len([ax for ax in fig.axes if ax.get_images()]) == 8
    _render(fig)
    with pytest.raises(ValueError, match=r"\(T, h, w, 2\)"):
        motion_plots.motion_strip(torch.zeros(4, 3, 5))
    fig = motion_plots.token_grid(torch.arange(60), (3, 4, 5))
    assert len(fig.axes) == 3 and len(fig.axes[0].texts) == 20
    _render(fig)
    with pytest.raises(ValueError, match=r"\(H/B, W/B, 2\)"):
        motion_plots.block_arrows(_frame(), torch.zeros(3, 2))
