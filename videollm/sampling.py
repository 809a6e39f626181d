"""Which frames to keep: uniform sampling and Qwen's FPS-based ``smart_nframes``.

Pure index arithmetic on NumPy; nothing here decodes video (see :mod:`videollm.io` for that).

A video of ``total_frames`` frames is reduced to a handful of frame *indices* before any pixels are decoded.
Two recipes cover the models in this course:

- **Uniform**: ``num_frames`` indices spread evenly from the first frame to the last
  (LLaVA-OneVision, most benchmarks' "32 frames per video").
- **FPS-based** (Qwen2-VL / Qwen2.5-VL, ``qwen-vl-utils`` 0.0.10): choose a *number* of frames from the
  duration and a target rate (default 2 frames per second), clamp it, make it even (two frames form one
  temporal patch), then spread that many indices uniformly.

Example: a 10 s clip at 30 fps (300 frames) sampled at 2 fps keeps 20 frames:

>>> smart_nframes(300, 30.0)
20
>>> fps_indices(300, 30.0)[:4].tolist()
[0, 16, 31, 47]

Lecture: `lectures/00_video_as_data.ipynb` §3; `lectures/05_llava_ov_qwen2_vl.ipynb` §6.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

# Constants of qwen-vl-utils 0.0.10 (QwenLM/Qwen2.5-VL @ f0af299, vision_process.py).
FRAME_FACTOR = 2  # frames are taken in pairs: Qwen's vision tower groups 2 frames into one temporal patch
FPS = 2.0  # default sampling rate, frames per second of video
FPS_MIN_FRAMES = 4  # never fewer than this many frames (when the video has them)
FPS_MAX_FRAMES = 768  # never more than this many frames

ROUNDINGS = ("round", "floor")


def _check_count(value, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as a Python int, or raise ValueError if it is not an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer; got {value!r} ({type(value).__name__}): pass e.g. {name}=8")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}; got {value}")
    return value


def _check_rate(value, name: str) -> float:
    """Return ``value`` as a float, or raise ValueError if it is not a positive finite number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number of frames per second; got {value!r}")
    return float(value)


def round_by_factor(number: float, factor: int) -> int:
    """The multiple of ``factor`` nearest to ``number`` (Python's ``round``: ties go to the even quotient).

    >>> round_by_factor(5, 2), round_by_factor(7, 2), round_by_factor(7.1, 2)
    (4, 8, 8)
    """
    return round(number / factor) * factor


def ceil_by_factor(number: float, factor: int) -> int:
    """The smallest multiple of ``factor`` that is >= ``number``.

    >>> ceil_by_factor(3, 2), ceil_by_factor(4, 2)
    (4, 4)
    """
    return math.ceil(number / factor) * factor


def floor_by_factor(number: float, factor: int) -> int:
    """The largest multiple of ``factor`` that is <= ``number``.

    >>> floor_by_factor(19.9, 2), floor_by_factor(20, 2)
    (18, 20)
    """
    return math.floor(number / factor) * factor


def uniform_indices(total_frames: int, num_frames: int, rounding: str = "round") -> np.ndarray:
    """``num_frames`` evenly spaced frame indices from the first frame to the last.

    The positions ``k (total_frames - 1) / (num_frames - 1)``, ``k = 0 .. num_frames - 1``, are turned into
    integers by

    - ``rounding="round"`` (default): round to the nearest, exact halves to even, as ``qwen-vl-utils`` means
      to (``torch.linspace(...).round().long()``). The quotient of the two integers is computed in one
      float64 division, which is exact at a half (``1527 * 708 / 1416 == 763.5`` -> 764), whereas
      ``np.linspace`` can land just below one (763.4999... -> 763);
    - ``rounding="floor"``: truncate, as lmms-eval's LLaVA-OneVision loader does
      (``np.linspace(0, total - 1, n, dtype=int)``, reproduced as written). The two differ by at most one frame
      per index.

    Both keep the first frame (index 0) and, when ``num_frames >= 2``, the last (``total_frames - 1``).

    ``qwen-vl-utils`` computes the positions with ``torch.linspace`` in float32, so for some (total, n) pairs
    (about 8% of random pairs up to 200,000 frames, mostly long videos) one or a few of its indices sit one
    frame away from these.

    Args:
        total_frames: number of frames in the video (>= 1).
        num_frames: number of frames to keep, ``1 <= num_frames <= total_frames``.
        rounding: ``"round"`` or ``"floor"``.

    Returns:
        ``(num_frames,)`` int64, strictly increasing.

    >>> uniform_indices(30, 4).tolist()
    [0, 10, 19, 29]
    >>> uniform_indices(30, 4, rounding="floor").tolist()
    [0, 9, 19, 29]
    >>> uniform_indices(300, 20)[:5].tolist()
    [0, 16, 31, 47, 63]
    """
    total_frames = _check_count(total_frames, "total_frames")
    num_frames = _check_count(num_frames, "num_frames")
    if num_frames > total_frames:
        raise ValueError(
            f"requested {num_frames} frames but the video has only {total_frames}; "
            f"ask for at most {total_frames}, or sample by fps"
        )
    if rounding not in ROUNDINGS:
        raise ValueError(f"unknown rounding {rounding!r}; choose one of {list(ROUNDINGS)}")
    if rounding == "floor":
        return np.linspace(0, total_frames - 1, num_frames).astype(np.int64)
    positions = np.arange(num_frames) * (total_frames - 1) / max(num_frames - 1, 1)
    return positions.round().astype(np.int64)


