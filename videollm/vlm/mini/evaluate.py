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
from videollm.eval.oracle import BlindModel, frame_limited_predictions
from videollm.eval.report import build_report
from videollm.vlm.mini.batches import encode, letter_prompt, option_batch, option_scores, to_device, video_pixels
from videollm.vlm.mini.model import SUITE_NAMES, MiniVLMConfig
from videollm.world.qa_frames import decoded_frames, frame_set
from videollm.world.suites import SUITES, load_questions


@torch.no_grad()
def predict(model, processor, frames: torch.Tensor, records: Sequence[dict], batch_size: int = 16,
            device=None) -> list[dict]:
    """Predictions for ``records`` from their videos ``frames`` (N, T, 3, H, W) uint8: one dict per record with
    ``id``, ``prediction`` (the best option's letter) and ``scores`` (the option log-likelihoods)."""
    if len(frames) != len(records):
        raise ValueError(f"{len(frames)} videos for {len(records)} records")
    if not len(records):
        return []
    device = torch.device(device) if device is not None else model.device
    was_training = model.training
    model.eval()
    _, grid = video_pixels(processor, frames[:1])
    enc = encode(processor, records, grid[0].tolist())
    tok = processor.tokenizer
    out = []
    try:
        for lo in range(0, len(records), batch_size):
            idx = list(range(lo, min(lo + batch_size, len(records))))
            pixels, grid_thw = video_pixels(processor, frames[idx])
            batch = to_device(option_batch(enc, idx, pixels, grid_thw, tok.pad_token_id, processor.video_token_id),
                              device)
            scores = option_scores(model, batch).cpu()
            for b, i in enumerate(idx):
                k = len(records[i]["options"])
                out.append({"id": records[i]["id"], "prediction": LETTERS[int(scores[b, :k].argmax())],
                            "scores": [round(float(s), 4) for s in scores[b, :k]]})
    finally:
        model.train(was_training)
    return out


