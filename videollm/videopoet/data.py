"""Unit 08 — the clips VideoPoet's course model learns from: one sounding world clip gives a video, its sound track
and its caption.

VideoPoet's clips are 17 frames at 8 fps (2.125 s) with their sound. The course keeps the frame count and the rate
and shrinks the picture: a clip is :func:`videollm.world.voices.sounding_clip` at 17 x 32 x 32, 8 fps, so

- the frames feed the causal video tokenizer (17 frames -> 5 latent frames, 8x spatial -> 5 x 4 x 4 = 80 tokens);
- the sound track (16 kHz, 2.125 s: each object sounds a note when it appears and when it bounces) feeds the audio
  tokenizer;
- the caption ("a red circle and a blue diamond") is the text condition.

Train and held-out clips use disjoint seeds (:data:`SPLIT_SEEDS`), so held-out figures are measured on objects,
motions and sounds the models never saw. Clips take about 2 ms each to generate, so nothing here is cached.

Shapes: video ``(N, T, 3, H, W)`` float32 in [0, 1]; audio ``(N, S)`` float32 in [-1, 1).

Lecture: `lectures/08_videopoet.ipynb` §1.
"""

from __future__ import annotations

import numpy as np
import torch

from videollm.world.voices import SoundingClip, sounding_clip

#: The course's clip: VideoPoet's 17 frames at 8 fps (2.125 s), at 32 x 32 pixels instead of 128 x 128.
FRAMES, HEIGHT, WIDTH, FPS = 17, 32, 32, 8
#: First seed of each split; clip ``i`` of a split is ``sounding_clip(SPLIT_SEEDS[split] + i, ...)``.
SPLIT_SEEDS = {"train": 80_000, "heldout": 90_000}
#: Most clips a split holds: the seeds of the two splits never meet.
MAX_CLIPS = SPLIT_SEEDS["heldout"] - SPLIT_SEEDS["train"]


def _check_split(split: str, start: int, count: int) -> None:
    if split not in SPLIT_SEEDS:
        raise ValueError(f"split must be one of {sorted(SPLIT_SEEDS)}; got {split!r}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive int; got {count!r}")
    if isinstance(start, bool) or not isinstance(start, int) or start < 0 or start + count > MAX_CLIPS:
        raise ValueError(f"clips start..start + count must lie in 0..{MAX_CLIPS} (a split's seeds); got {start} + "
                         f"{count}")


def clips(split: str = "train", count: int = 1, start: int = 0) -> list[SoundingClip]:
    """Clips ``start .. start + count - 1`` of ``split`` (``"train"`` or ``"heldout"``), each 17 x 32 x 32 at 8 fps
    with its 2.125 s sound track and caption."""
    _check_split(split, start, count)
    seed = SPLIT_SEEDS[split] + start
    return [sounding_clip(seed + i, num_frames=FRAMES, height=HEIGHT, width=WIDTH, fps=FPS) for i in range(count)]


def videos(batch: list[SoundingClip], device=None, dtype=torch.float32) -> torch.Tensor:
    """The clips' frames as ``(N, T, 3, H, W)`` in [0, 1] (``T`` = 17)."""
    frames = np.stack([c.frames for c in batch])  # (N, T, H, W, 3) uint8
    return torch.from_numpy(frames).permute(0, 1, 4, 2, 3).to(device=device, dtype=dtype) / 255


def sounds(batch: list[SoundingClip], device=None, dtype=torch.float32) -> torch.Tensor:
    """The clips' sound tracks as ``(N, S)`` (``S`` = 34,000 samples: 2.125 s at 16 kHz)."""
    return torch.from_numpy(np.stack([c.audio for c in batch])).to(device=device, dtype=dtype)


def captions(batch: list[SoundingClip]) -> list[str]:
    """The clips' captions, in order."""
    return [c.caption for c in batch]
