"""Unit 04 — motion between frames: block matching, block-level ground truth, and the end-point error.

Block matching is the motion estimate codecs and Video-LaVIT's motion tokens start from. For every ``B x B`` block
of the current frame ``I_t`` it searches displacements ``(i, j)`` with ``|i|, |j| <= R`` and keeps

    m(p, q) = argmin_{i, j} || I_t(p, q) - I_{t-1}(p - i, q - j) ||_1      (sum of absolute differences)

so ``m = (dx, dy)`` says the block's content was at ``p - m`` in the previous frame: the convention of
:mod:`videollm.world.clips` and :mod:`videollm.world.scenes`. Candidates that reach outside the previous frame are not
considered; ties go to the smallest displacement (``|dx| + |dy|``, then row-major), so a flat region gets zero
motion rather than an arbitrary vector.

The search is vectorised: ``F.unfold`` cuts the search window of every block, a second ``unfold`` lists all
``(2R + 1)^2`` candidate blocks inside it, and one reduction scores them all; frame pairs are processed in chunks
so memory stays bounded. It runs on the device of its inputs (or ``device``).

:func:`codec_motion_field` reads the motion vectors an encoder already computed (MPEG-4 Part 2 or H.264 decoded by
PyAV with ``flags2=+export_mvs``) into the same ``(T, H/16, W/16, 2)`` layout, the way Video-LaVIT does: a vector
counts as ``source * (motion_x, motion_y) / motion_scale`` pixels (``= dst - src`` for a past reference), placed in
the 16x16 cell that holds its block's centre.

Lecture: `lectures/04_lavit_motion.ipynb` §2–3.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from videollm import io
from videollm.motion.lavit import read_motion_vectors, vectors_to_field
from videollm.world import data


def _as_frames(frames, device) -> torch.Tensor:
    """``(T, H, W)`` or ``(T, H, W, C)`` array/tensor -> ``(T, C, H, W)`` float32 on ``device``."""
    x = torch.as_tensor(np.asarray(frames) if not isinstance(frames, torch.Tensor) else frames)
    if device is not None:
        x = x.to(device)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(f"frames must be (T, H, W) or (T, H, W, C); got shape {tuple(x.shape)}")
    return x.permute(0, 3, 1, 2).to(torch.float32)


def _displacement_order(search: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Candidate offsets ``(a, b)`` in the search window, sorted so the smallest displacement comes first.

    Returns the sorted flat indices into the ``(2R+1) x (2R+1)`` candidate grid and their ``(dx, dy)`` motions.
    """
    r = torch.arange(-search, search + 1, device=device)
    dy, dx = torch.meshgrid(-r, -r, indexing="ij")  # candidate (a, b) sits at prev offset (b - R, a - R) = -motion
    magnitude = dx.abs() + dy.abs()
    flat_rank = magnitude.reshape(-1) * (2 * search + 1) ** 2 + torch.arange(magnitude.numel(), device=device)
    order = torch.argsort(flat_rank)
    motions = torch.stack([dx.reshape(-1), dy.reshape(-1)], dim=-1)[order]
    return order, motions


