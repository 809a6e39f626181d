"""Unit 05 — stage 1 of the mini video LLM: a vision encoder that learns to see before it meets the language model.

Real video LLMs start from a vision tower pre-trained on its own (SigLIP, CLIP, Qwen-ViT on image-text pairs).
The course's stand-in trains the real Qwen2-VL vision tower (``model.model.visual``: patch embedding and
transformer blocks; the 2x2 merger comes later) to predict what the world's renderer knows about every patch
(:class:`videollm.vlm.mini.data.Batch`): for each of the two frames a temporal patch covers, the share of its
pixels of each colour and of each shape (or a sign), and the frame's background. Linear heads on the tower's
per-patch features; soft cross-entropy against the shares.

Whether the tower sees is measured the standard way, with a **linear probe** (:func:`probe`): freeze it, fit one
linear classifier per label on the patch features of fresh scenes, and score it on other fresh scenes, against
the same probe on a randomly initialised tower and against always guessing the commonest class.

Lecture: `lectures/05_llava_ov_qwen2_vl.ipynb` §12.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from videollm.vlm.mini.batches import video_pixels
from videollm.vlm.mini.data import NUM_BACKGROUNDS, NUM_COLORS, NUM_SHAPES, Batch, draw_batch, stream
from videollm.vlm.mini.optim import cosine_schedule, optimizer_step
from videollm.world.shapes import COLOR_NAMES, SHAPES

#: What the vision tower learns to predict per patch, and the number of classes of each.
LABELS = {"color": NUM_COLORS, "shape": NUM_SHAPES, "background": NUM_BACKGROUNDS}


def patch_order(x: torch.Tensor, merge: int) -> torch.Tensor:
    """Per-frame, per-cell values ``(B, T, gh, gw, ...)`` in the order of the Qwen2-VL video processor's patches:
    ``(B * T/2 * gh * gw, 2, ...)``, the 2 the frames of a temporal patch. The processor lists patches by
    temporal patch, then merge window (row-major), then position inside the window."""
    B, T, gh, gw = x.shape[:4]
    rest = x.shape[4:]
    x = x.reshape(B, T // 2, 2, gh // merge, merge, gw // merge, merge, *rest)
    x = x.permute(0, 1, 3, 5, 4, 6, 2, *range(7, 7 + len(rest)))
    return x.reshape(B * (T // 2) * gh * gw, 2, *rest)


def targets(batch: Batch, merge: int) -> dict[str, torch.Tensor]:
    """The batch's labels in patch order: ``color`` / ``shape`` ``(N, 2, classes)`` shares, ``background``
    ``(N, 2)`` class ids (each patch predicts its frames' background)."""
    B, T, gh, gw = batch.color.shape[:4]
    background = batch.background[:, :, None, None].expand(B, T, gh, gw)
    return {"color": patch_order(batch.color, merge), "shape": patch_order(batch.shape, merge),
            "background": patch_order(background, merge)}


def word_ids(processor) -> dict[str, list[int]]:
    """The language model's token ids of the colour words and of the shape words (``" red"``, ``" triangle"``:
    the first token of each as it follows "the" in questions and captions), and of ``" sign"``."""
    tok = processor.tokenizer

    def first(word: str) -> int:
        return tok(" " + word, add_special_tokens=False).input_ids[0]

    return {"color": [first(c) for c in COLOR_NAMES], "shape": [first(s) for s in SHAPES] + [first("sign")]}


def token_shares(shares: torch.Tensor, merge: int) -> torch.Tensor:
    """Per-patch shares ``(N, 2, classes)`` in patch order -> per merged token ``(N / merge**2, classes)``: the
    mean over the token's ``merge x merge`` patches and both frames."""
    return shares.view(-1, merge * merge, *shares.shape[1:]).mean((1, 2))


def word_loss(merged: torch.Tensor, target: dict[str, torch.Tensor], words: dict[str, torch.Tensor],
              merge: int) -> torch.Tensor:
    """Soft cross-entropy of the merged tokens' dot products with the language model's *word embeddings* of the
    colours and shapes against the colours and shapes each token shows (tokens with any object pixel).

    This teaches the merger to put an object's token near the embeddings of the words that name it, the space
    the language model reads: matching "the triangle" in a question to the token of a triangle becomes comparing
    like with like, the same for every word, instead of a separate association to learn for each."""
    loss = merged.new_zeros(())
    for k in ("color", "shape"):
        p = token_shares(target[k], merge)[:, 1:]
        on = p.sum(-1) >= 0.02
        if on.any():
            p = p[on] / p[on].sum(-1, keepdim=True)
            logits = merged[on] @ words[k].T
            loss = loss - (p * F.log_softmax(logits, -1)).sum(-1).mean()
    return loss


class SightHeads(nn.Module):
    """One linear head per label over the tower's patch features ``(N, D)``: ``{label: (N, 2, classes)}``."""

    def __init__(self, dim: int):
        super().__init__()
        self.heads = nn.ModuleDict({name: nn.Linear(dim, 2 * k) for name, k in LABELS.items()})

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        return {name: head(features).view(len(features), 2, -1) for name, head in self.heads.items()}


def tower_outputs(model, processor, frames: torch.Tensor):
    """``frames`` ``(B, T, 3, h, w)`` uint8 through the real video processor and the vision tower: its output with
    ``last_hidden_state`` ``(B * T/2 * gh * gw, vision_dim)`` (per patch, before the merger) and
    ``pooler_output`` ``(B * T/2 * gh * gw / merge**2, hidden)`` (the merged tokens the language model reads)."""
    pixels, grid = video_pixels(processor, frames)
    return model.model.visual(pixels.to(model.device), grid.to(model.device))


def patch_features(model, processor, frames: torch.Tensor) -> torch.Tensor:
    """``(B * T/2 * gh * gw, vision_dim)`` per-patch features of ``frames`` (:func:`tower_outputs`)."""
    return tower_outputs(model, processor, frames).last_hidden_state


#: A cell counts as showing an object when objects (or a sign) cover at least this share of it.
OBJECT_SHARE = 0.2


def sight_loss(logits: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> torch.Tensor:
    """The sum of three terms, averaged over patches and frames: whether a cell shows an object (binary
    cross-entropy of class 0 against the object share), what colour and shape it is (soft cross-entropy against
    the shares among the object pixels, on cells with at least :data:`OBJECT_SHARE` of them), and the frame's
    background (cross-entropy).

    Objects cover a few percent of the cells, so the colour and shape of objects are learned on the object cells
    alone: trained on every cell's shares, the tower learns to answer "background" everywhere."""
    share = target["shape"][..., 1:].sum(-1)  # (N, 2) object or sign pixels
    loss = F.binary_cross_entropy_with_logits(logits["shape"][..., 0], 1 - share)
    on = share >= OBJECT_SHARE
    if on.any():
        for k in ("color", "shape"):
            p = target[k][..., 1:][on]
            p = p / p.sum(-1, keepdim=True).clamp_min(1e-6)
            loss = loss - (p * F.log_softmax(logits[k][..., 1:][on], -1)).sum(-1).mean()
    return loss + F.cross_entropy(logits["background"].flatten(0, 1), target["background"].flatten())


def object_accuracy(logits: torch.Tensor, shares: torch.Tensor) -> float:
    """Accuracy of the object class (the argmax over classes >= 1 of ``logits``) on the cells that one object
    covers at least half of."""
    best, cls = shares.max(-1)
    on = (best >= 0.5) & (cls > 0)
    return float((logits[..., 1:].argmax(-1)[on] + 1 == cls[on]).float().mean()) if on.any() else float("nan")


def pretrain_vision(model, processor, batches, steps: int, lr: float = 3e-3, word_weight: float = 1.0, seed: int = 0,
                    device=None, progress: bool = False):
    """Train the vision tower in place on ``steps`` batches from the iterator ``batches``
    (:func:`videollm.vlm.mini.data.stream`): its blocks by :func:`sight_loss` on the per-patch labels, and, with
    ``word_weight``, its merger too by :func:`word_loss` (the language model's word embeddings stay fixed).
    AdamW, cosine decay; the heads' initial weights come from ``seed`` (the caller's random state untouched).

    Returns:
        history dict of per-step lists: ``step``, ``loss``, ``color_accuracy`` and ``shape_accuracy`` (on the
        batch's object cells, :func:`object_accuracy`), ``seconds``.
    """
    device = torch.device(device) if device is not None else model.device
    visual = model.model.visual
    merge = visual.spatial_merge_size
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        heads = SightHeads(visual.config.embed_dim).to(device)
    embed = model.get_input_embeddings().weight.detach()
    words = {k: embed[ids] for k, ids in word_ids(processor).items()}
    params = [p for n, p in visual.named_parameters() if word_weight or not n.startswith("merger.")]
    params += list(heads.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, cosine_schedule(steps))
    visual.train()
    history: dict[str, list] = {"step": [], "loss": [], "color_accuracy": [], "shape_accuracy": [], "seconds": []}
    start = time.perf_counter()
    steps_bar = tqdm(range(steps), desc="stage 1: vision", disable=not progress, leave=False)
    try:
        for step, batch in zip(steps_bar, batches):
            out = tower_outputs(model, processor, batch.frames)
            logits = heads(out.last_hidden_state)
            target = {k: v.to(device) for k, v in targets(batch, merge).items()}
            loss = sight_loss(logits, target)
            if word_weight:
                loss = loss + word_weight * word_loss(out.pooler_output, target, words, merge)
            optimizer_step(loss, opt, sched, params)
            history["step"].append(step)
            history["loss"].append(float(loss.detach()))
            history["color_accuracy"].append(object_accuracy(logits["color"].detach(), target["color"]))
            history["shape_accuracy"].append(object_accuracy(logits["shape"].detach(), target["shape"]))
            history["seconds"].append(time.perf_counter() - start)
    finally:
        visual.eval()
    return history


def vision_stage(model, processor, config, workers: int = 1, device=None, progress: bool = False):
    """Stage 1 as ``config`` (a :class:`~videollm.vlm.mini.model.MiniVLMConfig`) sets it: :func:`pretrain_vision`
    on ``config.sight_steps`` fresh batches of ``config.sight_batch`` suite scenes, drawn by ``workers`` processes.
    Returns its history."""
    batches = stream(config, config.sight_batch, config.sight_steps, "sight", workers)
    return pretrain_vision(model, processor, batches, config.sight_steps, lr=config.sight_lr, seed=config.seed,
                           device=device, progress=progress)


@torch.no_grad()
def _features(model, processor, config, count: int, seed: int):
    merge = model.model.visual.spatial_merge_size
    feats, labels = [], {k: [] for k in LABELS}
    for i in range(0, count, 16):
        batch = draw_batch(config, min(16, count - i), [seed, i])
        f = patch_features(model, processor, batch.frames).cpu()
        t = targets(batch, merge)
        for frame in range(2):  # each patch feature covers two frames: one probe example per frame
            feats.append(torch.cat([f, torch.full((len(f), 1), float(frame))], 1))
            for k in ("color", "shape"):
                best, cls = t[k][:, frame].max(-1)
                labels[k].append(torch.where((best >= 0.5) & (cls > 0), cls, -1))  # -1: not scored
            labels["background"].append(t["background"][:, frame])
    return torch.cat(feats), {k: torch.cat(v) for k, v in labels.items()}


def probe(model, processor, config, train_videos: int = 96, test_videos: int = 48, steps: int = 300,
          seed: int = 7) -> dict[str, dict[str, float]]:
    """Linear-probe accuracy of the (frozen) vision tower on fresh scenes.

    For each label, a linear classifier (on the features and which of the patch's two frames is meant) is fitted
    with Adam on the patch features of ``train_videos`` scenes and scored on ``test_videos`` other scenes. Colour
    and shape are learned and scored on the cells that one object (or a sign, for shape) covers at least half of;
    the background on every cell.

    Returns:
        ``{label: {"accuracy": ..., "majority": ..., "cells": ...}}`` for ``color``, ``shape`` and
        ``background``: accuracy in %, ``majority`` the accuracy of always answering the commonest training class,
        ``cells`` the number of test cells scored.
    """
    x, y = _features(model, processor, config, train_videos, seed)
    x_test, y_test = _features(model, processor, config, test_videos, seed + 1)
    mean, std = x.mean(0), x.std(0) + 1e-6
    x, x_test = (x - mean) / std, (x_test - mean) / std
    out = {}
    for name, classes in LABELS.items():
        keep, scored = y[name] >= 0, y_test[name] >= 0
        if not keep.any() or not scored.any():
            raise ValueError(f"no cell to probe {name} on in {train_videos} + {test_videos} videos: draw more videos")
        with torch.enable_grad(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            linear = nn.Linear(x.shape[1], classes)
            opt = torch.optim.Adam(linear.parameters(), lr=0.05)
            for _ in range(steps):
                loss = F.cross_entropy(linear(x[keep]), y[name][keep])
                opt.zero_grad()
                loss.backward()
                opt.step()
        pred = linear(x_test[scored]).argmax(-1)
        truth = y_test[name][scored]
        common = int(torch.bincount(y[name][keep], minlength=classes).argmax())
        out[name] = {"accuracy": 100 * float((pred == truth).float().mean()),
                     "majority": 100 * float((truth == common).float().mean()), "cells": int(scored.sum())}
    return out
