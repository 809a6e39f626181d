"""Unit 01 — contrastive image-text pre-training: CLIP's softmax loss, SigLIP's sigmoid loss, zero-shot classifiers.

A batch holds ``B`` pairs, image ``i`` with its own text ``i``. Both encoders end in l2-normalised embeddings, so
``cos[i, j] = u_i . v_j`` fills a ``(B, B)`` matrix whose diagonal are the true pairs and whose other cells are the
negatives. The two losses read that matrix differently:

- **CLIP** (Radford et al., arXiv 2103.00020), :func:`clip_loss`: ``logits = s * cos`` with a learnable scale
  ``s = exp(t)`` (initialised at ``1 / 0.07``, clipped at 100: :class:`LogitScale`); each row is a softmax over the
  ``B`` texts and each column one over the ``B`` images, and the loss is the mean of the two cross-entropies. This
  is open_clip's ``ClipLoss``; the paper's Figure 3 writes the same mean.
- **SigLIP** (Zhai et al., arXiv 2303.15343), :func:`siglip_loss`: ``logits = t * cos + b`` and every cell is its
  own binary question, "is this a pair?", with label ``z = +1`` on the diagonal and ``-1`` elsewhere::

      loss = -(1 / B) * sum_ij log sigmoid(z_ij * logits_ij)

  No softmax, so no cell needs any other cell's value: the matrix can be computed block by block (SigLIP's chunked
  multi-device loss). The ``1 / B`` is the paper's ``1 / |B|`` and what open_clip's ``SigLipLoss``, big_vision's
  trainer and ``transformers``' ``SiglipModel`` compute (sum over all ``B^2`` cells, divided by ``B``). The paper
  initialises ``t = exp(t')`` at ``t' = log 10`` and ``b = -10`` (big_vision: ``temperature_init = 10``,
  ``bias_init = -10``): with ``B - 1`` negatives per positive, the start predicts "not a pair" everywhere.

Both losses take the *scale itself* (``s`` or ``t``, not its logarithm), as open_clip's losses do, and normalise
their inputs, so they accept raw encoder outputs. Unit 07's InfoNCE (``videollm.anyany.infonce``) is
:func:`clip_loss` under its ImageBind name.

- :func:`zero_shot_classifier`: CLIP's classifier from label text: each label written into each template
  (``"a video of {}"``), encoded, normalised, averaged over the templates and normalised again, ``(K, D)``;
- :func:`zero_shot_predict`: the label whose embedding is closest to each image's, ``(B,)``.

Checked against open_clip 3.3.0 (``ClipLoss``, ``SigLipLoss``, ``build_zero_shot_classifier``) in
``tests/vit/test_contrastive.py``.

Lecture: `lectures/01_vit_patching.ipynb` §6–7.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

#: CLIP's initial temperature (``s = 1 / 0.07``) and the clip on its logit scale.
CLIP_TAU_INIT = 0.07
MAX_LOGIT_SCALE = 100.0
#: SigLIP's initial ``t' = log 10`` (so ``t = 10``) and bias ``b = -10``.
SIGLIP_LOG_SCALE_INIT = math.log(10.0)
SIGLIP_BIAS_INIT = -10.0


class LogitScale(nn.Module):
    """``s = min(exp(log_scale), max_scale)``, learnable or fixed; ``forward(x) = s * x``.

    CLIP's temperature is this with ``tau = 0.07``, learnable, ``max_scale = 100``. Storing the logarithm keeps
    ``s`` positive whatever the optimiser does.

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


def _check_pairs(image_emb: torch.Tensor, text_emb: torch.Tensor, smallest: int, why: str) -> None:
    if image_emb.ndim != 2 or image_emb.shape != text_emb.shape:
        raise ValueError(f"the two embeddings must be paired, of the same (B, D) shape (row i of one goes with "
                         f"row i of the other); got {tuple(image_emb.shape)} and {tuple(text_emb.shape)}")
    if image_emb.shape[0] < smallest:
        raise ValueError(f"{why} needs a batch of at least {smallest} pairs; got {image_emb.shape[0]}")


