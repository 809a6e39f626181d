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

The code is unit 01's (``videollm.vit.contrastive``, where CLIP's loss is introduced): :class:`LogitScale`,
:func:`normalise` and :data:`MAX_LOGIT_SCALE` are re-exported from there, and :func:`symmetric_infonce` and
:func:`similarity_logits` call ``clip_loss`` and ``similarity_logits`` there. Those two are defined here rather than
imported because lab 07's checks find the graded reference by the file its code is defined in.

Lecture: `lectures/07_next_gpt.ipynb` §3.
"""

from __future__ import annotations

import torch

from videollm.vit import contrastive
from videollm.vit.contrastive import CLIP_TAU_INIT, MAX_LOGIT_SCALE, LogitScale, normalise

#: ImageBind's temperatures: audio fixed at 0.05; text learnable from CLIP's 0.07, its scale clipped at 100.
AUDIO_TAU = 0.05
TEXT_TAU_INIT = CLIP_TAU_INIT


def similarity_logits(a: torch.Tensor, b: torch.Tensor, logit_scale) -> torch.Tensor:
    """``(B, B')`` logits ``s * normalise(a) @ normalise(b).T`` of ``(B, D)`` and ``(B', D)`` embeddings;
    ``logit_scale`` is a float or a 0-d tensor (unit 01's ``similarity_logits``)."""
    return contrastive.similarity_logits(a, b, logit_scale)


def symmetric_infonce(a: torch.Tensor, b: torch.Tensor, logit_scale) -> torch.Tensor:
    """The symmetric InfoNCE loss of ``B`` pairs ``(a_i, b_i)``: the mean of both directions' cross-entropy
    (module docstring), which is unit 01's ``clip_loss`` with any two modalities in place of image and text.
    ``a`` and ``b`` are ``(B, D)``, ``B >= 2``, normalised there; the result is a 0-d tensor in their dtype, on
    their device, differentiable in both and in ``logit_scale``."""
    return contrastive.clip_loss(a, b, logit_scale)


__all__ = ["AUDIO_TAU", "LogitScale", "MAX_LOGIT_SCALE", "TEXT_TAU_INIT", "normalise", "similarity_logits",
           "symmetric_infonce"]
