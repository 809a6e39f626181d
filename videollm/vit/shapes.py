"""Unit 01 — argument checks shared by the ViT modules: sizes as pairs, tensor layouts, divisibility.

Lecture: `lectures/01_vit_patching.ipynb` §1–4.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from videollm.validate import positive_int


def pair(value: int | Sequence[int], name: str) -> tuple[int, int]:
    """``16 -> (16, 16)``; ``(14, 16) -> (14, 16)``; anything else is a ValueError."""
    if isinstance(value, int) and not isinstance(value, bool):
        out = (value, value)
    elif isinstance(value, (tuple, list, torch.Size)) and len(value) == 2:
        out = (value[0], value[1])
    else:
        raise ValueError(f"{name} must be an int or a pair of ints (height, width), got {value!r}")
    for v in out:
        positive_int(v, name)
    return int(out[0]), int(out[1])


def check_ndim(x: Tensor, ndim: int, layout: str, where: str) -> None:
    if not isinstance(x, Tensor):
        raise ValueError(f"{where}: expected a torch.Tensor of shape {layout}, got {type(x).__name__}")
    if x.ndim != ndim:
        hint = ""
        if ndim == 4 and x.ndim == 3:
            hint = "; for a single image add a batch dimension with x.unsqueeze(0)"
        elif ndim == 5 and x.ndim == 4:
            hint = "; for a single clip add a batch dimension with x.unsqueeze(0)"
        raise ValueError(f"{where}: expected a {ndim}-D tensor {layout}, got shape {tuple(x.shape)}{hint}")


def check_divisible(size: int, patch: int, what: str, where: str, fix: str) -> None:
    if size % patch:
        lower, upper = (size // patch) * patch, -(-size // patch) * patch
        near = f"{upper}" if lower == 0 else f"{lower} or {upper}"
        raise ValueError(
            f"{where}: {what} {size} is not divisible by the patch size {patch}; "
            f"resize, crop or pad it to a multiple of {patch} (e.g. {near}){fix}"
        )


PAD_HINT = ", or use PatchEmbed(..., dynamic_img_pad=True) to zero-pad the right/bottom edges"
