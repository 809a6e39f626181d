"""Tests for videollm.sampling.

Expected values are worked by hand from the rules in qwen-vl-utils 0.0.10 (``vision_process.py``,
QwenLM/Qwen2.5-VL @ f0af299); `smart_nframes` was also checked against that release's own function on
200,000 random inputs (identical), outside this suite, which must not depend on qwen-vl-utils.
"""

import doctest
import random

import numpy as np
import pytest

import videollm.sampling as sampling
from videollm.sampling import (
    FPS,
    FPS_MAX_FRAMES,
    FPS_MIN_FRAMES,
    FRAME_FACTOR,
    fps_indices,
    sample_fps,
    smart_nframes,
    uniform_indices,
)


def test_constants():
    assert (FRAME_FACTOR, FPS, FPS_MIN_FRAMES, FPS_MAX_FRAMES) == (2, 2.0, 4, 768)


def test_docstring_examples():
    result = doctest.testmod(sampling)
    assert result.attempted >= 15 and result.failed == 0


# ---------------------------------------------------------------- uniform_indices


@pytest.mark.parametrize(
    ("total", "n", "expected"),
    [
        (30, 4, [0, 10, 19, 29]),  # 0, 9.67, 19.33, 29
        (10, 2, [0, 9]),
        (10, 1, [0]),
        (5, 5, [0, 1, 2, 3, 4]),
        (9, 3, [0, 4, 8]),
        (8, 3, [0, 4, 7]),  # 3.5 rounds half to even: 4
        (6, 3, [0, 2, 5]),  # 2.5 rounds half to even: 2
        (300, 20, [0, 16, 31, 47, 63, 79, 94, 110, 126, 142, 157, 173, 189, 205, 220, 236, 252, 268, 283, 299]),
    ],
)
def test_uniform_indices_hand_worked(total, n, expected):
    got = uniform_indices(total, n)
    assert got.dtype == np.int64 and got.shape == (n,)
    assert got.tolist() == expected


def test_uniform_indices_floor_variant():
    # lmms-eval's LLaVA-OneVision loader: np.linspace(0, total - 1, n, dtype=int) truncates.
    assert uniform_indices(30, 4, rounding="floor").tolist() == [0, 9, 19, 29]
    assert uniform_indices(8, 3, rounding="floor").tolist() == [0, 3, 7]


def test_uniform_indices_rounds_exact_halves_to_even():
    """Exact rational arithmetic agrees with the float64 quotient everywhere, ties included (np.linspace
    misses some: at 1528 frames, 1417 samples, position 708 is exactly 763.5)."""
    from fractions import Fraction

    rng = random.Random(1)
    pairs = [(1528, 1417)] + [(t, rng.randint(2, t)) for t in (rng.randint(2, 3000) for _ in range(300))]
    ties = 0
    for total, n in pairs:
        exact = [round(Fraction(k * (total - 1), n - 1)) for k in range(n)]  # Fraction rounds half to even
        ties += any(Fraction(k * (total - 1), n - 1).denominator == 2 for k in range(n))
        assert uniform_indices(total, n).tolist() == exact, (total, n)
    assert uniform_indices(1528, 1417)[708] == 764 and ties > 10


def test_uniform_indices_properties():
    rng = random.Random(0)
    for _ in range(500):
        total = rng.randint(1, 20_000)
        n = rng.randint(1, min(total, 1000))
        for rounding in ("round", "floor"):
            idx = uniform_indices(total, n, rounding=rounding)
            assert idx.shape == (n,) and idx.dtype == np.int64
            assert idx[0] == 0 and (n == 1 or idx[-1] == total - 1), "first and last frame are kept"
            assert np.all(np.diff(idx) > 0), "strictly increasing, no repeated frame"
            assert idx.min() >= 0 and idx.max() <= total - 1
        ideal = np.arange(n) * (total - 1) / max(n - 1, 1)
        assert np.abs(uniform_indices(total, n) - ideal).max() <= 0.5 + 1e-9
        floor = uniform_indices(total, n, rounding="floor")
        # Truncation sees linspace's float noise: a position of 8.999999999 lands on 8 (as in lmms-eval).
        assert np.all((ideal - floor >= -1e-9) & (ideal - floor < 1 + 1e-9))


def test_uniform_indices_all_frames():
    assert uniform_indices(7, 7).tolist() == list(range(7))


@pytest.mark.parametrize("n", [0, -3])
def test_uniform_indices_rejects_non_positive(n):
    with pytest.raises(ValueError, match="num_frames must be at least 1"):
        uniform_indices(30, n)


@pytest.mark.parametrize("n", [2.5, 4.0, "8", None, True])
def test_uniform_indices_rejects_non_int(n):
    with pytest.raises(ValueError, match="num_frames must be an integer"):
        uniform_indices(30, n)


def test_uniform_indices_accepts_numpy_int():
    assert uniform_indices(np.int64(30), np.int32(4)).tolist() == [0, 10, 19, 29]


def test_uniform_indices_too_many():
    with pytest.raises(ValueError, match="requested 64 frames but the video has only 30; ask for at most 30, or sample by fps"):
        uniform_indices(30, 64)


def test_uniform_indices_empty_video_and_bad_rounding():
    with pytest.raises(ValueError, match="total_frames must be at least 1"):
        uniform_indices(0, 1)
    with pytest.raises(ValueError, match=r"unknown rounding 'ceil'; choose one of \['round', 'floor'\]"):
        uniform_indices(30, 4, rounding="ceil")


