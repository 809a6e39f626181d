"""Unit 05 — training the mini video LLM, and its cached checkpoint (:func:`videollm.cache.load_or_train`).

Lecture: `lectures/05_llava_ov_qwen2_vl.ipynb` §12.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from videollm.cache import cached, load_or_train
from videollm.vlm import inference as vlm
from videollm.vlm.mini.batches import encode, option_batch, option_lengths, option_scores, to_device, video_pixels
from videollm.vlm.mini.data import training_data
from videollm.vlm.mini.model import MiniVLMConfig, build_model, spec


CHECKPOINT_NAME = "mini_vlm"


def train(model, processor, frames: torch.Tensor, records: Sequence[dict], steps: int = 300,
          batch_size: int = 16, lr: float = 3e-3, weight_decay: float = 0.01, warmup: int = 20, seed: int = 0,
          lm_weight: float = 0.0, device=None, progress: bool = False, log_every: int = 0) -> dict[str, list]:
    """Train ``model`` in place by cross-entropy over each question's option scores (:func:`option_scores`)
    plus ``lm_weight`` times the mean per-token NLL of the right option (the loss touches answer tokens only).

    Args:
        frames: ``(N, T, 3, H, W)`` uint8, the videos of ``records`` (same order).
        records: question dicts with ``question``, ``options``, ``answer``.
        steps, batch_size, lr, weight_decay, warmup: AdamW, linear warm-up then cosine decay to 10%.
        seed: batch order (the weights' initialisation is :func:`build_model`'s).
        progress: a progress bar; log_every: print the mean loss every that many steps to stderr (0: never).

    Returns:
        dict of per-step lists: ``step``, ``loss`` (mean cross-entropy over the batch's questions), ``accuracy``
        (share of the batch's questions whose right option scored best), ``seconds`` (since the start).
    """
    if frames.ndim != 5 or frames.dtype != torch.uint8:
        raise ValueError(f"frames must be (N, T, 3, H, W) uint8; got {tuple(frames.shape)} {frames.dtype}")
    if len(frames) != len(records):
        raise ValueError(f"{len(frames)} videos for {len(records)} records")
    if steps < 0 or batch_size < 1:
        raise ValueError(f"steps must be >= 0 and batch_size >= 1; got {steps}, {batch_size}")
    device = torch.device(device) if device is not None else model.device
    model.to(device).train()
    _, grid = video_pixels(processor, frames[:1])
    enc = encode(processor, records, grid[0].tolist())
    tok = processor.tokenizer
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.98))

    def schedule(step):
        if step < warmup:
            return (step + 1) / warmup
        progress_ = (step - warmup) / max(1, steps - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress_))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(records), generator=g)
    cursor = 0
    history: dict[str, list] = {"step": [], "loss": [], "accuracy": [], "seconds": []}
    start = time.perf_counter()
    for step in tqdm(range(steps), desc="training mini VLM", disable=not progress, leave=False):
        if cursor + batch_size > len(order):
            order, cursor = torch.randperm(len(records), generator=g), 0
        idx = order[cursor:cursor + batch_size].tolist()
        cursor += batch_size
        pixels, grid_thw = video_pixels(processor, frames[idx])
        batch = to_device(option_batch(enc, idx, pixels, grid_thw, tok.pad_token_id, processor.video_token_id), device)
        scores = option_scores(model, batch)
        loss = F.cross_entropy(scores, batch["answer"])
        if lm_weight:
            right = scores.gather(1, batch["answer"][:, None]).squeeze(1)
            length = option_lengths(batch).gather(1, batch["answer"][:, None]).squeeze(1)
            loss = loss + lm_weight * (-right / length).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        history["step"].append(step)
        history["loss"].append(float(loss.detach()))
        history["accuracy"].append(float((scores.argmax(-1) == batch["answer"]).float().mean()))
        history["seconds"].append(time.perf_counter() - start)
        if log_every and (step + 1) % log_every == 0:
            print(f"step {step + 1}/{steps}: loss {np.mean(history['loss'][-log_every:]):.3f}, batch accuracy "
                  f"{np.mean(history['accuracy'][-log_every:]):.0%}, {history['seconds'][-1]:.0f} s",
                  file=sys.stderr, flush=True)
    model.eval()
    return history


def train_config(config: MiniVLMConfig = MiniVLMConfig(), device="cpu", progress: bool = False):
    """Build and train the model of ``config`` on its training questions: ``((model, processor), history)``."""
    frames, records = training_data(config, "train", progress=progress)
    model, processor = build_model(config, device)
    history = train(model, processor, frames, records, steps=config.steps, batch_size=config.batch_size,
                    lr=config.lr, weight_decay=config.weight_decay, warmup=config.warmup, seed=config.seed,
                    lm_weight=config.lm_weight, device=device, progress=progress)
    return (model, processor), history


def _save(artifact, folder: Path) -> None:
    model, processor = artifact
    model.save_pretrained(folder)
    processor.save_pretrained(folder)


def _loader(device):
    return lambda folder: vlm.load_model("qwen2_vl", checkpoint=folder, device=device)


def _with_meta(artifact, meta: dict, config: MiniVLMConfig):
    model, processor = artifact
    model.meta, model.mini_vlm_config = meta, config
    return model.eval(), processor


def cached_model(config: MiniVLMConfig = MiniVLMConfig(), device="cpu"):
    """``(model, processor)`` if the checkpoint of ``config`` is cached, else None (nothing is trained)."""
    found = cached(CHECKPOINT_NAME, spec(config), _loader(device))
    return None if found is None else _with_meta(*found, config)


def pretrained(config: MiniVLMConfig = MiniVLMConfig(), device="cpu", retrain: bool = False, progress: bool = True):
    """The course's trained mini video LLM: ``(model, processor)``, loaded from the cache if there is a checkpoint
    of ``config``, else trained (about three minutes on a 2-core CPU) and cached
    (:func:`videollm.cache.load_or_train`). The folder is a ``save_pretrained`` one, so
    ``vlm.load_model("qwen2_vl", checkpoint=model.meta["path"])`` loads it too.

    The model has ``meta`` (``history``, ``seconds``, ``path``, ``cached``) and ``mini_vlm_config`` attributes.
    """
    def fit():
        artifact, history = train_config(config, device, progress=progress)
        return artifact, {"history": history, "device": str(device), "threads": torch.get_num_threads()}

    artifact, meta = load_or_train(CHECKPOINT_NAME, spec(config), fit, _save, _loader(device), retrain=retrain)
    return _with_meta(artifact, meta, config)
