"""Unit 00 — the course's four benchmark suites: what they contain, how they are generated, and how to read them.

==============  ===============================  ==========  ============================================
suite           mirrors                          options     tasks (duration buckets)
==============  ===============================  ==========  ============================================
``videomme``    Video-MME (w/ and w/o subs)      4           counting, attribute, temporal, ocr, action,
                                                             subtitle (short 12-30 s, medium 1-2 min,
                                                             long 3-5 min)
``perception``  PerceptionTest mc-vQA            3           memory, physics, counting (20-40 s), with
                                                             ``area`` and ``reasoning`` tags
``mlvu``        MLVU (M-Avg)                     4, test 6   count, order, needle, topic (2-5 min)
``videommmu``   Video-MMMU (tracks, Δknowledge)  5, 5, 10    perception, comprehension, adaptation: three
                                                             questions on each lesson clip (30-42 s)
==============  ===============================  ==========  ============================================

Each question is one JSON line in ``data/benchmarks/<suite>/<split>.jsonl`` (splits ``train``, ``val``,
``test``) with ``id``, ``suite``, ``split``, ``clip``, ``task``, ``duration``, ``question``, ``options`` (plain texts,
no letters), ``answer`` (a letter), ``subtitles`` (the question needs the subtitles), optional ``area`` and
``reasoning``, and what regenerates its clip: ``scenario``, ``seed``, ``seconds``, plus the structured ``query`` the
oracles read. A clip is one question's scene (a lesson's three questions share one); :func:`clip_path` renders it
on first use into the data cache.

The first three (:data:`SUITES`) ask one question per clip. ``videommmu`` (:data:`LESSON_SUITES`) is built from
*lessons* (:mod:`videollm.world.lessons`), clips that teach a rule, with three questions each, one per Video-MMMU
track; its records add ``track``, ``qa_type`` and ``rule``, and ``task`` is the track. It is kept out of
:data:`SUITES`, which the trainers, the captions and the labs iterate over: it has no cells and no
:func:`fresh_question`.

Everything is a pure function of ``(suite, split, index)``: ``python -m videollm.world.suites build`` writes the
same bytes on every machine, and ``check`` says whether the committed manifests are current.

Lecture: `lectures/00_video_as_data.ipynb` §6; `lectures/09_evaluation.ipynb` §2.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from videollm.cache import data_dir, spec_hash
from videollm.choices import LETTERS
from videollm.world import lessons, scenes as world
from videollm.world.files import cached_clip
from videollm.world.scenarios import Context, Item, SCENARIOS_VERSION, TASKS
from videollm.world.shapes import WORLD_VERSION

#: The most options a question of the suites has (the Video-MMMU-like adaptation track; MLVU-like test: 6).
MAX_OPTIONS = 10
SPLITS = ("train", "val", "test")
BENCHMARK_DIR = Path(__file__).resolve().parents[2] / "data" / "benchmarks"


@dataclass(frozen=True)
class Cell:
    """One block of a suite: ``task`` label, the scenario that makes it, the duration bucket and its seconds."""

    task: str
    scenario: str
    duration: str
    seconds: tuple[int, int]
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Suite:
    """A benchmark suite: its cells, options per split, and questions per cell per split."""

    name: str
    mirrors: str
    cells: tuple[Cell, ...]
    options: dict[str, int]
    per_cell: dict[str, int]
    code: int  # part of every seed, so suites never share a scene

    @property
    def tasks(self) -> list[str]:
        return list(dict.fromkeys(c.task for c in self.cells))


_MME_SECONDS = {"short": (12, 30), "medium": (60, 120), "long": (180, 300)}
_MME_TASKS = {"counting": "count_objects", "attribute": "attribute_color", "temporal": "temporal_first",
              "ocr": "ocr", "action": "action", "subtitle": "subtitle_name"}

SUITES: dict[str, Suite] = {
    "videomme": Suite(
        "videomme", "Video-MME",
        tuple(Cell(task, scenario, bucket, seconds)
              for task, scenario in _MME_TASKS.items() for bucket, seconds in _MME_SECONDS.items()),
        options={"train": 4, "val": 4, "test": 4}, per_cell={"train": 16, "val": 4, "test": 16}, code=1),
    "perception": Suite(
        "perception", "PerceptionTest",
        (Cell("memory", "memory", "short", (20, 40), (("area", "memory"),)),
         Cell("memory", "memory", "short", (20, 40), (("area", "memory"),)),
         Cell("physics", "physics_edge", "short", (20, 40), (("area", "physics"), ("reasoning", "explanatory"))),
         Cell("physics", "physics_predict", "short", (20, 40), (("area", "physics"), ("reasoning", "predictive"))),
         Cell("counting", "count_objects", "short", (20, 40), (("area", "abstraction"), ("reasoning", "descriptive"))),
         Cell("counting", "count_actions", "short", (20, 40), (("area", "abstraction"), ("reasoning", "descriptive")))),
        options={"train": 3, "val": 3, "test": 3}, per_cell={"train": 50, "val": 10, "test": 40}, code=2),
    "mlvu": Suite(
        "mlvu", "MLVU",
        (Cell("count", "count_actions", "long", (120, 300)), Cell("order", "action_order", "long", (120, 300)),
         Cell("needle", "needle", "long", (120, 300)), Cell("topic", "topic", "long", (120, 300))),
        options={"train": 4, "val": 4, "test": 6}, per_cell={"train": 60, "val": 10, "test": 50}, code=3),
}




@dataclass(frozen=True)
class LessonSuite:
    """A suite of lessons (:mod:`videollm.world.lessons`): clips per split, three questions per clip, options per
    track, the clips' length range in seconds."""

    name: str
    mirrors: str
    clips: dict[str, int]
    options: dict[str, int]
    seconds: tuple[int, int]
    code: int

    @property
    def tasks(self) -> list[str]:
        return list(lessons.TRACKS)


