"""Unit 08 — VideoPoet's token arithmetic: how many tokens a clip, a picture and a sound track become, and where
each kind lives in the one vocabulary.

**Video.** MAGVIT-v2 divides time by 4 causally (:func:`videollm.videopoet.causal.latent_frames`) and space by 8,
and each latent position is one token of ``2^18``:

- 17 x 128 x 128 -> (5, 16, 16) = 1,280 tokens;
- 17 x 224 x 128 (portrait) -> (5, 28, 16) = 2,240;
- 1 x 128 x 128, a picture (the first frame alone) -> (1, 16, 16) = 256;
- 17 x 896 x 512 -> (5, 112, 64) = 35,840, which is why super-resolution is a separate, non-autoregressive stage.

**Audio.** SoundStream turns 2.125 s into 106 latent frames, each quantised by a residual VQ of 4 levels of 1,024
codes. VideoPoet writes them *level-major* (every frame's level-1 code, then every frame's level-2 code, ...), which
worked slightly better than interleaving, and gives each level its own codes: 4 x 1,024 = 4,096 audio tokens,
106 x 4 = 424 per clip (:func:`level_major`).

**One vocabulary** (the paper's A.5.1): 256 special and task tokens first, then the 262,144 visual codes, then the
4,096 audio codes (:class:`Vocabulary`), then a small English word vocabulary (about 300,000 ids in all; not
modelled here). Text *conditioning* does not use those ids: it enters as frozen T5 embeddings, projected. The
course's special tokens (:data:`SPECIAL_TOKENS`, the paper's Table 4 in order) take the first of the reserved ids;
:mod:`videollm.videopoet.sequence` lays them out.

Facts: ``../shared/reference/08-videopoet.md`` §6.

Lecture: `lectures/08_videopoet.ipynb` §1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from videollm.videopoet.causal import latent_frames

#: The ``<task>`` values: one per kind of output (text-to-video, image-to-video and unconditional share ``video``).
TASK_TOKENS = ("video", "image", "continuation", "inpainting", "outpainting", "video_to_audio")
#: ``<source>`` values: the course's one world.
SOURCES = ("world",)
#: Output sizes ``(height, width)`` with a ``<res>`` token; ``None`` is the default 32 x 32, which has none.
RESOLUTIONS = {(32, 32): None, (56, 32): "56x32"}

#: Every special token in id order: its id is its place in this tuple (all below ``Vocabulary.special``).
SPECIAL_TOKENS = (
    "<pad>", "<bos>", *(f"<task:{t}>" for t in TASK_TOKENS),
    "<bot_i>", "<eot_i>", "<bov_i>", "<eov_i>", "<boa_i>", "<eoa_i>",
    *(f"<source:{s}>" for s in SOURCES), *(f"<res:{r}>" for r in RESOLUTIONS.values() if r),
    "<bov_o>", "<eov_o>", "<boa_o>", "<eoa_o>", "<eos>", "<text>",
)
SPECIAL = {name: i for i, name in enumerate(SPECIAL_TOKENS)}
PAD = SPECIAL["<pad>"]


def video_token_grid(frames: int, height: int, width: int, temporal: int = 4,
                     spatial: int = 8) -> tuple[int, int, int]:
    """``(t, h, w)``: the latent grid of a ``frames x height x width`` clip (module docstring's table)."""
    if not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in (height, width, spatial)):
        raise ValueError(f"height, width and spatial must be positive integers; got {height!r}, {width!r}, "
                         f"{spatial!r}")
    if height % spatial or width % spatial:
        raise ValueError(f"{height} x {width} does not divide by the tokenizer's {spatial}x: resize or crop to a "
                         f"multiple of {spatial} (e.g. {height - height % spatial} x {width - width % spatial})")
    return latent_frames(frames, temporal), height // spatial, width // spatial


def video_tokens(frames: int, height: int, width: int, temporal: int = 4, spatial: int = 8) -> int:
    """How many tokens a ``frames x height x width`` clip becomes (17 x 128 x 128 -> 1,280)."""
    t, h, w = video_token_grid(frames, height, width, temporal, spatial)
    return t * h * w


