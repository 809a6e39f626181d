"""Unit 05 — stage 2 of the mini video LLM: alignment on detailed captions, as LLaVA's first stage.

LLaVA (and LLaVA-OneVision, LLaVA-Video after it) first teaches the projector to turn the vision tower's features
into something the language model can talk about, on image or video descriptions, before any question is asked.
Here the world writes the descriptions itself (:func:`videollm.world.captions.caption`): which background, which
objects in which order, which are gone, what signs say. The model reads the video and the instruction
:data:`DESCRIBE` and learns to write the caption (language-modelling loss on the caption's tokens only).

What trains: the merger (the 2x2 patch merger, Qwen2-VL's projector) and the language model. LLaVA freezes its
language model here because it is already pre-trained; the course's is trained from scratch, so it must learn
the words too. The vision tower, pre-trained in stage 1, stays frozen, as in LLaVA.

Lecture: `lectures/05_llava_ov_qwen2_vl.ipynb` §12.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np
import torch

from videollm.vlm import inference as vlm
from videollm.vlm.mini.batches import reply_batch, video_pixels
from videollm.vlm.mini.optim import optimizer_step

#: The instruction of every alignment example.
DESCRIBE = "Describe the video in detail."


def caption_batch(processor, captions: Sequence[str], pixel_values: torch.Tensor,
                  grid_thw: torch.Tensor) -> dict[str, Any]:
    """Model inputs for writing ``captions`` about their videos (:func:`~videollm.vlm.mini.batches.reply_batch`
    with the instruction :data:`DESCRIBE`)."""
    prompt = vlm.chat_prompt(processor, DESCRIBE, None, video=True, instruction=None)
    return reply_batch(processor, [prompt] * len(captions), captions, pixel_values, grid_thw)


def align(model, processor, batches, steps: int, lr: float = 3e-3, device=None, progress: bool = False):
    """Train the merger and the language model in place on ``steps`` caption batches from the iterator
    ``batches`` (:func:`videollm.vlm.mini.data.stream`), the vision tower's blocks frozen. AdamW, cosine decay.

    Returns:
        history dict of per-step lists: ``step``, ``loss`` (mean NLL per caption token), ``seconds``.
    """
    from tqdm.auto import tqdm

    device = torch.device(device) if device is not None else model.device
    frozen = [p for n, p in model.model.visual.named_parameters() if not n.startswith("merger.")]
    was = [p.requires_grad for p in frozen]
    for p in frozen:
        p.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 10) * (
        0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * s / max(1, steps)))))
    model.train()
    history: dict[str, list] = {"step": [], "loss": [], "seconds": []}
    start = time.perf_counter()
    try:
        for step, batch in zip(tqdm(range(steps), desc="stage 2: alignment", disable=not progress, leave=False),
                               batches):
            pixels, grid = video_pixels(processor, batch.frames)
            inputs = {k: v.to(device) for k, v in caption_batch(processor, batch.captions, pixels, grid).items()}
            loss = model(**inputs).loss
            optimizer_step(loss, opt, sched, params)
            history["step"].append(step)
            history["loss"].append(float(loss.detach()))
            history["seconds"].append(time.perf_counter() - start)
    finally:
        for p, flag in zip(frozen, was):
            p.requires_grad_(flag)
        model.eval()
    return history
