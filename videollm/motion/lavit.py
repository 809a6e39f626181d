"""Unit 04 — codec motion vectors as Video-LaVIT's motion input.

A video encoder already did the motion search: every P-frame block carries a vector to where its content was in
the reference frame. Decoders can hand those vectors out (PyAV: ``flags2=+export_mvs``, then
``frame.side_data.get("MOTION_VECTORS").to_ndarray()``) as one record per block, with the fields of
:data:`MOTION_VECTOR_DTYPE`::

    source          -1: predicted from a past frame, +1: from a future one (B-frames); FFmpeg sets only +-1
    w, h            block size: 16x16 macroblocks, 8x8 sub-blocks (MPEG-4's four-vector mode), ...
    src_x, src_y    the block's centre in the reference frame (whole pixels)
    dst_x, dst_y    the block's centre in the current frame (may lie past the border of a frame whose size is
                    not a multiple of 16)
    flags
    motion_x, motion_y, motion_scale    (src - dst) * motion_scale: sub-pixel precision (2 half-, 4 quarter-pel)

Video-LaVIT (jy0205/LaVIT, ``VideoLaVIT/models/transform.py``) turns a clip's records into a
``(T, H/16, W/16, 2)`` field, and :func:`vectors_to_field` does the same with array operations:

1. **value**: ``source * (motion_x, motion_y) / motion_scale`` pixels. For a past reference that is ``dst - src``,
   the displacement ``(dx, dy)`` of :mod:`videollm.world.clips` and :mod:`videollm.world.scenes` (content at ``p`` was at
   ``p - (dx, dy)``); the sign of ``source`` keeps the direction right for a future reference.
2. **placement**: the vector belongs to the 16x16 cell holding its block's centre ``dst``, clipped into the frame.
3. **pooling**: Video-LaVIT writes each vector at one pixel of a map filled with -10000 and max-pools it 16x16, so
   a cell gets the *per-component maximum* of its vectors (MPEG-4's four 8x8 sub-blocks give four per
   macroblock). ``reduce="mean"`` averages them instead.
4. **no vector**: a cell still at the sentinel (intra-coded, or a whole I-frame) becomes 0.
5. **the keyframe gap**: a 24-frame clip spans two GOPs, and frame 12 is the next I-frame: no vectors at all.
   Video-LaVIT interpolates it from frames 11 and 13 (trilinear, midpoint), i.e. their mean.

:func:`lavit_normalise` and :func:`lavit_motion_input` then give the tokenizer's input: vectors divided by the
frame width/height and by fixed standard deviations, resized bicubically to 20 x 36, as ``(2, T, 20, 36)``.

Lecture: `lectures/04_lavit_motion.ipynb` §3–4.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from videollm.io import _check_file

#: The record layout of PyAV's ``MotionVectors.to_ndarray()`` (FFmpeg's ``AVMotionVector``).
MOTION_VECTOR_DTYPE = np.dtype([
    ("source", np.int32), ("w", np.uint8), ("h", np.uint8),
    ("src_x", np.int16), ("src_y", np.int16), ("dst_x", np.int16), ("dst_y", np.int16),
    ("flags", np.uint64), ("motion_x", np.int32), ("motion_y", np.int32), ("motion_scale", np.uint16),
], align=True)
#: Video-LaVIT's "no vector here" value, and the threshold below which a pooled entry counts as empty.
SENTINEL, EMPTY_BELOW = -10000.0, -1000.0
#: Standard deviations of ``(dx / W, dy / H)`` that Video-LaVIT divides by (``rescale=True`` divides them by 10).
LAVIT_STD = (0.0993703, 0.1130276)
#: The motion tokenizer's input grid (H x W) and clip length.
LAVIT_GRID, LAVIT_FRAMES = (20, 36), 24

def make_vectors(dst_x, dst_y, dx, dy, source=-1, motion_scale=1, size=16) -> np.ndarray:
    """Motion-vector records as a decoder would export them, for blocks centred at ``dst`` moving by ``(dx, dy)``.

    Args:
        dst_x, dst_y: block centres in the current frame (ints, broadcastable).
        dx, dy: the true displacement in pixels (multiples of ``1 / motion_scale``).
        source: -1 (past reference) or +1 (future reference).
        motion_scale: sub-pixel precision of ``motion_x/y``.
        size: block width and height.

    Returns:
        ``(N,)`` array of :data:`MOTION_VECTOR_DTYPE`. ``motion = scale * (src - dst)``, where ``src`` is the
        reference position: ``dst - (dx, dy)`` for a past reference, ``dst + (dx, dy)`` for a future one; ``src_x``
        and ``src_y`` are truncated to whole pixels as FFmpeg does.
    """
    dst_x, dst_y, dx, dy, source, motion_scale, size = np.broadcast_arrays(
        *(np.asarray(a) for a in (dst_x, dst_y, dx, dy, source, motion_scale, size)))
    if not np.isin(source, (-1, 1)).all():
        raise ValueError("source must be -1 (past reference) or +1 (future reference)")
    mx, my = source * motion_scale * dx, source * motion_scale * dy  # value = source * motion / scale
    if not (np.array_equal(mx, np.round(mx)) and np.array_equal(my, np.round(my))):
        raise ValueError("dx and dy must be multiples of 1 / motion_scale")
    out = np.zeros(dst_x.size, dtype=MOTION_VECTOR_DTYPE)
    out["source"], out["w"], out["h"] = source.ravel(), size.ravel(), size.ravel()
    out["dst_x"], out["dst_y"] = dst_x.ravel(), dst_y.ravel()
    out["motion_x"], out["motion_y"], out["motion_scale"] = mx.ravel(), my.ravel(), motion_scale.ravel()
    out["src_x"] = dst_x.ravel() + np.fix(mx.ravel() / motion_scale.ravel()).astype(np.int64)
    out["src_y"] = dst_y.ravel() + np.fix(my.ravel() / motion_scale.ravel()).astype(np.int64)
    return out


def _check_records(vectors, t: int) -> None:
    missing = [f for f in ("source", "dst_x", "dst_y", "motion_x", "motion_y", "motion_scale")
               if vectors.dtype.names is None or f not in vectors.dtype.names]
    if missing:
        raise ValueError(f"frame {t}: motion vectors need the fields of MOTION_VECTOR_DTYPE (PyAV's side data); "
                         f"missing {missing}")


def vectors_to_field(vectors, height: int, width: int, block: int = 16, reduce: str = "max",
                     fill: float = 0.0, fill_keyframes: bool = True, device=None) -> torch.Tensor:
    """Per-frame motion-vector records -> a dense block field, the way Video-LaVIT builds its motion input.

    Args:
        vectors: a sequence of ``T`` record arrays (:data:`MOTION_VECTOR_DTYPE`), one per frame; ``None`` or an
            empty array for a frame without vectors (an I-frame).
        height, width: the frame size ``H, W`` in pixels (centres are clipped into it).
        block: cell size ``B`` (16: the macroblock).
        reduce: ``"max"`` (Video-LaVIT's 16x16 max pool: per-component maximum) or ``"mean"`` of a cell's vectors.
        fill: the value of cells without a vector (Video-LaVIT: 0; NaN marks them as unknown).
        fill_keyframes: replace a frame without vectors whose two neighbours have vectors by the neighbours'
            mean (Video-LaVIT's interpolation of the I-frame in the middle of a clip). The first and last frame
            have one neighbour only and keep ``fill``.
        device: where to build the field.

    Returns:
        ``(T, ceil(H/B), ceil(W/B), 2)`` float32 ``(dx, dy)`` in pixels.
    """
    if reduce not in ("max", "mean"):
        raise ValueError(f"reduce must be 'max' (Video-LaVIT) or 'mean'; got {reduce!r}")
    if height < 1 or width < 1 or block < 1:
        raise ValueError(f"height, width and block must be positive; got {height}, {width}, {block}")
    frames = [np.zeros(0, MOTION_VECTOR_DTYPE) if v is None else np.asarray(v) for v in vectors]
    for t, v in enumerate(frames):
        if len(v):
            _check_records(v, t)
    T, rows, cols = len(frames), -(-height // block), -(-width // block)
    if T == 0:
        raise ValueError("no frames: pass one (possibly empty) record array per frame")
    counts = np.array([len(v) for v in frames])
    size = T * rows * cols
    if not counts.any():
        return torch.full((T, rows, cols, 2), fill, dtype=torch.float32, device=device)
    rec = {f: np.concatenate([v[f] for v in frames if len(v)])
           for f in ("source", "dst_x", "dst_y", "motion_x", "motion_y", "motion_scale")}
    frame = torch.as_tensor(np.repeat(np.arange(T), counts), device=device)
    x = torch.as_tensor(rec["dst_x"].astype(np.int64), device=device).clamp(0, width - 1)
    y = torch.as_tensor(rec["dst_y"].astype(np.int64), device=device).clamp(0, height - 1)
    cell = frame * (rows * cols) + (y // block) * cols + x // block                       # (N,)
    scale = torch.as_tensor(rec["source"] / rec["motion_scale"].astype(np.float64), device=device)
    motion = torch.stack([torch.as_tensor(rec["motion_x"], device=device),
                          torch.as_tensor(rec["motion_y"], device=device)], dim=-1)
    value = (motion.to(torch.float64) * scale[:, None]).to(torch.float32)                 # (N, 2) pixels
    index = cell[:, None].expand(-1, 2)
    if reduce == "max":
        out = torch.full((size, 2), SENTINEL, dtype=torch.float32, device=device)
        out.scatter_reduce_(0, index, value, reduce="amax")
    else:
        out = torch.zeros(size, 2, dtype=torch.float32, device=device).scatter_add_(0, index, value)
        out = out / torch.bincount(cell, minlength=size).clamp_min(1)[:, None]
    has = torch.bincount(cell, minlength=size) > 0
    out = torch.where(has[:, None], out, torch.full_like(out, fill)).reshape(T, rows, cols, 2)
    if fill_keyframes and T >= 3:
        empty = torch.as_tensor(counts == 0, device=device)
        gap = empty[1:-1] & ~empty[:-2] & ~empty[2:]                                     # (T - 2,)
        middle = torch.where(gap[:, None, None, None], 0.5 * (out[:-2] + out[2:]), out[1:-1])
        out = torch.cat([out[:1], middle, out[-1:]])
    return out


def lavit_normalise(field, height: int, width: int, rescale: bool = True) -> torch.Tensor:
    """Video-LaVIT's scaling of a ``(..., 2)`` pixel field: ``dx / W``, ``dy / H``, divided by :data:`LAVIT_STD`
    (and by a further 1/10 with ``rescale``, as its evaluation processor does, so typical values are O(1-10))."""
    field = torch.as_tensor(field, dtype=torch.float32)
    std = torch.tensor(LAVIT_STD, device=field.device) / (10.0 if rescale else 1.0)
    return field / torch.tensor([float(width), float(height)], device=field.device) / std


def lavit_motion_input(field, height: int, width: int, size: tuple[int, int] = LAVIT_GRID,
                       rescale: bool = True) -> torch.Tensor:
    """The motion tokenizer's input: ``(T, h, w, 2)`` pixel field -> normalised, bicubic-resized ``(2, T, 20, 36)``.

    ``height, width`` are the frame's pixel size (for the normalisation); NaN entries must be filled first.
    """
    field = lavit_normalise(field, height, width, rescale)
    if torch.isnan(field).any():
        raise ValueError("the field has NaN entries: build it with fill=0 (Video-LaVIT's choice) first")
    x = field.permute(0, 3, 1, 2)                                             # (T, 2, h, w)
    x = F.interpolate(x, size=tuple(size), mode="bicubic", align_corners=False)
    return x.permute(1, 0, 2, 3).contiguous()                                 # (2, T, 20, 36)


def read_motion_vectors(path) -> tuple[list[np.ndarray], np.ndarray, tuple[int, int]]:
    """Decode a video with PyAV and collect the encoder's motion vectors.

    Returns:
        ``vectors`` (one :data:`MOTION_VECTOR_DTYPE` array per frame, empty for an I-frame), ``key`` ``(T,)``
        bool (keyframes), and the frame size ``(H, W)``.
    """
    import av

    path = _check_file(path)
    vectors, keys = [], []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.options = {"flags2": "+export_mvs"}  # ask the decoder to keep the vectors
        size = (stream.codec_context.height, stream.codec_context.width)
        for frame in container.decode(stream):
            keys.append(bool(frame.key_frame))
            side = frame.side_data.get("MOTION_VECTORS")
            vectors.append(side.to_ndarray() if side is not None else np.zeros(0, MOTION_VECTOR_DTYPE))
    return vectors, np.array(keys), size
