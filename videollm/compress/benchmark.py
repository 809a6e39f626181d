"""Unit 06 — the benchmark: accuracy against the kept-token budget on the suites' long videos.

Every method keeps about the same share of the video's KV entries (the budget) and answers the same questions by
option likelihood (:mod:`~videollm.compress.score`), with the same model:

- AdaReTaKe and its ablations, and attention top-k and random eviction (:data:`videollm.compress.prefill.METHODS`):
  evictions during a chunked prefill;
- uniform frames, uniform tokens and DPSelect keyframes (:mod:`~videollm.compress.baselines`): the dropped tokens
  never reach the language model.

The uncompressed model (budget 1) is run once per question; at budget 1 every method is that model. Each
question's video goes through the vision tower once. The kept share reported is the one actually kept (the
evictions' counts round down per chunk and layer, as the official code's do), so methods are compared at the
budgets they really had.

Lecture: `lectures/06_adaretake.ipynb` §8.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from videollm.choices import LETTERS
from videollm.compress.baselines import dpselect_patches, patch_tokens, prefill_subset, uniform_patches, uniform_tokens
from videollm.compress.prefill import METHODS, Budget, Prefilled, VideoInput, embed_video_input, prefill
from videollm.compress.score import option_log_likelihoods
from videollm.eval.report import build_report
from videollm.vlm.mini.batches import encode, video_pixels
from videollm.vlm.mini.data import scenes_batch
from videollm.vlm.mini.evaluate import random_metric
from videollm.vlm.mini.sight import patch_order, targets, token_shares
from videollm.world.qa_frames import question_frames, sampled_indices
from videollm.world.suites import load_questions, scene_for

#: The input reductions, beside the evictions of :data:`~videollm.compress.prefill.METHODS`.
REDUCTIONS = ("uniform frames", "uniform tokens", "dpselect keyframes")
ALL_METHODS = (*METHODS, *REDUCTIONS)
#: The budgets of the issue's figure: shares of the uncompressed prefill's video entries.
RATIOS = (1.0, 0.5, 0.25, 0.125)
#: The long-video questions: MLVU-like needle, count and order, and Video-MME-like long clips.
LONG_TASKS = {"mlvu": ("needle", "count", "order"), "videomme": None}


def compress_video(model, video: VideoInput, method: str, ratio: float, patches_per_chunk: int = 2,
                   seed: int = 0) -> Prefilled:
    """``video``'s input up to the end of the video, prefilled and compressed to ``ratio`` by ``method`` (one of
    :data:`ALL_METHODS`)."""
    if method in METHODS:
        return prefill(model, video, Budget(ratio=ratio, patches_per_chunk=patches_per_chunk, seed=seed,
                                            **METHODS[method]))
    t, h, w = video.grid
    if method == "uniform frames":
        keep = patch_tokens(uniform_patches(t, ratio), h * w)
    elif method == "uniform tokens":
        keep = uniform_tokens(t * h * w, ratio)
    elif method == "dpselect keyframes":
        keep = patch_tokens(dpselect_patches(video.video_tokens, ratio), h * w)
    else:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(ALL_METHODS)}")
    return prefill_subset(model, video, keep)


@torch.no_grad()
def question_input(model, processor, record: dict, num_frames: int, size=(56, 56)) -> tuple[VideoInput, list]:
    """One question of the course's suites (or the needle set) ready for compression: its ``num_frames`` frames
    (:func:`videollm.world.qa_frames.question_frames`) through the video processor and the model
    (:func:`~videollm.compress.prefill.embed_video_input`), and its options' token ids. Returns ``(video,
    options)``."""
    frames, _ = question_frames(record, num_frames, size)
    pixels, grid = video_pixels(processor, torch.from_numpy(frames).permute(0, 3, 1, 2)[None])
    enc = encode(processor, [record], grid[0].tolist())
    return embed_video_input(model, torch.tensor([enc.prefix[0]]), pixels, grid), enc.options[0]


def needle_patches(record: dict, num_frames: int) -> list[int]:
    """The temporal patches (pairs of sampled frames) in which a needle question's cut-away shows."""
    scene = scene_for(record)
    away = ~scene.shown[sampled_indices(scene.num_frames, num_frames)]
    return sorted({int(i) // 2 for i in np.flatnonzero(away)})


def kept_share(prefilled: Prefilled, video: VideoInput) -> float:
    """The share of the video's KV entries (tokens x layers) that ``prefilled`` holds."""
    layers = prefilled.cache.num_layers
    return prefilled.kept_tokens / ((video.end - video.start) * layers) if prefilled.kept else 1.0


def long_questions(split: str = "test", limit: int | None = None) -> list[dict]:
    """The suites' long-video questions of ``split`` (:data:`LONG_TASKS`), at most ``limit`` per suite and task
    (the first ones, so a short run is a prefix of the full one)."""
    out = []
    for suite, tasks in LONG_TASKS.items():
        records = load_questions(suite, split)
        records = [r for r in records if (r["task"] in tasks if tasks else r.get("duration") == "long")]
        counts: dict[str, int] = defaultdict(int)
        for r in records:
            counts[r["task"]] += 1
            if limit is None or counts[r["task"]] <= limit:
                out.append(r)
    return out


@torch.no_grad()
def budget_predictions(model, processor, records: Sequence[dict], methods: Sequence[str] = ALL_METHODS,
                       ratios: Sequence[float] = RATIOS, num_frames: int = 32, size=(56, 56),
                       patches_per_chunk: int = 2, progress: bool = False) -> dict:
    """Answer ``records`` with their videos (``num_frames`` frames, :func:`videollm.world.qa_frames.
    question_frames`) compressed by each method to each ratio.

    Returns:
        ``{(method, ratio): {"predictions": [{"id", "prediction", "scores"}], "kept": [share per question]}}``;
        ratio 1 is under the method ``"full"`` alone.
    """
    unknown = [m for m in methods if m not in ALL_METHODS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; choose from {', '.join(ALL_METHODS)}")
    model.eval()
    out: dict = defaultdict(lambda: {"predictions": [], "kept": []})
    runs = [("full", 1.0)] + [(m, r) for r in ratios if r < 1 for m in methods]
    for record in tqdm(records, desc="budget benchmark", disable=not progress, leave=False):
        video, options = question_input(model, processor, record, num_frames, size)
        for method, ratio in runs:
            done = compress_video(model, video, "attention top-k" if method == "full" else method, ratio,
                                  patches_per_chunk)
            scores = option_log_likelihoods(model, done, video, options).cpu()
            run = out[(method, ratio)]
            run["predictions"].append({"id": record["id"], "prediction": LETTERS[int(scores.argmax())],
                                       "scores": [round(float(s), 4) for s in scores]})
            run["kept"].append(kept_share(done, video))
    return dict(out)


def paired_difference(runs: dict, a: tuple[str, float], b: tuple[str, float], questions: Sequence[dict],
                      n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """``(difference, low, high)``: accuracy of run ``a`` minus run ``b`` (keys of :func:`budget_predictions`'s
    runs, e.g. ``("adaretake", 0.25)``) on the same ``questions``, in points, with a 95% interval from resampling
    the questions together (a paired bootstrap: both methods answered the same questions, so comparing their two
    separate intervals overstates the uncertainty of the difference)."""
    answer = {q["id"]: q["answer"] for q in questions}
    right = [np.array([answer[p["id"]] == p["prediction"] for p in runs[key]["predictions"] if p["id"] in answer],
                      dtype=float) for key in (a, b)]
    diff = right[0] - right[1]
    draws = np.random.default_rng(seed).integers(0, len(diff), (n_boot, len(diff)))
    low, high = np.percentile(100 * diff[draws].mean(1), [2.5, 97.5])
    return 100 * float(diff.mean()), float(low), float(high)


def option_kl(full: Sequence[float], compressed: Sequence[float]) -> float:
    """``KL(p_full || p_compressed)`` (nats) between the softmaxes of two option log-likelihood lists: how far
    compression moved the model's answer distribution (0: not at all)."""
    p = torch.tensor(full, dtype=torch.float64).log_softmax(0)
    q = torch.tensor(compressed, dtype=torch.float64).log_softmax(0)
    return float((p.exp() * (p - q)).sum())


def budget_table(records: Sequence[dict], runs: dict, split: str = "test", n_boot: int = 2000,
                 seed: int = 0) -> tuple[list[dict], str]:
    """``(rows, markdown)``: per suite, method and ratio, the headline metric (accuracy; M-Avg for MLVU) with its
    95% bootstrap interval, the kept share actually reached, and how faithful the compressed model stays to the
    uncompressed one (the share of questions answered the same, and the mean :func:`option_kl`), from
    :func:`budget_predictions`'s ``runs``."""
    rows = []
    full = {p["id"]: p for p in runs[("full", 1.0)]["predictions"]}
    for suite in dict.fromkeys(r["suite"] for r in records):
        questions = [r for r in records if r["suite"] == suite]
        ids = {q["id"] for q in questions}
        for (method, ratio), run in runs.items():
            predictions = [p for p in run["predictions"] if p["id"] in ids]
            report = build_report(questions, predictions, suite, split, by="task", bootstrap=True, n_boot=n_boot,
                                  seed=seed)
            headline = report["m_avg"] if "m_avg" in report else report["overall"]
            kept = [k for p, k in zip(run["predictions"], run["kept"]) if p["id"] in ids]
            same = [p["prediction"] == full[p["id"]]["prediction"] for p in predictions]
            drift = [option_kl(full[p["id"]]["scores"], p["scores"]) for p in predictions]
            rows.append({"suite": suite, "method": method, "ratio": ratio, "kept": float(np.mean(kept)),
                         "metric": "m_avg" if "m_avg" in report else "accuracy",
                         "score": float(headline["accuracy"]), "ci": tuple(headline["ci"]),
                         "random": random_metric(questions), "n": len(questions),
                         "agreement": 100 * float(np.mean(same)), "kl": float(np.mean(drift))})
    lines = ["| suite | method | budget | kept | score | 95% CI | random | same answer as full | KL to full |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['suite']} | {r['method']} | {r['ratio']:g} | {100 * r['kept']:.1f}% | {r['score']:.1f} | "
                     f"{r['ci'][0]:.1f}–{r['ci'][1]:.1f} | {r['random']:.1f} | {r['agreement']:.1f}% | "
                     f"{r['kl']:.4f} |")
    return rows, "\n".join(lines)


def kept_mask(prefilled: Prefilled, video: VideoInput) -> torch.Tensor:
    """``(layers, video tokens)`` bool: which of the video's tokens each layer of ``prefilled``'s cache holds."""
    n = video.end - video.start
    out = torch.zeros(len(prefilled.cache.token_index), n, dtype=torch.bool)
    for layer, held in enumerate(prefilled.cache.token_index):
        inside = held[(held >= video.start) & (held < video.end)] - video.start
        out[layer, inside] = True
    return out


def frames_at_budget(model, processor, records: Sequence[dict], settings=((16, 1.0), (32, 0.5), (64, 0.25)),
                     methods: Sequence[str] = ("adaretake", "uniform frames"), n_boot: int = 2000) -> list[dict]:
    """The paper's real claim at small scale: at one budget of KV entries, more frames compressed against fewer
    frames whole. Each setting ``(frames, ratio)`` keeps ``frames * ratio`` frames' worth of tokens; the first is
    usually uncompressed. One row per setting and method: ``frames``, ``ratio``, ``method``, ``score``, ``ci``."""
    rows = []
    for frames, ratio in settings:
        runs = budget_predictions(model, processor, records, methods if ratio < 1 else (), (ratio,), frames)
        table, _ = budget_table(records, runs, n_boot=n_boot)
        rows += [dict(r, frames=frames) for r in table if (r["method"] == "full") == (ratio >= 1)]
    return rows


@torch.no_grad()
def prefill_cost(model, processor, records: Sequence[dict], ratio: float = 0.25, num_frames: int = 64,
                 repeats: int = 3) -> dict:
    """What compression costs, measured side by side on ``records``' videos: the time of AdaReTaKe's prefill and
    of the uncompressed chunked prefill (the best of ``repeats``, summed over videos; their ratio is what to
    quote off a GPU) and the KV entries each leaves (tokens x layers, video and text)."""
    import time

    timings = {"uncompressed": 0.0, "adaretake": 0.0}
    entries = {"uncompressed": 0, "adaretake": 0}
    for record in records:
        video, _ = question_input(model, processor, record, num_frames)
        for name, budget in (("uncompressed", Budget(ratio=1.0)), ("adaretake", Budget(ratio=ratio))):
            best = float("inf")
            for _ in range(repeats):
                start = time.perf_counter()
                done = prefill(model, video, budget)
                best = min(best, time.perf_counter() - start)
            timings[name] += best
            entries[name] += sum(len(held) for held in done.cache.token_index)
    return {"seconds": timings, "entries": entries, "time_ratio": timings["adaretake"] / timings["uncompressed"],
            "entry_ratio": entries["adaretake"] / entries["uncompressed"], "videos": len(records),
            "frames": num_frames, "ratio": ratio}


def needle_tokens(record: dict, num_frames: int, size=(56, 56), patch_size: int = 7, merge: int = 2,
                  min_share: float = 0.05) -> torch.Tensor:
    """``(video tokens,)`` bool: the merged tokens of a needle question's ``num_frames`` frames (``size``, patches
    of ``patch_size`` pixels merged ``merge x merge``, as the model's processor makes them) in which the cut-away's
    shape covers at least ``min_share`` of the pixels, counting only the frames of the cut-away (a temporal patch
    may pair a cut-away frame with a frame of the main scene and its objects). In the video processor's token
    order; from the renderer's per-patch labels.

    Raises:
        ValueError: ``num_frames`` is not even (Qwen2-VL pairs frames).
    """
    if num_frames < 2 or num_frames % 2:
        raise ValueError(f"num_frames must be even and >= 2 (Qwen2-VL pairs frames); got {num_frames}")
    scene = scene_for(record)
    batch = scenes_batch([scene], [record], num_frames, size, patch_size)
    away = torch.from_numpy(~scene.shown[sampled_indices(scene.num_frames, num_frames)]).float()  # (T,)
    in_cut = patch_order(away.view(1, -1, 1, 1).expand(batch.color.shape[:4]), merge)  # (patches, 2) per frame
    colour = targets(batch, merge)["color"][..., 1:] * in_cut[..., None]  # (patches, 2, colours): cut-away only
    return token_shares(colour, merge).sum(-1) >= min_share


@torch.no_grad()
def needle_retention(model, processor, records: Sequence[dict], methods: Sequence[str] = ALL_METHODS,
                     ratios: Sequence[float] = (0.25, 0.125), num_frames: int = 16) -> list[dict]:
    """How much of the needle each method keeps: per method and ratio, the mean share of the shape's tokens
    (:func:`needle_tokens`) a layer keeps, and the share of (question, layer) pairs that keep at least one of them
    (one is enough to read a colour). Questions whose frames miss the shape are skipped."""
    kept: dict = defaultdict(list)
    for record in records:
        shape = needle_tokens(record, num_frames)
        if not shape.any():
            continue
        video, _ = question_input(model, processor, record, num_frames)
        for ratio in ratios:
            for method in methods:
                mask = kept_mask(compress_video(model, video, method, ratio), video)[:, shape]  # (layers, shape)
                kept[(method, ratio)].append((float(mask.float().mean()), float(mask.any(1).float().mean())))
    return [{"method": m, "ratio": r, "share": 100 * float(np.mean([s for s, _ in v])),
             "any": 100 * float(np.mean([a for _, a in v])), "n": len(v)} for (m, r), v in kept.items()]