def clip_loss(image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale) -> torch.Tensor:
    """CLIP's symmetric cross-entropy over the ``(B, B)`` similarity matrix (module docstring).

    Args:
        image_emb, text_emb: ``(B, D)`` with ``B >= 2`` (the other pairs are the negatives); normalised here.
        logit_scale: ``s`` itself (``exp`` of the learned log-scale), a float or a 0-d tensor.

    Returns:
        A 0-d tensor in the inputs' dtype and on their device, differentiable in both and in ``logit_scale``:
        ``(CE(logits, arange(B)) + CE(logits.T, arange(B))) / 2``, each ``CE`` a mean over rows computed with
        ``log_softmax`` (so a scale of 100 on cosines cannot overflow).
    """
    _check_pairs(image_emb, text_emb, 2, "a contrastive loss (the other pairs are the negatives)")
    logits = similarity_logits(image_emb, text_emb, logit_scale)  # (B, B), row i: image i against every text
    target = torch.arange(len(image_emb), device=image_emb.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def siglip_loss(image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale, logit_bias) -> torch.Tensor:
    """SigLIP's pairwise sigmoid loss (module docstring): ``-(1/B) sum_ij log sigmoid(z_ij (t cos_ij + b))``.

    Args:
        image_emb, text_emb: ``(B, D)``, ``B >= 1``; normalised here.
        logit_scale: ``t`` itself (``exp(t')``), a float or a 0-d tensor.
        logit_bias: ``b``, a float or a 0-d tensor.

    Returns:
        A 0-d tensor in the inputs' dtype and on their device, differentiable in the embeddings, ``t`` and ``b``.
    """
    _check_pairs(image_emb, text_emb, 1, "the sigmoid loss")
    logits = similarity_logits(image_emb, text_emb, logit_scale) + logit_bias  # (B, B)
    n = len(image_emb)
    labels = 2 * torch.eye(n, device=logits.device, dtype=logits.dtype) - 1  # +1 on the diagonal, -1 elsewhere
    return -F.logsigmoid(labels * logits).sum() / n


def zero_shot_classifier(text_encoder: Callable[[list[str]], torch.Tensor], labels: Sequence[str],
                         templates: Sequence[str] = ("{}",)) -> torch.Tensor:
    """CLIP's zero-shot classifier: one unit vector per label, built from text alone.

    Args:
        text_encoder: ``list of N strings -> (N, D)`` embeddings (normalised or not).
        labels: ``K`` class names, e.g. ``["a red circle", ...]``.
        templates: ``T`` prompts with one ``{}`` where the label goes (``"a video of {}"``); several are averaged
            (CLIP's prompt ensembling).

    Returns:
        ``(K, D)`` unit vectors: for each label, the mean over templates of the normalised embeddings of
        ``template.format(label)``, normalised again. All ``K * T`` prompts go through the encoder in one call.
    """
    if isinstance(labels, str) or not len(labels) or not all(isinstance(x, str) for x in labels):
        raise ValueError(f"labels must be a non-empty list of strings; got {labels!r}")
    if isinstance(templates, str) or not len(templates) or not all(
            isinstance(t, str) and t.count("{}") == 1 for t in templates):
        raise ValueError(f"templates must be a non-empty list of strings with one '{{}}' each (where the label "
                         f"goes), e.g. ['a video of {{}}']; got {templates!r}")
    prompts = [t.format(label) for label in labels for t in templates]  # label-major: (K, T) after a reshape
    emb = text_encoder(prompts)
    if not isinstance(emb, torch.Tensor) or emb.ndim != 2 or emb.shape[0] != len(prompts):
        raise ValueError(f"text_encoder must map {len(prompts)} prompts to a ({len(prompts)}, D) tensor; got "
                         f"{type(emb).__name__} {tuple(getattr(emb, 'shape', ()))}")
    per_template = normalise(emb).reshape(len(labels), len(templates), -1)  # (K, T, D)
    return normalise(per_template.mean(1))


def zero_shot_predict(image_emb: torch.Tensor, classifier: torch.Tensor) -> torch.Tensor:
    """The index of the closest label for each image: ``argmax_k cos(image_b, classifier_k)``.

    Args:
        image_emb: ``(B, D)`` image embeddings (normalised here).
        classifier: ``(K, D)`` from :func:`zero_shot_classifier`.

    Returns:
        ``(B,)`` int64 on the images' device.
    """
    return similarity_logits(image_emb, classifier, 1.0).argmax(1)


__all__ = ["CLIP_TAU_INIT", "LogitScale", "MAX_LOGIT_SCALE", "SIGLIP_BIAS_INIT", "SIGLIP_LOG_SCALE_INIT",
           "clip_loss", "normalise", "siglip_loss", "similarity_logits", "zero_shot_classifier", "zero_shot_predict"]
