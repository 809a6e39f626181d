"""Tests for videollm.plotting: each helper builds the artists it promises (Agg backend, no display)."""

from io import BytesIO

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.quiver import Quiver  # noqa: E402

from videollm import plotting  # noqa: E402
from videollm.sampling import fps_indices, uniform_indices  # noqa: E402


def _frames(n=6, h=24, w=32):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(n, h, w, 3), dtype=np.uint8)


def _images(fig):
    return [im for ax in fig.axes for im in ax.get_images()]


def _render(fig):
    """Draw the figure once: catches errors that only appear at draw time (layout, bad artists)."""
    fig.savefig(BytesIO(), format="png")


# ------------------------------------------------------------------------------------------------ image grids


@pytest.mark.parametrize("n, cols, rows", [(6, 4, 2), (3, 3, 1), (8, 4, 2), (1, 4, 1)])
def test_image_grid_one_axes_per_image(n, cols, rows):
    fig = plotting.image_grid(_frames(n), titles=[f"im{i}" for i in range(n)], cols=cols)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == n
    assert len(_images(fig)) == n
    assert [ax.get_title() for ax in fig.axes] == [f"im{i}" for i in range(n)]
    # the grid has `rows` distinct rows of axes
    assert len({ax.get_subplotspec().rowspan.start for ax in fig.axes}) == rows
    _render(fig)


def test_image_grid_maps_share_colour_limits_and_colorbar():
    maps = [np.zeros((8, 8)), np.full((8, 8), 7.0)]
    fig = plotting.image_grid(maps, cmap="magma", vmin=0, vmax=30, colorbar=True)
    images = _images(fig)
    assert len(images) == 2
    assert all(im.get_clim() == (0, 30) for im in images)
    assert len(fig.axes) == 3  # two images + the colour bar
    _render(fig)


def test_image_grid_rejects_mismatched_titles():
    with pytest.raises(ValueError, match="2 titles for 3 images"):
        plotting.image_grid(_frames(3), titles=["a", "b"])
    with pytest.raises(ValueError, match="no images"):
        plotting.image_grid([])


def test_contact_sheet_titles_carry_times_and_indices():
    frames = _frames(6)
    times = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
    fig = plotting.contact_sheet(frames, times, cols=4, indices=[0, 6, 12, 18, 24, 30])
    assert len(_images(fig)) == 6
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "#0 · t = 0.00 s"
    assert titles[-1] == "#30 · t = 2.50 s"
    # the pixels shown are the frames given, unchanged
    np.testing.assert_array_equal(np.asarray(_images(fig)[3].get_array()), frames[3])
    _render(fig)


def test_contact_sheet_without_times_and_with_torch_input():
    fig = plotting.contact_sheet(torch.from_numpy(_frames(4)), cols=2)
    assert len(_images(fig)) == 4
    assert all(ax.get_title() == "" for ax in fig.axes)


