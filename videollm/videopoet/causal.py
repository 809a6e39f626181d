"""Unit 08 — MAGVIT-v2's causal 3D convolution: each output frame reads only its own and earlier input frames.

A plain ``Conv3d`` with ``padding=k // 2`` pads time on both sides, so frame ``t``'s output sees frame ``t + 1``.
The causal version pads only the past: ``dilation * (k_t - 1) + (1 - stride)`` frames before the first, none after
(space keeps its symmetric ``k // 2``). Two consequences make MAGVIT-v2 what VideoPoet needs:

- the first frame's latent depends on the first frame alone, so a picture is a one-frame video and images and
  videos share one tokenizer;
- a tokenizer that halves time twice maps ``1 + 4k`` frames to ``1 + k`` latent frames (the first frame alone,
  then one latent per four frames): 17 frames -> 5, as VideoPoet's ``(5, 16, 16)`` = 1,280 tokens per
  17 x 128 x 128 clip (:func:`latent_frames`). ``magvit2-pytorch``'s encoder gets there by left-padding
  ``factor - 1`` zero frames before its strided time layers; two strided ``CausalConv3d`` alone would give 4.

The padding follows ``magvit2-pytorch``'s ``CausalConv3d`` (zeros by default; the tests load the same weights into
both and compare).

Shapes: video ``(B, C, T, H, W)``.

Lecture: `lectures/08_videopoet.ipynb` §2.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def _triple(size: int | tuple[int, int, int]) -> tuple[int, int, int]:
    size = (size,) * 3 if isinstance(size, int) else tuple(size)
    if len(size) != 3 or any(not isinstance(k, int) or k < 1 for k in size):
        raise ValueError(f"kernel_size must be a positive int or (time, height, width); got {size}")
    return size


class CausalConv3d(nn.Module):
    """``Conv3d`` over ``(B, C, T, H, W)`` that pads time in the past only (module docstring); ``stride`` and
    ``dilation`` act on time, space keeps stride 1 and its size."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int, int] = 3,
                 stride: int = 1, dilation: int = 1, pad_mode: str = "constant"):
        super().__init__()
        k_t, k_h, k_w = _triple(kernel_size)
        if k_h % 2 == 0 or k_w % 2 == 0:
            raise ValueError(f"the spatial kernel must be odd to keep the frame size; got {k_h} x {k_w}")
        if stride < 1 or dilation < 1:
            raise ValueError(f"stride and dilation must be >= 1; got {stride}, {dilation}")
        self.time_pad = dilation * (k_t - 1) + (1 - stride)
        if self.time_pad < 0:
            raise ValueError(f"a temporal stride of {stride} skips frames a kernel of {k_t} never reads")
        self.padding = (k_w // 2, k_w // 2, k_h // 2, k_h // 2, self.time_pad, 0)  # F.pad order: W, H, then T
        self.pad_mode = pad_mode
        self.conv = nn.Conv3d(in_channels, out_channels, (k_t, k_h, k_w), stride=(stride, 1, 1),
                              dilation=(dilation, 1, 1))

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, H, W)`` -> ``(B, C_out, T // stride, H, W)`` (``T`` for stride 1); ``T`` must be at least
        ``stride``."""
        if video.ndim != 5:
            raise ValueError(f"video must be (B, C, T, H, W); got {tuple(video.shape)}")
        if video.shape[2] < self.conv.stride[0]:
            raise ValueError(f"a temporal stride of {self.conv.stride[0]} needs at least that many frames; got "
                             f"{video.shape[2]}")
        # a reflect or replicate pad needs more frames than it adds; fall back to zeros (as magvit2-pytorch does)
        mode = self.pad_mode if self.time_pad < video.shape[2] else "constant"
        return self.conv(F.pad(video, self.padding, mode=mode))


def latent_frames(frames: int, factor: int = 4) -> int:
    """How many latent frames a causal tokenizer that divides time by ``factor`` makes of ``frames``: the first
    frame alone, then one per ``factor`` (17 -> 5 at 4x). ``frames`` must be ``1 + factor * k``."""
    if any(not isinstance(n, int) or isinstance(n, bool) or n < 1 for n in (frames, factor)):
        raise ValueError(f"frames and factor must be positive integers; got {frames!r}, {factor!r}")
    if (frames - 1) % factor:
        raise ValueError(f"a causal tokenizer at {factor}x takes 1 + {factor}k frames (1, {1 + factor}, "
                         f"{1 + 2 * factor}, ...); got {frames}: drop {(frames - 1) % factor} or pad to "
                         f"{frames + factor - (frames - 1) % factor}")
    return 1 + (frames - 1) // factor


__all__ = ["CausalConv3d", "latent_frames"]
