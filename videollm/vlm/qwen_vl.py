"""Unit 05 — Qwen2-VL / Qwen2.5-VL: dynamic resolution (``smart_resize``), video token budgets and M-RoPE position ids.

Reference functions for unit 05, following ``qwen-vl-utils`` 0.0.10 (QwenLM/Qwen2.5-VL @ f0af299,
``vision_process.py``) and the original Qwen2-VL ``get_rope_index`` (the rule the released checkpoints were
trained with, kept by transformers up to 4.57), checked against transformers 5.23.0.

- :func:`smart_resize` rounds an image to multiples of 28 (= patch 14 x merge 2) while keeping the pixel count
  within ``[min_pixels, max_pixels]``; the LLM then sees ``(h / 28) * (w / 28)`` tokens per temporal patch.
- Videos: :func:`smart_nframes` (from :mod:`videollm.sampling`) picks an even number of frames at 2 fps,
  :func:`video_frame_pixels` splits a total pixel budget over them, :func:`video_tokens` adds it all up.
- :func:`mrope_position_ids` gives every token three position ids (time, height, width). Text tokens get the
  same id on all three axes; a vision block's tokens get ``start + (t, row, col)``; the text after a block
  resumes at ``max(all ids so far) + 1``. Qwen2.5-VL replaces the time index ``t`` by absolute time:
  ``int(t * second_per_grid * tokens_per_second)``. :func:`rope_index` does this for a batch of token ids with
  left padding, like ``get_rope_index``.

transformers 5.23 changed ``get_rope_index``: the text after a vision block resumes at
``start + max(h, w) / merge`` instead of ``max + 1``. The two agree exactly when the block's last time id is
below ``max(h, w) / merge`` — for Qwen2-VL, ``grid_t <= max(h, w) / 2`` (:func:`transformers_agrees`).
Pass ``rule="transformers"`` to :func:`mrope_position_ids` to get 5.23's ids.

>>> smart_resize(1080, 1920)
(1092, 1932)
>>> mrope_position_ids([("video", (3, 4, 4)), ("text", 5)])[:, -5:].tolist()[0]
[3, 4, 5, 6, 7]

Lecture: `lectures/05_llava_ov_qwen2_vl.ipynb` §6–9.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
from torch import Tensor

from videollm.sampling import (
    FPS,
    FPS_MAX_FRAMES,
    FPS_MIN_FRAMES,
    FRAME_FACTOR,
    ceil_by_factor,
    floor_by_factor,
    fps_indices,
    round_by_factor,
    sample_fps,
    smart_nframes,
    uniform_indices,
)
from videollm.validate import positive_int

__all__ = [
    "FPS",
    "FPS_MAX_FRAMES",
    "FPS_MIN_FRAMES",
    "FRAME_FACTOR",
    "IMAGE_FACTOR",
    "MAX_PIXELS",
    "MAX_RATIO",
    "MIN_PIXELS",
    "PATCH_SIZE",
    "SPATIAL_MERGE_SIZE",
    "TEMPORAL_PATCH_SIZE",
    "VIDEO_MAX_PIXELS",
    "VIDEO_MIN_PIXELS",
    "VIDEO_TOTAL_PIXELS",
    "fps_indices",
    "mrope_position_ids",
    "rope_index",
    "sample_fps",
    "smart_nframes",
    "smart_resize",
    "transformers_agrees",
    "uniform_indices",
    "video_frame_pixels",
    "video_tokens",
]

# Constants of qwen-vl-utils 0.0.10.
PATCH_SIZE = 14
SPATIAL_MERGE_SIZE = 2
TEMPORAL_PATCH_SIZE = 2
IMAGE_FACTOR = PATCH_SIZE * SPATIAL_MERGE_SIZE  # 28: one LLM token covers 28x28 pixels (x 2 frames)
MIN_PIXELS = 4 * 28 * 28  # 3,136
MAX_PIXELS = 16384 * 28 * 28  # 12,845,056
MAX_RATIO = 200
VIDEO_MIN_PIXELS = 128 * 28 * 28  # 100,352 pixels per frame at least
VIDEO_MAX_PIXELS = 768 * 28 * 28  # 602,112 pixels per frame at most
# All frames together. Upstream reads it from the environment variable VIDEO_MAX_PIXELS (sic); we do not.
VIDEO_TOTAL_PIXELS = int(128000 * 28 * 28 * 0.9)  # 90,316,800 (about 115,200 LLM tokens)

RULES = ("original", "transformers")
KINDS = ("text", "image", "video")


# --------------------------------------------------------------------------------------------- resolution
def smart_resize(
    height: int, width: int, factor: int = IMAGE_FACTOR, min_pixels: float = MIN_PIXELS, max_pixels: float = MAX_PIXELS
) -> tuple[int, int]:
    """The size Qwen2-VL resizes an image (or every frame of a video) to (``qwen-vl-utils`` semantics).

    1. Round each side to the nearest multiple of ``factor`` (Python ``round``: ties to even), at least ``factor``.
    2. If that has more than ``max_pixels`` pixels, scale the *original* by ``1 / beta`` with
       ``beta = sqrt(h w / max_pixels)`` and round each side *down* to a multiple of ``factor``.
    3. Else if it has fewer than ``min_pixels``, scale by ``beta = sqrt(min_pixels / (h w))`` and round *up*.

    transformers' copy (``image_processing_qwen2_vl.smart_resize``) differs only at the edges: no
    ``factor`` floor in step 1 (a side under ``factor / 2`` rounds to 0), a ``factor`` floor in step 2, and an
    error for sides under 10 pixels.

    Args:
        height, width: image size in pixels.
        factor: multiple to round to (28).
        min_pixels, max_pixels: pixel-count bounds (defaults 4*28*28 and 16384*28*28).

    Returns:
        ``(h, w)``, multiples of ``factor``.

    Raises:
        ValueError: a side is not a positive integer, or the aspect ratio exceeds 200.

    >>> smart_resize(1080, 1920)
    (1092, 1932)
    >>> smart_resize(20, 20)                       # too small: scaled up to min_pixels = 56*56
    (56, 56)
    >>> smart_resize(720, 1280, max_pixels=VIDEO_MAX_PIXELS)
    (560, 1008)
    """
    height, width = positive_int(height, "height"), positive_int(width, "width")
    factor = positive_int(factor, "factor")
    if max(height, width) / min(height, width) > MAX_RATIO:
        raise ValueError(
            f"smart_resize: aspect ratio {max(height, width) / min(height, width):.1f} of {height}x{width} "
            f"exceeds {MAX_RATIO}; crop the image first"
        )
    h_bar = max(factor, round_by_factor(height, factor))
    w_bar = max(factor, round_by_factor(width, factor))
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = floor_by_factor(height / beta, factor)
        w_bar = floor_by_factor(width / beta, factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = ceil_by_factor(height * beta, factor)
        w_bar = ceil_by_factor(width * beta, factor)
    return int(h_bar), int(w_bar)


def video_frame_pixels(
    nframes: int,
    min_pixels: float = VIDEO_MIN_PIXELS,
    total_pixels: float = VIDEO_TOTAL_PIXELS,
    max_pixels: float | None = None,
):
    """Per-frame ``max_pixels`` for a video of ``nframes`` sampled frames (``qwen-vl-utils`` ``fetch_video``).

    ``max(min(VIDEO_MAX_PIXELS, total_pixels / nframes * 2), int(min_pixels * 1.05))``: the total budget is
    shared by the temporal patches (pairs of frames), each frame capped at 768 tokens' worth and never under
    ~5% above ``min_pixels``. A user ``max_pixels`` can only lower it.

    Returns:
        The pixel budget per frame (an int when the division is exact, as in the examples; a float otherwise,
        as upstream passes it on to :func:`smart_resize`).

    >>> video_frame_pixels(20)                  # 10 s at 2 fps: each frame may use the full 602,112
    602112
    >>> video_frame_pixels(768)                 # 768 frames share 90,316,800 pixels
    235200
    """
    nframes = positive_int(nframes, "nframes")
    budget = max(min(VIDEO_MAX_PIXELS, total_pixels / nframes * FRAME_FACTOR), int(min_pixels * 1.05))
    if max_pixels is not None:
        budget = min(max_pixels, budget)
    return int(budget) if float(budget).is_integer() else float(budget)


def video_tokens(
    num_frames: int,
    height: int,
    width: int,
    fps: float = 30.0,
    *,
    sample_rate: float | None = None,
    nframes: int | None = None,
    min_pixels: float = VIDEO_MIN_PIXELS,
    total_pixels: float = VIDEO_TOTAL_PIXELS,
    max_pixels: float | None = None,
) -> dict:
    """What Qwen2-VL makes of a video of ``num_frames`` frames of ``height x width`` at ``fps`` frames per second.

    Args:
        num_frames: frames in the video file.
        height, width: frame size in pixels.
        fps: the video's frame rate.
        sample_rate: sampling rate in frames per second (None: 2.0), or give ``nframes`` instead.
        nframes: a fixed number of frames to sample.
        min_pixels, total_pixels, max_pixels: see :func:`video_frame_pixels`.

    Returns:
        dict with ``nframes`` (sampled), ``sample_fps``, ``height``/``width`` (resized), ``max_pixels`` (per
        frame), ``grid_thw`` (``(nframes / 2, h / 14, w / 14)``), ``tokens_per_grid`` (``h/28 * w/28``),
        ``second_per_grid`` (``2 / sample_fps``) and ``tokens`` (``nframes / 2 * tokens_per_grid``).

    >>> v = video_tokens(300, 720, 1280, fps=30.0)     # 1280x720 at 30 fps, 10 s
    >>> v["nframes"], (v["height"], v["width"]), v["tokens"]
    (20, (560, 1008), 7200)
    """
    n = smart_nframes(num_frames, fps, nframes=nframes, fps=sample_rate)
    budget = video_frame_pixels(n, min_pixels=min_pixels, total_pixels=total_pixels, max_pixels=max_pixels)
    h, w = smart_resize(height, width, IMAGE_FACTOR, min_pixels=min_pixels, max_pixels=budget)
    rate = sample_fps(n, num_frames, fps)
    grid = (n // TEMPORAL_PATCH_SIZE, h // PATCH_SIZE, w // PATCH_SIZE)
    per_grid = (h // IMAGE_FACTOR) * (w // IMAGE_FACTOR)
    return {
        "nframes": n,
        "sample_fps": rate,
        "height": h,
        "width": w,
        "max_pixels": budget,
        "grid_thw": grid,
        "tokens_per_grid": per_grid,
        "second_per_grid": TEMPORAL_PATCH_SIZE / rate,
        "tokens": grid[0] * per_grid,
    }


# ------------------------------------------------------------------------------------------------ M-RoPE
def _grid(value, where: str) -> tuple[int, int, int]:
    if isinstance(value, Tensor) or hasattr(value, "tolist"):
        value = value.tolist()
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        raise ValueError(f"{where}: a vision grid must be (t, h, w) in patches, as grid_thw; got {value!r}")
    return tuple(positive_int(v, f"{where} grid entry") for v in value)


def _time_ids(grid_t: int, second_per_grid, tokens_per_second) -> Tensor:
    """``(grid_t,)`` int64 time index of each temporal patch (relative to the block's start)."""
    t = torch.arange(grid_t)
    if tokens_per_second is None:
        return t
    # transformers 5.23's arithmetic: interval = tokens_per_second * second (float32), ids = (t * interval).long()
    interval = tokens_per_second * torch.as_tensor(second_per_grid, dtype=torch.float32)
    return (t * interval).long()


def transformers_agrees(
    grid_t: int,
    h: int,
    w: int,
    spatial_merge_size: int = SPATIAL_MERGE_SIZE,
    second_per_grid: float | None = None,
    tokens_per_second: float | None = None,
) -> bool:
    """Whether transformers 5.23's ``get_rope_index`` gives the original ids for the text after this block.

    The original rule resumes at ``start + max(last time id, h' - 1, w' - 1) + 1``, 5.23 at
    ``start + max(h', w')`` (``h' = h / merge``, ``w' = w / merge``). They agree when the last time id is below
    ``max(h', w')``; for Qwen2-VL (time id = ``t``) that is ``grid_t <= max(h, w) / 2``.

    >>> transformers_agrees(3, 4, 4), transformers_agrees(4, 4, 4)
    (False, False)
    >>> transformers_agrees(2, 4, 4), transformers_agrees(1, 2, 2)
    (True, True)
    """
    grid_t, h, w = _grid((grid_t, h, w), "transformers_agrees")
    m = positive_int(spatial_merge_size, "spatial_merge_size")
    last = int(_time_ids(grid_t, 1.0 if second_per_grid is None else second_per_grid, tokens_per_second)[-1])
    return last + 1 <= max(h // m, w // m)


def mrope_position_ids(
    segments: Sequence,
    *,
    spatial_merge_size: int = SPATIAL_MERGE_SIZE,
    second_per_grid_ts: Sequence[float] | float | None = None,
    tokens_per_second: float | None = None,
    start: int = 0,
    rule: str = "original",
    device: torch.device | str | None = None,
) -> Tensor:
    """M-RoPE (time, height, width) position ids for a token layout.

    Args:
        segments: ``[(kind, size), ...]`` in sequence order; ``("text", n)`` is ``n`` text tokens (vision start/end
            markers are text), ``("image", (1, h, w))`` and ``("video", (t, h, w))`` are vision blocks with grids in
            patches *before* the ``merge x merge`` merge, as ``image_grid_thw`` / ``video_grid_thw``. A block has
            ``t * (h / merge) * (w / merge)`` tokens, in (time, row, column) order.
        spatial_merge_size: ``merge`` (2).
        second_per_grid_ts: Qwen2.5-VL — seconds per temporal patch of each *video* (``2 / sample_fps``), one
            value per video segment (or one value for all); None means 1.0. Used only with ``tokens_per_second``.
        tokens_per_second: Qwen2.5-VL — time ids per second (2 in the released configs). None: Qwen2-VL, the
            time id of temporal patch ``k`` is ``k``; else ``int(k * second_per_grid * tokens_per_second)``.
            Images always have time id 0.
        start: position of the first token (0).
        rule: where text resumes after a vision block: ``"original"`` (Qwen2-VL / Qwen2.5-VL as trained,
            transformers <= 4.57): ``max(all ids so far) + 1``; ``"transformers"`` (5.23): block start +
            ``max(h, w) / merge``.
        device: device of the result.

    Returns:
        ``(3, L)`` int64: rows are time, height, width ids; ``L`` is the total token count.

    Example (the transformers docstring's video of 3x2x2 LLM patches, grid ``(3, 4, 4)``, then 5 text tokens):

    >>> ids = mrope_position_ids([("video", (3, 4, 4)), ("text", 5)])
    >>> ids[0].tolist()
    [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 4, 5, 6, 7]
    >>> ids[1, :4].tolist(), ids[2, :4].tolist()
    ([0, 0, 1, 1], [0, 1, 0, 1])
    """
    if rule not in RULES:
        raise ValueError(f"mrope_position_ids: unknown rule {rule!r}; choose one of {list(RULES)}")
    m = positive_int(spatial_merge_size, "spatial_merge_size")
    if isinstance(segments, (str, bytes)) or not isinstance(segments, Sequence):
        raise TypeError(f"segments must be a list of (kind, size) pairs; got {type(segments).__name__}")
    n_videos = sum(1 for seg in segments if isinstance(seg, (tuple, list)) and seg and seg[0] == "video")
    if second_per_grid_ts is None:
        seconds = [1.0] * n_videos
    elif isinstance(second_per_grid_ts, numbers.Real):
        seconds = [float(second_per_grid_ts)] * n_videos
    else:
        seconds = [float(s) for s in (second_per_grid_ts.tolist() if hasattr(second_per_grid_ts, "tolist")
                                      else second_per_grid_ts)]
        if len(seconds) < n_videos:
            raise ValueError(
                f"second_per_grid_ts has {len(seconds)} values but the layout has {n_videos} videos; give one per video"
            )
    pieces: list[Tensor] = []
    pos = int(start)  # where the next segment starts
    video_index = 0
    for i, seg in enumerate(segments):
        if not isinstance(seg, (tuple, list)) or len(seg) != 2 or seg[0] not in KINDS:
            raise ValueError(
                f"segments[{i}] = {seg!r}: expected ('text', n), ('image', (1, h, w)) or ('video', (t, h, w))"
            )
        kind, size = seg
        if kind == "text":
            n = size.item() if isinstance(size, Tensor) else size
            if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
                raise ValueError(f"segments[{i}]: a text segment needs a token count >= 0; got {size!r}")
            pieces.append(torch.arange(pos, pos + int(n)).expand(3, -1))
            pos += int(n)
            continue
        t, h, w = _grid(size, f"segments[{i}]")
        if h % m or w % m:
            raise ValueError(
                f"segments[{i}]: grid {t}x{h}x{w} has h or w not divisible by spatial_merge_size={m}; "
                "grids are in patches before the merge (as grid_thw), e.g. (t, 2*rows, 2*cols)"
            )
        hh, ww = h // m, w // m
        if kind == "video":
            times = _time_ids(t, seconds[video_index], tokens_per_second)
            video_index += 1
        else:
            times = torch.zeros(t, dtype=torch.long) if tokens_per_second is not None else torch.arange(t)
        tt, rr, cc = torch.meshgrid(times, torch.arange(hh), torch.arange(ww), indexing="ij")
        block = torch.stack([tt.reshape(-1), rr.reshape(-1), cc.reshape(-1)]) + pos
        pieces.append(block)
        if rule == "original":
            pos = int(block.max()) + 1
        else:
            pos += max(hh, ww)
    if not pieces:
        return torch.zeros(3, 0, dtype=torch.long, device=device)
    return torch.cat(pieces, dim=1).to(device=device, dtype=torch.long)


def rope_index(
    input_ids: Tensor,
    image_grid_thw: Tensor | None = None,
    video_grid_thw: Tensor | None = None,
    attention_mask: Tensor | None = None,
    *,
    image_token_id: int,
    video_token_id: int,
    vision_start_token_id: int,
    spatial_merge_size: int = SPATIAL_MERGE_SIZE,
    second_per_grid_ts: Tensor | Sequence[float] | None = None,
    tokens_per_second: float | None = None,
    rule: str = "original",
) -> tuple[Tensor, Tensor]:
    """M-RoPE position ids for a batch of token ids, like Qwen2-VL's ``get_rope_index``.

    A vision block is a run of ``image_token_id`` / ``video_token_id`` tokens right after a
    ``vision_start_token_id``; its length is ``t * h * w / merge**2`` from the next grid of its kind (grids are
    consumed in order over the whole batch). Everything else is text. Padding (``attention_mask == 0``, left or
    right) is skipped: the real tokens are numbered as if the padding were not there, and padded positions get 1.

    Args:
        input_ids: ``(B, L)`` int64.
        image_grid_thw, video_grid_thw: ``(num_images, 3)`` / ``(num_videos, 3)`` int64 or None.
        attention_mask: ``(B, L)`` of 0/1, or None (all real).
        image_token_id, video_token_id, vision_start_token_id: the tokenizer's ids.
        spatial_merge_size, second_per_grid_ts, tokens_per_second, rule: see :func:`mrope_position_ids`
            (``second_per_grid_ts``: one value per video of the batch).

    Returns:
        ``position_ids (3, B, L)`` int64 and ``deltas (B, 1)`` int64, ``max id + 1 - number of real tokens``: while
        decoding, the next token's id (on all three axes) is its cache position plus the delta.
    """
    if not isinstance(input_ids, Tensor) or input_ids.ndim != 2:
        got = tuple(input_ids.shape) if isinstance(input_ids, Tensor) else type(input_ids).__name__
        raise ValueError(f"rope_index: input_ids must be a (B, L) tensor; got {got}")
    B, L = input_ids.shape
    device = input_ids.device
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    if attention_mask.shape != input_ids.shape:
        raise ValueError(
            f"rope_index: attention_mask shape {tuple(attention_mask.shape)} differs from input_ids {(B, L)}"
        )
    m = positive_int(spatial_merge_size, "spatial_merge_size")
    grids = {
        image_token_id: [] if image_grid_thw is None else [_grid(g, "image_grid_thw") for g in image_grid_thw],
        video_token_id: [] if video_grid_thw is None else [_grid(g, "video_grid_thw") for g in video_grid_thw],
    }
    used = {image_token_id: 0, video_token_id: 0}
    if second_per_grid_ts is not None and hasattr(second_per_grid_ts, "tolist"):
        second_per_grid_ts = second_per_grid_ts.tolist()
    position_ids = torch.ones(3, B, L, dtype=torch.long, device=device)
    deltas = torch.zeros(B, 1, dtype=torch.long, device=device)
    for b in range(B):
        keep = attention_mask[b].bool()
        ids = input_ids[b][keep]
        n = ids.numel()
        # block starts: a vision token right after a vision-start token
        prev = torch.cat([ids.new_full((1,), -1), ids[:-1]])
        is_vision = (ids == image_token_id) | (ids == video_token_id)
        starts = torch.nonzero(is_vision & (prev == vision_start_token_id)).flatten().tolist()
        segments, cursor, first_video = [], 0, used[video_token_id]
        for s in starts:
            kind_id = int(ids[s])
            if used[kind_id] >= len(grids[kind_id]):
                what = "image" if kind_id == image_token_id else "video"
                raise ValueError(f"rope_index: sample {b} has more {what} blocks than {what}_grid_thw rows")
            grid = grids[kind_id][used[kind_id]]
            used[kind_id] += 1
            length = grid[0] * grid[1] * grid[2] // (m * m)
            if s + length > n or not bool((ids[s : s + length] == kind_id).all()):
                raise ValueError(
                    f"rope_index: sample {b}: the block at token {s} should be {length} tokens for grid {grid}"
                )
            segments += [("text", s - cursor), ("image" if kind_id == image_token_id else "video", grid)]
            cursor = s + length
        segments.append(("text", n - cursor))
        seconds = None
        if second_per_grid_ts is not None:
            n_vid = used[video_token_id] - first_video
            seconds = list(second_per_grid_ts[first_video : first_video + n_vid]) or None
        pos = mrope_position_ids(
            segments,
            spatial_merge_size=m,
            second_per_grid_ts=seconds,
            tokens_per_second=tokens_per_second,
            rule=rule,
            device=device,
        )
        position_ids[:, b, keep] = pos
        deltas[b, 0] = (int(pos.max()) + 1 - n) if n else 0
    return position_ids, deltas