def level_major(codes: torch.Tensor, codebook_size: int) -> torch.Tensor:
    """Residual-VQ codes ``(..., T, L)`` (frame by frame, level by level) as VideoPoet's level-major token ids
    ``(..., L * T)``: all of level 0's codes, then level 1's, ...; level ``l``'s code ``c`` becomes
    ``l * codebook_size + c``, so each level has its own ids."""
    if codes.ndim < 2:
        raise ValueError(f"codes must be (..., T, L); got {tuple(codes.shape)}")
    if codes.dtype.is_floating_point or bool(((codes < 0) | (codes >= codebook_size)).any()):
        raise ValueError(f"codes must be integers in [0, {codebook_size})")
    levels = codes.shape[-1]
    offsets = torch.arange(levels, device=codes.device) * codebook_size
    return (codes + offsets).transpose(-1, -2).flatten(-2)


def from_level_major(tokens: torch.Tensor, levels: int, codebook_size: int) -> torch.Tensor:
    """The inverse of :func:`level_major`: ids ``(..., L * T)`` back to codes ``(..., T, L)``."""
    if not isinstance(levels, int) or levels < 1 or tokens.dtype.is_floating_point:
        raise ValueError(f"levels must be a positive integer and tokens integers; got {levels!r}, {tokens.dtype}")
    if tokens.shape[-1] % levels:
        raise ValueError(f"{tokens.shape[-1]} audio tokens do not split into {levels} levels")
    grid = tokens.unflatten(-1, (levels, tokens.shape[-1] // levels))     # (..., L, T)
    offsets = torch.arange(levels, device=tokens.device)[:, None] * codebook_size
    codes = grid - offsets
    if bool(((codes < 0) | (codes >= codebook_size)).any()):
        raise ValueError("a token is not in its level's range: not level-major audio ids of this codebook size")
    return codes.transpose(-1, -2)


@dataclass(frozen=True)
class Vocabulary:
    """Where each kind of token lives in one id space: special tokens, then visual codes, then audio codes (the
    paper's sizes by default: 256 + 262,144 + 4 x 1,024 = 266,496)."""

    special: int = 256
    visual: int = 2 ** 18
    audio_levels: int = 4
    audio_codes: int = 1024

    def __post_init__(self):
        sizes = {name: getattr(self, name) for name in ("special", "visual", "audio_levels", "audio_codes")}
        for name, value in sizes.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Vocabulary({name}=...) must be an int >= 1; got {value!r}")
        if self.special < len(SPECIAL_TOKENS):
            raise ValueError(f"Vocabulary(special={self.special}) leaves no id for some of the course's "
                             f"{len(SPECIAL_TOKENS)} special tokens (SPECIAL_TOKENS): reserve at least "
                             f"{len(SPECIAL_TOKENS)} (the paper reserves 256, the default)")

    @property
    def visual_offset(self) -> int:
        return self.special

    @property
    def audio_offset(self) -> int:
        return self.special + self.visual

    @property
    def size(self) -> int:
        """Special, visual and audio ids (266,496 by default; the paper's ~300,000 adds its word vocabulary)."""
        return self.audio_offset + self.audio_levels * self.audio_codes

    def visual_ids(self, codes: torch.Tensor) -> torch.Tensor:
        """Visual codes in ``[0, visual)`` as vocabulary ids."""
        if codes.dtype.is_floating_point or bool(((codes < 0) | (codes >= self.visual)).any()):
            raise ValueError(f"visual codes must be integers in [0, {self.visual})")
        return codes + self.visual_offset

    def audio_ids(self, codes: torch.Tensor) -> torch.Tensor:
        """Residual-VQ codes ``(..., T, L)`` as level-major vocabulary ids ``(..., L * T)``."""
        if codes.shape[-1] != self.audio_levels:
            raise ValueError(f"audio codes must have {self.audio_levels} levels in the last axis; got "
                             f"{codes.shape[-1]}")
        return level_major(codes, self.audio_codes) + self.audio_offset


__all__ = ["PAD", "RESOLUTIONS", "SOURCES", "SPECIAL", "SPECIAL_TOKENS", "TASK_TOKENS", "Vocabulary",
           "from_level_major", "level_major", "video_token_grid", "video_tokens"]