LESSON_SUITES: dict[str, LessonSuite] = {
    "videommmu": LessonSuite(
        "videommmu", "Video-MMMU", clips={"train": 300, "val": 60, "test": 120},
        options={"perception": 5, "comprehension": 5, "adaptation": 10}, seconds=(30, 42), code=4),
}
#: Every suite with manifests in ``data/benchmarks``.
ALL_SUITES = (*SUITES, *LESSON_SUITES)


def get_suite(name: str) -> Suite:
    if name in LESSON_SUITES:
        raise KeyError(f"{name!r} is a lesson suite (three questions per clip, videollm.world.lessons): it has no "
                       f"cells; the one-question-per-clip suites are {', '.join(SUITES)}")
    if name not in SUITES:
        raise KeyError(f"unknown suite {name!r}; the course's suites are {', '.join(ALL_SUITES)}")
    return SUITES[name]


def _seed(suite: Suite | LessonSuite, split: str, index: int) -> int:
    return int(np.random.SeedSequence([suite.code, SPLITS.index(split), index]).generate_state(1)[0])


def scenario_item(scenario: str, seed: int, seconds: int, num_options: int, answer: int) -> Item:
    """The question and scene of ``scenario`` (a name in :data:`videollm.world.scenarios.TASKS`) for one seed, clip
    length (s), option count and answer position: what every record of the suites is rebuilt from."""
    ctx = Context(np.random.default_rng(seed), num_options, float(seconds),
                  meta={"scenario": scenario, "seed": seed}, answer=answer)
    return TASKS[scenario](ctx)


def generate(suite_name: str, split: str, code: int | None = None) -> list[dict[str, Any]]:
    """All question records of one split of a suite, in order (deterministic).

    ``code`` replaces the suite's seed code: a fresh, independent draw of the same split (used to measure the
    spread of baselines across draws); the manifests always use the suite's own code.
    """
    if suite_name in LESSON_SUITES:
        return _lesson_records(LESSON_SUITES[suite_name], split, code)
    suite = get_suite(suite_name)
    if code is not None:
        suite = replace(suite, code=code)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    records = []
    index = 0
    n = suite.options[split]
    for c, cell in enumerate(suite.cells):
        # Answer positions are balanced by construction inside every cell (each letter as often as the cell's
        # size allows, in shuffled order), as curated benchmarks balance them; chance alone would leave some
        # letters noticeably more frequent than others in a few hundred questions.
        cell_rng = np.random.default_rng([suite.code, SPLITS.index(split), c, 7])
        positions = cell_rng.permutation(np.resize(np.arange(n), suite.per_cell[split]))
        for position in positions:
            seed = _seed(suite, split, index)
            lo, hi = cell.seconds
            seconds = int(np.random.default_rng([seed, 1]).integers(lo, hi + 1))
            item = scenario_item(cell.scenario, seed, seconds, n, int(position))
            records.append(_record(suite, split, cell, f"{suite.name}-{split}-{index:04d}", item, seed, seconds))
            index += 1
    return records


