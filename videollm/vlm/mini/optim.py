"""Unit 05 — what the mini video LLM's three training stages share: the learning-rate schedule and one
optimiser step.

Lecture: `lectures/05_llava_ov_qwen2_vl.ipynb` §12.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch


def cosine_schedule(steps: int, warmup: int = 0):
    """The factor on the learning rate at each step, for ``torch.optim.lr_scheduler.LambdaLR``: linear warm-up over
    ``warmup`` steps, then cosine decay from 1 to 0.1 over the remaining steps."""
    def factor(step):
        if step < warmup:
            return (step + 1) / warmup
        done = (step - warmup) / max(1, steps - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * done))
    return factor


def optimizer_step(loss: torch.Tensor, opt: torch.optim.Optimizer, sched, params: Iterable[torch.Tensor],
                   max_norm: float = 1.0) -> None:
    """Back-propagate ``loss``, clip the gradients of ``params`` to norm ``max_norm``, step the optimiser and the
    schedule."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, max_norm)
    opt.step()
    sched.step()
