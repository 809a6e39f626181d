"""Unit 09 — baselines that say how hard each suite is: oracles that read the annotations, and a blind model.

- The **annotation oracle** answers from the scene's ground truth restricted to the frames it is shown
  (:func:`solve`). With every frame it must score 100% (a test checks it: otherwise a question is ill-posed).
- The **frame-limited oracle** sees only ``N`` uniformly sampled frames (as a video LLM does,
  :func:`videollm.sampling.uniform_indices`) and, with subtitles on, the subtitle lines that lmms-eval would pick
  for those frames. Where the frames do not settle the answer it guesses among the options they leave open, so
  its accuracy falls towards chance on long clips and needles as ``N`` falls: an upper bound for any model that
  samples ``N`` frames.
- On the lessons of the Video-MMMU-like suite the oracle keeps the rules that would have produced exactly the frames
  it is shown (:func:`videollm.world.lessons.rules_consistent_with`): before the first meeting it sees, all ten.
- The **blind model** never sees the video: it learns from the training split how often each option text is right
  for each task (and each letter overall), and picks the best-scoring option. Because every task draws its options
  first and its answer uniformly among them, it should stay at chance; a test holds it within a small margin.

Lecture: `lectures/09_evaluation.ipynb` §2, §5.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

import numpy as np

from videollm.eval.metrics import accuracy as overall, score
from videollm.sampling import uniform_indices
from videollm.world.lessons import options_consistent
from videollm.world.scenarios import EDGES, EDGE_OUTCOMES, first_edge_times
from videollm.world.scenes import ACTIONS, COLOR_NAMES, Scene
from videollm.world.subtitles import cues_for_frames
from videollm.world.suites import LETTERS, scene_for


def _observed_in(start: int, end: int, frames: np.ndarray) -> bool:
    return bool(np.any((frames >= start) & (frames < end)))


def _cue_texts(scene: Scene, frames: np.ndarray) -> list[str]:
    """Subtitle lines a model would be shown with these frames (lmms-eval's Video-MME subtitle rule)."""
    return [c.text for c in cues_for_frames(scene.cues, frames / scene.fps, fps=scene.fps)]


def solve(record: dict[str, Any], scene: Scene, frames: np.ndarray | None = None,
          subtitles: bool = False) -> set[int]:
    """The option indices consistent with what ``frames`` show of ``scene``.

    Args:
        record: a question record (its ``query`` says what is asked).
        scene: its scene (:func:`videollm.world.suites.scene_for`).
        frames: observed frame indices (``None``: every frame).
        subtitles: whether the subtitle lines for those frames are available too.

    Returns:
        A set with one index when the observation settles the answer, several when it leaves a choice (the
        oracle then guesses among them), all of them when it says nothing.
    """
    frames = np.arange(scene.num_frames) if frames is None else np.asarray(frames)
    options = record["options"]
    everything = set(range(len(options)))
    query = record["query"]
    kind = query["kind"]
    view = scene.in_view()[frames]  # (n, K)
    shown = frames[scene.shown[frames]]

    def matching(value) -> set[int]:
        return {i for i, o in enumerate(options) if o == value} or everything

    if kind == "count_objects":
        return matching(str(int(view.any(axis=0).sum())))
    if kind == "attribute_color":
        k = query["object"]
        seen = frames[view[:, k]]
        return matching(COLOR_NAMES[scene.color[seen[0], k]]) if len(seen) else everything
    if kind == "first_to_appear":
        first = np.array([frames[view[:, k]].min() if view[:, k].any() else np.inf for k in query["objects"]])
        if np.isinf(first).all():
            return everything
        return set(np.flatnonzero(first == first.min()).tolist())
    if kind == "ocr":
        return {i for i, o in enumerate(options) for t in scene.texts_at(frames) if t.text == o} or everything
    if kind == "action":
        k = query["object"]
        seen = {e["kind"] for e in scene.events
                if e.get("object") == k and e["kind"] in ACTIONS and _observed_in(e["frame"], e["end"], shown)}
        return {i for i, a in enumerate(query["options"]) if a in seen} or everything
    if kind == "subtitle_name":
        if not subtitles:
            return everything
        colour_shape = record["question"].removeprefix("What is the name of the ").removesuffix("?")
        lines = [t for t in _cue_texts(scene, frames) if t.endswith(f", the {colour_shape}.")]
        return {i for i, o in enumerate(options) for t in lines if t.startswith(f"Meet {o},")} or everything
    if kind == "narration":  # a lesson's narrator line, e.g. "This lesson is brought to you by <name>."
        if not subtitles:
            return everything
        lines = set(_cue_texts(scene, frames))
        return {i for i, o in enumerate(options) if query["template"].format(o) in lines} or everything
    if kind in ("lesson_rule", "lesson_case"):  # the rules these frames cannot tell apart (world.lessons)
        return options_consistent(record, scene, frames)
    if kind == "count_actions":
        k, act = query["object"], query["action"]
        count = sum(1 for e in scene.events
                    if e.get("object") == k and e["kind"] == act and _observed_in(e["frame"], e["end"], shown))
        return matching(str(count))
    if kind == "action_order":
        times = []
        for k, act in zip(query["objects"], query["actions"]):
            event = next(e for e in scene.events if e.get("object") == k and e["kind"] == act)
            hit = shown[(shown >= event["frame"]) & (shown < event["end"])]
            times.append(hit.min() if len(hit) else None)
        seen = [i for i, t in enumerate(times) if t is not None]
        return {j for j, order in enumerate(query["orders"])
                if all(order.index(a) < order.index(b) for a in seen for b in seen if times[a] < times[b])} or everything
    if kind == "needle":
        for start, inner in scene.inserts:
            if _observed_in(start, start + inner.num_frames, frames):
                return matching(inner.meta["content"][query["field"]])
        return everything
    if kind == "topic":
        return {query["options"].index(scene.background)} if len(shown) else everything
    if kind == "memory":
        away = next(e for e in scene.events if e["kind"] == "look_away")
        before = view[frames < away["frame"]].any(axis=0)
        after = view[frames >= away["end"]].any(axis=0)
        changed = (before & ~after) if query["change"] == "removed" else (after & ~before)
        return {i for i, k in enumerate(query["objects"]) if changed[k]} or everything
    if kind == "edge":
        return _edge(scene, query, frames, view)
    if kind == "predict_edge":
        k = query["object"]
        seen = frames[view[:, k]]
        if len(seen) < 2:
            return everything
        a, b = seen[-2], seen[-1]
        velocity = (scene.centre[b, k] - scene.centre[a, k]) / (b - a)
        half = scene.sizes[k] / 2
        lo, hi = np.array([half, half]), np.array([scene.width - half, scene.height - half])
        ranking = [EDGES[j] for j in np.argsort(first_edge_times(scene.centre[b, k], velocity, lo, hi), kind="stable")]
        best = next(e for e in ranking if e in options)
        return matching(best)
    raise ValueError(f"question {record.get('id')}: no oracle for query kind {kind!r}")


def _edge(scene: Scene, query: dict, frames: np.ndarray, view: np.ndarray) -> set[int]:
    k = query["object"]
    options = query["options"]
    seen = np.flatnonzero(view[:, k])
    if len(seen) and not view[seen[0]:, k].all():  # it was in view, then it was not: it left
        outcome = EDGE_OUTCOMES[1]
    else:
        x = scene.centre[frames[seen], k, 0]
        steps = np.sign(np.diff(x))
        moving = steps[steps != 0]
        if len(moving) and np.any(moving != moving[0]):
            outcome = EDGE_OUTCOMES[0]
        elif len(steps) >= 2 and steps[-1] == 0 and len(moving):
            outcome = EDGE_OUTCOMES[2]
        else:
            return set(range(len(options)))
    return {options.index(outcome)}


def frame_limited_predictions(records: Sequence[dict[str, Any]], num_frames: int | None, subtitles: bool = False,
                              seed: int = 0) -> dict[str, str]:
    """``{id: letter}`` of the oracle that sees ``num_frames`` uniformly sampled frames (``None``: all frames).

    Where the frames leave several options open it picks one of them at random (seeded per question, so the
    result does not depend on the order of ``records``).
    """
    predictions = {}
    for record in records:
        scene = scene_for(record)
        frames = None
        if num_frames is not None:
            frames = uniform_indices(scene.num_frames, min(num_frames, scene.num_frames))
        candidates = sorted(solve(record, scene, frames, subtitles=subtitles))
        rng = np.random.default_rng([seed, record["seed"]])
        predictions[record["id"]] = LETTERS[candidates[int(rng.integers(len(candidates)))]]
    return predictions


class BlindModel:
    """Answers from the question text alone, with statistics learnt on a training split.

    Each option is scored by how often that exact option text was the right answer for that task in training
    (add-one smoothed against how often it was offered), times how often its letter was right; the best-scoring
    option wins (ties broken by a seeded coin). A suite whose answers can be guessed this way is biased.
    """

    def __init__(self, seed: int = 0):
        self.seed = seed
        self.right: Counter = Counter()
        self.offered: Counter = Counter()
        self.letters: Counter = Counter()

    def fit(self, records: Sequence[dict[str, Any]]) -> "BlindModel":
        for r in records:
            for i, option in enumerate(r["options"]):
                self.offered[r["task"], option] += 1
                self.right[r["task"], option] += LETTERS[i] == r["answer"]
            self.letters[r["answer"]] += 1
        return self

    def predict(self, record: dict[str, Any]) -> str:
        n = len(record["options"])
        total = sum(self.letters.values())
        scores = np.array([
            (self.right[record["task"], o] + 1) / (self.offered[record["task"], o] + n)
            * (self.letters[LETTERS[i]] + 1) / (total + n)
            for i, o in enumerate(record["options"])
        ])
        best = np.flatnonzero(np.isclose(scores, scores.max()))
        rng = np.random.default_rng([self.seed, record["seed"]])
        return LETTERS[int(best[rng.integers(len(best))])]

    def predictions(self, records: Sequence[dict[str, Any]]) -> dict[str, str]:
        return {r["id"]: self.predict(r) for r in records}


def accuracy(records: Sequence[dict[str, Any]], predictions: dict[str, str]) -> float:
    """Accuracy in % of ``{id: letter}`` predictions (:mod:`videollm.eval.metrics` gives the full tables)."""
    return overall(score(records, {qid: {"prediction": letter} for qid, letter in predictions.items()}))