def _record(suite: Suite, split: str, cell: Cell, clip: str, item: Item, seed: int, seconds: int) -> dict[str, Any]:
    return {
        "id": clip, "suite": suite.name, "split": split, "clip": clip, "task": cell.task,
        "duration": cell.duration, "question": item.question, "options": item.options,
        "answer": LETTERS[item.answer], "subtitles": bool(item.fields.get("subtitles", False)),
        **dict(cell.tags), **{k: v for k, v in item.fields.items() if k != "subtitles"},
        "scenario": cell.scenario, "seed": seed, "seconds": seconds, "query": item.query,
    }


def _lesson_records(suite: LessonSuite, split: str, code: int | None = None) -> list[dict[str, Any]]:
    """The records of a lesson suite's split: per clip, one question per track (in :data:`lessons.TRACKS` order)."""
    if code is not None:
        suite = replace(suite, code=code)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    n = suite.clips[split]
    # Balanced by construction across the split's clips, in shuffled order: every rule, both perception kinds
    # (OCR, ASR), and every answer position of every track, as often as the split's size allows.
    rng = np.random.default_rng([suite.code, SPLITS.index(split), 7])
    rules = rng.permutation(np.resize(np.arange(len(lessons.RULES)), n))
    hearing = rng.permutation(np.resize(np.arange(2), n))
    positions = {track: rng.permutation(np.resize(np.arange(k), n)) for track, k in suite.options.items()}
    qa_types = {"comprehension": "concept", "adaptation": "case_study"}
    records = []
    for index in range(n):
        seed = _seed(suite, split, index)
        lo, hi = suite.seconds
        seconds = int(np.random.default_rng([seed, 1]).integers(lo, hi + 1))
        lesson = lessons.build_lesson(seed, seconds, int(rules[index]))
        clip = f"{suite.name}-{split}-{index:04d}"
        for track in lessons.TRACKS:
            qa_type = qa_types.get(track, ("ocr", "asr")[hearing[index]])
            item = lessons.lesson_item(lesson, track, qa_type, suite.options[track], int(positions[track][index]))
            records.append({
                "id": f"{clip}-{track}", "suite": suite.name, "split": split, "clip": clip, "task": track,
                "duration": "short", "question": item.question, "options": item.options,
                "answer": LETTERS[item.answer], **item.fields, "rule": lessons.RULE_NAMES[lesson.rule],
                "scenario": "lesson", "seed": seed, "seconds": seconds, "query": item.query,
            })
    return records


#: Fresh draws use scene seeds from here up; the manifests' seeds are 32-bit, so no fresh scene is a benchmark's.
FRESH_SEED_BASE = 2 ** 32


def fresh_question(suite_name: str, rng: np.random.Generator, split: str = "train") -> tuple[dict[str, Any], Item]:
    """One new question of ``suite_name`` in the format of its ``split``: a random cell (task and duration), a random
    length, answer position and scene, none of them a manifest's (seeds from :data:`FRESH_SEED_BASE` up).

    Unlimited training data from the suites' own generators: a model trained on these never sees a test scene.

    Returns:
        ``(record, item)``: the record as in the manifests (``id`` ``"<suite>-fresh-<seed>"``; :func:`scene_for`
        regenerates its scene) and the :class:`~videollm.world.scenarios.Item` with the scene already built.
    """
    suite = get_suite(suite_name)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    cell = suite.cells[int(rng.integers(len(suite.cells)))]
    seed = FRESH_SEED_BASE + int(rng.integers(2 ** 62))
    lo, hi = cell.seconds
    seconds = int(rng.integers(lo, hi + 1))
    n = suite.options[split]
    item = scenario_item(cell.scenario, seed, seconds, n, int(rng.integers(n)))
    return _record(suite, split, cell, f"{suite.name}-fresh-{seed}", item, seed, seconds), item


def _dumps(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records)


def build(out: Path | None = None) -> dict[str, str]:
    """Write every suite's manifests under ``out`` (default ``data/benchmarks``); returns ``{path: sha256}``."""
    out = Path(out or BENCHMARK_DIR)
    hashes = {}
    for name in ALL_SUITES:
        for split in SPLITS:
            text = _dumps(generate(name, split))
            path = out / name / f"{split}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            hashes[str(path.relative_to(out))] = hashlib.sha256(text.encode()).hexdigest()
    return hashes