def smart_nframes(
    total_frames: int,
    video_fps: float,
    *,
    nframes: int | None = None,
    fps: float | None = None,
    min_frames: int = FPS_MIN_FRAMES,
    max_frames: int = FPS_MAX_FRAMES,
) -> int:
    """How many frames Qwen2-VL / Qwen2.5-VL sample from a video (``qwen-vl-utils`` 0.0.10 rules).

    Give at most one of ``nframes`` and ``fps``:

    - ``nframes``: that count, rounded to the nearest even number (ties to the multiple of 4, like Python's
      ``round``: 5 -> 4, 7 -> 8). ``min_frames``/``max_frames`` do not apply.
    - otherwise ``fps`` (default :data:`FPS` = 2.0): ``duration * fps`` frames, where
      ``duration = total_frames / video_fps``, clamped to ``[ceil_even(min_frames), floor_even(max_frames)]``,
      capped at ``total_frames``, then rounded *down* to an even number. ``max_frames`` is in effect capped
      at ``total_frames`` (upstream's default is ``min(768, total_frames)``); when the clamps cross, the upper
      one wins.

    Args:
        total_frames: frames in the video (>= 1).
        video_fps: the video's frame rate (frames per second, > 0).
        nframes: a fixed number of frames, or None.
        fps: a target sampling rate in frames per second, or None (then 2.0 unless ``nframes`` is given).
        min_frames: lower clamp for the fps rule (default 4).
        max_frames: upper clamp for the fps rule (default 768).

    Returns:
        An even int ``n`` with ``2 <= n <= total_frames``.

    Raises:
        ValueError: both ``nframes`` and ``fps`` given; bad arguments; or the result falls outside
            ``[2, total_frames]`` (a video of one frame, or ``nframes`` larger than the video).

    Worked examples for a 1280x720 video at 30 fps:

    >>> smart_nframes(10 * 30, 30.0)        # 10 s at 2 fps
    20
    >>> smart_nframes(60 * 30, 30.0)        # 60 s
    120
    >>> smart_nframes(600 * 30, 30.0)       # 600 s would be 1200 frames: capped at 768
    768
    >>> round(sample_fps(768, 600 * 30, 30.0), 2)   # so the effective rate drops to 1.28 fps
    1.28
    >>> smart_nframes(30, 10.0)             # a 3 s clip at 10 fps: 6 frames at 2 fps
    6
    >>> smart_nframes(10, 30.0)             # 0.33 s: 0.67 frames, raised to min_frames=4
    4
    >>> smart_nframes(300, 30.0, nframes=7) # a fixed count is made even
    8
    """
    total_frames = _check_count(total_frames, "total_frames")
    video_fps = _check_rate(video_fps, "video_fps")
    if nframes is not None and fps is not None:
        raise ValueError(
            f"give either nframes or fps, not both (got nframes={nframes}, fps={fps}): "
            "nframes fixes the count, fps derives it from the duration"
        )
    if nframes is not None:
        nframes = _check_count(nframes, "nframes")
        n = round_by_factor(nframes, FRAME_FACTOR)
    else:
        fps = FPS if fps is None else _check_rate(fps, "fps")
        min_frames = _check_count(min_frames, "min_frames", minimum=0)
        max_frames = _check_count(max_frames, "max_frames")
        lower = ceil_by_factor(min_frames, FRAME_FACTOR)
        upper = floor_by_factor(min(max_frames, total_frames), FRAME_FACTOR)
        wanted = total_frames / video_fps * fps
        n = floor_by_factor(min(max(wanted, lower), upper, total_frames), FRAME_FACTOR)
    if not FRAME_FACTOR <= n <= total_frames:
        if nframes is not None and n > total_frames:
            raise ValueError(
                f"requested {nframes} frames (rounded to {n}) but the video has only {total_frames}; "
                f"ask for at most {floor_by_factor(total_frames, FRAME_FACTOR)}, or sample by fps"
            )
        raise ValueError(
            f"cannot sample an even number of frames between {FRAME_FACTOR} and {total_frames} "
            f"(got {n}): the video needs at least {FRAME_FACTOR} frames, and nframes at least {FRAME_FACTOR}"
        )
    return int(n)


def sample_fps(nframes: int, total_frames: int, video_fps: float) -> float:
    """The effective sampling rate (frames per second of video) when ``nframes`` of ``total_frames`` are kept.

    This is the ``fps`` that ``qwen-vl-utils`` hands to the Qwen2.5-VL processor, which turns it into
    seconds per temporal patch (``2 / fps``) for the absolute-time position ids.

    >>> sample_fps(20, 300, 30.0)
    2.0
    """
    return nframes / max(total_frames, 1e-6) * video_fps


def fps_indices(
    total_frames: int,
    video_fps: float,
    fps: float = FPS,
    min_frames: int = FPS_MIN_FRAMES,
    max_frames: int = FPS_MAX_FRAMES,
) -> np.ndarray:
    """Frame indices for FPS-based sampling: ``uniform_indices(total, smart_nframes(...))``.

    Args:
        total_frames: frames in the video (>= 2).
        video_fps: the video's frame rate (> 0).
        fps: target sampling rate, frames per second (default 2.0).
        min_frames, max_frames: clamps, see :func:`smart_nframes`.

    Returns:
        ``(n,)`` int64, strictly increasing, with ``n = smart_nframes(...)`` even.

    >>> fps_indices(30, 10.0).tolist()     # 3 s at 10 fps -> 6 frames
    [0, 6, 12, 17, 23, 29]
    """
    n = smart_nframes(total_frames, video_fps, fps=fps, min_frames=min_frames, max_frames=max_frames)
    return uniform_indices(total_frames, n)
