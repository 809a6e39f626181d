"""Unit 05 — option scoring on the real Qwen2-VL forward: prompts, one row per (question, option), and the summed
log-probability of each option's tokens given the video and the question.

Lecture: `lectures/05_llava_ov_qwen2_vl.ipynb` §12.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from videollm.choices import LETTERS
from videollm.eval.likelihood import answer_log_likelihood, option_table
from videollm.vlm import inference as vlm


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


def reply_batch(processor, prompts: Sequence[str], replies: Sequence[str], pixel_values: torch.Tensor,
                grid_thw: torch.Tensor) -> dict[str, Any]:
    """Model inputs for learning to write ``replies[i]`` after ``prompts[i]`` (a chat prompt holding one video
    placeholder, :func:`videollm.vlm.inference.chat_prompt`) about video ``i``, right-padded.

    Returns:
        dict with ``input_ids``, ``attention_mask``, ``mm_token_type_ids``, ``labels`` (B, L) (-100 except on
        each reply's tokens and its ``<|im_end|>``: the real forward's language-modelling loss then covers the
        replies only), ``pixel_values_videos`` and ``video_grid_thw``.
    """
    tok = processor.tokenizer
    merge = processor.video_processor.merge_size
    end = tok.convert_tokens_to_ids("<|im_end|>")
    rows, labels = [], []
    for prompt, text, grid in zip(prompts, replies, grid_thw.tolist()):
        n = int(np.prod(grid)) // merge ** 2
        prefix = tok(prompt.replace(processor.video_token, processor.video_token * n),
                     add_special_tokens=False).input_ids
        reply = tok(text, add_special_tokens=False).input_ids + [end]
        rows.append(prefix + reply)
        labels.append([-100] * len(prefix) + reply)
    L = max(map(len, rows))
    ids = torch.full((len(rows), L), tok.pad_token_id, dtype=torch.long)
    target = torch.full((len(rows), L), -100, dtype=torch.long)
    mask = torch.zeros((len(rows), L), dtype=torch.long)
    for r, (row, lab) in enumerate(zip(rows, labels)):
        ids[r, :len(row)], target[r, :len(row)], mask[r, :len(row)] = torch.tensor(row), torch.tensor(lab), 1
    return {"input_ids": ids, "attention_mask": mask, "labels": target,
            "mm_token_type_ids": (ids == processor.video_token_id).long() * 2,
            "pixel_values_videos": pixel_values, "video_grid_thw": grid_thw}


def letter_prompt(processor, record: dict) -> str:
    """The prompt a real video LLM is given for a multiple-choice question: the video, the question, the lettered
    options and :data:`videollm.vlm.inference.ANSWER_INSTRUCTION` (its reply is parsed by
    :mod:`videollm.eval.parsing`)."""
    return vlm.chat_prompt(processor, record["question"], record["options"], video=True)


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


def shared_video_features(model, pixel_values: torch.Tensor, grid_thw: torch.Tensor, rows: torch.Tensor):
    """The vision tower's output for ``len(grid_thw)`` videos, run once each (``model.model.get_video_features``),
    with one entry of ``pooler_output`` per text row: row ``r`` gets video ``rows[r]``'s tokens. Pass it to the
    real forward as ``mm_encoder_outputs={"video": ...}`` for rows that share videos (options, candidate
    captions), so that the tower does not run once per row."""
    video = model.model.get_video_features(pixel_values, grid_thw, return_dict=True)
    per_video = video.pooler_output
    video.pooler_output = tuple(per_video[v] for v in rows.tolist())
    return video


def option_scores(model, batch: dict[str, Any]) -> torch.Tensor:
    """``(B, k_max)`` summed log-probabilities of each option's tokens given the video and the question
    (``-inf`` where a question has fewer options).

    The videos go through ``model.model.get_video_features`` once per question; the features are handed to the
    real forward as ``mm_encoder_outputs`` (one copy per option row), and ``logits_to_keep`` limits the LM head
    to the option positions.
    """
    video = shared_video_features(model, batch["pixel_values_videos"], batch["question_grid_thw"],
                                  batch["row_question"])
    keep = batch["keep"]
    logits = model(**batch["inputs"], mm_encoder_outputs={"video": video}, logits_to_keep=keep).logits
    row_scores = answer_log_likelihood(logits, batch["target"])  # (R,)
    return option_table(row_scores, batch["row_question"], batch["row_option"], len(batch["answer"]))


def option_lengths(batch: dict[str, Any]) -> torch.Tensor:
    """``(B, k_max)`` number of scored tokens of each option (1 where a question has fewer options)."""
    n = (batch["target"][:, 1:] >= 0).sum(-1)
    B, k = len(batch["answer"]), int(batch["num_options"].max())
    out = torch.ones((B, k), dtype=n.dtype, device=n.device)
    return out.index_put((batch["row_question"].to(n.device), batch["row_option"].to(n.device)), n)


def to_device(batch: dict[str, Any], device) -> dict[str, Any]:
    out = dict(batch)
    out["inputs"] = {k: v.to(device) for k, v in batch["inputs"].items()}
    for key in ("pixel_values_videos", "question_grid_thw", "target", "answer", "row_question", "row_option"):
        out[key] = batch[key].to(device)
    return out
