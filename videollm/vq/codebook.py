"""Unit 02 — learning a codebook without its loss: EMA updates, k-means initialisation, dead-code restarts.

The VQ-VAE paper's appendix replaces the codebook loss by exponential moving averages: each code becomes the
running mean of the latents assigned to it. :class:`EMACodebook` follows DeepMind's reference
(sonnet's ``VectorQuantizerEMA``): *debiased* moving averages of the per-code counts ``N_k`` and sums ``m_k``
(hidden state starts at zero, divided by ``1 - decay^t``), Laplace smoothing of the counts,

    N_k <- (N_k + eps) / (n + K eps) * n,   n = sum_k N_k,        e_k = m_k / N_k,

and a loss of ``beta * commitment`` only. A code that receives no latents decays towards zero (sonnet does the
same); :func:`restart_dead_codes` gives such codes a new life, and :func:`kmeans` starts the codebook where the
data are. Shapes: latents ``(..., D)``, codebook ``(K, D)``.

Lecture: `lectures/02_vq_tokenization.ipynb` §1, §4.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from videollm.vq.quantize import BETA, nearest_codes, straight_through


def kmeans(z: torch.Tensor, num_codes: int, iters: int = 10, generator: torch.Generator | None = None) -> torch.Tensor:
    """Lloyd's k-means on the latents ``z`` (``(..., D)``): ``(K, D)`` centres, on ``z``'s device.

    Starts from ``K`` distinct latents drawn with ``generator``; a centre that loses all its latents keeps its
    place. Each iteration is one chunked nearest-code search and one ``index_add``.
    """
    flat = z.detach().reshape(-1, z.shape[-1])
    if flat.shape[0] < num_codes:
        raise ValueError(f"k-means needs at least K={num_codes} latents to start from; got {flat.shape[0]}")
    pick = torch.randperm(flat.shape[0], generator=generator)[:num_codes].to(flat.device)
    centres = flat[pick].clone()
    for _ in range(iters):
        indices, _ = nearest_codes(flat, centres)
        sums = torch.zeros_like(centres).index_add_(0, indices, flat)
        counts = torch.bincount(indices, minlength=num_codes).to(flat.dtype)
        centres = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], centres)
    return centres


def restart_dead_codes(codebook: torch.Tensor, counts: torch.Tensor, z: torch.Tensor, threshold: float = 1.0,
                       generator: torch.Generator | None = None) -> tuple[torch.Tensor, int]:
    """Replace every code used fewer than ``threshold`` times (``counts``, ``(K,)``) by a random latent of ``z``.

    Returns the new ``(K, D)`` codebook (the input is not modified) and how many codes were restarted.
    """
    dead = counts < threshold
    n = int(dead.sum())
    if n == 0:
        return codebook, 0
    flat = z.detach().reshape(-1, z.shape[-1])
    pick = torch.randint(flat.shape[0], (n,), generator=generator).to(flat.device)
    new = codebook.clone()
    new[dead] = flat[pick].to(new.dtype)
    return new, n


class EMACodebook(nn.Module):
    """A vector quantiser whose codes follow debiased moving averages of their latents (sonnet's recipe).

    Args:
        num_codes, dim: ``K`` and ``D``.
        decay: EMA decay (0.99 is usual).
        eps: Laplace smoothing constant.
        beta: commitment weight.
        l2: quantise l2-normalised latents against l2-normalised codes (codes are re-normalised after updates).
        codebook: optional ``(K, D)`` initial codes (e.g. from :func:`kmeans`); default uniform in
            ``±sqrt(3 / D)`` (variance scaling).

    ``forward(z)`` returns the dict of :func:`videollm.vq.quantize.quantize` (``quantized``, ``indices``,
    ``commitment_loss``, ``loss = beta * commitment``) and, in training mode, updates the codes first.
    """

    def __init__(self, num_codes: int, dim: int, decay: float = 0.99, eps: float = 1e-5, beta: float = BETA,
                 l2: bool = False, codebook: torch.Tensor | None = None, device=None, dtype=None):
        super().__init__()
        if not 0 <= decay < 1:
            raise ValueError(f"decay must be in [0, 1); got {decay}")
        self.decay, self.eps, self.beta, self.l2 = float(decay), float(eps), float(beta), bool(l2)
        if codebook is None:
            bound = (3.0 / dim) ** 0.5
            codebook = torch.empty(num_codes, dim, device=device, dtype=dtype).uniform_(-bound, bound)
        elif tuple(codebook.shape) != (num_codes, dim):
            raise ValueError(f"codebook must be ({num_codes}, {dim}); got {tuple(codebook.shape)}")
        codebook = codebook.detach().clone().to(device=device, dtype=dtype)
        self.register_buffer("embed", F.normalize(codebook, dim=-1) if l2 else codebook)
        self.register_buffer("hidden_count", torch.zeros(num_codes, device=device, dtype=self.embed.dtype))
        self.register_buffer("hidden_sum", torch.zeros_like(self.embed))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long, device=self.embed.device))

    @property
    def num_codes(self) -> int:
        return self.embed.shape[0]

    def codes(self) -> torch.Tensor:
        """The ``(K, D)`` codes (l2-normalised when ``l2``)."""
        return self.embed

    @torch.no_grad()
    def set_codes(self, codes: torch.Tensor, which: torch.Tensor | None = None) -> None:
        """Overwrite all codes, or those where the ``(K,)`` bool mask ``which`` is set, with the rows of ``codes``.

        The moving averages are reset too, to "one latent seen, equal to the new code", so that the next update
        starts from the new code instead of pulling it back.
        """
        which = torch.ones(self.num_codes, dtype=torch.bool, device=codes.device) if which is None else which
        codes = codes.to(self.embed.dtype)
        if self.l2:
            codes = F.normalize(codes, dim=-1)
        self.embed[which] = codes
        steps = int(self.steps)
        if steps:
            debias = 1 - self.decay ** steps  # hidden = debias * debiased value
            self.hidden_count[which] = debias
            self.hidden_sum[which] = debias * codes

    @torch.no_grad()
    def update(self, z: torch.Tensor, indices: torch.Tensor) -> None:
        """One EMA step with latents ``z`` (``(..., D)``) assigned to codes ``indices`` (``...``)."""
        flat = z.detach().reshape(-1, z.shape[-1]).to(self.embed.dtype)
        if self.l2:
            flat = F.normalize(flat, dim=-1)
        idx = indices.reshape(-1)
        K = self.embed.shape[0]
        counts = torch.bincount(idx, minlength=K).to(self.embed.dtype)
        sums = torch.zeros_like(self.embed).index_add_(0, idx, flat)
        self.steps += 1
        self.hidden_count -= (self.hidden_count - counts) * (1 - self.decay)
        self.hidden_sum -= (self.hidden_sum - sums) * (1 - self.decay)
        debias = 1 - self.decay ** float(self.steps)
        count, total = self.hidden_count / debias, self.hidden_sum / debias
        n = count.sum()
        smoothed = (count + self.eps) / (n + K * self.eps) * n
        embed = total / smoothed[:, None]
        self.embed.copy_(F.normalize(embed, dim=-1) if self.l2 else embed)

    def cluster_size(self) -> torch.Tensor:
        """``(K,)`` the debiased EMA of how many latents each code receives per step."""
        steps = max(int(self.steps), 1)
        return self.hidden_count / (1 - self.decay ** steps)

    def forward(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        indices, _ = nearest_codes(z, self.embed, l2=self.l2)
        zz = F.normalize(z, dim=-1) if self.l2 else z
        q = self.embed[indices].to(zz.dtype)  # the codes as they were when chosen (sonnet reads them first too)
        if self.training:
            self.update(z, indices)
        commitment = F.mse_loss(zz, q.detach())
        return {"quantized": straight_through(zz, q), "indices": indices, "commitment_loss": commitment,
                "loss": self.beta * commitment}