def test_contact_sheet_checks_shapes():
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\)"):
        plotting.contact_sheet(np.zeros((4, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="timestamps"):
        plotting.contact_sheet(_frames(4), np.arange(3.0))


# ------------------------------------------------------------------------------------------------ sampling


def test_sampling_timeline_one_marker_per_sampled_frame():
    total, fps = 240, 24.0
    schemes = {
        "uniform-8": uniform_indices(total, 8),
        "uniform-32": uniform_indices(total, 32),
        "qwen": fps_indices(total, fps),
    }
    fig = plotting.sampling_timeline(total, fps, schemes)
    (ax,) = fig.axes
    lines = [line for line in ax.get_lines() if line.get_gid() == "samples"]
    assert [len(line.get_xdata()) for line in lines] == [8, 32, 20]
    # markers sit at the frames' times in seconds: first and last frame for uniform sampling
    np.testing.assert_allclose(lines[0].get_xdata()[[0, -1]], [0.0, 239 / 24])
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0].startswith("uniform-8\n8 frames")
    assert "20 frames" in labels[2]
    assert "240 frames" in ax.get_title()
    _render(fig)


def test_sampling_timeline_rejects_out_of_range_indices():
    with pytest.raises(ValueError, match="outside"):
        plotting.sampling_timeline(10, 5.0, {"bad": [0, 10]})


def test_frames_vs_duration_curves_and_gaps():
    seconds = np.array([1.0, 10.0, 100.0, 1000.0])
    counts = {"a": [4, 20, 200, 768], "b": [32, 32, 32, 32]}
    fig = plotting.frames_vs_duration(seconds, counts)
    left, right = fig.axes
    frames = [line for line in left.get_lines() if line.get_gid() == "frames"]
    gaps = [line for line in right.get_lines() if line.get_gid() == "gap"]
    assert len(frames) == len(gaps) == 2
    np.testing.assert_allclose(gaps[1].get_ydata(), seconds / 32)
    assert left.get_xscale() == right.get_xscale() == "log"
    with pytest.raises(ValueError, match="shape"):
        plotting.frames_vs_duration(seconds, {"c": [1, 2]})


def test_format_seconds():
    assert [plotting.format_seconds(s) for s in (0.5, 45, 120, 5400)] == ["0.5 s", "45 s", "2 min", "1.5 h"]


# ------------------------------------------------------------------------------------------------ ground truth


def test_draw_boxes_skips_nan_and_hugs_pixels():
    fig = plotting.image_grid(_frames(1))
    ax = fig.axes[0]
    boxes = np.array([[2, 3, 10, 8], [np.nan] * 4, [0, 0, 32, 24]], dtype=np.float32)
    out = plotting.draw_boxes(ax, boxes, labels=["a", "b", "c"])
    assert out is ax
    rects = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_gid() == "box"]
    assert len(rects) == 2  # the NaN box is skipped
    assert rects[0].get_xy() == (1.5, 2.5)
    assert (rects[0].get_width(), rects[0].get_height()) == (8, 5)
    assert [t.get_text() for t in ax.texts] == ["a", "c"]
    _render(fig)


def test_draw_boxes_checks_lengths():
    fig = plotting.image_grid(_frames(1))
    with pytest.raises(ValueError, match="labels"):
        plotting.draw_boxes(fig.axes[0], np.zeros((2, 4)), labels=["only one"])


def test_flow_to_rgb_colours():
    motion = np.zeros((1, 4, 2))
    motion[0, 1] = (2, 0)  # right, full speed -> pure red
    motion[0, 2] = (-1, 0)  # left, half speed -> pale cyan
    motion[0, 3] = (0, 2)  # down
    rgb = plotting.flow_to_rgb(motion)
    assert rgb.shape == (1, 4, 3)
    np.testing.assert_allclose(rgb[0, 0], [1, 1, 1])  # no motion: white
    np.testing.assert_allclose(rgb[0, 1], [1, 0, 0])
    np.testing.assert_allclose(rgb[0, 2], [0.5, 1, 1])
    assert rgb[0, 3, 2] == pytest.approx(0.0)  # down (hue 1/4): no blue
    with pytest.raises(ValueError, match=r"\(H, W, 2\)"):
        plotting.flow_to_rgb(np.zeros((4, 4)))


def test_motion_field_arrows_only_where_things_move():
    h, w, step = 32, 48, 8
    frame = _frames(1, h, w)[0]
    motion = np.zeros((h, w, 2), np.float32)
    motion[0:16, 0:16] = (3, -1)  # a 16x16 moving block covers 2x2 arrow positions (4, 12)
    fig = plotting.motion_field(frame, motion, step=step, title="t")
    assert len(fig.axes) == 3  # arrows, colour coding, key
    quivers = [c for c in fig.axes[0].collections if isinstance(c, Quiver) and c.get_gid() == "motion-arrows"]
    assert len(quivers) == 1
    assert quivers[0].N == 4
    np.testing.assert_allclose(quivers[0].U, 3)
    np.testing.assert_allclose(quivers[0].V, -1)
    assert isinstance(fig.axes[1].get_images()[0], AxesImage)
    _render(fig)


def test_motion_field_static_scene_and_bad_shapes():
    frame = _frames(1)[0]
    fig = plotting.motion_field(frame, np.zeros(frame.shape[:2] + (2,)))
    quivers = [c for c in fig.axes[0].collections if isinstance(c, Quiver)]
    assert quivers[0].N == 0
    with pytest.raises(ValueError, match="share"):
        plotting.motion_field(frame, np.zeros((5, 5, 2)))
