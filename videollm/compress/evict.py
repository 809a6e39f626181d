"""Unit 06 — KV-cache eviction: keep a layer's best-scored chunk tokens, in the order they came.

Once a chunk's ratio per layer is known, each layer keeps ``max(1, int(max(0.01, r_l) * k))`` of the chunk's
``k`` tokens (the official code's count), the ones the question attended to most, and drops the others' keys and
values from its cache. The kept tokens stay in temporal order, with the keys as they were computed (the rotary
position already applied) and their M-RoPE positions: the cache still says *when* and *where* each kept token was.

Lecture: `lectures/06_adaretake.ipynb` §5.
"""

from __future__ import annotations

import torch
from torch import Tensor

from videollm.compress.layers import LAYER_FLOOR


def keep_count(ratio: float, length: int, floor: float = LAYER_FLOOR) -> int:
    """How many of ``length`` tokens a layer keeps at ``ratio``: ``max(1, int(max(floor, ratio) * length))``, at
    most ``length``."""
    if length < 1:
        raise ValueError(f"length must be >= 1 (the chunk's tokens); got {length}")
    return min(length, max(1, int(max(floor, float(ratio)) * length)))


def keep_indices(scores: Tensor, keep: int) -> Tensor:
    """``(keep,)`` int64 indices of the ``keep`` highest ``scores`` ``(k,)``, ascending (temporal order). Ties go
    to the earlier token (a stable sort), so the choice does not depend on the hardware.

    Raises:
        ValueError: ``scores`` is not 1-D, or ``keep`` is not in ``[1, k]``.
    """
    if scores.ndim != 1:
        raise ValueError(f"scores must be 1-D (k,); got shape {tuple(scores.shape)}")
    if not 1 <= keep <= len(scores):
        raise ValueError(f"keep must lie in [1, {len(scores)}]; got {keep}")
    best = torch.sort(scores.detach().float(), descending=True, stable=True).indices[:keep]
    return best.sort().values


def gather_tokens(tensor: Tensor, index: Tensor, dim: int) -> Tensor:
    """``tensor`` restricted to positions ``index`` ``(keep,)`` along ``dim`` (keys and values ``(B, H, k, Dh)``
    along 2, M-RoPE positions ``(3, B, k)`` along 2)."""
    return tensor.index_select(dim, index.to(tensor.device))
