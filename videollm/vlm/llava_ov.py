"""Unit 05 — LLaVA-OneVision's visual token budget: AnyRes-Max-9 tiling, unpadding, newline tokens, video frame pooling.

Reference functions for unit 05, written from the LLaVA-NeXT code (``llava/mm_utils.py``, ``llava_arch.py``) and
checked against transformers 5.23.0 (``select_best_resolution``, ``modeling_llava_onevision``'s
``unpad_image`` / ``pack_image_features`` / ``apply_pooling`` and the processor's token counts).

The vision tower is SigLIP so400m-patch14-384: one 384x384 crop gives ``384 // 14 = 27`` patches per side, so
``27 * 27 = 729`` tokens, no CLS token. Everything below is arithmetic on those 27x27 grids.

- **Single image** (AnyRes-Max-9): choose the grid resolution that keeps most of the image
  (:func:`select_best_resolution` over 36 candidates from 384x384 to 2304x2304), resize and pad onto it
  (:func:`resize_and_pad`), cut 384x384 crops (:func:`divide_to_crops`) and add a *base* crop, the whole image
  squeezed to 384x384 (:func:`anyres_crops`). After the tower the crops' features are stitched into one big
  feature map, the padding is cut off again (:func:`unpad_features`), the map is shrunk bilinearly if it holds
  more than about 9 crops' worth of tokens (:func:`anyres_max_downsample`), and a learned *newline* vector ends
  every row (:func:`add_newlines`). :func:`pack_image_features` does all of it; :func:`num_image_tokens`
  counts the result without computing it. Budget: at most about ``(1 + 9) * 729 = 7290`` tokens.
- **Multi-image**: each image is one 384 crop, 729 tokens (the paper's budget: 12 images, 8748 tokens).
- **Video**: each frame is one 384 crop whose 27x27 map is pooled bilinearly to 14x14 = 196 tokens
  (:func:`pool_video_frames`); 32 frames give 6272 tokens, plus newline tokens (:func:`num_video_tokens`).

Sizes are ``(height, width)`` throughout, as in transformers (LLaVA-NeXT's own code uses ``(width, height)``).

>>> select_best_resolution((480, 640), GRID_PINPOINTS)
(768, 768)
>>> num_image_tokens((480, 640))
2929
>>> token_strategy()["video"]["tokens"]
6272

Lecture: `lectures/05_llava_ov_qwen2_vl.ipynb` §2–5.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from videollm.validate import positive_int

__all__ = [
    "CROP_SIZE",
    "GRID_PINPOINTS",
    "PATCH_SIZE",
    "add_newlines",
    "anyres_crops",
    "anyres_max_downsample",
    "divide_to_crops",
    "grid_shape",
    "num_image_tokens",
    "num_video_tokens",
    "pack_image_features",
    "pool_video_frames",
    "resize_and_pad",
    "resized_size",
    "select_best_resolution",
    "token_strategy",
    "unpad_features",
]

CROP_SIZE = 384  # SigLIP-384 input side
PATCH_SIZE = 14  # SigLIP patch side: 384 // 14 = 27 patches per side
MAX_CROPS = 9  # "anyres_max_9"
THRESHOLD = 1.1  # downsample only when the map is more than 1.1x (per side) larger than 9 crops
NEWLINE_MODES = ("one_token", "grid", "frame", "no_token")
POOL_MODES = ("bilinear", "average", "max")

#: The 36 AnyRes candidates "(1x1),...,(6x6)" times 384, as ``(height, width)`` pairs in transformers' order
#: (rows of crops outer, columns inner): (384, 384), (384, 768), ..., (2304, 2304).
GRID_PINPOINTS: list[tuple[int, int]] = [
    (rows * CROP_SIZE, cols * CROP_SIZE) for rows in range(1, 7) for cols in range(1, 7)
]


# ---------------------------------------------------------------------------------------------- input checks
def _size(size, name: str) -> tuple[int, int]:
    """``(height, width)`` as two positive Python ints (accepts tuples, lists, tensors, arrays)."""
    if isinstance(size, Tensor) or hasattr(size, "tolist"):
        size = size.tolist()
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise ValueError(f"{name} must be a (height, width) pair; got {size!r}")
    h, w = size
    return positive_int(h, f"{name}[0] (height)"), positive_int(w, f"{name}[1] (width)")


def _check_features(features: Tensor, ndim: int, layout: str, where: str) -> None:
    if not isinstance(features, Tensor):
        raise TypeError(f"{where}: expected a torch.Tensor {layout}; got {type(features).__name__}")
    if features.ndim != ndim:
        raise ValueError(f"{where}: expected {layout} ({ndim} dims); got shape {tuple(features.shape)}")


# ------------------------------------------------------------------------------------------ choosing a grid
def select_best_resolution(original_size, possible_resolutions=GRID_PINPOINTS) -> tuple[int, int]:
    """The AnyRes candidate that keeps the most of the image, wasting the least canvas on ties.

    For a candidate ``(H, W)`` the image ``(h0, w0)`` is scaled by ``s = min(W / w0, H / h0)`` (up or down) to
    fit inside it; ``effective = min(int(w0 s) * int(h0 s), w0 h0)`` is how many of the original pixels survive
    (upscaling adds none, so it is capped at ``h0 w0``) and ``wasted = H W - effective``. The best candidate has
    the largest ``effective``; among equal ones, the smallest ``wasted``; among those, the first listed.

    Args:
        original_size: ``(height, width)`` of the image in pixels.
        possible_resolutions: candidate ``(height, width)`` pairs (default :data:`GRID_PINPOINTS`).

    Returns:
        The chosen ``(height, width)``.

    >>> select_best_resolution((1080, 1920))   # keeps every pixel; 1152x2304 would too, but wastes more
    (1152, 1920)
    >>> select_best_resolution((300, 300))   # small square: 384x384, the least waste among equals
    (384, 384)
    """
    h0, w0 = _size(original_size, "original_size")
    candidates = [_size(r, "possible_resolutions entry") for r in possible_resolutions]
    if not candidates:
        raise ValueError("possible_resolutions is empty; pass e.g. videollm.vlm.llava_ov.GRID_PINPOINTS")
    res = torch.tensor(candidates, dtype=torch.float64)
    heights, widths = res[:, 0], res[:, 1]
    scale = torch.minimum(widths / w0, heights / h0)
    # int(x * s) in Python truncates; the products are positive, so floor() is the same thing.
    kept = torch.floor(w0 * scale) * torch.floor(h0 * scale)
    effective = torch.clamp(kept, max=float(w0 * h0))
    wasted = widths * heights - effective
    best = effective == effective.max()
    wasted = torch.where(best, wasted, torch.full_like(wasted, math.inf))
    index = int(torch.argmin(wasted))  # argmin returns the first minimum: the first listed wins ties
    return candidates[index]


def grid_shape(original_size, pinpoints=GRID_PINPOINTS, crop: int = CROP_SIZE) -> tuple[int, int]:
    """``(rows, cols)`` of crops for an image: ``select_best_resolution(...) // crop`` per side.

    >>> grid_shape((1080, 1920))
    (3, 5)
    """
    crop = positive_int(crop, "crop")
    h, w = select_best_resolution(original_size, pinpoints)
    return h // crop, w // crop


# --------------------------------------------------------------------------------------- pixels: the crops
def resized_size(original_size, target_size) -> tuple[int, int]:
    """The size an image gets inside ``target_size`` before padding: one side fills, the other keeps the aspect.

    The side with the smaller scale factor becomes the target's; the other is ``ceil(side * scale)``, capped at
    the target (transformers' ``get_patch_output_size``).

    >>> resized_size((1080, 1920), (1152, 1920))
    (1080, 1920)
    """
    h0, w0 = _size(original_size, "original_size")
    th, tw = _size(target_size, "target_size")
    scale_w, scale_h = tw / w0, th / h0
    if scale_w < scale_h:
        return min(math.ceil(h0 * scale_w), th), tw
    return th, min(math.ceil(w0 * scale_h), tw)


def _to_chw_float(image) -> tuple[Tensor, bool]:
    """``(C, H, W)`` float view of ``image`` and whether it came in as ``(H, W, 3)`` uint8."""
    if not isinstance(image, Tensor):
        raise TypeError(
            f"expected a torch.Tensor image, (C, H, W) float or (H, W, 3) uint8; got {type(image).__name__}"
        )
    if image.dtype == torch.uint8:
        if image.ndim != 3 or image.shape[-1] not in (1, 3, 4):
            raise ValueError(f"a uint8 image must be (H, W, 3); got shape {tuple(image.shape)}")
        return image.permute(2, 0, 1).float(), True
    if not image.is_floating_point() or image.ndim != 3:
        raise ValueError(
            f"expected a (C, H, W) float image or an (H, W, 3) uint8 image; got {image.dtype} {tuple(image.shape)}"
        )
    return image, False


def _from_chw_float(image: Tensor, was_uint8: bool) -> Tensor:
    if was_uint8:
        return image.round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).contiguous()
    return image


def _resize(image: Tensor, size: tuple[int, int]) -> Tensor:
    """Bicubic resize of a ``(C, H, W)`` float image (antialiased when shrinking), values clipped to the input range."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image.clone()
    out = F.interpolate(image[None], size=size, mode="bicubic", align_corners=False, antialias=True)[0]
    return out.clamp(image.min(), image.max())


def resize_and_pad(image: Tensor, target_size) -> Tensor:
    """Resize ``image`` to fit ``target_size`` (aspect kept, see :func:`resized_size`), centred on black.

    Args:
        image: ``(C, H, W)`` float tensor or ``(H, W, 3)`` uint8 tensor.
        target_size: ``(height, width)`` of the canvas, e.g. from :func:`select_best_resolution`.

    Returns:
        Same layout and dtype as ``image``, spatial size ``target_size``. The resized picture sits in the middle;
        when the spare pixels are odd the extra row/column of padding goes to the bottom/right.
    """
    chw, was_uint8 = _to_chw_float(image)
    th, tw = _size(target_size, "target_size")
    nh, nw = resized_size(tuple(chw.shape[-2:]), (th, tw))
    resized = _resize(chw, (nh, nw))
    top, left = (th - nh) // 2, (tw - nw) // 2
    canvas = chw.new_zeros((chw.shape[0], th, tw))
    canvas[:, top : top + nh, left : left + nw] = resized
    return _from_chw_float(canvas, was_uint8)


def divide_to_crops(image: Tensor, crop: int = CROP_SIZE) -> Tensor:
    """Cut a ``(C, H, W)`` image into ``crop x crop`` tiles, row by row (left to right, then top to bottom).

    Args:
        image: ``(C, H, W)`` with ``H`` and ``W`` multiples of ``crop``.
        crop: tile side in pixels (384).

    Returns:
        ``(rows * cols, C, crop, crop)``; tile ``r * cols + c`` is ``image[:, r*crop:(r+1)*crop, c*crop:(c+1)*crop]``.
    """
    _check_features(image, 3, "(C, H, W)", "divide_to_crops")
    crop = positive_int(crop, "crop")
    C, H, W = image.shape
    if H % crop or W % crop:
        raise ValueError(
            f"divide_to_crops: image size {H}x{W} is not a multiple of crop={crop}; "
            "resize_and_pad it onto a grid resolution first"
        )
    rows, cols = H // crop, W // crop
    tiles = image.reshape(C, rows, crop, cols, crop).permute(1, 3, 0, 2, 4)
    return tiles.reshape(rows * cols, C, crop, crop)


def anyres_crops(image: Tensor, pinpoints=GRID_PINPOINTS, crop: int = CROP_SIZE) -> Tensor:
    """LLaVA-OneVision's AnyRes input for one image: the base crop, then the grid's crops.

    Args:
        image: ``(C, H, W)`` float image, or ``(H, W, 3)`` uint8 (then the crops are uint8 too).
        pinpoints: candidate grid resolutions ``(height, width)``.
        crop: crop side (384).

    Returns:
        ``(1 + rows * cols, C, crop, crop)`` (channels first in both cases): index 0 is the whole image resized
        (not padded) to ``crop x crop``;
        then :func:`divide_to_crops` of :func:`resize_and_pad` onto :func:`select_best_resolution`.
    """
    chw, was_uint8 = _to_chw_float(image)
    crop = positive_int(crop, "crop")
    best = select_best_resolution(tuple(chw.shape[-2:]), pinpoints)
    grid = divide_to_crops(resize_and_pad(chw, best), crop)
    base = _resize(chw, (crop, crop))
    crops = torch.cat([base[None], grid], dim=0)
    if was_uint8:
        crops = crops.round().clamp(0, 255).to(torch.uint8)
    return crops


# ---------------------------------------------------------------------------------- features: packing them
def unpad_features(features: Tensor, original_size) -> Tensor:
    """Cut the padding :func:`resize_and_pad` added off a stitched ``(C, H, W)`` feature map.

    If the image is wider than the map (``w0 / h0 > W / H``) it filled the width and was padded top and bottom:
    the picture's height in feature cells is ``new_h = int(round(h0 * W / w0, 7))`` and ``(H - new_h) // 2``
    rows go from each end. Otherwise the same for columns. (Rounding to 7 decimals before ``int`` keeps
    products such as ``0.9999999999`` from truncating to the wrong cell count.)

    Args:
        features: ``(C, H, W)`` map (``H = rows * 27``, ``W = cols * 27``).
        original_size: ``(height, width)`` of the image in pixels.

    Returns:
        ``(C, H', W)`` or ``(C, H, W')`` — a view of ``features``.
    """
    _check_features(features, 3, "(C, H, W)", "unpad_features")
    h0, w0 = _size(original_size, "original_size")
    _, H, W = features.shape
    if w0 / h0 > W / H:
        new_h = int(round(h0 * (W / w0), 7))
        pad = (H - new_h) // 2
        return features[:, pad : H - pad, :]
    new_w = int(round(w0 * (H / h0), 7))
    pad = (W - new_w) // 2
    return features[:, :, pad : W - pad]


def _downsampled_size(height: int, width: int, max_crops: int, tokens_per_side: int, threshold: float):
    ratio = math.sqrt(height * width / (max_crops * tokens_per_side**2))
    if ratio > threshold:
        return int(height // ratio), int(width // ratio)
    return height, width


def anyres_max_downsample(
    features: Tensor, max_crops: int = MAX_CROPS, tokens_per_side: int = 27, threshold: float = THRESHOLD
) -> Tensor:
    """Shrink a ``(C, H, W)`` map bilinearly when it holds more than ``max_crops`` crops' worth of tokens.

    ``ratio = sqrt(H W / (max_crops * tokens_per_side**2))``; if ``ratio > threshold`` the map is resized to
    ``(int(H // ratio), int(W // ratio))`` (bilinear, ``align_corners=False``), otherwise returned unchanged.

    Returns:
        ``(C, H'', W'')`` with ``H'' W'' <= max_crops * tokens_per_side**2`` whenever it was resized.
    """
    _check_features(features, 3, "(C, H, W)", "anyres_max_downsample")
    max_crops = positive_int(max_crops, "max_crops")
    tokens_per_side = positive_int(tokens_per_side, "tokens_per_side")
    _, H, W = features.shape
    size = _downsampled_size(H, W, max_crops, tokens_per_side, threshold)
    if size == (H, W):
        return features
    return F.interpolate(features[None], size=list(size), mode="bilinear", align_corners=False)[0]


def add_newlines(features: Tensor, newline: Tensor) -> Tensor:
    """Append the ``newline`` vector after every row of a ``(C, H, W)`` map and flatten it into tokens.

    Returns:
        ``(H * (W + 1), C)``: row 0's ``W`` tokens, a newline, row 1's tokens, a newline, ...
    """
    _check_features(features, 3, "(C, H, W)", "add_newlines")
    C, H, W = features.shape
    if not isinstance(newline, Tensor) or newline.shape != (C,):
        got = tuple(newline.shape) if isinstance(newline, Tensor) else type(newline).__name__
        raise ValueError(f"add_newlines: newline must be a ({C},) tensor, one vector per channel; got {got}")
    column = newline.to(features)[:, None, None].expand(C, H, 1)
    return torch.cat([features, column], dim=2).flatten(1, 2).transpose(0, 1)


def pack_image_features(
    crop_features: Tensor,
    original_size,
    best_resolution,
    newline: Tensor | None,
    max_crops: int = MAX_CROPS,
    crop: int = CROP_SIZE,
    threshold: float = THRESHOLD,
) -> Tensor:
    """One image's token sequence from its crops' features (``spatial_unpad`` + ``anyres_max_9``).

    Args:
        crop_features: ``(1 + n, P, C)`` — the base crop then the ``n = rows * cols`` grid crops, ``P = 729``
            tokens each (a square number), after the projector.
        original_size: ``(height, width)`` of the image in pixels.
        best_resolution: the grid resolution ``(height, width)`` the crops were cut from.
        newline: ``(C,)`` newline embedding, or None for none.
        max_crops: token budget of the grid part in crops (9).
        crop: crop side in pixels (384), to turn ``best_resolution`` into ``(rows, cols)``.

    Returns:
        ``(N, C)``: the base crop's ``P`` tokens, then the unpadded, possibly downsampled grid with a newline
        ending every row. A single crop (``1 + n == 1``, as for the images of a multi-image prompt) gives its
        ``P`` tokens plus one newline.
    """
    _check_features(crop_features, 3, "(1 + n, P, C)", "pack_image_features")
    n_total, P, C = crop_features.shape
    side = math.isqrt(P)
    if side * side != P:
        raise ValueError(f"pack_image_features: {P} tokens per crop is not a square number (SigLIP-384 gives 729)")
    if n_total == 1:
        tokens = crop_features[0]
        if newline is not None:
            tokens = torch.cat([tokens, newline.to(tokens)[None]], dim=0)
        return tokens
    crop = positive_int(crop, "crop")
    bh, bw = _size(best_resolution, "best_resolution")
    rows, cols = bh // crop, bw // crop
    if rows * cols != n_total - 1:
        raise ValueError(
            f"pack_image_features: best_resolution {bh}x{bw} means {rows}x{cols} = {rows * cols} crops, "
            f"but crop_features has {n_total - 1} after the base crop"
        )
    base, grid = crop_features[0], crop_features[1:]
    # (rows, cols, side, side, C) -> (C, rows, side, cols, side) -> (C, rows*side, cols*side)
    big = grid.reshape(rows, cols, side, side, C).permute(4, 0, 2, 1, 3).reshape(C, rows * side, cols * side)
    big = unpad_features(big, original_size)
    big = anyres_max_downsample(big, max_crops=max_crops, tokens_per_side=side, threshold=threshold)
    if newline is not None:
        grid_tokens = add_newlines(big, newline)
    else:
        grid_tokens = big.flatten(1, 2).transpose(0, 1)
    return torch.cat([base, grid_tokens], dim=0)


def pool_video_frames(features: Tensor, stride: int = 2, mode: str = "bilinear") -> Tensor:
    """Pool each video frame's square token grid (27x27 -> 14x14 for SigLIP-384).

    Args:
        features: ``(F, P, C)``, ``P = side**2`` tokens per frame (729).
        stride: pooling factor (2).
        mode: ``"bilinear"`` (LLaVA-OneVision: resize to ``ceil(side / stride)`` per side, ``align_corners=False``
            — 27 -> 14), or ``"average"`` / ``"max"`` (``kernel = stride``, floor: 27 -> 13).

    Returns:
        ``(F, P', C)`` with ``P' = 196`` for the defaults.
    """
    _check_features(features, 3, "(F, P, C)", "pool_video_frames")
    stride = positive_int(stride, "stride")
    if mode not in POOL_MODES:
        raise ValueError(f"pool_video_frames: unknown mode {mode!r}; choose one of {list(POOL_MODES)}")
    n, P, C = features.shape
    side = math.isqrt(P)
    if side * side != P:
        raise ValueError(f"pool_video_frames: {P} tokens per frame is not a square grid (SigLIP-384 gives 729)")
    grid = features.reshape(n, side, side, C).permute(0, 3, 1, 2)
    if mode == "bilinear":
        out_side = math.ceil(side / stride)
        pooled = F.interpolate(grid, size=[out_side, out_side], mode="bilinear", align_corners=False)
    elif mode == "average":
        pooled = F.avg_pool2d(grid, kernel_size=stride, stride=stride)
    else:
        pooled = F.max_pool2d(grid, kernel_size=stride, stride=stride)
    return pooled.permute(0, 2, 3, 1).reshape(n, -1, C)


# ----------------------------------------------------------------------------------------- token counting
def num_image_tokens(
    original_size,
    pinpoints=GRID_PINPOINTS,
    crop: int = CROP_SIZE,
    patch: int = PATCH_SIZE,
    max_crops: int = MAX_CROPS,
) -> int:
    """How many tokens :func:`pack_image_features` gives one image (base crop + grid + newlines).

    The same arithmetic without features: the grid map is ``(rows*s, cols*s)`` with ``s = crop // patch``;
    unpad it, downsample it, count ``h * (w + 1)``, add ``s * s`` for the base crop.

    >>> num_image_tokens((384, 384))        # 1x1 grid: 729 base + 27 rows of (27 + 1)
    1485
    >>> num_image_tokens((2304, 2304))      # 6x6 grid shrunk to 81x81: 729 + 81 * 82
    7371
    """
    crop, patch = positive_int(crop, "crop"), positive_int(patch, "patch")
    max_crops = positive_int(max_crops, "max_crops")
    h0, w0 = _size(original_size, "original_size")
    s = crop // patch
    rows, cols = grid_shape((h0, w0), pinpoints, crop)
    H, W = rows * s, cols * s
    if w0 / h0 > W / H:
        H -= 2 * ((H - int(round(h0 * (W / w0), 7))) // 2)
    else:
        W -= 2 * ((W - int(round(w0 * (H / h0), 7))) // 2)
    H, W = _downsampled_size(H, W, max_crops, s, THRESHOLD)
    return s * s + H * (W + 1)


def num_video_tokens(
    num_frames: int, crop: int = CROP_SIZE, patch: int = PATCH_SIZE, stride: int = 2, newline: str = "one_token"
) -> int:
    """Tokens of a video: ``num_frames`` frames of ``ceil(s / stride)**2`` pooled tokens (``s = crop // patch``).

    ``newline`` says where newline tokens go (LLaVA-NeXT's ``mm_newline_position``): ``"one_token"`` one after
    the whole video (transformers' LLaVA-OneVision: ``F * 196 + 1``), ``"grid"`` one after every row of every
    frame (``F * 14 * 15``), ``"frame"`` one per frame (``F * 197``), ``"no_token"`` none.

    >>> num_video_tokens(32), num_video_tokens(32, newline="no_token")
    (6273, 6272)
    """
    num_frames = positive_int(num_frames, "num_frames")
    crop, patch, stride = positive_int(crop, "crop"), positive_int(patch, "patch"), positive_int(stride, "stride")
    if newline not in NEWLINE_MODES:
        raise ValueError(f"num_video_tokens: unknown newline {newline!r}; choose one of {list(NEWLINE_MODES)}")
    side = math.ceil((crop // patch) / stride)
    per_frame = side * side
    extra = {"one_token": 1, "grid": num_frames * side, "frame": num_frames, "no_token": 0}[newline]
    return num_frames * per_frame + extra


def token_strategy(
    max_crops: int = MAX_CROPS,
    num_images: int = 12,
    num_frames: int = 32,
    crop: int = CROP_SIZE,
    patch: int = PATCH_SIZE,
) -> dict:
    """The paper's three token budgets, computed from the crop arithmetic (newline tokens not counted).

    Returns:
        ``{"tokens_per_crop": 729, "single_image": {...}, "multi_image": {...}, "video": {...}}`` where each entry
        holds its counts and ``"tokens"``: single image ``(1 + 9) * 729 = 7290``, multi-image ``12 * 729 = 8748``,
        video ``32 * 196 = 6272``.

    >>> s = token_strategy()
    >>> s["single_image"]["tokens"], s["multi_image"]["tokens"], s["video"]["tokens"]
    (7290, 8748, 6272)
    """
    per_crop = (crop // patch) ** 2
    per_frame = num_video_tokens(num_frames, crop, patch, newline="no_token") // num_frames
    return {
        "tokens_per_crop": per_crop,
        "single_image": {"crops": 1 + max_crops, "tokens_per_crop": per_crop, "tokens": (1 + max_crops) * per_crop},
        "multi_image": {"images": num_images, "tokens_per_image": per_crop, "tokens": num_images * per_crop},
        "video": {"frames": num_frames, "tokens_per_frame": per_frame, "tokens": num_frames * per_frame},
    }
