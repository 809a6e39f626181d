"""Unit 02 — quantisers without a codebook: FSQ and LFQ.

**FSQ** (finite scalar quantisation, Mentzer et al. 2023): bound each of the ``d`` latent channels with a scaled
tanh, round it to one of ``L_i`` levels, and read the code index off the rounded values in mixed radix. The
implicit codebook has ``prod(L_i)`` entries (``[8, 5, 5, 5]`` gives 1000) and nothing to learn or collapse. The
bounding follows lucidrains' ``FSQ``: ``half = (L - 1)(1 + 1e-3) / 2``, ``offset = 0.5`` for even ``L``,
``shift = atanh(offset / half)``, ``bounded = tanh(z + shift) * half - offset``, then ``round`` (straight-through)
and divide by ``L // 2`` so codes lie in ``[-1, 1]``.

**LFQ** (lookup-free quantisation, MAGVIT-v2): each channel becomes its sign, ``+1`` or ``-1`` (0 goes to -1), so
``d`` channels give ``2^d`` codes; the index sets bit ``k`` when channel ``k`` is positive (channel 0 is the least
significant bit, as in Open-MAGVIT2; lucidrains uses the opposite order). Its entropy loss pushes each latent to a
confident code while spreading the batch over all codes::

    p_i = softmax(2 <z_i, c_j> / temperature over all 2^d codes c_j)
    loss = mean_i H(p_i) - H(mean_i p_i)

Shapes: latents ``(..., d)``; indices ``(...)`` int64.

Both are checked against lucidrains' ``vector-quantize-pytorch`` (``FSQ``, ``LFQ``), the implementations the field
uses: the same codes, indices, gradients and entropy terms, LFQ's indices after reversing the bit order
(``tests/vq/test_scalar_quant.py``). Its ``FSQ`` refuses a level of 2 unless told to keep the levels symmetric.

Lecture: `lectures/02_vq_tokenization.ipynb` §6.
"""

from __future__ import annotations

from typing import Sequence

import torch

from videollm.vq.quantize import straight_through


def _levels(levels: Sequence[int], z: torch.Tensor) -> torch.Tensor:
    if not levels or any(int(l) < 2 for l in levels):
        raise ValueError(f"levels must be integers >= 2, one per channel; got {list(levels)}")
    if z.shape[-1] != len(levels):
        raise ValueError(f"latents have {z.shape[-1]} channels but {len(levels)} levels were given")
    return torch.tensor([int(l) for l in levels], device=z.device, dtype=z.dtype)


def fsq(z: torch.Tensor, levels: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """FSQ: ``(codes, indices)``; ``codes`` has ``z``'s shape, values in ``[-1, 1]``, straight-through gradients."""
    L = _levels(levels, z)
    half = (L - 1) * (1 + 1e-3) / 2
    offset = torch.where(L % 2 == 0, 0.5, 0.0).to(z.dtype)
    shift = torch.atanh(offset / half)
    bounded = torch.tanh(z + shift) * half - offset
    rounded = straight_through(bounded, bounded.round())
    codes = rounded / torch.div(L, 2, rounding_mode="floor")
    return codes, fsq_indices(codes.detach(), levels)


def fsq_indices(codes: torch.Tensor, levels: Sequence[int]) -> torch.Tensor:
    """Mixed-radix index of FSQ codes (channel 0 varies fastest)."""
    L = _levels(levels, codes)
    half = torch.div(L, 2, rounding_mode="floor")
    digits = (codes * half + half).round().long()
    basis = torch.cumprod(torch.cat([L.new_ones(1), L[:-1]]), 0).long()
    return (digits * basis).sum(-1)


def fsq_codes(indices: torch.Tensor, levels: Sequence[int]) -> torch.Tensor:
    """The FSQ codes ``(..., d)`` of ``indices`` (the inverse of :func:`fsq_indices`)."""
    L = torch.tensor([int(l) for l in levels], device=indices.device)
    basis = torch.cumprod(torch.cat([L.new_ones(1), L[:-1]]), 0)
    digits = (indices[..., None] // basis) % L
    half = torch.div(L, 2, rounding_mode="floor")
    return (digits - half).to(torch.float32) / half


def lfq(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """LFQ: ``(codes, indices)``; ``codes`` in ``{-1, +1}`` with straight-through gradients."""
    signs = torch.where(z > 0, 1.0, -1.0).to(z.dtype)
    bits = (z > 0).long()
    weights = 2 ** torch.arange(z.shape[-1], device=z.device)
    return straight_through(z, signs), (bits * weights).sum(-1)


def lfq_codebook(dim: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """All ``2^dim`` LFQ codes, ``(2^dim, dim)``, row ``i`` being the code of index ``i``."""
    if dim > 16:
        raise ValueError(f"2^{dim} codes is too many to list; the entropy loss needs them all (use dim <= 16)")
    bits = (torch.arange(2 ** dim, device=device)[:, None] >> torch.arange(dim, device=device)) & 1
    return (2 * bits - 1).to(dtype)


def lfq_entropy_loss(z: torch.Tensor, temperature: float = 0.01) -> torch.Tensor:
    """MAGVIT-v2's entropy loss: mean per-latent entropy minus the entropy of the mean assignment (a scalar)."""
    flat = z.reshape(-1, z.shape[-1])
    codes = lfq_codebook(flat.shape[-1], flat.device, flat.dtype)
    p = torch.softmax(2 * flat @ codes.T / temperature, dim=-1)
    per_sample = -(p * torch.log(p + 1e-10)).sum(-1).mean()
    mean_p = p.mean(0)
    batch = -(mean_p * torch.log(mean_p + 1e-10)).sum()
    return per_sample - batch


__all__ = ["fsq", "fsq_codes", "fsq_indices", "lfq", "lfq_codebook", "lfq_entropy_loss"]
