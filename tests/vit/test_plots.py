"""Unit tests for videollm.vit.plots: the right number of grid lines, labels, panels and curves."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from videollm.vit import plots as vit_plots


def _gid(ax, gid, kind="lines"):
    artists = {"lines": ax.lines, "texts": ax.texts, "images": ax.images}[kind]
    return [a for a in artists if a.get_gid() == gid]


def _image_axes(fig):
    return [ax for ax in fig.axes if ax.images]


def _render(fig):
    fig.canvas.draw()  # catches errors that only show when drawing (bad colours, layout)


@pytest.fixture
def ax():
    return Figure().add_subplot()


def test_draw_patch_grid_counts(ax):
    image = np.zeros((128, 160, 3), dtype=np.uint8)
    out = vit_plots.draw_patch_grid(ax, image, 16, number=True)
    assert out is ax
    lines = _gid(ax, "patch-grid")
    assert len(lines) == (128 // 16 - 1) + (160 // 16 - 1)  # 7 horizontal + 9 vertical inner boundaries
    labels = _gid(ax, "patch-number", "texts")
    assert len(labels) == 8 * 10
    assert len(ax.images) == 1
    _render(ax.figure)


def test_draw_patch_grid_numbers_are_row_major(ax):
    vit_plots.draw_patch_grid(ax, np.zeros((32, 48, 3)), 16, number=True, start=1)
    labels = _gid(ax, "patch-number", "texts")
    # sort by (row, column) of the label position: numbers must then count up from `start`
    ordered = sorted(labels, key=lambda t: (t.get_position()[1], t.get_position()[0]))
    assert [t.get_text() for t in ordered] == [str(k) for k in range(1, 7)]
    # patch 4 (0-based 3) = row 1, column 0 -> centre (7.5, 23.5)
    assert ordered[3].get_position() == pytest.approx((7.5, 23.5))


def test_draw_patch_grid_without_numbers_and_channels_first(ax):
    image = torch.rand(3, 28, 42)
    vit_plots.draw_patch_grid(ax, image, 14, number=False)
    assert _gid(ax, "patch-number", "texts") == []
    assert len(_gid(ax, "patch-grid")) == 1 + 2
    assert ax.images[0].get_array().shape == (28, 42, 3)


def test_draw_patch_grid_not_divisible_marks_border_strip(ax):
    vit_plots.draw_patch_grid(ax, np.zeros((40, 40, 3)), 16, number=True)
    assert len(_gid(ax, "patch-grid")) == 2 + 2  # lines at 16 and 32 in each direction
    assert len(_gid(ax, "patch-number", "texts")) == 4  # only complete patches are numbered


def test_draw_patch_grid_rectangular_patches(ax):
    vit_plots.draw_patch_grid(ax, np.zeros((32, 64)), (16, 8), number=True)
    assert len(_gid(ax, "patch-grid")) == 1 + 7
    assert len(_gid(ax, "patch-number", "texts")) == 2 * 8


def test_patch_strip_panels_and_titles():
    patches = torch.rand(1, 80, 3 * 16 * 16)
    fig = vit_plots.patch_strip(patches, 16, n=6, start=2)
    assert isinstance(fig, Figure)
    axes = _image_axes(fig)
    assert len(axes) == 6
    assert [a.get_title() for a in axes] == [f"#{k}" for k in range(2, 8)]
    assert axes[0].images[0].get_array().shape == (16, 16, 3)
    _render(fig)


def test_patch_strip_shows_the_right_patch():
    p = 4
    patches = np.zeros((3, 3 * p * p), dtype=np.float32)
    patches[1, : p * p] = 1.0  # patch 1 is pure red in (C, P, P) order
    fig = vit_plots.patch_strip(patches, p, n=3)
    shown = _image_axes(fig)[1].images[0].get_array()
    assert np.allclose(shown[..., 0], 1.0) and np.allclose(shown[..., 1:], 0.0)


def test_patch_strip_fewer_patches_than_n_and_bad_shape():
    assert len(_image_axes(vit_plots.patch_strip(np.zeros((3, 12)), 2, n=8))) == 3
    with pytest.raises(ValueError, match="C\\*P\\*P"):
        vit_plots.patch_strip(np.zeros((3, 10)), 2)


def test_flatten_diagram_layout():
    fig = vit_plots.flatten_diagram(torch.rand(3, 8, 8))
    assert len(_image_axes(fig)) == 1 + 3
    line_axes = [a for a in fig.axes if a.lines]
    assert len(line_axes) == 1 and len(line_axes[0].lines) == 3
    assert sum(len(line.get_xdata()) for line in line_axes[0].lines) == 3 * 8 * 8
    _render(fig)
    assert len(_image_axes(vit_plots.flatten_diagram(np.zeros(3 * 16 * 16)))) == 4


def test_frame_row_groups():
    frames = np.zeros((4, 32, 32, 3), dtype=np.uint8)
    fig = vit_plots.frame_row(frames, 16, group=2)
    axes = _image_axes(fig)
    assert len(axes) == 4
    colours = [a.spines["left"].get_edgecolor() for a in axes]
    assert colours[0] == colours[1] and colours[2] == colours[3] and colours[0] != colours[2]
    assert all(len(_gid(a, "patch-grid")) == 2 for a in axes)
    _render(fig)


def test_pos_embed_channels():
    posemb = torch.randn(1, 1 + 6 * 8, 32)
    fig = vit_plots.pos_embed_channels(posemb, (6, 8), channels=[0, 5, 9], num_prefix_tokens=1)
    axes = _image_axes(fig)
    assert len(axes) == 3
    assert axes[1].images[0].get_array().shape == (6, 8)
    assert np.allclose(axes[1].images[0].get_array(), posemb[0, 1:, 5].reshape(6, 8).numpy())
    with pytest.raises(ValueError, match="prefix"):
        vit_plots.pos_embed_channels(posemb, (6, 8), channels=[0], num_prefix_tokens=0)


def test_cosine_similarity_map():
    posemb = torch.randn(12, 16, dtype=torch.float64)
    sim = vit_plots.cosine_similarity_map(posemb, (3, 4), (1, 2))
    assert sim.shape == (3, 4)
    assert sim[1, 2] == pytest.approx(1.0)
    expected = torch.nn.functional.cosine_similarity(posemb, posemb[1 * 4 + 2][None], dim=-1).reshape(3, 4)
    assert np.allclose(sim, expected.numpy())
    with pytest.raises(ValueError, match="outside"):
        vit_plots.cosine_similarity_map(posemb, (3, 4), (3, 0))


def test_pos_embed_similarity_panels_and_query_marker():
    a, b = torch.randn(1, 1 + 4 * 4, 8), torch.randn(1, 1 + 4 * 8, 8)
    fig = vit_plots.pos_embed_similarity([a, b], [(4, 4), (4, 8)], query=(0, 1), num_prefix_tokens=1, titles=["a", "b"])
    assert len(fig.axes) == 2 + 1  # two maps and the colour bar
    maps = _image_axes(fig)
    assert [ax.get_title() for ax in maps] == ["a", "b"]
    # the star sits on the top-right cell of each grid
    assert (maps[0].lines[0].get_xdata()[0], maps[0].lines[0].get_ydata()[0]) == (3, 0)
    assert (maps[1].lines[0].get_xdata()[0], maps[1].lines[0].get_ydata()[0]) == (7, 0)
    _render(fig)


def test_draw_merge_groups(ax):
    gh, gw = 4, 6
    order = np.arange(gh * gw)  # plain row-major: groups of 4 are strips along a row
    vit_plots.draw_merge_groups(ax, order, (gh, gw), merge_size=2, image=np.zeros((56, 84, 3), dtype=np.uint8))
    assert len(ax.images) == 2
    overlay = _gid(ax, "merge-overlay", "images")
    assert len(overlay) == 1
    assert len(_gid(ax, "patch-number", "texts")) == gh * gw
    assert len(_gid(ax, "patch-grid")) == (gh - 1) + (gw - 1)
    rgba = overlay[0].get_array()
    assert rgba.shape == (gh, gw, 4)
    # cells 0..3 of row 0 share a colour; cell 4 starts a new group
    assert np.allclose(rgba[0, 0], rgba[0, 3]) and not np.allclose(rgba[0, 3], rgba[0, 4])


def test_draw_merge_groups_blocks_and_labels(ax):
    # the 2x2-block order of Qwen2-VL on a 2x4 grid: (0,0),(0,1),(1,0),(1,1), then the next block
    order = np.array([0, 1, 4, 5, 2, 3, 6, 7])
    vit_plots.draw_merge_groups(ax, order, (2, 4), merge_size=2, number=True)
    rgba = _gid(ax, "merge-overlay", "images")[0].get_array()
    assert np.allclose(rgba[0, 0], rgba[1, 1]) and np.allclose(rgba[0, 2], rgba[1, 3])
    assert not np.allclose(rgba[0, 1], rgba[0, 2])
    label_at = {tuple(map(round, t.get_position())): t.get_text() for t in ax.texts}
    assert label_at[(0, 1)] == "2" and label_at[(2, 0)] == "4"  # cell (row 1, col 0) is 3rd; (0, 2) starts block 2
    with pytest.raises(ValueError, match="permutation"):
        vit_plots.draw_merge_groups(ax, np.zeros(8), (2, 4))


def test_tokens_vs_length():
    seconds = np.array([1, 10, 100, 1000])
    counts = {"per frame": 392 * seconds, "tubelet": 196 * seconds, "qwen": 64 * seconds}
    fig = vit_plots.tokens_vs_length(seconds, counts, logx=True)
    (ax,) = fig.axes
    assert ax.get_yscale() == "log" and ax.get_xscale() == "log"
    assert len(_gid(ax, "scheme")) == 3
    assert sorted(line.get_ydata()[0] for line in _gid(ax, "context")) == [8192, 32768, 131072]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(counts)
    _render(fig)
    fig = vit_plots.tokens_vs_length(seconds, counts, contexts={})
    assert _gid(fig.axes[0], "context") == [] and fig.axes[0].get_xscale() == "linear"
    with pytest.raises(ValueError, match="shape"):
        vit_plots.tokens_vs_length(seconds, {"bad": [1, 2]})


def test_pos_embed_similarity_colour_range():
    posemb = torch.randn(1, 16, 8)
    fig = vit_plots.pos_embed_similarity([posemb], [(4, 4)])
    assert fig.axes[0].images[0].get_clim() == (-1.0, 1.0)
    fig = vit_plots.pos_embed_similarity([posemb], [(4, 4)], vmin=None)
    low = min(vit_plots.cosine_similarity_map(posemb, (4, 4), (2, 2)).min(), 1.0)
    assert fig.axes[0].images[0].get_clim() == pytest.approx((low, 1.0))
    with pytest.raises(ValueError, match="relative"):
        vit_plots.pos_embed_similarity([posemb], [(4, 4)], query=(2, 0))