def check(directory: Path | None = None) -> list[str]:
    """Problems with the committed manifests (missing, or not what the generator makes now)."""
    directory = Path(directory or BENCHMARK_DIR)
    problems = []
    for name in ALL_SUITES:
        for split in SPLITS:
            path = directory / name / f"{split}.jsonl"
            if not path.exists():
                problems.append(f"{path} is missing")
            elif path.read_text() != _dumps(generate(name, split)):
                problems.append(f"{path} differs from what the generator makes")
    return problems


def load_questions(suite: str, split: str = "test", directory: Path | None = None) -> list[dict[str, Any]]:
    """The question records of ``suite``/``split`` from the committed manifests."""
    if suite not in ALL_SUITES:
        raise KeyError(f"unknown suite {suite!r}; the course's suites are {', '.join(ALL_SUITES)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    path = Path(directory or BENCHMARK_DIR) / suite / f"{split}.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"no manifest {path}: run `python -m videollm.world.suites build` (or `make data`)")
    records = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}, line {number}: not valid JSON ({error}); rebuild the manifests") from error
    return records


def item_for(record: dict[str, Any]) -> Item:
    """Regenerate a question's scene (and question) from its record; raises if the record is stale."""
    if record["scenario"] == "lesson":
        lesson = lessons.build_lesson(record["seed"], record["seconds"], lessons.RULE_NAMES.index(record["rule"]))
        item = lessons.lesson_item(lesson, record["track"], record["qa_type"], len(record["options"]),
                                   LETTERS.index(record["answer"]))
    else:
        item = scenario_item(record["scenario"], record["seed"], record["seconds"], len(record["options"]),
                             LETTERS.index(record["answer"]))
    if item.options != record["options"] or LETTERS[item.answer] != record["answer"]:
        raise ValueError(f"question {record['id']} no longer matches its generator (world version "
                         f"{WORLD_VERSION}): rebuild the manifests with `python -m videollm.world.suites build`")
    return item


def scene_for(record: dict[str, Any]) -> world.Scene:
    """The scene a question is about (no pixels drawn)."""
    return item_for(record).scene


def _clip_hash(record: dict[str, Any]) -> str:
    if record["scenario"] == "lesson":  # one clip for the lesson's three questions, whatever their options
        return spec_hash({"world": WORLD_VERSION, "lessons": lessons.LESSONS_VERSION, "scenario": "lesson",
                          "seed": record["seed"], "seconds": record["seconds"], "rule": record["rule"]})
    spec = {"world": WORLD_VERSION, "scenarios": SCENARIOS_VERSION, "scenario": record["scenario"], "seed": record["seed"],
            "seconds": record["seconds"], "options": len(record["options"])}
    return spec_hash(spec)


def clip_dir() -> Path:
    """Where rendered benchmark clips are cached: ``<data cache>/benchmarks``."""
    return data_dir() / "benchmarks"


def clip_path(record: dict[str, Any]) -> Path:
    """The ``.mp4`` of a question's clip, rendered (with ``.npz``, ``.json``, ``.srt``) on first use.

    A 5-minute clip (1200 frames at 96x128) takes a few seconds to render and encode.
    """
    digest = _clip_hash(record)

    def write(folder: Path) -> None:
        world.save_scene(scene_for(record), folder, record["clip"],
                         extra={"clip_hash": digest, "question_id": record["id"]})

    return cached_clip(clip_dir() / record["suite"], record["clip"], digest, write)[0]


def main(argv: list[str] | None = None) -> int:
    """``python -m videollm.world.suites build|check``: write the manifests, or exit 1 where they are stale."""
    parser = argparse.ArgumentParser(prog="python -m videollm.world.suites",
                                     description="build or check the suites' manifests in data/benchmarks/")
    parser.add_argument("command", choices=("build", "check"),
                        help="build: write data/benchmarks/<suite>/<split>.jsonl and print each sha256; "
                             "check: exit 1 if the committed manifests differ from what the generator makes")
    args = parser.parse_args(argv)
    if args.command == "build":
        for path, digest in build().items():
            print(f"{digest}  data/benchmarks/{path}")
        return 0
    problems = check()
    for problem in problems:
        print(problem, file=sys.stderr)
    print("manifests are current" if not problems else "run `python -m videollm.world.suites build`")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