# ---------------------------------------------------------------- smart_nframes


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(10, 20), (60, 120), (600, 768)],  # reference note 05, section 2: 1280x720 at 30 fps
)
def test_smart_nframes_worked_examples(seconds, expected):
    assert smart_nframes(seconds * 30, 30.0) == expected


def test_sample_fps_worked_examples():
    assert sample_fps(20, 300, 30.0) == pytest.approx(2.0)
    assert sample_fps(768, 18_000, 30.0) == pytest.approx(1.28)  # the 600 s video: capped, so 1.28 fps
    assert sample_fps(6, 30, 10.0) == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("total", "video_fps", "kwargs", "expected"),
    [
        (30, 10.0, {}, 6),  # 3 s * 2 fps = 6
        (225, 30.0, {}, 14),  # 7.5 s * 2 = 15, rounded down to even
        (300, 30.0, {"fps": 1.0}, 10),
        (1800, 30.0, {"fps": 0.5}, 30),
        (10, 30.0, {}, 4),  # 0.67 frames, raised to min_frames = 4
        (10, 30.0, {"min_frames": 5}, 6),  # min_frames 5 is rounded up to 6
        (3, 30.0, {}, 2),  # min 4 > 3 frames: capped at floor_even(3) = 2
        (31, 10.0, {"fps": 20.0}, 30),  # 62 wanted, more than the video has: floor_even(31) = 30
        (18_000, 30.0, {"max_frames": 9}, 8),  # max_frames 9 is rounded down to 8
        (18_000, 30.0, {"max_frames": 100}, 100),
        (300, 29.97, {}, 20),  # 20.02 -> 20
        (300, 30.0, {"nframes": 7}, 8),
        (300, 30.0, {"nframes": 5}, 4),  # Python round: 2.5 -> 2, so 5 -> 4
        (300, 30.0, {"nframes": 6}, 6),
        (300, 30.0, {"nframes": 3}, 4),  # 1.5 -> 2 (to even), so 3 -> 4
        (300, 30.0, {"nframes": 9}, 8),  # 4.5 -> 4
        (30, 10.0, {"nframes": 30}, 30),
    ],
)
def test_smart_nframes_hand_worked(total, video_fps, kwargs, expected):
    got = smart_nframes(total, video_fps, **kwargs)
    assert isinstance(got, int) and got == expected


def test_smart_nframes_properties():
    rng = random.Random(1)
    for _ in range(3000):
        total = rng.randint(2, 100_000)
        video_fps = rng.uniform(1.0, 120.0)
        fps = rng.uniform(0.05, 10.0)
        n = smart_nframes(total, video_fps, fps=fps)
        assert n % 2 == 0
        assert 2 <= n <= total and n <= FPS_MAX_FRAMES
        assert n >= min(FPS_MIN_FRAMES, total - total % 2)
        wanted = total / video_fps * fps
        if FPS_MIN_FRAMES <= wanted <= min(FPS_MAX_FRAMES, total):
            assert wanted - 2 < n <= wanted, "inside the clamps, n is wanted rounded down to even"


def test_smart_nframes_monotone_in_duration():
    counts = [smart_nframes(total, 30.0) for total in range(2, 30 * 500, 7)]
    assert all(a <= b for a, b in zip(counts, counts[1:]))
    assert counts[0] == 2 and counts[-1] == FPS_MAX_FRAMES


def test_smart_nframes_errors():
    with pytest.raises(ValueError, match="either nframes or fps, not both"):
        smart_nframes(300, 30.0, nframes=8, fps=2.0)
    with pytest.raises(ValueError, match=r"requested 64 frames \(rounded to 64\) but the video has only 30; ask for at most 30"):
        smart_nframes(30, 10.0, nframes=64)
    with pytest.raises(ValueError, match=r"between 2 and 1 \(got 0\)"):
        smart_nframes(1, 30.0)  # a one-frame video cannot give an even count >= 2
    with pytest.raises(ValueError, match=r"between 2 and 300 \(got 0\)"):
        smart_nframes(300, 30.0, nframes=1)  # 1 rounds to 0
    with pytest.raises(ValueError, match="nframes must be an integer"):
        smart_nframes(300, 30.0, nframes=8.0)
    with pytest.raises(ValueError, match="fps must be a positive number"):
        smart_nframes(300, 30.0, fps=0)
    with pytest.raises(ValueError, match="video_fps must be a positive number"):
        smart_nframes(300, float("nan"))
    with pytest.raises(ValueError, match="total_frames must be at least 1"):
        smart_nframes(0, 30.0)


# ---------------------------------------------------------------- fps_indices


def test_fps_indices():
    assert fps_indices(30, 10.0).tolist() == [0, 6, 12, 17, 23, 29]  # linspace(0, 29, 6) = 0, 5.8, 11.6, ...
    assert fps_indices(300, 30.0).tolist() == uniform_indices(300, 20).tolist()
    assert fps_indices(30, 10.0, fps=1.0).tolist() == [0, 10, 19, 29]  # 3 frames wanted -> min_frames 4
    assert len(fps_indices(18_000, 30.0)) == 768
    assert len(fps_indices(18_000, 30.0, max_frames=64)) == 64
    assert len(fps_indices(300, 30.0, min_frames=40, fps=1.0)) == 40
