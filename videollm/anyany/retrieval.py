"""Unit 07 — Recall@K: how often the right item is among the top K retrieved, with ties counted against you.

A query ``q`` scores every item of a gallery of ``G``; exactly one item, ``target[q]``, is right. Its rank is

    rank[q] = 1 + #{j : score[q, j] > score[q, target]} + #{j != target : score[q, j] == score[q, target]}

so an item tied with the right one is ranked *ahead* of it (the pessimistic convention: a model that scores
everything the same has rank G, not 1, and cannot win by ties). ``Recall@K`` is the share of queries with
``rank <= K``; chance is ``K / G``. ImageBind's Table 3 reports R@1 and R@10 of text-to-audio retrieval.

Lecture: `lectures/07_next_gpt.ipynb` §4.
"""

from __future__ import annotations

from typing import Sequence

import torch


def ranks(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``(Q,)`` int64 ranks (1 = best) of ``target[q]`` in row ``q`` of ``scores`` ``(Q, G)``, ties pessimistic.
    NaN scores are refused (they compare false with everything and would hide a broken model)."""
    if scores.ndim != 2:
        raise ValueError(f"scores must be (Q, G); got {tuple(scores.shape)}")
    target = torch.as_tensor(target, device=scores.device).long()
    if target.shape != scores.shape[:1]:
        raise ValueError(f"target must be (Q,) = ({scores.shape[0]},); got {tuple(target.shape)}")
    if len(target) and (target.min() < 0 or target.max() >= scores.shape[1]):
        raise ValueError(f"targets must index the gallery, in [0, {scores.shape[1]}); "
                         f"got {int(target.min())}..{int(target.max())}")
    if torch.isnan(scores).any():
        raise ValueError("scores contain NaN: check the embeddings (a zero vector? a diverged model?)")
    right = scores.gather(1, target[:, None])  # (Q, 1)
    at_least = (scores >= right).sum(1)  # includes the right item itself
    return at_least.long()  # 1 + strictly better + other ties


def recall_at_k(scores: torch.Tensor, target: torch.Tensor, ks: Sequence[int] = (1, 5)) -> dict[int, float]:
    """``{K: share of queries whose right item has rank <= K}`` (:func:`ranks`), for each ``K`` in ``ks``."""
    if not ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in ks):
        raise ValueError(f"ks must be positive integers; got {ks!r}")
    r = ranks(scores, target)
    if not len(r):
        raise ValueError("no queries: Recall@K of an empty set is undefined")
    return {k: float((r <= k).double().mean()) for k in ks}


def chance_recall(gallery_size: int, k: int) -> float:
    """Recall@K of a random ranking of ``gallery_size`` items: ``min(K, G) / G``."""
    return min(k, gallery_size) / gallery_size


__all__ = ["chance_recall", "ranks", "recall_at_k"]
