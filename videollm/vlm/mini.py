"""The mini video LLM: a tiny ``Qwen2VLForConditionalGeneration`` trained from scratch on the course's suites.

The proof that the whole stack works end to end: transformers' real Qwen2-VL class (vision tower, 2x2 patch
merger, M-RoPE decoder) with the course's offline tokenizer and processor (:mod:`videollm.vlm.inference`), trained on the
*training* split of the three benchmark suites on a CPU in about three minutes, and scored on their held-out *test*
split with :mod:`videollm.eval` against the random baseline.

How it answers: **option scoring by likelihood**. For a question with options ``o_1 .. o_k`` the model reads the
chat prompt (the video placeholders, then the question) and, as the assistant's reply, each option text in turn;
the score of option ``j`` is the summed log-probability of its tokens (and ``<|im_end|>``), and the prediction is
the best-scoring option's letter. Training maximises the softmax over the ``k`` option scores of the right one
(cross-entropy over options; the loss touches the answer tokens only). A tiny model trained for minutes cannot
learn to bind lettered options to letters inside the prompt; scoring the option texts lets it learn the visual
mapping directly (video -> "red", "a cat", "3"), which is what the questions test.

Frames come from :func:`videollm.world.qa_frames.frame_set` (``num_frames`` uniformly sampled, ``size`` pixels) and go
through the real ``Qwen2VLVideoProcessor``. Everything that decides the weights is in :class:`MiniVLMConfig`; the
trained model is cached (:func:`videollm.cache.load_or_train`) as a ``save_pretrained`` folder
``data_dir()/checkpoints/mini_vlm-<hash>/``, so ``vlm.load_model("qwen2_vl", checkpoint=that folder)`` also loads it.

Measured (default config, 300 steps: 72 s of training on a 2-core CPU; evaluation of all three test splits about
15 s). Test split, headline metric in %, against the random baseline and the blind (question-only) baseline of
:mod:`videollm.eval.oracle`:

=============  ==========  ========  ======  =====  ==========================================================
suite          metric      mini VLM  random  blind  per task (mini VLM / random)
=============  ==========  ========  ======  =====  ==========================================================
``videomme``   accuracy    22.9      25.0    22.2   counting 22.9, attribute 25.0, temporal 25.0, ocr 16.7,
                                                    action 20.8, subtitle 27.1 (/ 25.0 each)
``perception`` accuracy    32.1      33.3    33.3   memory 32.5, physics 35.0, counting 28.7 (/ 33.3)
``mlvu``       M-Avg       30.0      16.7    18.0   count 14.0, order 22.0, needle 18.0, **topic 66.0** (/ 16.7)
=============  ==========  ========  ======  =====  ==========================================================

95% bootstrap intervals (``evaluate`` prints them per suite and task): Video-MME 17.7-27.8, PerceptionTest
26.2-37.9, MLVU M-Avg 24.5-36.0: it beats random clearly on MLVU only, through the one task whose answer fills the
frame (the background). What was tried to do better, and how it came out, is in
``docs/experiments/05_mini_vlm.md``.

Command line (``make data`` should run the first)::

    $ python -m videollm.vlm.mini build [--force]
    $ python -m videollm.vlm.mini info
    $ python -m videollm.vlm.mini evaluate [--split test] [--tasks]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from videollm.cache import cached, checkpoint_dir, data_dir, load_or_train, spec_hash
from videollm.choices import LETTERS
from videollm.eval.metrics import accuracy, m_avg, random_baseline, score
from videollm.eval.oracle import BlindModel
from videollm.eval.report import build_report
from videollm.offline import set_offline
from videollm.vlm import inference as vlm
from videollm.world import text_tokenizer as tt
from videollm.world.qa_frames import QA_FRAMES_VERSION, cached_frames, frame_set
from videollm.world.suites import generate, load_questions
from videollm.world.text_tokenizer import course_tokenizer

set_offline()

#: Bump when the model, the data or the training loop change what a config trains to.
MODEL_VERSION = 1
CHECKPOINT_NAME = "mini_vlm"
SUITE_NAMES = ("videomme", "perception", "mlvu")


@dataclass(frozen=True)
class MiniVLMConfig:
    """Everything that decides the trained weights (hashed into the checkpoint key).

    Attributes:
        suites: training questions come from the ``train`` split of these suites.
        tasks: train only on questions of these tasks (None: all); evaluation always covers every task.
        extra_draws: how many fresh draws of each suite's training split to add (same generators, new scenes;
            the test split is never drawn from).
        num_frames, size: frames per question and their ``(height, width)`` (``videollm.world.qa_frames``).
        hidden, layers, heads, mlp: the Qwen2 text decoder (head_dim = hidden / heads; M-RoPE sections split
            head_dim / 2 into t, h, w).
        vision_dim, vision_depth, vision_heads, patch_size, merge: the Qwen2-VL vision tower (patches of
            ``patch_size`` pixels, 2 frames per temporal patch, ``merge x merge`` patches merged into one LLM
            token: a 56x56 frame pair is 8x8 patches of 7 pixels and (8/2)^2 = 16 tokens, 8 frames 64 tokens;
            ``merge=4`` gives 16 tokens a clip, and learned the topic task in some runs only).
        steps, batch_size, lr, weight_decay, warmup: AdamW with linear warm-up and cosine decay; a batch is
            ``batch_size`` questions (all their options).
        lm_weight: weight of the language-modelling loss on the right option's tokens (mean NLL per token),
            added to the cross-entropy over option scores.
        seed: weights and batch order.
    """

    suites: tuple[str, ...] = SUITE_NAMES
    tasks: tuple[str, ...] | None = None
    extra_draws: int = 0
    num_frames: int = 8
    size: tuple[int, int] = (56, 56)
    hidden: int = 96
    layers: int = 2
    heads: int = 4
    mlp: int = 192
    vision_dim: int = 48
    vision_depth: int = 2
    vision_heads: int = 2
    patch_size: int = 7
    merge: int = 2
    steps: int = 300
    batch_size: int = 16
    lr: float = 3e-3
    weight_decay: float = 0.01
    warmup: int = 20
    lm_weight: float = 0.0
    seed: int = 0


def _mrope_section(head_dim: int) -> list[int]:
    half = head_dim // 2
    t = half // 3
    h = (half - t) // 2
    return [t, h, half - t - h]


def spec(config: MiniVLMConfig = MiniVLMConfig()) -> dict:
    """What decides the trained weights: the config, :data:`MODEL_VERSION`, the tokenizer's corpus and the frame
    renderer's version (its hash keys the checkpoint)."""
    return {"version": MODEL_VERSION, "config": config, "qa_frames": QA_FRAMES_VERSION,
            "tokenizer": tt.corpus_hash(tt.corpus())}


