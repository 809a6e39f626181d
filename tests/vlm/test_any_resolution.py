"""Tests for videollm.vlm.any_resolution: VideoLLaMA3's resize rule, token counts and DiffFP.

Checked against: worked examples by hand; transformers 5.23.0's Qwen2-VL ``smart_resize`` (VideoLLaMA3's
``simple_batched_resize`` is the same rule where neither side hits an edge guard: one image, or frames whose share of
the budget stays above ``min_tokens``); NumPy's ``arange``/``linspace`` (the frame sampler upstream calls); a loop
over tokens, and upstream's own patch layout (``Videollama3ImageProcessor._preprocess`` flattening, then
``_get_compression_mask``), re-expressed here, for DiffFP.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from transformers.image_utils import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD
from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize as hf_smart_resize

from videollm.vlm import any_resolution as ar


# ------------------------------------------------------------------------------------------------- resize rule
def test_a_1080p_image_by_hand():
    # 1080 / 14 = 77.14 -> 77, 1920 / 14 = 137.1 -> 137; 1078 * 1918 = 2,067,604 pixels < 16384 * 196
    assert ar.resize_for_encoder(1080, 1920) == (77 * 14, 137 * 14)
    assert ar.num_image_tokens(1080, 1920) == 77 * 137


def test_a_large_image_is_scaled_down_and_rounded_down_by_hand():
    # beta = sqrt(24e6 / 3,211,264) = 2.7338; 4000 / beta / 14 = 104.5 -> 104; 6000 / beta / 14 = 156.8 -> 156
    assert ar.resize_for_encoder(4000, 6000) == (104 * 14, 156 * 14)
    assert ar.num_image_tokens(4000, 6000) == 104 * 156 <= ar.MAX_TOKENS


def test_a_small_image_is_scaled_up_to_min_tokens():
    h, w = ar.resize_for_encoder(20, 30)
    assert (h // 14) * (w // 14) >= ar.MIN_TOKENS
    assert (h, w) == (56, 70)  # beta = sqrt(3136 / 600) = 2.286: ceil(3.27) = 4, ceil(4.90) = 5


@pytest.mark.parametrize("seed", range(3))
def test_one_image_agrees_with_transformers_smart_resize(seed):
    rng = np.random.default_rng(seed)
    for _ in range(300):
        h = int(rng.integers(40, 5000))
        w = int(np.clip(h * rng.uniform(0.25, 4.0), 40, 8000))
        ours = ar.resize_for_encoder(h, w)
        theirs = hf_smart_resize(h, w, factor=14, min_pixels=16 * 14 * 14, max_pixels=16384 * 14 * 14)
        assert ours == theirs, (h, w)


@pytest.mark.parametrize("num_frames", [1, 16, 60, 128])
def test_video_frames_agree_with_smart_resize_on_their_share_of_the_budget(num_frames):
    rng = np.random.default_rng(num_frames)
    budget = 16384 * 28 * 28 // num_frames
    for _ in range(200):
        h = int(rng.integers(64, 2200))
        w = int(np.clip(h * rng.uniform(0.5, 2.5), 64, 4000))
        ours = ar.resize_for_encoder(h, w, num_frames=num_frames, merge=2)
        assert ours == hf_smart_resize(h, w, factor=28, min_pixels=16 * 28 * 28, max_pixels=budget), (h, w)
        assert ours[0] * ours[1] <= budget


def test_the_minimum_is_checked_after_the_budget_not_instead_of_it():
    # 2000 frames leave 6,422 pixels (8 tokens) a frame: upstream scales down, then back up to 16 tokens;
    # an elif (transformers' smart_resize) would stop at 2 * 3 = 6 tokens
    h, w = ar.resize_for_encoder(720, 1280, num_frames=2000, merge=2)
    assert (h // 28) * (w // 28) >= ar.MIN_TOKENS
    hf = hf_smart_resize(720, 1280, factor=28, min_pixels=16 * 28 * 28, max_pixels=16384 * 28 * 28 // 2000)
    assert (hf[0] // 28) * (hf[1] // 28) < ar.MIN_TOKENS


@pytest.mark.parametrize("seed", range(2))
def test_sides_are_multiples_and_tokens_stay_in_bounds(seed):
    rng = np.random.default_rng(100 + seed)
    for _ in range(300):
        h, w = (int(v) for v in rng.integers(10, 6000, size=2))
        if max(h, w) / min(h, w) > 20:
            continue
        frames = int(rng.choice([1, 8, 32, 128]))
        merge = 1 if frames == 1 else 2
        f = 14 * merge
        rh, rw = ar.resize_for_encoder(h, w, frames, merge)
        assert rh % f == 0 and rw % f == 0 and rh > 0 and rw > 0
        tokens = (rh // f) * (rw // f)
        assert ar.MIN_TOKENS <= tokens
        # within the frame's share of the budget, unless the minimum scaled it up (rounding up adds a row and a column)
        assert rh * rw <= 16384 * f * f // frames or tokens <= ar.MIN_TOKENS + (rh + rw) // f


def test_video_tokens_are_frames_times_tokens_per_frame():
    # 10 min of 720p at 30 fps: 128 frames share 12,845,056 pixels -> 100,352 each; beta = 3.0305:
    # 720 / beta / 28 = 8.49 -> 8, 1280 / beta / 28 = 15.08 -> 15
    assert ar.sampled_frame_count(18000, 30.0) == 128
    assert ar.resize_for_encoder(720, 1280, 128, merge=2) == (8 * 28, 15 * 28)
    assert ar.num_video_tokens(128, 720, 1280) == 128 * 8 * 15


@pytest.mark.parametrize("frames,video_fps,fps", [(1800, 30.0, 1.0), (240, 4.0, 1.0), (1000, 29.97, 1.0),
                                                  (301, 25.0, 2.0), (50, 4.0, 1.0), (10, 4.0, 1.0)])
def test_frame_sampling_takes_what_upstreams_numpy_call_takes(frames, video_fps, fps):
    segment = min(video_fps // fps, frames)
    expected = np.arange(segment // 2, frames, segment, dtype=int)  # upstream's frame_sample(mode="fps")
    np.testing.assert_array_equal(ar.sampled_frame_indices(frames, video_fps, fps), expected)
    assert ar.sampled_frame_count(frames, video_fps, fps) == len(expected)


def test_long_videos_get_max_frames_uniformly():
    np.testing.assert_array_equal(ar.sampled_frame_indices(1080, 4.0), np.linspace(0, 1079, 128, dtype=int))
    assert ar.sampled_frame_count(1080, 4.0) == 128
    assert ar.sampled_frame_count(200, 1.0, max_frames=128) == 128
    assert ar.sampled_frame_count(100, 0.5, max_frames=128) == 100  # 200 s: uniform, but only 100 frames exist


@pytest.mark.parametrize("call,match", [
    (lambda: ar.resize_for_encoder(0, 10), "height"),
    (lambda: ar.resize_for_encoder(10, 10, merge=0), "merge"),
    (lambda: ar.resize_for_encoder(100, 100, num_frames=10 ** 6, merge=2), "less than one token"),
    (lambda: ar.sampled_frame_count(100, 30.0, fps=60.0), "above the video's own rate"),
    (lambda: ar.sampled_frame_count(100, 0.0), "positive"),
])
def test_bad_arguments_say_what_is_wrong(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------------------------------------------ DiffFP
def test_normalise_uses_the_clip_constants_of_transformers():
    assert ar.CLIP_MEAN == pytest.approx(tuple(OPENAI_CLIP_MEAN))
    assert ar.CLIP_STD == pytest.approx(tuple(OPENAI_CLIP_STD))
    frames = np.random.default_rng(0).integers(0, 256, size=(2, 4, 6, 3), dtype=np.uint8)
    got = ar.normalise_frames(frames)
    expected = (frames.transpose(0, 3, 1, 2) / 255.0 - np.array(OPENAI_CLIP_MEAN)[:, None, None]) \
        / np.array(OPENAI_CLIP_STD)[:, None, None]
    assert got.shape == (2, 3, 4, 6) and got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_a_still_video_keeps_its_first_frame_and_one_token_of_every_other():
    frames = torch.rand(1, 3, 56, 84).repeat(4, 1, 1, 1)  # 4 identical frames, 2 x 3 tokens each
    keep = ar.diff_frame_prune(frames)
    assert keep.shape == (4, 6)
    assert keep[0].all()
    assert keep[1:].sum(dim=1).tolist() == [1, 1, 1] and keep[1:, 0].all()
    more = ar.diff_frame_prune(frames, min_tokens=4)
    assert more[1:].sum(dim=1).tolist() == [4, 4, 4] and more[1:, :4].all()


def test_only_the_token_that_changed_is_kept():
    frames = torch.zeros(3, 3, 56, 84)
    frames[1, :, 28:56, 28:56] = 0.5  # frame 1 changes token (1, 1) = index 4; frame 2 changes it back
    keep = ar.diff_frame_prune(frames, scale=1.0, threshold=0.1)
    assert keep[1].nonzero().flatten().tolist() == [4]
    assert keep[2].nonzero().flatten().tolist() == [4]


def test_the_threshold_is_strict():
    frames = torch.zeros(2, 3, 28, 84, dtype=torch.float64)  # three tokens side by side
    frames[1, :, :, 28:56] = 0.25  # token 1: mean |difference| exactly 0.25 (token 0 unchanged)
    frames[1, :, :, 56:] = 0.25 + 1e-6  # token 2: just above
    assert ar.diff_frame_prune(frames, scale=1.0, threshold=0.25)[1].tolist() == [False, False, True]
    assert ar.diff_frame_prune(frames, scale=1.0, threshold=0.2499)[1].tolist() == [False, True, True]


def _loop_differences(frames: torch.Tensor, size: int) -> torch.Tensor:
    T, _, H, W = frames.shape
    out = torch.full((T, H // size, W // size), float("inf"), dtype=frames.dtype)
    for t in range(1, T):
        for i in range(H // size):
            for j in range(W // size):
                block = (frames[t] - frames[t - 1])[:, i * size:(i + 1) * size, j * size:(j + 1) * size]
                out[t, i, j] = block.abs().mean()
    return out


def test_token_differences_match_a_loop_over_tokens():
    frames = torch.rand(4, 3, 56, 84, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    torch.testing.assert_close(ar.token_differences(frames), _loop_differences(frames, 28))


def _upstream_mask(frames: np.ndarray, patch: int = 14, merge: int = 2, threshold: float = 0.1,
                   min_tokens: int = 1) -> np.ndarray:
    """Upstream's layout: the processor flattens patches (t, h/m, w/m, m, m, c, p, p); the model views them as
    (t, tokens, -1), takes |frame difference|.mean(-1) * 255 and compares it with the threshold."""
    t, c, H, W = frames.shape
    gh, gw = H // patch, W // patch
    x = frames.reshape(t, c, gh // merge, merge, patch, gw // merge, merge, patch)
    x = x.transpose(0, 2, 5, 3, 6, 1, 4, 7).reshape(t, (gh // merge) * (gw // merge), -1)
    diff = np.abs(x[1:] - x[:-1]).mean(axis=-1) * 255
    diff = np.concatenate([np.full_like(diff[:1], threshold + 1), diff], axis=0)
    mask = diff > threshold
    short = np.nonzero(mask.sum(axis=1) < min_tokens)[0]
    mask[short, :min_tokens] = True
    return mask


def test_the_mask_matches_upstreams_layout_on_a_moving_square():
    rng = np.random.default_rng(3)
    raw = np.full((5, 84, 112, 3), 40, dtype=np.uint8)
    for t in range(5):  # a bright square moving right by 9 pixels a frame over a still, slightly noisy background
        raw[t, 20:40, 5 + 9 * t:25 + 9 * t] = 230
    raw[2:, 70:84, 0:28] = rng.integers(0, 3, size=(3, 14, 28, 3), dtype=np.uint8)  # a small flicker
    frames = ar.normalise_frames(raw, device="cpu")
    ours = ar.diff_frame_prune(frames).numpy()
    np.testing.assert_array_equal(ours, _upstream_mask(frames.numpy()))
    assert ours[0].all() and not ours[1:].all()  # some tokens were pruned


def test_diffframe_errors_name_the_problem():
    with pytest.raises(ValueError, match="multiples of 28"):
        ar.diff_frame_prune(torch.zeros(2, 3, 30, 56))
    with pytest.raises(ValueError, match="float tensor"):
        ar.token_differences(np.zeros((2, 3, 28, 28)))
    with pytest.raises(ValueError, match="uint8"):
        ar.normalise_frames(np.zeros((2, 28, 28, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="threshold"):
        ar.diff_frame_prune(torch.zeros(2, 3, 28, 28), threshold=-1.0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_diffframe_runs_on_the_gpu():
    raw = np.random.default_rng(0).integers(0, 256, size=(3, 56, 56, 3), dtype=np.uint8)
    on_gpu = ar.diff_frame_prune(ar.normalise_frames(raw, device="cuda"))
    assert on_gpu.device.type == "cuda"
    assert torch.equal(on_gpu.cpu(), ar.diff_frame_prune(ar.normalise_frames(raw)))


def test_the_module_examples_hold():
    assert math.prod(ar.resize_for_encoder(384, 384)) // 196 == ar.num_image_tokens(384, 384) == 729