@torch.no_grad()
def generate(model, processor, frames: torch.Tensor, records: Sequence[dict], batch_size: int = 16,
             max_new_tokens: int = 8, device=None) -> list[dict]:
    """Answers written by the model: for each record the prompt a real video LLM gets (the video, the question,
    the lettered options and the answer instruction, :func:`~videollm.vlm.mini.batches.letter_prompt`), greedy
    ``model.generate``, and the reply decoded. One dict per record with ``id`` and ``response`` (the text), for
    :func:`videollm.eval.metrics.score` to parse as lmms-eval does."""
    if len(frames) != len(records):
        raise ValueError(f"{len(frames)} videos for {len(records)} records")
    device = torch.device(device) if device is not None else model.device
    was_training = model.training
    model.eval()
    tok = processor.tokenizer
    side, tok.padding_side = tok.padding_side, "left"  # generation appends on the right
    out = []
    try:
        for lo in range(0, len(records), batch_size):
            idx = list(range(lo, min(lo + batch_size, len(records))))
            videos = [frames[i].permute(0, 2, 3, 1).numpy() for i in idx]
            inputs = processor(text=[letter_prompt(processor, records[i]) for i in idx], videos=videos,
                               return_tensors="pt", padding=True, do_sample_frames=False).to(device)
            ids = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tok.pad_token_id)
            replies = tok.batch_decode(ids[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
            out.extend({"id": records[i]["id"], "response": text} for i, text in zip(idx, replies))
    finally:
        tok.padding_side = side
        model.train(was_training)
    return out


#: How the model answers: ``"scores"`` (the best option by likelihood) or ``"generate"`` (a written reply,
#: parsed by :mod:`videollm.eval.parsing`).
MODES = ("scores", "generate")


#: Where the frames come from: ``"frames"`` (drawn from the scene, :func:`videollm.world.qa_frames.frame_set`, cached)
#: or ``"video"`` (each clip rendered, encoded as H.264 and decoded by :mod:`videollm.io`, as a user's video).
SOURCES = ("frames", "video")


def _predictions(model, processor, suite: str, split: str, tasks: Sequence[str] | None,
                 config: MiniVLMConfig | None, device, mode: str = "scores",
                 num_frames: int | None = None, source: str = "frames") -> tuple[list[dict], list[dict]]:
    """``(questions, predictions)`` of ``suite``/``split`` on ``num_frames`` frames (default the config's) of the
    size the model was trained on, from ``source`` (:data:`SOURCES`)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}; got {source!r}")
    config = config or getattr(model, "mini_vlm_config", None) or MiniVLMConfig()
    count = config.num_frames if num_frames is None else int(num_frames)
    if count < 1:
        raise ValueError(f"num_frames must be at least 1; got {num_frames}")
    if tasks is not None and sorted(set(tasks) - set(SUITES[suite].tasks)):
        raise ValueError(f"{suite} has no task(s) {sorted(set(tasks) - set(SUITES[suite].tasks))}; its tasks are "
                         f"{SUITES[suite].tasks}")
    if source == "frames":
        fs = frame_set(suite, split, count, config.size, tasks=tasks, progress=False)
        records, frames = fs.records, fs.frames
    else:
        records = [r for r in load_questions(suite, split) if tasks is None or r["task"] in set(tasks)]
        decoded = [decoded_frames(r, count, config.size)[0] for r in records]
        frames = torch.from_numpy(np.stack(decoded)).permute(0, 1, 4, 2, 3).contiguous()
    answer = predict if mode == "scores" else generate
    return records, answer(model, processor, frames, records, device=device)


def evaluate(model, processor, suite: str, split: str = "test", tasks: Sequence[str] | None = None,
             config: MiniVLMConfig | None = None, device=None, mode: str = "scores",
             num_frames: int | None = None, source: str = "frames") -> list[dict]:
    """Score the model on ``suite``/``split``: the records of :func:`videollm.eval.metrics.score` (one per
    question, with ``correct``, ``task``, ``num_options``, ...), ready for ``accuracy``, ``m_avg``,
    ``accuracy_table``.

    Frames are those the model was trained on (``config``'s ``num_frames`` and ``size``; default: the model's
    ``mini_vlm_config`` attribute, else :class:`MiniVLMConfig`). ``mode``: ``"scores"`` (option likelihood,
    :func:`predict`) or ``"generate"`` (written replies through lmms-eval's parsers, :func:`generate`).
    ``num_frames``: another number of frames than the config's (the frames curve). ``source="video"`` reads each
    clip as a user's video (rendered, encoded, decoded by :mod:`videollm.io`; seconds per clip the first time).
    """
    return score(*_predictions(model, processor, suite, split, tasks, config, device, mode, num_frames, source))


def frames_curve(model, processor, counts: Sequence[int] = (4, 8, 16, 32, 64), split: str = "test",
                 suites: Sequence[str] = SUITE_NAMES, n_boot: int = 1000, seed: int = 0) -> list[dict]:
    """Accuracy against the number of input frames: for each suite and each count in ``counts``, the headline
    metric of option scoring with its 95% bootstrap interval, and the frame-limited oracle and random baseline
    with the same frames.

    Returns:
        list of dicts with ``suite``, ``frames``, ``model``, ``ci``, ``oracle``, ``random``.
    """
    rows = []
    for suite in suites:
        for count in counts:
            questions, predictions = _predictions(model, processor, suite, split, None, None, None, "scores", count)
            headline = _headline(build_report(questions, predictions, suite, split, by="task", bootstrap=True,
                                              n_boot=n_boot, seed=seed))[1]
            oracle = _scored_letters(questions, frame_limited_predictions(questions, count))
            rows.append({"suite": suite, "frames": int(count), "model": float(headline["accuracy"]),
                         "ci": tuple(headline["ci"]), "oracle": suite_metric(oracle)[1],
                         "random": random_metric(questions)})
    return rows


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


def _scored_letters(questions: Sequence[dict], letters: dict[str, str]) -> list[dict]:
    """:func:`videollm.eval.metrics.score` records of a baseline's ``{id: letter}`` answers."""
    return score(questions, {qid: {"prediction": letter} for qid, letter in letters.items()})


def _percent(value: float) -> str:
    return "–" if np.isnan(value) else f"{value:.0f}%"  # no gap to close: the oracle does no better than chance


def _headline(report: dict) -> tuple[str, dict]:
    return ("m_avg", report["m_avg"]) if "m_avg" in report else ("accuracy", report["overall"])


def results_table(model, processor, split: str = "test", suites: Sequence[str] = SUITE_NAMES,
                  per_task: bool = True, n_boot: int = 2000, seed: int = 0,
                  modes: Sequence[str] = MODES, source: str = "frames") -> tuple[list[dict], str]:
    """Evaluate on every suite: ``(rows, markdown)``, a row per suite (and per task).

    Each row holds, for each answering mode in ``modes`` (:data:`MODES`), the model's score and its 95% bootstrap
    interval (``scores`` / ``scores_ci``, ``generate`` / ``generate_ci``; :func:`videollm.eval.report.build_report`,
    stratified by task for M-Avg), and the baselines on the same questions: ``random``, ``blind`` (question only)
    and ``oracle`` (the ground truth of the frames the model sees, :func:`videollm.eval.oracle.
    frame_limited_predictions` with the model's ``num_frames``). A model beats chance clearly where the whole
    interval lies above ``random``; ``closed`` is the share of the gap from random to the oracle that the
    option-scoring (else the first) mode closes, in %. ``source``: where the frames come from (:data:`SOURCES`).
    """
    if not modes or any(mode not in MODES for mode in modes):
        raise ValueError(f"modes must name at least one of {MODES}; got {tuple(modes)!r}")
    config = getattr(model, "mini_vlm_config", None) or MiniVLMConfig()
    rows = []
    for suite in suites:
        questions, reports = None, {}
        for mode in modes:
            questions, predictions = _predictions(model, processor, suite, split, None, None, None, mode,
                                                  source=source)
            reports[mode] = build_report(questions, predictions, suite, split, by="task", bootstrap=True,
                                         n_boot=n_boot, seed=seed)
        fitted = BlindModel().fit(load_questions(suite, "val" if split == "train" else "train"))  # never its own
        blind = _scored_letters(questions, fitted.predictions(questions))
        oracle = _scored_letters(questions, frame_limited_predictions(questions, config.num_frames))
        metric = _headline(reports[modes[0]])[0]
        row = {"suite": suite, "task": "all", "metric": metric, "n": len(questions),
               "random": random_metric(questions), "blind": suite_metric(blind)[1],
               "oracle": suite_metric(oracle)[1]}
        for mode, report in reports.items():
            headline = _headline(report)[1]
            row[mode], row[f"{mode}_ci"] = float(headline["accuracy"]), tuple(headline["ci"])
        rows.append(row)
        if per_task:
            by_task = {mode: {r["task"]: r for r in report["rows"]} for mode, report in reports.items()}
            for task in dict.fromkeys(q["task"] for q in questions):  # in the suite's own order
                row = {"suite": suite, "task": task, "metric": "accuracy", "n": by_task[modes[0]][task]["n"],
                       "random": float(by_task[modes[0]][task]["chance"]),
                       "blind": float(accuracy([r for r in blind if r["task"] == task])),
                       "oracle": float(accuracy([r for r in oracle if r["task"] == task]))}
                for mode in modes:
                    row[mode], row[f"{mode}_ci"] = float(by_task[mode][task]["accuracy"]), tuple(by_task[mode][task]["ci"])
                rows.append(row)
    main = "scores" if "scores" in modes else modes[0]
    for row in rows:
        gap = row["oracle"] - row["random"]
        row["closed"] = 100 * (row[main] - row["random"]) / gap if gap > 0 else float("nan")
    names = {"scores": "option scores", "generate": "generated"}
    head = "".join(f" {names[m]} | 95% CI |" for m in modes)
    lines = [f"| suite | task | metric | n |{head} random | blind | oracle ({config.num_frames} frames) | gap closed |",
             "|---|---|---|---:|" + "---:|---:|" * len(modes) + "---:|---:|---:|---:|"]
    for r in rows:
        cells = "".join(f" {r[m]:.1f} | {r[m + '_ci'][0]:.1f}–{r[m + '_ci'][1]:.1f} |" for m in modes)
        lines.append(f"| {r['suite']} | {r['task']} | {r['metric']} | {r['n']} |{cells} {r['random']:.1f} | "
                     f"{r['blind']:.1f} | {r['oracle']:.1f} | {_percent(r['closed'])} |")
    return rows, "\n".join(lines)
