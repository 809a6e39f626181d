"""Unit 07 — ImageBind's objective: symmetric InfoNCE on l2-normalised embeddings, with a temperature per modality.

For a batch of ``B`` pairs (an image ``q_i`` and what goes with it, ``k_i``: its caption, its sound), every other
item of the batch is a negative. With unit vectors and a logit scale ``s = 1 / tau``::

    logits[i, j] = s * q_i . k_j                                     (B, B)
    loss = ( CE(logits, arange(B)) + CE(logits.T, arange(B)) ) / 2  (image -> other, and other -> image)

``CE`` is the mean cross-entropy over rows: ``-log softmax(logits[i])[i]``, computed with ``log_softmax`` (which
subtracts each row's maximum first, so a scale of 100 on cosines cannot overflow). The ImageBind paper writes the
sum of the two directions; open_clip's ``ClipLoss`` (the check in ``tests/anyany/test_infonce.py``) and this
module take their mean, half of it: the gradients point the same way.

The temperature: ImageBind keeps CLIP's *learnable* logit scale for text (initialised at ``1 / 0.07``, clipped at
100) and *fixes* it for the modalities it binds (audio ``tau = 0.05``, a logit scale of 20); its Table 5a found
the fixed temperature better for audio. :class:`LogitScale` is both: the scale is stored as its logarithm, as
ImageBind's ``LearnableLogitScaling`` does, and ``exp(log_scale)`` is clipped at ``max_scale``.

Lecture: `lectures/07_next_gpt.ipynb` §3.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

#: ImageBind's temperatures: audio fixed at 0.05; text learnable from CLIP's 0.07, its scale clipped at 100.
AUDIO_TAU = 0.05
TEXT_TAU_INIT = 0.07
MAX_LOGIT_SCALE = 100.0


class LogitScale(nn.Module):
    """``s = min(exp(log_scale), max_scale)``, learnable or fixed; ``forward(x) = s * x``.

    Args:
        tau: the initial temperature (``s = 1 / tau``).
        learnable: whether ``log_scale`` is a parameter (else a buffer, saved but never trained).
        max_scale: the clip on ``s`` (100, as CLIP and ImageBind).
    """

    def __init__(self, tau: float, learnable: bool, max_scale: float = MAX_LOGIT_SCALE):
        super().__init__()
        if not (isinstance(tau, (int, float)) and math.isfinite(tau) and tau > 0):
            raise ValueError(f"tau must be a positive temperature; got {tau!r}")
        value = torch.tensor(math.log(1.0 / tau))
        if learnable:
            self.log_scale = nn.Parameter(value)
        else:
            self.register_buffer("log_scale", value)
        self.learnable, self.max_scale = learnable, float(max_scale)

    @property
    def scale(self) -> torch.Tensor:
        """The current logit scale ``s`` (a 0-d tensor; its gradient flows to ``log_scale`` unless clipped)."""
        return self.log_scale.exp().clamp(max=self.max_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * x

    def extra_repr(self) -> str:
        return f"tau={1 / self.scale.item():.4f}, learnable={self.learnable}, max_scale={self.max_scale:g}"


def normalise(x: torch.Tensor) -> torch.Tensor:
    """``x / ||x||`` along the last axis (``eps = 1e-12`` keeps a zero vector finite)."""
    return F.normalize(x, dim=-1, eps=1e-12)


def similarity_logits(a: torch.Tensor, b: torch.Tensor, logit_scale) -> torch.Tensor:
    """``(B, B')`` logits ``s * normalise(a) @ normalise(b).T`` of ``(B, D)`` and ``(B', D)`` embeddings;
    ``logit_scale`` is a float or a 0-d tensor."""
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"embeddings must be (B, D) and (B', D) with the same D; got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    return logit_scale * normalise(a) @ normalise(b).T


def symmetric_infonce(a: torch.Tensor, b: torch.Tensor, logit_scale) -> torch.Tensor:
    """The symmetric InfoNCE loss of ``B`` pairs ``(a_i, b_i)``: the mean of both directions' cross-entropy
    (module docstring). ``a`` and ``b`` are ``(B, D)``, normalised here; the result is a 0-d tensor in their
    dtype, on their device, differentiable in both and in ``logit_scale``."""
    if a.shape != b.shape:
        raise ValueError(f"a and b must be paired, of the same (B, D) shape; got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.shape[0] < 2:
        raise ValueError(f"InfoNCE needs a batch of at least 2 pairs (the others are the negatives); got {a.shape[0]}")
    logits = similarity_logits(a, b, logit_scale)  # (B, B)
    target = torch.arange(len(a), device=a.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


__all__ = ["AUDIO_TAU", "LogitScale", "MAX_LOGIT_SCALE", "TEXT_TAU_INIT", "normalise", "similarity_logits",
           "symmetric_infonce"]
