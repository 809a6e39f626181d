"""Unit 05 — scoring the mini video LLM on the suites with :mod:`videollm.eval`, against the random and blind
baselines.

Lecture: `lectures/05_llava_ov_qwen2_vl.ipynb` §12.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from videollm.choices import LETTERS
from videollm.eval.metrics import accuracy, m_avg, random_baseline, score
from videollm.eval.oracle import BlindModel
from videollm.eval.report import build_report
from videollm.vlm.mini.batches import encode, option_batch, option_scores, to_device, video_pixels
from videollm.vlm.mini.model import SUITE_NAMES, MiniVLMConfig
from videollm.world.qa_frames import frame_set
from videollm.world.suites import load_questions


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
        batch = to_device(option_batch(enc, idx, pixels, grid_thw, tok.pad_token_id, processor.video_token_id), device)
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
