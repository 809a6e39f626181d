"""Unit 06 — what AdaReTaKe is measured against: simpler ways to fit a video into the same budget.

Input reductions (the dropped tokens never reach the language model; :func:`prefill_subset`):

- **uniform frames** (:func:`uniform_patches`): keep evenly spaced temporal patches, all their tokens: what
  sampling fewer frames does (Qwen2-VL's vision tower attends within a temporal patch, so a patch's tokens do
  not depend on the others);
- **uniform tokens** (:func:`uniform_tokens`): keep evenly spaced tokens of the whole video;
- **DPSelect keyframes** (:func:`dpselect_patches`, ReTaKe): keep the temporal patches where the picture
  changes most: per-token cosine distance to the previous patch, averaged (the first patch: 1); local maxima
  (a width-3 max-pool) rank first, then the largest distances.

Evictions during the prefill (:func:`videollm.compress.prefill.prefill`, ``METHODS``): **random eviction**
(``Budget(score="random", temporal=None, layers=None)``) and **attention top-k with even allocation**
(``Budget(temporal=None, layers=None)``).

Lecture: `lectures/06_adaretake.ipynb` §7.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from videollm.compress.cache import GuidedCache, watching
from videollm.compress.prefill import Prefilled, VideoInput, language_forward


def _count(ratio: float, total: int) -> int:
    if not 0 < ratio <= 1:
        raise ValueError(f"ratio must lie in (0, 1] (the share kept); got {ratio}")
    return max(1, min(total, round(ratio * total)))


def uniform_patches(num_patches: int, ratio: float) -> Tensor:
    """``(m,)`` int64 evenly spaced temporal patches, ``m = round(ratio * num_patches)`` (at least 1), the first
    and last included when ``m > 1``."""
    m = _count(ratio, num_patches)
    return torch.linspace(0, num_patches - 1, m).round().long().unique()


def uniform_tokens(num_tokens: int, ratio: float) -> Tensor:
    """``(m,)`` int64 evenly spaced token indices, ``m = round(ratio * num_tokens)`` (at least 1)."""
    m = _count(ratio, num_tokens)
    return ((torch.arange(m) + 0.5) * num_tokens / m).long().clamp_max(num_tokens - 1)


def dpselect_patches(tokens: Tensor, ratio: float) -> Tensor:
    """``(m,)`` int64 ascending temporal patches chosen by ReTaKe's DPSelect from ``tokens`` ``(T, N, D)``,
    ``m = round(ratio * T)`` (module docstring). Ties go to the earlier patch."""
    x = tokens.detach().float()
    T = len(x)
    m = _count(ratio, T)
    d = torch.ones(T, device=x.device)
    if T > 1:
        d[1:] = 1 - F.cosine_similarity(x[1:], x[:-1], dim=-1).mean(-1)
    peaks = F.max_pool1d(d[None, None], 3, stride=1, padding=1)[0, 0] == d
    rank = d + 2 * peaks  # peaks first (distances are at most 2)
    return torch.sort(rank, descending=True, stable=True).indices[:m].sort().values.cpu()


def patch_tokens(patches: Tensor, tokens_per_patch: int) -> Tensor:
    """The video-token indices ``(len(patches) * tokens_per_patch,)`` of temporal ``patches``."""
    return (patches[:, None] * tokens_per_patch + torch.arange(tokens_per_patch)).reshape(-1)


@torch.no_grad()
def prefill_subset(model, video: VideoInput, keep: Tensor) -> Prefilled:
    """Prefill the text before the video and only the video tokens ``keep`` ``(m,)`` (indices into the video's
    tokens, ascending), at their own positions: the others never enter the language model."""
    keep = keep.to(torch.long).cpu()
    n = video.end - video.start
    if keep.ndim != 1 or len(keep) == 0 or keep.min() < 0 or keep.max() >= n or (keep.diff() <= 0).any():
        raise ValueError(f"keep must be ascending distinct indices into the video's {n} tokens")
    cache = GuidedCache(model.config.text_config)
    index = torch.cat([torch.arange(video.start), video.start + keep])
    with watching(model):
        language_forward(model, cache, video.embeds[:, index.to(video.embeds.device)],
                 video.positions[..., index.to(video.positions.device)])
    cache.add_tokens(index)
    out = Prefilled(cache)
    out.kept = [[len(keep)] * cache.num_layers]
    return out
