"""Unit 05 — training the mini video LLM, and its cached checkpoint (:func:`videollm.cache.load_or_train`).

Lecture: `lectures/05_llava_ov_qwen2_vl.ipynb` §12.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from videollm.cache import cached, load_or_train
from videollm.vlm import inference as vlm
from videollm.vlm.mini.batches import (encode, letter_prompt, option_batch, option_lengths, option_scores, reply_batch,
                                      to_device, video_pixels)
from videollm.vlm.mini.align import align
from videollm.vlm.mini.data import fixed_batches, stream, training_data
from videollm.vlm.mini.model import MiniVLMConfig, build_model, spec
from videollm.vlm.mini.optim import cosine_schedule, optimizer_step
from videollm.vlm.mini.sight import vision_stage


CHECKPOINT_NAME = "mini_vlm"


def train(model, processor, batches: Iterable, steps: int = 300, lr: float = 3e-3, weight_decay: float = 0.01,
          warmup: int = 20, vision_lr: float = 0.1, lm_weight: float = 0.0, letter_weight: float = 1.0, device=None,
          progress: bool = False, log_every: int = 0) -> dict[str, list]:
    """Stage 3, instruction tuning: train ``model`` in place by cross-entropy over each question's option scores
    (:func:`option_scores`) plus ``lm_weight`` times the mean per-token NLL of the right option (the loss touches
    answer tokens only), plus ``letter_weight`` times the language-modelling loss of replying with the right
    option's letter to the prompt a real video LLM is given (:func:`~videollm.vlm.mini.batches.letter_prompt`:
    lettered options and the answer instruction), so that the model can also answer by generation.

    Args:
        batches: an iterator of batches with ``frames`` ``(B, T, 3, H, W)`` uint8 and ``records`` (question dicts
            with ``question``, ``options``, ``answer``): :func:`videollm.vlm.mini.data.stream` (fresh scenes) or
            :func:`videollm.vlm.mini.data.fixed_batches`; ``steps`` of them are used.
        steps, lr, weight_decay, warmup: AdamW, linear warm-up then cosine decay to 10%.
        vision_lr: the vision tower's blocks learn at ``vision_lr * lr`` (LLaVA-OneVision's lower rate for a
            pre-trained tower); the merger and the language model at ``lr``.
        progress: a progress bar; log_every: print the mean loss every that many steps to stderr (0: never).

    Returns:
        dict of per-step lists: ``step``, ``loss`` (the whole loss: the cross-entropy over option scores plus the
        weighted terms), ``accuracy``
        (share of the batch's questions whose right option scored best), ``seconds`` (since the start).
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0; got {steps}")
    device = torch.device(device) if device is not None else model.device
    model.to(device).train()
    tok = processor.tokenizer
    tower = {id(p) for n, p in model.model.visual.named_parameters() if not n.startswith("merger.")}
    groups = {(id(p) in tower, p.ndim >= 2): [] for p in model.parameters()}
    for p in model.parameters():
        groups[(id(p) in tower, p.ndim >= 2)].append(p)
    opt = torch.optim.AdamW([{"params": ps, "lr": lr * (vision_lr if vision else 1.0),
                              "weight_decay": weight_decay if decay else 0.0}
                             for (vision, decay), ps in groups.items()], lr=lr, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, cosine_schedule(steps, warmup))
    history: dict[str, list] = {"step": [], "loss": [], "accuracy": [], "seconds": []}
    start = time.perf_counter()
    for step, batch in zip(tqdm(range(steps), desc="stage 3: instructions", disable=not progress, leave=False),
                           batches):
        frames, records = batch.frames, batch.records
        if frames.ndim != 5 or frames.dtype != torch.uint8:
            raise ValueError(f"frames must be (B, T, 3, H, W) uint8; got {tuple(frames.shape)} {frames.dtype}")
        if len(frames) != len(records):
            raise ValueError(f"{len(frames)} videos for {len(records)} records")
        pixels, grid_thw = video_pixels(processor, frames)
        enc = encode(processor, records, grid_thw[0].tolist())
        batch = to_device(option_batch(enc, range(len(records)), pixels, grid_thw, tok.pad_token_id,
                                       processor.video_token_id), device)
        scores = option_scores(model, batch)
        loss = F.cross_entropy(scores, batch["answer"])
        if lm_weight:
            right = scores.gather(1, batch["answer"][:, None]).squeeze(1)
            length = option_lengths(batch).gather(1, batch["answer"][:, None]).squeeze(1)
            loss = loss + lm_weight * (-right / length).mean()
        if letter_weight:
            letters = reply_batch(processor, [letter_prompt(processor, r) for r in records],
                                  [r["answer"] for r in records], pixels, grid_thw)
            loss = loss + letter_weight * model(**{k: v.to(device) for k, v in letters.items()}).loss
        optimizer_step(loss, opt, sched, model.parameters())
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


def train_config(config: MiniVLMConfig = MiniVLMConfig(), device="cpu", progress: bool = False, workers: int = 1):
    """Build the model of ``config`` and train it in three stages, as LLaVA-OneVision and Qwen2-VL are trained,
    scaled down (:func:`train_stages`).

    Returns:
        ``((model, processor), history)``, ``history`` a dict of each stage's history (``sight``, ``align``,
        ``instruct``; a skipped stage is absent).
    """
    model, processor = build_model(config, device)
    return (model, processor), train_stages(model, processor, config, device, progress, workers)


def train_stages(model, processor, config: MiniVLMConfig, device="cpu", progress: bool = False, workers: int = 1,
                 through: Callable[[Iterator], Iterator] | None = None) -> dict[str, dict]:
    """Train ``model`` in place in the three stages of ``config``: (1) the vision tower on the world's per-patch
    labels (:func:`~videollm.vlm.mini.sight.vision_stage`), (2) alignment on detailed captions
    (:func:`~videollm.vlm.mini.align.align`), (3) instruction tuning on questions (:func:`train`), fresh scenes
    at every step unless ``config.fresh`` is False. ``workers`` background processes draw the scenes (the batches
    do not depend on their number). ``through``: applied to the batch iterators of stages 2 and 3 (e.g.
    :meth:`videollm.vlm.mini.diagnose.TruthEyes.showing`, to train through perfect eyes).

    Returns:
        each stage's history: ``sight``, ``align``, ``instruct`` (a skipped stage is absent).
    """
    through = through or (lambda batches: batches)
    history = {}
    if config.sight_steps:
        history["sight"] = vision_stage(model, processor, config, workers, device=device, progress=progress)
    if config.align_steps:
        history["align"] = align(model, processor,
                                 through(stream(config, config.align_batch, config.align_steps, "align", workers)),
                                 config.align_steps, lr=config.align_lr, device=device, progress=progress)
    if config.fresh:
        batches = stream(config, config.batch_size, config.steps, "instruct", workers, config.train_frames)
    else:
        batches = fixed_batches(*training_data(config, "train", progress=progress), config.batch_size, config.seed)
    history["instruct"] = train(model, processor, through(batches), steps=config.steps, lr=config.lr,
                                weight_decay=config.weight_decay, warmup=config.warmup, vision_lr=config.vision_lr,
                                lm_weight=config.lm_weight, letter_weight=config.letter_weight, device=device,
                                progress=progress)
    return history


def save_checkpoint(artifact, folder: Path) -> None:
    """Write a ``(model, processor)`` pair into ``folder`` as ``save_pretrained`` does (the mini VLM and any model
    fine-tuned from it)."""
    model, processor = artifact
    model.save_pretrained(folder)
    processor.save_pretrained(folder)


def checkpoint_loader(device):
    """``folder -> (model, processor)``: the inverse of :func:`save_checkpoint`, on ``device``."""
    return lambda folder: vlm.load_model("qwen2_vl", checkpoint=folder, device=device)


def _with_meta(artifact, meta: dict, config: MiniVLMConfig):
    model, processor = artifact
    model.meta, model.mini_vlm_config = meta, config
    return model.eval(), processor


def cached_model(config: MiniVLMConfig = MiniVLMConfig(), device="cpu"):
    """``(model, processor)`` if the checkpoint of ``config`` is cached, else None (nothing is trained)."""
    found = cached(CHECKPOINT_NAME, spec(config), checkpoint_loader(device))
    return None if found is None else _with_meta(*found, config)


def pretrained(config: MiniVLMConfig = MiniVLMConfig(), device="cpu", retrain: bool = False, progress: bool = True):
    """The course's trained mini video LLM: ``(model, processor)``, loaded from the cache if there is a checkpoint
    of ``config`` (or committed in ``data/weights``), else trained (about nine minutes on a 2-core CPU) and cached
    (:func:`videollm.cache.load_or_train`). The folder is a ``save_pretrained`` one, so
    ``vlm.load_model("qwen2_vl", checkpoint=model.meta["path"])`` loads it too.

    The model has ``meta`` (``history``, ``seconds``, ``path``, ``cached``) and ``mini_vlm_config`` attributes.
    """
    def fit():
        artifact, history = train_config(config, device, progress=progress)
        return artifact, {"history": history, "device": str(device), "threads": torch.get_num_threads()}

    artifact, meta = load_or_train(CHECKPOINT_NAME, spec(config), fit, save_checkpoint, checkpoint_loader(device),
                                   retrain=retrain)
    return _with_meta(artifact, meta, config)
