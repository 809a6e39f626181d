"""Unit 06 — KV-cache eviction: keep a layer's best-scored chunk tokens, in the order they came.

Once a chunk's ratio per layer is known, each layer keeps ``max(1, int(max(0.01, r_l) * k))`` of the chunk's
``k`` tokens (the official code's count), the ones the question attended to most, and drops the others' keys and
values from its cache (:func:`evict_chunk`). The kept tokens stay in temporal order, with the keys as they were
computed (the rotary position already applied) and their M-RoPE positions: the cache still says *when* and *where*
each kept token was.

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


def evict_chunk(keys: Tensor, values: Tensor, scores: Tensor, keep: int) -> tuple[Tensor, Tensor, Tensor]:
    """One layer's cache after a chunk was prefilled into it, with only ``keep`` of the chunk's tokens left.

    Args:
        keys, values: ``(B, H, n, Dh)`` the layer's cache (``Dh`` may differ between them); the chunk is its last
            ``k = len(scores)`` positions, everything before it (text, earlier chunks) stays as it is.
        scores: ``(k,)`` the question's scores of the chunk's tokens.
        keep: how many of them to keep (:func:`keep_count`).

    Returns:
        ``(keys, values, index)``: ``(B, H, n - k + keep, ·)`` each, in the input's dtype and on its device, the
        kept tokens after the untouched prefix in temporal order; ``index`` ``(keep,)`` int64, the kept positions
        inside the chunk (:func:`keep_indices`), on ``scores``' device. The keys keep the rotation they were
        computed with, so each kept token still says when and where it was.

    Raises:
        ValueError: ``keys`` and ``values`` differ in ``(B, H, n)``, or the chunk is longer than the cache (and
            :func:`keep_indices`'s errors).
    """
    if keys.ndim != 4 or values.ndim != 4 or keys.shape[:3] != values.shape[:3]:
        raise ValueError(f"keys and values must be (B, H, n, Dh) with the same B, H, n; got {tuple(keys.shape)} and "
                         f"{tuple(values.shape)}")
    n, k = keys.shape[2], len(scores)
    if k > n:
        raise ValueError(f"the chunk ({k} scores) is longer than the cache ({n} positions)")
    index = keep_indices(scores, keep)
    kept_keys = torch.cat([keys[:, :, :n - k], gather_tokens(keys[:, :, n - k:], index, 2)], 2)
    kept_values = torch.cat([values[:, :, :n - k], gather_tokens(values[:, :, n - k:], index, 2)], 2)
    return kept_keys, kept_values, index
