"""Unit 02 — vector quantisation, the core: nearest-code lookup, the straight-through estimator, the VQ-VAE losses,
and codebook statistics. EMA codebooks, k-means initialisation and dead-code restarts are in
:mod:`videollm.vq.codebook`; FSQ and LFQ in :mod:`videollm.vq.scalar_quant`.

Shapes: latents ``z`` are ``(..., D)`` (any leading dims, e.g. ``(B, H, W, D)``), the codebook is ``(K, D)``,
indices come back with ``z``'s leading shape. Everything runs on the device of its inputs.

The lookup (van den Oord et al. 2017; sonnet's ``VectorQuantizer``) picks, for each latent, the code at the smallest
squared distance ``||z||^2 - 2 z.c + ||c||^2``. With ``l2=True`` both are first l2-normalised (ViT-VQGAN, LaVIT):
``argmin_j ||l2(z) - l2(c_j)||``, which for unit vectors is the largest cosine similarity. The search is a chunked
matrix product: at most ``chunk x K`` distances exist at once, never an ``(N, K, D)`` tensor.

Losses in the **paper's form** (``legacy=False`` in taming-transformers, sonnet's form)::

    codebook   = mean((q - sg[z])^2)        # moves codes towards the encoder outputs
    commitment = mean((sg[q] - z)^2)        # keeps the encoder near its codes
    loss       = codebook + beta * commitment,   beta = 0.25

taming-transformers' default (``legacy=True``) puts ``beta`` on the codebook term instead; this module does not.

Lecture: `lectures/02_vq_tokenization.ipynb` §1, §3–4.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: The commitment weight of the VQ-VAE paper.
BETA = 0.25


def _check(z: torch.Tensor, codebook: torch.Tensor) -> None:
    if codebook.ndim != 2:
        raise ValueError(f"codebook must be (K, D); got shape {tuple(codebook.shape)}")
    if z.shape[-1] != codebook.shape[1]:
        raise ValueError(f"latents end in D={z.shape[-1]} but the codebook's codes have D={codebook.shape[1]}")
    if z.device != codebook.device:
        raise ValueError(f"latents are on {z.device} but the codebook is on {codebook.device}: move one of them")


def nearest_codes(z: torch.Tensor, codebook: torch.Tensor, l2: bool = False,
                  chunk: int = 8192) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of the nearest code for every latent, and its squared distance.

    Args:
        z: ``(..., D)`` latents.
        codebook: ``(K, D)`` codes.
        l2: compare l2-normalised latents with l2-normalised codes.
        chunk: latents per matrix product; memory is ``O(chunk * K)``.

    Returns:
        ``indices`` (``...``) int64 and ``distances`` (``...``) float, no gradient. Ties go to the lowest index.
    """
    _check(z, codebook)
    if chunk < 1:
        raise ValueError(f"chunk must be a positive number of latents; got {chunk}")
    with torch.no_grad():
        flat = z.reshape(-1, z.shape[-1])
        codes = codebook
        if l2:
            flat, codes = F.normalize(flat, dim=-1), F.normalize(codes, dim=-1)
        code_sq = (codes * codes).sum(-1)  # (K,)
        indices = torch.empty(flat.shape[0], dtype=torch.long, device=z.device)
        distances = torch.empty(flat.shape[0], dtype=flat.dtype, device=z.device)
        for start in range(0, flat.shape[0], chunk):
            part = flat[start:start + chunk]
            d = (part * part).sum(-1, keepdim=True) - 2 * part @ codes.T + code_sq  # (n, K)
            best, index = d.min(dim=-1)
            indices[start:start + chunk], distances[start:start + chunk] = index, best.clamp_min(0)
    return indices.reshape(z.shape[:-1]), distances.reshape(z.shape[:-1])


def straight_through(z: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """``z + sg[q - z]``: equals ``q`` forward, passes gradients to ``z`` unchanged backward."""
    return z + (q - z).detach()


def quantize(z: torch.Tensor, codebook: torch.Tensor, beta: float = BETA, l2: bool = False,
             chunk: int = 8192) -> dict[str, torch.Tensor]:
    """Quantise ``z`` with ``codebook`` and compute the VQ-VAE losses (paper form, see the module docstring).

    With ``l2=True`` the latents and codes are l2-normalised first, and the quantised output and losses are in the
    normalised space (as in ViT-VQGAN).

    Returns:
        dict with ``quantized`` (``z``'s shape, straight-through: gradients reach ``z``), ``indices``,
        ``codebook_loss`` (gradients reach the codebook), ``commitment_loss`` (gradients reach ``z``) and
        ``loss = codebook_loss + beta * commitment_loss``.
    """
    indices, _ = nearest_codes(z, codebook, l2=l2, chunk=chunk)
    if l2:
        z, codebook = F.normalize(z, dim=-1), F.normalize(codebook, dim=-1)
    q = codebook[indices]
    codebook_loss = F.mse_loss(q, z.detach())
    commitment_loss = F.mse_loss(z, q.detach())
    return {
        "quantized": straight_through(z, q),
        "indices": indices,
        "codebook_loss": codebook_loss,
        "commitment_loss": commitment_loss,
        "loss": codebook_loss + beta * commitment_loss,
    }


def code_usage(indices: torch.Tensor, num_codes: int) -> torch.Tensor:
    """``(K,)`` float: the share of latents assigned to each code (sums to 1)."""
    counts = torch.bincount(indices.reshape(-1), minlength=num_codes).to(torch.float64)
    return counts / counts.sum().clamp_min(1)


def perplexity(indices: torch.Tensor, num_codes: int) -> float:
    """``exp(entropy)`` of code usage: the effective number of codes in use (1 = collapse, K = uniform)."""
    p = code_usage(indices, num_codes)
    entropy = -(p * torch.log(p + 1e-10)).sum()
    return float(torch.exp(entropy))