def build_model(config: MiniVLMConfig = MiniVLMConfig(), device="cpu"):
    """``(model, processor)``: an untrained tiny ``Qwen2VLForConditionalGeneration`` for ``config`` (weights from
    ``torch.manual_seed(config.seed)``, the caller's random state untouched) and its processor."""
    if config.hidden % config.heads or (config.hidden // config.heads) % 2:
        raise ValueError(f"hidden ({config.hidden}) must split into {config.heads} heads of even size")
    tok = course_tokenizer()
    text = dict(hidden_size=config.hidden, num_hidden_layers=config.layers, num_attention_heads=config.heads,
                num_key_value_heads=config.heads, intermediate_size=config.mlp,
                rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                 "mrope_section": _mrope_section(config.hidden // config.heads)})
    vision = dict(embed_dim=config.vision_dim, depth=config.vision_depth, num_heads=config.vision_heads,
                  hidden_size=config.hidden, patch_size=config.patch_size, mlp_ratio=2,
                  spatial_merge_size=config.merge)
    model_config = vlm.tiny_config("qwen2_vl", tokenizer=tok, text_config=text, vision_config=vision)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = vlm._model_class("qwen2_vl")(model_config)
    processor = vlm.tiny_processor("qwen2_vl", model_config, tokenizer=tok)
    return model.to(device), processor


# ----------------------------------------------------------------------------------------------------------------
# Data: prompts, option rows, batches


def prompt_text(processor, question: str) -> str:
    """The chat prompt of a question for option scoring: the video placeholder, then the question (no lettered
    options: the options are the replies being scored)."""
    return vlm.chat_prompt(processor, question, None, video=True, instruction=None)


@dataclass
class Encoded:
    """Token ids of questions and options, ready for :func:`option_batch`.

    ``prefix[i]``: ids of question ``i``'s prompt with the video placeholder expanded to ``video_tokens``
    copies; ``options[i][j]``: ids of option ``j`` followed by ``<|im_end|>``; ``answer[i]``: the right option's
    index.
    """

    prefix: list[list[int]]
    options: list[list[list[int]]]
    answer: list[int]
    video_tokens: int


def encode(processor, records: Sequence[dict], grid_thw: Sequence[int]) -> Encoded:
    """Tokenise ``records`` for a video grid ``(t, h, w)`` (patches before the merge)."""
    tok = processor.tokenizer
    merge = processor.video_processor.merge_size
    n = int(np.prod(grid_thw)) // merge ** 2
    token = processor.video_token
    prefixes, options, answers = [], [], []
    end = tok.convert_tokens_to_ids("<|im_end|>")
    cache: dict[str, list[int]] = {}
    for r in records:
        q = r["question"]
        if q not in cache:
            cache[q] = tok(prompt_text(processor, q).replace(token, token * n), add_special_tokens=False).input_ids
        prefixes.append(cache[q])
        options.append([tok(o, add_special_tokens=False).input_ids + [end] for o in r["options"]])
        answers.append(LETTERS.index(r["answer"]) if "answer" in r else -1)
    return Encoded(prefixes, options, answers, n)


def video_pixels(processor, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``frames`` (B, T, 3, H, W) uint8 through the real video processor: ``pixel_values_videos``
    (B * t*h*w, 3 * 2 * p * p) float32 and ``video_grid_thw`` (B, 3)."""
    out = processor.video_processor(videos=list(frames), return_tensors="pt", do_sample_frames=False)
    return out["pixel_values_videos"], out["video_grid_thw"]


def option_batch(enc: Encoded, idx: Sequence[int], pixel_values: torch.Tensor, grid_thw: torch.Tensor,
                 pad_id: int, video_token_id: int) -> dict[str, Any]:
    """Model inputs with one row per (question, option) for questions ``idx``, left-padded so that every
    row ends with its option (the logits are then needed only for the last ``keep`` positions).

    Args:
        pixel_values, grid_thw: the ``len(idx)`` videos (:func:`video_pixels`), question order; each video goes
            through the vision tower once and its features are shared by the question's option rows.

    Returns:
        dict with ``inputs`` (``input_ids``, ``attention_mask``, ``mm_token_type_ids`` (R, L),
        ``video_grid_thw`` (R, 3): one grid per row, for the M-RoPE ids), ``pixel_values_videos`` and
        ``question_grid_thw`` (B, 3) (the videos, once each), ``target`` (R, keep) int64 (the option tokens,
        right-aligned, -100 before them), ``keep``, ``row_question`` (R,), ``row_option`` (R,), ``answer`` (B,)
        and ``num_options`` (B,).
    """
    rows, opts, row_q, row_o = [], [], [], []
    for b, i in enumerate(idx):
        for j, opt in enumerate(enc.options[i]):
            rows.append(enc.prefix[i] + opt)
            opts.append(opt)
            row_q.append(b)
            row_o.append(j)
    L = max(map(len, rows))
    keep = max(map(len, opts)) + 1  # the position before an option predicts its first token
    R = len(rows)
    ids = torch.full((R, L), pad_id, dtype=torch.long)
    target = torch.full((R, keep), -100, dtype=torch.long)
    mask = torch.zeros((R, L), dtype=torch.long)
    for r, (row, opt) in enumerate(zip(rows, opts)):
        ids[r, L - len(row):] = torch.tensor(row)
        mask[r, L - len(row):] = 1
        target[r, keep - len(opt):] = torch.tensor(opt)
    row_q_t = torch.tensor(row_q)
    inputs = {"input_ids": ids, "attention_mask": mask, "mm_token_type_ids": (ids == video_token_id).long() * 2,
              "video_grid_thw": grid_thw[row_q_t]}
    answer = torch.tensor([enc.answer[i] for i in idx])
    num_options = torch.tensor([len(enc.options[i]) for i in idx])
    return {"inputs": inputs, "pixel_values_videos": pixel_values, "question_grid_thw": grid_thw,
            "target": target, "keep": keep, "row_question": row_q_t, "row_option": torch.tensor(row_o),
            "answer": answer, "num_options": num_options}


def option_scores(model, batch: dict[str, Any]) -> torch.Tensor:
    """``(B, k_max)`` summed log-probabilities of each option's tokens given the video and the question
    (``-inf`` where a question has fewer options).

    The videos go through ``model.model.get_video_features`` once per question; the features are handed to the
    real forward as ``mm_encoder_outputs`` (one copy per option row), and ``logits_to_keep`` limits the LM head
    to the option positions.
    """
    video = model.model.get_video_features(batch["pixel_values_videos"], batch["question_grid_thw"],
                                           return_dict=True)
    per_question = video.pooler_output
    video.pooler_output = tuple(per_question[q] for q in batch["row_question"].tolist())
    keep = batch["keep"]
    logits = model(**batch["inputs"], mm_encoder_outputs={"video": video}, logits_to_keep=keep).logits
    logits = logits[:, :-1].float()  # (R, keep - 1, V): position p predicts token p + 1
    target = batch["target"][:, 1:]
    logp = torch.log_softmax(logits, dim=-1)
    picked = logp.gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1) * (target >= 0)
    row_scores = picked.sum(-1)
    B, k = len(batch["answer"]), int(batch["num_options"].max())
    scores = torch.full((B, k), float("-inf"), dtype=row_scores.dtype, device=row_scores.device)
    return scores.index_put((batch["row_question"].to(scores.device), batch["row_option"].to(scores.device)),
                            row_scores)


def option_lengths(batch: dict[str, Any]) -> torch.Tensor:
    """``(B, k_max)`` number of scored tokens of each option (1 where a question has fewer options)."""
    n = (batch["target"][:, 1:] >= 0).sum(-1)
    B, k = len(batch["answer"]), int(batch["num_options"].max())
    out = torch.ones((B, k), dtype=n.dtype, device=n.device)
    return out.index_put((batch["row_question"].to(n.device), batch["row_option"].to(n.device)), n)


def _to(batch: dict[str, Any], device) -> dict[str, Any]:
    out = dict(batch)
    out["inputs"] = {k: v.to(device) for k, v in batch["inputs"].items()}
    for key in ("pixel_values_videos", "question_grid_thw", "target", "answer", "row_question", "row_option"):
        out[key] = batch[key].to(device)
    return out


# ----------------------------------------------------------------------------------------------------------------
# Training


#: Seed codes of the extra training draws (far from the suites' own codes 1-3, so no test scene recurs).
EXTRA_CODE_BASE = 1000


def extra_draws(suite: str, draws: int, num_frames: int, size: tuple[int, int], progress: bool = False):
    """``(frames, records)`` of ``draws`` fresh, independent draws of ``suite``'s *train* split
    (:func:`videollm.world.suites.generate` with seed codes ``EXTRA_CODE_BASE + k``): the same
    generators, new scenes. Frames come from :func:`videollm.world.qa_frames.cached_frames` (only the sampled frames
    are drawn) and are cached in ``data_dir()/qa_frames/extra-*.npz``."""
    frames, records = [], []
    for k in range(draws):
        code = EXTRA_CODE_BASE + k
        recs = [dict(r, id=f"{r['id']}-x{code}", clip=f"{r['clip']}-x{code}") for r in generate(suite, "train", code)]
        spec = {"v": QA_FRAMES_VERSION, "suite": suite, "code": code, "n": num_frames, "size": list(size),
                "seeds": [r["seed"] for r in recs]}
        digest = spec_hash(spec)[:12]
        path = data_dir() / "qa_frames" / f"extra-{suite}-train-{code}-{num_frames}x{size[0]}x{size[1]}-{digest}.npz"
        x, _ = cached_frames(path, recs, num_frames, size, desc=f"drawing {suite} extra draw {k}", progress=progress)
        frames.append(torch.from_numpy(x).permute(0, 1, 4, 2, 3).contiguous())
        records.extend(recs)
    return frames, records


def training_data(config: MiniVLMConfig = MiniVLMConfig(), split: str = "train", progress: bool = False):
    """``(frames (N, T, 3, H, W) uint8, records)``: the questions of ``split`` of every suite in ``config``
    (:func:`videollm.world.qa_frames.frame_set`), plus, for ``split="train"``, ``config.extra_draws`` fresh draws of
    each suite's training split (:func:`extra_draws`)."""
    sets = [frame_set(s, split, config.num_frames, config.size, progress=progress) for s in config.suites]
    frames, records = [s.frames for s in sets], [r for s in sets for r in s.records]
    if split == "train" and config.extra_draws:
        for suite in config.suites:
            f, r = extra_draws(suite, config.extra_draws, config.num_frames, config.size, progress)
            frames.extend(f)
            records.extend(r)
    frames = torch.cat(frames)
    if split == "train" and config.tasks is not None:
        keep = [i for i, r in enumerate(records) if r["task"] in set(config.tasks)]
        frames, records = frames[keep], [records[i] for i in keep]
    return frames, records


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
    from tqdm.auto import tqdm

    for step in tqdm(range(steps), desc="training mini VLM", disable=not progress, leave=False):
        if cursor + batch_size > len(order):
            order, cursor = torch.randperm(len(records), generator=g), 0
        idx = order[cursor:cursor + batch_size].tolist()
        cursor += batch_size
        pixels, grid_thw = video_pixels(processor, frames[idx])
        batch = _to(option_batch(enc, idx, pixels, grid_thw, tok.pad_token_id, processor.video_token_id), device)
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
    """Build and train the model of ``config`` on its training questions: ``(model, processor, history)``."""
    frames, records = training_data(config, "train", progress=progress)
    model, processor = build_model(config, device)
    history = train(model, processor, frames, records, steps=config.steps, batch_size=config.batch_size,
                    lr=config.lr, weight_decay=config.weight_decay, warmup=config.warmup, seed=config.seed,
                    lm_weight=config.lm_weight, device=device, progress=progress)
    return model, processor, history


# ----------------------------------------------------------------------------------------------------------------
# Prediction and evaluation


@torch.no_grad()
def predict(model, processor, frames: torch.Tensor, records: Sequence[dict], batch_size: int = 16,
            device=None) -> list[dict]:
    """Predictions for ``records`` from their videos ``frames`` (N, T, 3, H, W) uint8: one dict per record with
    ``id``, ``prediction`` (the best option's letter) and ``scores`` (the option log-likelihoods)."""
    if len(frames) != len(records):
        raise ValueError(f"{len(frames)} videos for {len(records)} records")
    device = torch.device(device) if device is not None else model.device
    was_training = model.training
    model.eval()
    if not len(records):
        return []
    _, grid = video_pixels(processor, frames[:1])
    enc = encode(processor, records, grid[0].tolist())
    tok = processor.tokenizer
    out = []
    for lo in range(0, len(records), batch_size):
        idx = list(range(lo, min(lo + batch_size, len(records))))
        pixels, grid_thw = video_pixels(processor, frames[idx])
        batch = _to(option_batch(enc, idx, pixels, grid_thw, tok.pad_token_id, processor.video_token_id), device)
        scores = option_scores(model, batch).cpu()
        for b, i in enumerate(idx):
            k = len(records[i]["options"])
            out.append({"id": records[i]["id"], "prediction": LETTERS[int(scores[b, :k].argmax())],
                        "scores": [round(float(s), 4) for s in scores[b, :k]]})
    model.train(was_training)
    return out


def _predictions(model, processor, suite: str, split: str, tasks: Sequence[str] | None,
                 config: MiniVLMConfig | None, device) -> tuple[list[dict], list[dict]]:
    """``(questions, predictions)`` of ``suite``/``split`` on the frames the model was trained on."""
    config = config or getattr(model, "mini_vlm_config", None) or MiniVLMConfig()
    fs = frame_set(suite, split, config.num_frames, config.size, tasks=tasks, progress=False)
    return fs.records, predict(model, processor, fs.frames, fs.records, device=device)


def evaluate(model, processor, suite: str, split: str = "test", tasks: Sequence[str] | None = None,
             config: MiniVLMConfig | None = None, device=None) -> list[dict]:
    """Score the model on ``suite``/``split``: the records of :func:`videollm.eval.metrics.score` (one per
    question, with ``correct``, ``task``, ``num_options``, ...), ready for ``accuracy``, ``m_avg``,
    ``accuracy_table``.

    Frames are those the model was trained on (``config``'s ``num_frames`` and ``size``; default: the model's
    ``mini_vlm_config`` attribute, else :class:`MiniVLMConfig`).
    """
    return score(*_predictions(model, processor, suite, split, tasks, config, device))


def suite_metric(records: Sequence[dict]) -> tuple[str, float]:
    """The suite's headline metric: ``("m_avg", M-Avg)`` for MLVU, else ``("accuracy", accuracy)``, in %."""
    if records and records[0].get("suite") == "mlvu":
        return "m_avg", float(m_avg(records))
    return "accuracy", float(accuracy(records))


def random_metric(questions: Sequence[dict]) -> float:
    """The random baseline on the suite's headline metric (for M-Avg: the mean over tasks of the per-task
    expected accuracy)."""
    if questions and questions[0].get("suite") == "mlvu":
        tasks = sorted({q["task"] for q in questions})
        return float(np.mean([random_baseline([q for q in questions if q["task"] == t]) for t in tasks]))
    return float(random_baseline(questions))


def results_table(model, processor, split: str = "test", suites: Sequence[str] = SUITE_NAMES,
                  per_task: bool = True, n_boot: int = 2000, seed: int = 0) -> tuple[list[dict], str]:
    """Evaluate on every suite: ``(rows, markdown)``; a row per suite (and per task) with the model's score, its
    95% bootstrap interval ``ci`` (:func:`videollm.eval.report.build_report`; stratified by task for M-Avg), the
    random baseline and the blind (question-only) baseline of :mod:`videollm.eval.oracle`. A model beats
    chance clearly where the whole interval lies above the random baseline."""

    rows = []
    for suite in suites:
        questions, predictions = _predictions(model, processor, suite, split, None, None, None)
        report = build_report(questions, predictions, suite, split, by="task", bootstrap=True, n_boot=n_boot,
                              seed=seed)
        blind = score(questions, {q: {"prediction": p} for q, p in
                                  BlindModel().fit(load_questions(suite, "train")).predictions(questions).items()})
        metric = "m_avg" if "m_avg" in report else "accuracy"  # the report has an M-Avg for MLVU only
        headline = report["m_avg"] if metric == "m_avg" else report["overall"]
        rows.append({"suite": suite, "task": "all", "metric": metric, "n": len(questions),
                     "model": float(headline["accuracy"]), "ci": tuple(headline["ci"]),
                     "random": random_metric(questions), "blind": suite_metric(blind)[1]})
        if per_task:
            by_task = {row["task"]: row for row in report["rows"]}
            for task in dict.fromkeys(q["task"] for q in questions):  # in the suite's own order
                row = by_task[task]
                rows.append({"suite": suite, "task": task, "metric": "accuracy", "n": row["n"],
                             "model": float(row["accuracy"]), "ci": tuple(row["ci"]), "random": float(row["chance"]),
                             "blind": float(accuracy([r for r in blind if r["task"] == task]))})
    lines = ["| suite | task | metric | n | mini VLM | 95% CI | random | blind |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['suite']} | {r['task']} | {r['metric']} | {r['n']} | {r['model']:.1f} | "
                     f"{r['ci'][0]:.1f}–{r['ci'][1]:.1f} | {r['random']:.1f} | {r['blind']:.1f} |")
    return rows, "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------------
# The cached checkpoint


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
        model, processor, history = train_config(config, device, progress=progress)
        return (model, processor), {"history": history, "device": str(device), "threads": torch.get_num_threads()}

    artifact, meta = load_or_train(CHECKPOINT_NAME, spec(config), fit, _save, _loader(device), retrain=retrain)
    return _with_meta(artifact, meta, config)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m videollm.vlm.mini",
                                     description="The course's mini video LLM (a tiny Qwen2-VL, unit 05).")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="train and cache the checkpoint unless a matching one exists")
    build.add_argument("--force", action="store_true", help="train again even if the checkpoint matches")
    build.add_argument("--device", default="cpu", help="cpu, cuda, ... (default cpu)")
    build.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own)")
    sub.add_parser("info", help="where the checkpoint of the current config is and whether it is cached")
    ev = sub.add_parser("evaluate", help="score the (cached) model on every suite against random and blind")
    ev.add_argument("--split", default="test", choices=("train", "val", "test"))
    ev.add_argument("--no-tasks", action="store_true", help="one row per suite only")
    ev.add_argument("--device", default="cpu")
    ev.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own)")
    args = parser.parse_args(argv)
    config = MiniVLMConfig()
    if args.command == "info":
        found = cached(CHECKPOINT_NAME, spec(config), lambda folder: None)
        print(f"{checkpoint_dir(CHECKPOINT_NAME, spec(config))}: {'cached' if found else 'absent'}")
        if found is not None and found[1].get("history"):
            meta, h = found[1], found[1]["history"]
            print(f"trained {len(h['step'])} steps in {meta['seconds']:.0f} s; final loss "
                  f"{np.mean(h['loss'][-20:]):.3f}, batch accuracy {np.mean(h['accuracy'][-20:]):.0%}")
        return 0
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: no CUDA device is available here; use --device cpu")
    if args.threads:
        torch.set_num_threads(args.threads)
    model, processor = pretrained(config, device=args.device, retrain=getattr(args, "force", False))
    trained = "cached" if model.meta["cached"] else f"trained in {model.meta['seconds']:.0f} s"
    print(f"{model.meta['path']} ({trained})")
    if args.command == "evaluate":
        _, table = results_table(model, processor, args.split, per_task=not args.no_tasks)
        print(table)
    return 0


__all__ = ["EXTRA_CODE_BASE", "MODEL_VERSION", "MiniVLMConfig", "build_model", "cached_model", "encode", "evaluate",
           "extra_draws", "main", "option_batch", "option_lengths", "option_scores", "predict", "pretrained",
           "prompt_text", "random_metric", "results_table", "spec", "suite_metric", "train", "train_config",
           "training_data", "video_pixels"]


if __name__ == "__main__":
    raise SystemExit(main())
