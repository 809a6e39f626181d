"""Unit 01 — token counts per scheme, and Qwen2-VL's flattening.

- :func:`count_tokens`, :data:`TOKEN_SCHEMES` — visual tokens of a clip: per frame, per tubelet, or Qwen2-VL's
  temporal patch 2 with 2x2 merge.
- :func:`qwen2_vl_patches` — the Qwen2-VL processor's flattening, with patches grouped into 2x2 merge blocks
  (checked against transformers 5.23).

Lecture: `lectures/01_vit_patching.ipynb` §4–5.
"""

from __future__ import annotations

import torch
from torch import Tensor

from videollm.validate import positive_int
from videollm.vit.shapes import check_ndim


#: Token-counting schemes understood by :func:`count_tokens`.
TOKEN_SCHEMES: tuple[str, ...] = ("per_frame", "tubelet", "qwen2_vl")


def count_tokens(
    num_frames: int,
    height: int,
    width: int,
    scheme: str,
    patch_size: int | None = None,
    tubelet_size: int = 2,
    merge_size: int = 2,
) -> int:
    """Number of visual tokens a clip of ``num_frames`` frames of ``height × width`` pixels costs.

    Schemes (see :data:`TOKEN_SCHEMES`):

    - ``"per_frame"``: a 2-D ViT on every frame, ``T * (H//p) * (W//p)``, ``p`` defaults to 16.
    - ``"tubelet"``: ViViT tubelets, ``(T//t) * (H//p) * (W//p)``, ``p`` defaults to 16, ``t = tubelet_size``.
      32 frames of 224×224 with 16×16×2 tubelets → 16·14·14 = 3136.
    - ``"qwen2_vl"``: Qwen2-VL. Frames are padded up to a multiple of ``tubelet_size`` (the
      ``temporal_patch_size``, 2) by repeating the last one, ``p`` defaults to 14, and ``H``, ``W`` must be
      multiples of ``p * merge_size`` (28). Tokens reaching the LLM after the 2×2 merger:
      ``ceil(T/t) * (H/p) * (W/p) / merge_size**2``. A 448×448 image → 256; 2 frames of 448×448 → 256.

    For "per_frame" and "tubelet" leftover pixels/frames are dropped (floor division, like a VALID
    convolution), matching timm and ViViT; pad first if you need them counted.

    Returns:
        ``int``.
    """
    T = positive_int(num_frames, "num_frames")
    H = positive_int(height, "height")
    W = positive_int(width, "width")
    t = positive_int(tubelet_size, "tubelet_size")
    if scheme not in TOKEN_SCHEMES:
        raise ValueError(f"count_tokens: unknown scheme {scheme!r}; choose one of {TOKEN_SCHEMES}")
    if scheme == "per_frame":
        p = positive_int(16 if patch_size is None else patch_size, "patch_size")
        return T * (H // p) * (W // p)
    if scheme == "tubelet":
        p = positive_int(16 if patch_size is None else patch_size, "patch_size")
        return (T // t) * (H // p) * (W // p)
    p = positive_int(14 if patch_size is None else patch_size, "patch_size")
    m = positive_int(merge_size, "merge_size")
    factor = p * m
    if H % factor or W % factor:
        raise ValueError(
            f"count_tokens('qwen2_vl'): height={H} and width={W} must both be multiples of "
            f"patch_size*merge_size = {factor}; resize the frames with Qwen's smart_resize first "
            f"(e.g. transformers.models.qwen2_vl.image_processing_qwen2_vl.smart_resize(h, w, factor={factor}))"
        )
    grid_t = -(-T // t)
    return grid_t * (H // p) * (W // p) // (m * m)


def qwen2_vl_patches(
    frames: Tensor,
    patch_size: int = 14,
    temporal_patch_size: int = 2,
    merge_size: int = 2,
) -> tuple[Tensor, Tensor]:
    """Flatten frames into Qwen2-VL's patch vectors, in the processor's merge-block order.

    Args:
        frames: ``(T, C, H, W)`` (an image is ``T = 1``), already resized so that ``H`` and ``W`` are multiples of
            ``patch_size * merge_size`` (and normalised, if you want the model's exact input).
        patch_size: ``p`` (14).  temporal_patch_size: ``tp`` (2).  merge_size: ``m`` (2).

    Returns:
        ``patches``: ``(N, C*tp*p*p)`` with ``N = gt*gh*gw``; each vector is flattened in ``(C, tp, p, p)`` order,
        the layout ``Conv3d(kernel=stride=(tp, p, p))`` expects. ``T`` is first padded to a multiple of ``tp`` by
        repeating the last frame. Patches are ordered time first, then by ``m×m`` merge block (row-major over
        blocks), then row-major inside a block — so every ``m*m`` consecutive patches form one merge block, as the
        ``PatchMerger`` requires.
        ``grid_thw``: ``(3,)`` int64 ``[gt, gh, gw]`` on ``frames``' device (``gh = H/p``, ``gw = W/p``).
    """
    check_ndim(frames, 4, "(T, C, H, W)", "qwen2_vl_patches")
    p = positive_int(patch_size, "patch_size")
    tp = positive_int(temporal_patch_size, "temporal_patch_size")
    m = positive_int(merge_size, "merge_size")
    T, C, H, W = frames.shape
    if T == 0:
        raise ValueError("qwen2_vl_patches: got 0 frames; pass at least one frame (T, C, H, W)")
    factor = p * m
    if H % factor or W % factor:
        raise ValueError(
            f"qwen2_vl_patches: frame size {H}x{W} is not a multiple of patch_size*merge_size = {factor} in both "
            f"dimensions; resize with Qwen's smart_resize(h, w, factor={factor}) first"
        )
    pad = (-T) % tp
    if pad:
        frames = torch.cat([frames, frames[-1:].expand(pad, C, H, W)], dim=0)
    gt, gh, gw = (T + pad) // tp, H // p, W // p
    x = frames.reshape(gt, tp, C, gh // m, m, p, gw // m, m, p)
    # -> (gt, block_row, block_col, row_in_block, col_in_block, C, tp, p, p)
    x = x.permute(0, 3, 6, 4, 7, 2, 1, 5, 8)
    patches = x.reshape(gt * gh * gw, C * tp * p * p)
    grid_thw = torch.tensor([gt, gh, gw], dtype=torch.long, device=frames.device)
    return patches, grid_thw
