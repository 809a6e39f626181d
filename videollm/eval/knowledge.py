"""Unit 09 — Video-MMMU-style scoring: accuracy per track, the knowledge gain Δknowledge, and the baselines of the
Video-MMMU-like suite (``videommmu``, the lessons of :mod:`videollm.world.lessons`).

Video-MMMU (arXiv 2501.13826) reports accuracy on each of its three tracks (Perception, Comprehension, Adaptation)
and overall, and how much watching helped: the Adaptation questions are answered twice, once *before* (the question
alone; lmms-eval's ``video_mmmu_adaptation_question_only``, whose visual input is a video of just the question's
image, ``<id>_image.mp4`` in ``lmms_eval/tasks/videommmu/utils.py``) and once *after* the lecture video. The share of
the headroom the video closed is the knowledge gain (:func:`videollm.eval.metrics.delta_knowledge`):

    Δknowledge = (acc_after - acc_before) / (100 - acc_before) * 100

In the course's suite the question's image is the lesson's last frame,
so "before" means the question, its options and that one frame, without the narration.

- :func:`knowledge_scores`: per-track and overall accuracy of one prediction set ("after"), and Δknowledge when the
  "before" predictions of the adaptation questions are given too (also ``python -m videollm.eval videommmu AFTER
  --before BEFORE``).
- :func:`question_image_predictions`: the annotation oracle shown only the question's image: its "before".
- :func:`knowledge_table`: random, blind and frame-limited oracles with their Δknowledge
  (``python -m videollm.eval.baselines`` prints it after the other suites' table). Each row's "before" is the same
  baseline without the video: chance for random, the blind model's own answers (it never sees the video, so its
  Δknowledge is 0 by construction), and :func:`question_image_predictions` for the oracles.

Lecture: `lectures/09_evaluation.ipynb` §11, §12.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from videollm.eval.metrics import Parse, accuracy, delta_knowledge, random_baseline, score
from videollm.eval.oracle import BlindModel, frame_limited_predictions, solve
from videollm.world.lessons import TRACKS
from videollm.world.suites import LETTERS, load_questions, scene_for

#: The frame budgets of the table (``None`` = every frame), as in :mod:`videollm.eval.baselines`.
FRAME_BUDGETS = (4, 16, 64)
#: The table's columns: the three tracks, overall, the adaptation accuracy without the video, Δknowledge.
COLUMNS = (*TRACKS, "overall", "adaptation, no video", "Δknowledge")


def _track(question: Mapping) -> str:
    return str(question.get("track", question.get("task")))


def knowledge_scores(questions: Sequence[Mapping], after, before=None, parse: Parse | None = None) -> dict[str, Any]:
    """Video-MMMU's numbers for one model: accuracy (%) per track and overall, and the knowledge gain.

    Args:
        questions: question dicts of a Video-MMMU-like suite (a ``track`` or ``task`` of ``perception``,
            ``comprehension`` or ``adaptation`` each).
        after: predictions with the video, for any of the questions (as :func:`videollm.eval.metrics.score` takes
            them); a question without one counts wrong.
        before: predictions for the *adaptation* questions without the video (question and its image only), or
            ``None``.
        parse: the answer parser for raw ``response`` texts (default: :func:`videollm.eval.metrics.make_parser`).

    Returns:
        a dict: ``tracks`` ({track: accuracy}), ``overall`` (accuracy), ``n`` ({track: questions}), ``after``
        (adaptation accuracy), ``before`` (adaptation accuracy without the video, or None) and
        ``delta_knowledge`` (Δknowledge, or None).

    Raises:
        ValueError: no adaptation question, a track outside :data:`~videollm.world.lessons.TRACKS`, or a "before"
            prediction for a question that is not an adaptation question.
    """
    tracks = [_track(q) for q in questions]
    unknown = sorted(set(tracks) - set(TRACKS))
    if unknown:
        raise ValueError(f"questions of tracks {unknown}: a Video-MMMU-like suite has the tracks {list(TRACKS)}")
    adaptation = [q for q, t in zip(questions, tracks) if t == "adaptation"]
    if not adaptation:
        raise ValueError("no adaptation question: Δknowledge is measured on the adaptation track")
    records = score(questions, after, parse)
    correct = {t: [r["correct"] for r, rt in zip(records, tracks) if rt == t] for t in TRACKS}
    result: dict[str, Any] = {
        "tracks": {t: 100.0 * float(np.mean(c)) for t, c in correct.items() if c},
        "overall": accuracy(records),
        "n": {t: len(c) for t, c in correct.items() if c},
        "after": 100.0 * float(np.mean(correct["adaptation"])),
        "before": None,
        "delta_knowledge": None,
    }
    if before is not None:
        track_of = {str(q["id"]): t for q, t in zip(questions, tracks)}
        keys = before if isinstance(before, Mapping) else [p.get("id") for p in before if isinstance(p, Mapping)]
        for key in map(str, keys):
            if track_of.get(key, "adaptation") != "adaptation":  # unknown ids are reported by score()
                raise ValueError(f"'before' predictions are for adaptation questions only (answered without the "
                                 f"video); {key!r} is a {track_of[key]} question")
        result["before"] = accuracy(score(adaptation, before, parse))
        result["delta_knowledge"] = delta_knowledge(result["before"], result["after"])
    return result


def question_image_predictions(records: Sequence[Mapping], seed: int = 0) -> dict[str, str]:
    """``{id: letter}`` of the annotation oracle shown only each question's image, the clip's last frame, and no
    narration (Video-MMMU's "before" setting). It sees the quiz pair but no demonstration, so every rule stays open
    and it guesses among the options left, seeded as :func:`videollm.eval.oracle.frame_limited_predictions` is."""
    predictions = {}
    for record in records:
        scene = scene_for(record)
        candidates = sorted(solve(record, scene, np.array([scene.num_frames - 1]), subtitles=False))
        rng = np.random.default_rng([seed, record["seed"]])
        predictions[record["id"]] = LETTERS[candidates[int(rng.integers(len(candidates)))]]
    return predictions


def _row(records: Sequence[Mapping], after: dict[str, str], before: dict[str, str]) -> dict[str, float]:
    result = knowledge_scores(records, {k: {"prediction": v} for k, v in after.items()},
                              {k: {"prediction": v} for k, v in before.items()})
    return {**result["tracks"], "overall": result["overall"], "adaptation, no video": result["before"],
            "Δknowledge": result["delta_knowledge"]}


def knowledge_table(split: str = "test", frame_budgets: Sequence[int] = FRAME_BUDGETS,
                    suite: str = "videommmu") -> dict[str, dict[str, float]]:
    """``{row: {column: value}}`` (:data:`COLUMNS`, in %) for rows ``random (expected)``, ``blind (question only)``,
    ``oracle, N frames`` and ``oracle, all frames`` on ``suite``/``split``; oracles hear the narration."""
    records = load_questions(suite, split)
    adaptation = [r for r in records if _track(r) == "adaptation"]
    chance = {t: random_baseline([r for r in records if _track(r) == t]) for t in TRACKS}
    table = {"random (expected)": {**chance, "overall": random_baseline(records),
                                   "adaptation, no video": chance["adaptation"],
                                   "Δknowledge": delta_knowledge(chance["adaptation"], chance["adaptation"])}}
    blind = BlindModel().fit(load_questions(suite, "train")).predictions(records)
    table["blind (question only)"] = _row(records, blind, {r["id"]: blind[r["id"]] for r in adaptation})
    before = question_image_predictions(adaptation)
    for n in [*frame_budgets, None]:
        name = f"oracle, {n} frames" if n else "oracle, all frames"
        table[name] = _row(records, frame_limited_predictions(records, n, subtitles=True), before)
    return table


def format_knowledge_table(table: dict[str, dict[str, float]]) -> str:
    """A Markdown table, one row per baseline, the columns of :data:`COLUMNS`."""
    lines = ["| baseline | " + " | ".join(COLUMNS) + " |", "|---|" + "---:|" * len(COLUMNS)]
    for row, values in table.items():
        lines.append(f"| {row} | " + " | ".join(f"{values[c] + 0.0:.1f}" for c in COLUMNS) + " |")
    return "\n".join(lines)


__all__ = ["COLUMNS", "FRAME_BUDGETS", "format_knowledge_table", "knowledge_scores", "knowledge_table",
           "question_image_predictions"]
