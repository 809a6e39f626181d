"""Unit 09 — answering multiple choice by likelihood, as lmms-eval's ``loglikelihood`` tasks do: an option's score is
the summed log-probability of its tokens given everything before them, and the prediction is the best option.

Both of the course's own models answer this way (unit 03's early-fusion LM and unit 05's mini video LLM); a tiny
model trained for minutes cannot learn to bind lettered options to letters in the prompt, but it can learn which
answer text fits the video.

Lecture: `lectures/03_early_fusion.ipynb` §6.
"""

from __future__ import annotations

import torch
from torch import Tensor


def answer_log_likelihood(logits: Tensor, targets: Tensor) -> Tensor:
    """Summed log-probability of each row's answer tokens.

    Args:
        logits: ``(R, L, V)`` a causal LM's logits over ``R`` sequences (position ``p`` predicts token ``p + 1``).
        targets: ``(R, L)`` int64, the sequences' tokens where they belong to the answer, negative (``-100``)
            elsewhere; aligned with ``logits`` (the first position is never a target).

    Returns:
        ``(R,)`` float32: ``sum_p log softmax(logits[p - 1])[targets[p]]`` over the answer positions ``p``.
    """
    if logits.ndim != 3 or targets.shape != logits.shape[:2]:
        raise ValueError(f"logits must be (R, L, V) and targets (R, L); got {tuple(logits.shape)} and "
                         f"{tuple(targets.shape)}")
    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    target = targets[:, 1:]
    picked = logp.gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (picked * (target >= 0)).sum(-1)


def option_table(row_scores: Tensor, row_question: Tensor, row_option: Tensor, num_questions: int) -> Tensor:
    """Scores of (question, option) rows as a ``(num_questions, k_max)`` table, ``-inf`` where a question has
    fewer options than ``k_max`` (so ``argmax`` and ``cross_entropy`` over a row ignore them).

    ``row_scores``, ``row_question``, ``row_option``: ``(R,)``, the score of row ``r`` and which question and
    option it is.
    """
    k = int(row_option.max()) + 1 if len(row_option) else 0
    table = torch.full((num_questions, k), float("-inf"), dtype=row_scores.dtype, device=row_scores.device)
    return table.index_put((row_question.to(table.device), row_option.to(table.device)), row_scores)