def block_matching(frames, block: int = 16, search: int = 8, device=None,
                   max_elements: int = 50_000_000) -> torch.Tensor:
    """Block-matching motion between consecutive frames.

    Args:
        frames: ``(T, H, W)`` or ``(T, H, W, C)`` (uint8 or float; NumPy or torch), ``T >= 2``; ``H`` and ``W``
            multiples of ``block``.
        block: block size ``B`` in pixels.
        search: search range ``R``: displacements up to ``R`` pixels in each direction.
        device: where to compute (default: the frames' device).
        max_elements: bound on the size of the candidate tensor; frame pairs are chunked to respect it.

    Returns:
        ``(T - 1, H / B, W / B, 2)`` float32 ``(dx, dy)`` for frames ``1 .. T - 1``.
    """
    x = _as_frames(frames, device)
    T, C, H, W = x.shape
    if T < 2:
        raise ValueError(f"block matching needs at least 2 frames; got {T}")
    if H % block or W % block:
        raise ValueError(f"frame size {H}x{W} is not a multiple of the block size {block}: crop or pad the frames")
    if search < 0:
        raise ValueError(f"search must be >= 0; got {search}")
    S, n = block + 2 * search, 2 * search + 1
    L = (H // block) * (W // block)
    order, motions = _displacement_order(search, x.device)
    # Which candidates stay inside the previous frame (the same for every pair).
    ones = F.pad(torch.ones(1, 1, H, W, device=x.device), (search,) * 4)
    inside = F.unfold(ones, S, stride=block).reshape(1, S, S, L).permute(0, 3, 1, 2)
    inside = inside.unfold(2, block, 1).unfold(3, block, 1).amin(dim=(-1, -2)) > 0  # (1, L, n, n)
    per_pair = L * C * n * n * block * block
    step = max(1, max_elements // per_pair)
    out = torch.empty(T - 1, L, 2, device=x.device)
    for start in range(1, T, step):
        stop = min(start + step, T)
        prev, curr = x[start - 1:stop - 1], x[start:stop]
        k = stop - start
        windows = F.unfold(F.pad(prev, (search,) * 4), S, stride=block).reshape(k, C, S, S, L)
        candidates = windows.permute(0, 4, 1, 2, 3).unfold(3, block, 1).unfold(4, block, 1)  # (k, L, C, n, n, B, B)
        blocks = F.unfold(curr, block, stride=block).reshape(k, C, block, block, L).permute(0, 4, 1, 2, 3)
        cost = (candidates - blocks[:, :, :, None, None]).abs().sum(dim=(2, 5, 6))  # (k, L, n, n)
        cost = cost.masked_fill(~inside, float("inf")).reshape(k, L, n * n)[..., order]
        out[start - 1:stop - 1] = motions[cost.argmin(dim=-1)].to(torch.float32)
    return out.reshape(T - 1, H // block, W // block, 2)


def block_ground_truth(motion, block: int = 16) -> torch.Tensor:
    """Per-block ground truth from a dense motion field: the median of each block's finite pixel motions.

    Args:
        motion: ``(..., H, W, 2)`` (NaN where undefined), e.g. :class:`videollm.world.scenes.Rendered` ``.motion``.

    Returns:
        ``(..., H / B, W / B, 2)`` float32 (NaN for a block without any defined pixel).
    """
    m = torch.as_tensor(np.asarray(motion) if not isinstance(motion, torch.Tensor) else motion).to(torch.float32)
    *lead, H, W, _ = m.shape
    if H % block or W % block:
        raise ValueError(f"motion field {H}x{W} is not a multiple of the block size {block}")
    m = m.reshape(*lead, H // block, block, W // block, block, 2).movedim(-4, -3)  # (..., Hb, Wb, B, B, 2)
    return m.reshape(*lead, H // block, W // block, block * block, 2).nanmedian(dim=-2).values


def endpoint_error(pred, truth) -> float:
    """Mean end-point error ``||pred - truth||_2`` over the entries where ``truth`` is defined (not NaN)."""
    p = torch.as_tensor(np.asarray(pred) if not isinstance(pred, torch.Tensor) else pred).to(torch.float32)
    t = torch.as_tensor(np.asarray(truth) if not isinstance(truth, torch.Tensor) else truth).to(p)
    if p.shape != t.shape:
        raise ValueError(f"prediction {tuple(p.shape)} and truth {tuple(t.shape)} must have the same shape")
    valid = ~torch.isnan(t).any(dim=-1)
    if not valid.any():
        raise ValueError("the ground truth has no defined entry to compare with")
    return float((p - t).norm(dim=-1)[valid].mean())


def codec_motion_field(path, block: int = 16, fill: float = float("nan")) -> tuple[np.ndarray, np.ndarray]:
    """The encoder's motion vectors of a video as a dense block field.

    Args:
        path: a video file (the course writes MPEG-4 Part 2 with ``videollm.io.write_video(..., codec="mpeg4")``:
            I + P frames, no B-frames, the codec Video-LaVIT re-encodes to).
        block: cell size of the output grid (Video-LaVIT: 16, the macroblock size).
        fill: value for cells without a vector: every cell of an I-frame, intra-coded blocks. Video-LaVIT uses 0.

    Returns:
        ``field`` ``(T, ceil(H/B), ceil(W/B), 2)`` float32 ``(dx, dy)`` (the content at a block was at
        ``p - (dx, dy)`` in the reference frame), the mean of the vectors whose block centre falls in a cell
        (MPEG-4's 8x8 sub-blocks give four per macroblock; Video-LaVIT max-pools them instead, see
        :func:`videollm.motion.lavit.vectors_to_field`), I-frames left at ``fill``; and ``key`` ``(T,)`` bool,
        which frames are keyframes.
    """
    vectors, key, (height, width) = read_motion_vectors(path)
    field = vectors_to_field(vectors, height, width, block, reduce="mean", fill=fill, fill_keyframes=False)
    return field.numpy(), key


def evaluate_clip(name: str, num_frames: int = 13, search: int = 4, block: int = 16, device=None) -> dict:
    """End-point errors of block matching and of the codec's vectors on a manifest clip, against its ground truth.

    Uses frames ``0 .. num_frames - 1``; scores the P-frames among ``1 .. num_frames - 1`` (keyframes have no codec
    vectors), on the blocks where both estimates and the truth are defined.

    Returns:
        dict with ``epe`` and ``epe_moving`` (blocks whose true motion is not zero), each ``{"block matching",
        "codec vectors", "no motion"}``; ``seconds`` of block matching and of reading + converting the vectors;
        ``blocks`` and ``moving`` counts.
    """
    import time

    gt = data.ground_truth(name)
    frames, _ = io.load_video(gt["video"])
    frames = frames[:num_frames]
    start = time.perf_counter()
    matched = block_matching(frames, block, search, device=device).cpu()
    bm_seconds = time.perf_counter() - start
    start = time.perf_counter()
    vectors, key, (height, width) = read_motion_vectors(gt["video"])
    codec = vectors_to_field(vectors[:len(frames)], height, width, block, reduce="mean", fill=float("nan"),
                             fill_keyframes=False)[1:]
    codec_seconds = time.perf_counter() - start
    truth = block_ground_truth(gt["motion"][1:len(frames)], block)
    p_frame = ~torch.as_tensor(key[1:len(frames)])[:, None, None]
    keep = p_frame & ~torch.isnan(codec).any(-1) & ~torch.isnan(truth).any(-1)
    moving = keep & (truth.norm(dim=-1) > 0)
    estimates = {"block matching": matched, "codec vectors": codec, "no motion": torch.zeros_like(truth)}
    return {
        "epe": {k: endpoint_error(v[keep], truth[keep]) for k, v in estimates.items()},
        "epe_moving": {k: endpoint_error(v[moving], truth[moving]) if moving.any() else float("nan")
                       for k, v in estimates.items()},
        "seconds": {"block matching": bm_seconds, "codec vectors": codec_seconds},
        "blocks": int(keep.sum()), "moving": int(moving.sum()),
    }


def main(argv=None) -> int:
    """``python -m videollm.motion.estimate evaluate [clips...]``: the EPE table of block matching vs codec vectors."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m videollm.motion.estimate", description=main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    ev = commands.add_parser("evaluate", help="end-point errors against ground truth on manifest clips")
    ev.add_argument("clips", nargs="*", default=["motion_mpeg4", "photo_coffee", "bouncing_shapes"])
    ev.add_argument("--frames", type=int, default=13, help="frames from the start of each clip (default: one GOP + 1)")
    ev.add_argument("--search", type=int, default=4, help="block-matching search range R in pixels")
    args = parser.parse_args(argv)
    print(f"{'clip':<16} {'estimate':<15} {'EPE all':>8} {'EPE moving':>11} {'time':>9}")
    for name in args.clips:
        r = evaluate_clip(name, args.frames, args.search)
        for est in ("block matching", "codec vectors", "no motion"):
            seconds = r["seconds"].get(est)
            print(f"{name:<16} {est:<15} {r['epe'][est]:8.3f} {r['epe_moving'][est]:11.3f} "
                  f"{'' if seconds is None else f'{seconds * 1000:7.0f} ms':>9}")
        print(f"{'':<16} ({r['blocks']} blocks, {r['moving']} moving)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
