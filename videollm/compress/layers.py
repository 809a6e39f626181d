"""Unit 06 — redundancy across layers: where the question looks, and how many of a chunk's tokens each layer keeps.

While a chunk is prefilled with the question after it, every layer's question tokens attend to the chunk's
tokens. :func:`question_scores` sums, per chunk token, the attention the question pays it (softmax over the
chunk's keys only, as the official code does), averaged over heads. A layer whose attention piles onto a few
tokens can lose the rest cheaply; a layer that spreads it needs more of them.

:func:`layer_ratios` turns that into a share per layer: pool every layer's scores, take the global top
``K = max(1, r * k) * L`` of them (``k`` chunk tokens, ``L`` layers) and count how many fall in each layer,
``n_l``. Then

- ``smoothing=1`` (the official code, ``budget_allocation`` "adakv"): ``r_l = L * r * (n_l + 1) / sum(n + 1)``;
- ``smoothing=0`` (the paper's Eq. 14-15, normalised to the mean ``r`` as Eq. 7 needs): ``r_l = L * r * n_l /
  sum(n)``, with the paper's floor ``eps = 0.01``.

Either way the ratios are then projected onto ``[floor, 1]`` with the mean ``r`` kept (exactly,
:func:`~videollm.compress.simplex.exact_capped_simplex`: there are few layers). With the paper's rule a layer
without hits would keep nothing: the floor lifts it, and the projection takes what that costs from the other
layers instead of exceeding the budget (the official code's ``max(0.01, r_l)`` spends a little more). The
ceiling rarely binds (with the code's rule ``r_l < 1`` whenever ``r < 1``) but is kept as a guard.

The paper proves (Theorem 4.1, after AdaKV) that the global top-K choice nearly minimises a bound on the
attention output's error; the proof's assumptions are loose: motivation, not a guarantee. The temporal
allocation has no such argument.

Lecture: `lectures/06_adaretake.ipynb` §4.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from videollm.compress.simplex import exact_capped_simplex

#: The smallest share of a chunk a layer keeps (the code's ``max(0.01, r_l)``, the paper's epsilon).
LAYER_FLOOR = 0.01


def question_scores(queries: Tensor, keys: Tensor) -> Tensor:
    """``(k,)`` float32 attention the question pays each chunk token in one layer.

    Args:
        queries: ``(Hq, q, Dh)`` the question tokens' queries (rotary position already applied), any float dtype.
        keys: ``(Hkv, k, Dh)`` the chunk tokens' keys (rotated), ``Hq`` a multiple of ``Hkv`` (grouped-query
            attention: query head ``h`` reads key head ``h // (Hq / Hkv)``).

    ``softmax(q . k / sqrt(Dh))`` over the ``k`` chunk keys, summed over the ``q`` question tokens, averaged over
    the query heads of each key head and then over key heads (equal groups, so over all query heads), in
    float32.

    Raises:
        ValueError: wrong ranks, head widths that differ, or ``Hq`` not a multiple of ``Hkv``.
    """
    if queries.ndim != 3 or keys.ndim != 3 or queries.shape[-1] != keys.shape[-1]:
        raise ValueError(f"queries (Hq, q, Dh) and keys (Hkv, k, Dh) must share Dh; got {tuple(queries.shape)} and "
                         f"{tuple(keys.shape)}")
    hq, hkv = len(queries), len(keys)
    if hq % hkv:
        raise ValueError(f"query heads ({hq}) must be a multiple of key heads ({hkv})")
    q = queries.float().view(hkv, hq // hkv, queries.shape[1], -1)  # (Hkv, group, q, Dh)
    logits = torch.einsum("hgqd,hkd->hgqk", q, keys.float()) / math.sqrt(queries.shape[-1])
    return logits.softmax(-1).sum(2).mean((0, 1))


def layer_hits(scores: Tensor, ratio: float) -> Tensor:
    """``(L,)`` int64 count of each layer's scores among the global top ``int(max(1, ratio * k) * L)`` of all
    layers' ``scores`` ``(L, k)`` (ties broken towards the earlier layer and token)."""
    L, k = scores.shape
    budget = min(int(max(1.0, ratio * k) * L), L * k)
    order = torch.sort(scores.detach().float().reshape(-1), descending=True, stable=True).indices[:budget]
    return torch.bincount(order // k, minlength=L)


def layer_ratios(scores: Tensor, ratio: float, smoothing: int = 1, floor: float = LAYER_FLOOR) -> Tensor:
    """``(L,)`` float32 share of the chunk's tokens each layer keeps, from the question's ``scores`` ``(L, k)``
    (:func:`question_scores` per layer), with mean ``ratio`` (module docstring; ``smoothing`` 1 is the code's
    rule, 0 the paper's). The floor drops to ``ratio`` when ``ratio`` is below it (the budget comes first).

    Raises:
        ValueError: ``scores`` is not ``(L, k)`` with ``L, k >= 1``, ``ratio`` is not in ``(0, 1]``, or
            ``smoothing`` is negative.
    """
    if not isinstance(scores, Tensor) or scores.ndim != 2 or 0 in scores.shape:
        raise ValueError("scores must be a tensor (L, k): one row of chunk-token scores per layer")
    if not 0 < ratio <= 1:
        raise ValueError(f"ratio must lie in (0, 1] (the mean share of tokens kept); got {ratio}")
    if smoothing < 0:
        raise ValueError(f"smoothing must be >= 0; got {smoothing}")
    L = len(scores)
    weight = layer_hits(scores, ratio).double() + smoothing
    wanted = L * ratio * weight / weight.sum()
    return exact_capped_simplex(wanted, L * ratio, min(floor, ratio), 1.0).float()
