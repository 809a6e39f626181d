"""Unit 01 — resample learned absolute position embeddings to a new patch grid, exactly as
``timm.layers.resample_abs_pos_embed`` does (timm 1.0.31).

Lecture: `lectures/01_vit_patching.ipynb` §3.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from videollm.vit.shapes import check_ndim, pair


def resample_pos_embed(
    posemb: Tensor,
    new_size: tuple[int, int],
    old_size: tuple[int, int] | None = None,
    num_prefix_tokens: int = 1,
    interpolation: str = "bicubic",
    antialias: bool = True,
) -> Tensor:
    """Resize learned absolute position embeddings to a new patch grid, as ``timm.layers.resample_abs_pos_embed``
    (timm 1.0.31) does.

    The ``num_prefix_tokens`` leading tokens (class / register tokens) are kept as they are; the remaining
    ``old_h*old_w`` vectors are viewed as a ``(D, old_h, old_w)`` image, resized with ``F.interpolate`` in
    float32, and flattened back row-major. The result is cast back to ``posemb``'s dtype.

    Args:
        posemb: ``(1, P + old_h*old_w, D)``.
        new_size: ``(h, w)``.
        old_size: ``(old_h, old_w)``; ``None`` assumes a square old grid.
        num_prefix_tokens: ``P`` (1 for a class token, 0 for ``no_embed_class`` models, 1 + registers, ...).
        interpolation: ``F.interpolate`` mode ("bicubic", "bilinear", ...).
        antialias: passed to ``F.interpolate`` (only "bilinear"/"bicubic" support it).

    Returns:
        ``(1, P + h*w, D)``. Like timm, ``posemb`` itself is returned unchanged when the token count already
        matches and either ``old_size == new_size`` or (``old_size`` is ``None`` and ``new_size`` is square).
        A non-square ``new_size`` with ``old_size=None`` is always resampled, even at equal token count.
    """
    check_ndim(posemb, 3, "(1, P + N, D)", "resample_pos_embed")
    if posemb.shape[0] != 1:
        raise ValueError(
            f"resample_pos_embed: expected a batch dimension of 1 (a parameter of shape (1, P+N, D)), got shape "
            f"{tuple(posemb.shape)}"
        )
    new_h, new_w = pair(new_size, "new_size")
    if isinstance(num_prefix_tokens, bool) or not isinstance(num_prefix_tokens, int) or num_prefix_tokens < 0:
        raise ValueError(f"num_prefix_tokens must be a non-negative int, got {num_prefix_tokens!r}")
    num_pos = posemb.shape[1]
    num_grid = num_pos - num_prefix_tokens

    if num_pos == new_h * new_w + num_prefix_tokens:  # timm's early returns
        if old_size is not None and tuple(old_size) == (new_h, new_w):
            return posemb
        if old_size is None and new_h == new_w:
            return posemb

    if old_size is None:
        side = math.isqrt(max(num_grid, 0))
        if num_grid <= 0 or side * side != num_grid:
            raise ValueError(
                f"resample_pos_embed: {num_pos} tokens minus {num_prefix_tokens} prefix tokens = {num_grid} is not "
                f"a square grid; pass old_size=(old_h, old_w) (e.g. model.patch_embed.grid_size) or fix "
                f"num_prefix_tokens"
            )
        old_h = old_w = side
    else:
        old_h, old_w = pair(old_size, "old_size")
        if old_h * old_w != num_grid:
            raise ValueError(
                f"resample_pos_embed: old_size={(old_h, old_w)} has {old_h * old_w} positions but posemb has "
                f"{num_pos} tokens - {num_prefix_tokens} prefix = {num_grid}; check old_size and num_prefix_tokens"
            )
    if antialias and interpolation not in ("bilinear", "bicubic"):
        raise ValueError(
            f"resample_pos_embed: antialias=True works only with 'bilinear' or 'bicubic', got "
            f"interpolation={interpolation!r}; pass antialias=False"
        )

    prefix, grid = posemb[:, :num_prefix_tokens], posemb[:, num_prefix_tokens:]
    D = posemb.shape[-1]
    grid = grid.float().reshape(1, old_h, old_w, D).permute(0, 3, 1, 2)  # (1, D, old_h, old_w)
    grid = F.interpolate(grid, size=(new_h, new_w), mode=interpolation, antialias=antialias)
    grid = grid.permute(0, 2, 3, 1).reshape(1, new_h * new_w, D).to(posemb.dtype)
    if num_prefix_tokens:
        grid = torch.cat([prefix, grid], dim=1)
    return grid
