"""Unit 06 — redundancy across time: how much each chunk of a video repeats its neighbours, and its budget share.

A long video is prefilled chunk by chunk (a chunk: a few temporal patches, each ``gh * gw`` merged tokens). A
chunk that looks like the chunks around it adds little; AdaReTaKe gives it a smaller share of the kept tokens and
a chunk that brings something new a larger one. Two ways of measuring "looks like" are in use:

- ``rule="code"`` (the official code, ``compute_temporal_adaptation_ratios``): one vector per chunk, the mean of
  its tokens; ``d_i = (1 - cos(c_i, c_{i-1}) + 1 - cos(c_i, c_{i+1})) / 2``, the first and last chunk compared
  with themselves on the missing side.
- ``rule="paper"`` (the paper's Eq. 8): inside chunk ``i``, ``1 - mean_j cos(M[t, j], M[t+1, j])`` for each pair
  of adjacent temporal patches ``t, t+1`` (``j`` a token position), averaged over the chunk's pairs. A chunk of
  one temporal patch has no pair inside; it is compared with the patch before it (a video of one patch: 0).

(The official code takes its frame vectors from only the first half of the video's tokens, ``T*H*W/8`` of
``T*H*W/4``, and splits frames into chunks by a fractional count; this module averages every token of each chunk
exactly as the prefill cuts it.)

Then (Eq. 9, in the code's consistent form) ``r_i = r * d_i / mean(d)``, projected onto the capped simplex
``[1e-3, 1]`` with the sum ``r * n`` kept (:mod:`videollm.compress.simplex`), so the video keeps the share ``r``
of its tokens on average and no chunk more than all or less than a thousandth. If every chunk is alike (all
``d_i = 0``), every chunk keeps ``r``. The paper's text fixes the *sum* of the ratios where keeping the budget needs
their mean (a normalisation slip); the code, and this module, keep the mean.

Lecture: `lectures/06_adaretake.ipynb` §2.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from videollm.compress.simplex import project_capped_simplex
from videollm.validate import positive_int

RULES = ("code", "paper")
#: The floor and ceiling of a chunk's ratio (the official code's ``w_min``, ``w_max``).
CHUNK_FLOOR, CHUNK_CEILING = 1e-3, 1.0


def chunk_bounds(num_patches: int, patches_per_chunk: int) -> list[tuple[int, int]]:
    """``[(start, end), ...]`` temporal-patch ranges of the chunks: ``patches_per_chunk`` each, the last one
    shorter when they do not divide ``num_patches`` (the official code's ``ceil(tokens / chunk_size)`` chunks)."""
    num_patches = positive_int(num_patches, "num_patches", "temporal patches in the video")
    size = positive_int(patches_per_chunk, "patches_per_chunk", "temporal patches per chunk")
    return [(s, min(s + size, num_patches)) for s in range(0, num_patches, size)]


def _check_tokens(tokens: Tensor) -> None:
    if not isinstance(tokens, Tensor) or not tokens.is_floating_point() or tokens.ndim != 3 or 0 in tokens.shape:
        what = f"shape {tuple(tokens.shape)} {tokens.dtype}" if isinstance(tokens, Tensor) else type(tokens).__name__
        raise ValueError("tokens must be a non-empty floating-point tensor (T, N, D): T temporal patches of N merged "
                         f"tokens of width D; got {what}")


def chunk_distances(tokens: Tensor, patches_per_chunk: int, rule: str = "code") -> Tensor:
    """``(C,)`` float32 redundancy distance of each chunk of ``tokens`` ``(T, N, D)`` (the video's merged tokens, ``T``
    temporal patches of ``N = gh * gw`` tokens, any float dtype and device), by ``rule`` (module docstring).
    Larger means less like its neighbours. ``C = ceil(T / patches_per_chunk)``.

    Raises:
        ValueError: ``tokens`` is not ``(T, N, D)`` floating point, ``patches_per_chunk`` is not a positive
            integer, or ``rule`` is not ``"code"`` or ``"paper"``.
    """
    _check_tokens(tokens)
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}; got {rule!r}")
    bounds = chunk_bounds(len(tokens), patches_per_chunk)
    x = tokens.detach().float()
    T = len(x)
    # which chunk each temporal patch is in (consecutive runs of patches_per_chunk), and each chunk's size
    chunk_of = torch.arange(T, device=x.device) // bounds[0][1]  # the first chunk's end: its size
    sizes = torch.tensor([float(e - s) for s, e in bounds], device=x.device)
    if rule == "code":
        means = torch.zeros(len(bounds), x.shape[-1], device=x.device).index_add_(0, chunk_of, x.mean(1))
        means = means / sizes[:, None]
        padded = torch.cat([means[:1], means, means[-1:]])
        left = 1 - F.cosine_similarity(means, padded[:-2], dim=-1)
        right = 1 - F.cosine_similarity(means, padded[2:], dim=-1)
        return ((left + right) / 2).clamp_min(0)  # rounding can put 1 - cos a hair below 0
    if T == 1:
        return torch.zeros(1, device=x.device)
    pair = 1 - F.cosine_similarity(x[:-1], x[1:], dim=-1).mean(-1)  # (T-1,) pair t = patches (t, t+1)
    # a pair belongs to the chunk of its first patch when both patches are in that chunk; a chunk of one patch
    # takes the pair that ends at it (the previous patch and it)
    inside = chunk_of[:-1] == chunk_of[1:]
    out = torch.zeros(len(bounds), device=x.device).index_add_(0, chunk_of[:-1][inside], pair[inside])
    count = torch.bincount(chunk_of[:-1][inside], minlength=len(bounds)).float()
    single = count == 0
    if single.any():
        starts = torch.tensor([s for s, _ in bounds], device=x.device)[single]
        out[single] = torch.where(starts > 0, pair[(starts - 1).clamp_min(0)], torch.zeros_like(out[single]))
        count[single] = 1
    return (out / count).clamp_min(0)


def chunk_ratios(distances: Tensor, ratio: float, floor: float = CHUNK_FLOOR, ceiling: float = CHUNK_CEILING,
                 project=project_capped_simplex) -> Tensor:
    """``(C,)`` float32 share of its tokens each chunk keeps: ``ratio * d_i / mean(d)`` projected onto ``[floor,
    ceiling]`` with the mean ``ratio`` kept (``project(x, total, lo, hi)``, by default
    :func:`~videollm.compress.simplex.project_capped_simplex`); all ``ratio`` when every distance is 0. A ``ratio``
    below the floor lowers the floor to it (the budget first).

    Raises:
        ValueError: ``distances`` is not a non-empty 1-D tensor of finite values >= 0, or ``ratio`` is not in
            ``(0, ceiling]``.
    """
    if not isinstance(distances, Tensor) or distances.ndim != 1 or len(distances) == 0:
        raise ValueError("distances must be a non-empty 1-D tensor (C,), one per chunk")
    d = distances.detach().float()
    if not torch.isfinite(d).all() or (d < 0).any():
        raise ValueError("distances must be finite and >= 0 (1 - cosine similarities)")
    if not 0 < ratio <= ceiling:
        raise ValueError(f"ratio must lie in (0, {ceiling}] (the share of tokens kept); got {ratio}")
    n = len(d)
    if float(d.mean()) <= 0:
        return torch.full((n,), float(ratio), device=d.device)
    wanted = ratio * d / d.mean()
    return project(wanted, ratio * n, min(floor, ratio), ceiling)
