"""Tests for videollm.vlm.plots: tiles, score maps, token maps, budget curves, M-RoPE pictures and bars draw what
they claim (Agg, no display). Expected values are worked by hand or come from transformers 5.23.0's functions."""

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from videollm.vlm import plots as vlm_plots  # noqa: E402


def _render(fig):
    fig.canvas.draw()  # catches errors that only show when drawing (bad colours, layout)


def _patches(fig, gid):
    return [p for ax in fig.axes for p in ax.patches if p.get_gid() == gid]


def _lines(fig, gid):
    return [line for ax in fig.axes for line in ax.lines if line.get_gid() == gid]


def _images(fig, gid):
    return [im for ax in fig.axes for im in ax.images if im.get_gid() == gid]


def test_content_box_by_hand_and_against_transformers():
    # 400x600 into 768x768: width limits (768/600 < 768/400), so 768 wide, ceil(400 * 1.28) = 512 high, centred.
    assert vlm_plots.content_box((400, 600), (768, 768)) == (128, 0, 512, 768)
    # A tall image: height limits.
    assert vlm_plots.content_box((800, 300), (768, 384)) == (0, (384 - 288) // 2, 768, 288)
    from transformers.image_processing_utils import get_patch_output_size  # transformers 5.23.0

    rng = np.random.default_rng(0)
    for _ in range(50):
        h0, w0 = (int(v) for v in rng.integers(20, 3000, size=2))
        H, W = (384 * int(v) for v in rng.integers(1, 7, size=2))
        _, _, h, w = vlm_plots.content_box((h0, w0), (H, W))
        assert (h, w) == tuple(get_patch_output_size(np.zeros((h0, w0, 3)), (H, W), input_data_format="channels_last"))


def test_anyres_tiling_one_rectangle_per_crop_and_the_content_box():
    image = np.zeros((400, 600, 3), dtype=np.uint8)
    canvas = np.zeros((768, 1152, 3), dtype=np.uint8)
    fig = vlm_plots.anyres_tiling(image, canvas, crop=384, base=np.zeros((384, 384, 3), dtype=np.uint8))
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    tiles = _patches(fig, "crop-tile")
    assert len(tiles) == 2 * 3
    corners = sorted((round(t.get_x() + 0.5), round(t.get_y() + 0.5)) for t in tiles)
    assert corners == sorted((384 * j, 384 * i) for i in range(2) for j in range(3)), "row-major 384 tiles"
    assert all(t.get_width() == t.get_height() == 384 for t in tiles)
    (box,) = _patches(fig, "content-box")
    assert (box.get_height(), box.get_width()) == (768, 1152)  # 400x600 scales by 1.92 on both sides
    _render(fig)
    with pytest.raises(ValueError, match="whole number of 384x384 crops"):
        vlm_plots.anyres_tiling(image, np.zeros((700, 768, 3), dtype=np.uint8))


def test_crop_strip_draws_base_and_crops():
    fig = vlm_plots.crop_strip(torch.rand(5, 3, 24, 24))
    assert [ax.get_title() for ax in fig.axes] == ["base", "crop 1", "crop 2", "crop 3", "crop 4"]
    assert all(len(ax.images) == 1 for ax in fig.axes)
    _render(fig)
    with pytest.raises(ValueError, match=r"\(1 \+ n, C, crop, crop\)"):
        vlm_plots.crop_strip(torch.rand(3, 24, 24))


def test_resolution_scores_places_each_candidate_and_outlines_the_best():
    candidates = [(384 * i, 384 * j) for i in range(1, 4) for j in range(1, 3)]
    effective = np.arange(len(candidates)) * 1000.0
    wasted = np.ones(len(candidates)) * 5e5
    fig = vlm_plots.resolution_scores(candidates, effective, wasted, best=(768, 384), original_size=(700, 350))
    (im,) = _images(fig, "effective-map")
    grid = np.asarray(im.get_array())
    assert grid.shape == (3, 2)
    for (h, w), e in zip(candidates, effective):
        assert grid[h // 384 - 1, w // 384 - 1] == e
    (best,) = _patches(fig, "best")
    assert (best.get_x() + 0.5, best.get_y() + 0.5) == (0, 1)  # column w/384 - 1 = 0, row h/384 - 1 = 1
    assert sum(t.get_text() == "0.5" for t in fig.axes[0].texts) == len(candidates)
    _render(fig)
    with pytest.raises(ValueError, match="multiples of crop"):
        vlm_plots.resolution_scores([(300, 384)], [1.0], [1.0], best=(384, 384))


def test_token_maps_one_cell_per_token_with_counts_in_titles():
    maps = {"crops": torch.randn(3, 54, 81), "unpadded": torch.randn(3, 36, 81), "pooled": torch.randn(16, 14, 14)}
    fig = vlm_plots.token_maps(maps, extra={"unpadded": 36})
    images = _images(fig, "token-map")
    assert [np.asarray(im.get_array()).shape[:2] for im in images] == [(54, 81), (36, 81), (14, 14)]
    assert np.asarray(images[2].get_array()).ndim == 2, "more than 3 channels: drawn as the norm"
    np.testing.assert_allclose(np.asarray(images[2].get_array()), maps["pooled"].norm(dim=0).numpy(), rtol=1e-6)
    titles = [ax.get_title() for ax in fig.axes]
    assert "54x81 = 4,374 tokens" in titles[0] and "36x81 = 2,916 tokens + 36 newlines" in titles[1]
    wide = vlm_plots.token_maps({"a": torch.zeros(3, 10, 1000)}, max_width=8.0)
    assert wide.get_size_inches()[0] <= 8.0 + 1e-9
    _render(fig)
    with pytest.raises(ValueError, match="at least one map"):
        vlm_plots.token_maps({})


def test_token_budgets_curves_hold_the_counts():
    x = np.array([384, 768, 1152])
    curves = {"LLaVA-OV": [1459, 3650, 7290], "Qwen2-VL": [196, 784, 1764]}
    fig = vlm_plots.token_budgets(x, curves, xlabel="side (px)")
    lines = _lines(fig, "budget")
    assert [line.get_label() for line in lines] == list(curves)
    for line, values in zip(lines, curves.values()):
        np.testing.assert_array_equal(line.get_xdata(), x)
        np.testing.assert_array_equal(line.get_ydata(), values)
    assert len(_lines(fig, "context")) == 2
    _render(fig)
    fig = vlm_plots.token_budgets(x, curves, xlabel="side", contexts={})
    assert not _lines(fig, "context")
    with pytest.raises(ValueError, match="expected"):
        vlm_plots.token_budgets(x, {"bad": [1, 2]}, xlabel="side")


def _video_layout():
    """Qwen2-VL's docstring example by hand: 3 text tokens, a 3x2x2 video (LLM grid), 2 text tokens."""
    t = [0, 1, 2] + [3] * 4 + [4] * 4 + [5] * 4 + [6, 7]
    h = [0, 1, 2] + [3, 3, 4, 4] * 3 + [6, 7]
    w = [0, 1, 2] + [3, 4, 3, 4] * 3 + [6, 7]
    return np.array([t, h, w]), ["text"] * 3 + ["video"] * 12 + ["text"] * 2


def test_mrope_sequence_shows_the_ids():
    ids, kinds = _video_layout()
    fig = vlm_plots.mrope_sequence(torch.as_tensor(ids), kinds)
    (im,) = _images(fig, "mrope-ids")
    np.testing.assert_array_equal(np.asarray(im.get_array()), ids)
    texts = [t.get_text() for t in fig.axes[1].texts]
    assert len(texts) == ids.size and texts[:3] == ["0", "1", "2"]
    _render(fig)
    with pytest.raises(ValueError, match=r"\(3, L\)"):
        vlm_plots.mrope_sequence(ids[:2], kinds)
    with pytest.raises(ValueError, match="unknown token kinds"):
        vlm_plots.mrope_sequence(ids, ["audio"] * ids.shape[1])


def test_mrope_grid_labels_every_video_token_with_its_triple():
    ids, _ = _video_layout()
    fig = vlm_plots.mrope_grid(ids, (3, 2, 2), start=3)
    assert len(fig.axes) == 3
    cells = [t.get_text() for ax in fig.axes for t in ax.texts if t.get_gid() == "mrope-cell"]
    assert cells == [f"{3 + k},{3 + y},{3 + x}" for k in range(3) for y in range(2) for x in range(2)]
    _render(fig)
    with pytest.raises(ValueError, match="does not fit"):
        vlm_plots.mrope_grid(ids, (3, 2, 2), start=10)


def test_mrope_compare_marks_where_two_rules_differ():
    ids, kinds = _video_layout()
    other = ids.copy()
    other[:, -2:] = [[5, 6]] * 3  # a rule that resumes text earlier
    fig = vlm_plots.mrope_compare({"original": ids, "other": other}, kinds)
    assert len(fig.axes) == 3
    lines = _lines(fig, "rule")
    assert len(lines) == 6
    np.testing.assert_array_equal(lines[0].get_ydata(), ids[0])
    np.testing.assert_array_equal(lines[1].get_ydata(), other[0])
    marks = [c for ax in fig.axes for c in ax.collections if c.get_gid() == "disagree"]
    assert len(marks) == 3 and all(m.get_offsets().tolist() == [[15, 5], [16, 6]] for m in marks)
    _render(fig)
    fig = vlm_plots.mrope_compare({"original": ids, "same": ids.copy()}, kinds)
    assert not [c for ax in fig.axes for c in ax.collections if c.get_gid() == "disagree"]
    with pytest.raises(ValueError, match="same sequence"):
        vlm_plots.mrope_compare({"a": ids, "b": ids[:, :5]}, kinds)


def test_time_ids_and_leaderboard():
    # Qwen2.5-VL with tokens_per_second 2: grids of 2 frames at fps f last 2/f s, ids step 2 * 2/f = 2 per second.
    series = {f"{fps} fps": (np.arange(4) * 2 / fps, np.arange(4) * 4 / fps) for fps in (1, 2)}
    fig = vlm_plots.time_ids(series)
    lines = _lines(fig, "time-ids")
    assert len(lines) == 2
    for line in lines:
        np.testing.assert_allclose(line.get_ydata(), 2 * line.get_xdata())
    _render(fig)

    scores = {"Gemini 1.5 Pro": {"w/o subs": 75.0, "w/ subs": 81.3},
              "Qwen2-VL-72B": {"w/o subs": 71.2, "w/ subs": 77.8},
              "tiny": {"w/o subs": 25.0}}
    fig = vlm_plots.leaderboard(scores, highlight=["Qwen2-VL-72B"])
    bars = [p for p in fig.axes[0].patches if p.get_gid() == "score"]
    assert sorted(b.get_width() for b in bars) == sorted([75.0, 81.3, 71.2, 77.8, 25.0])
    assert math.isclose(max(b.get_width() for b in bars), 81.3)
    assert [t.get_text() for t in fig.axes[0].texts].count("77.8") == 1
    _render(fig)
    with pytest.raises(ValueError, match="at least one model"):
        vlm_plots.leaderboard({})
