"""Tests for videollm.world.suites: the suites are deterministic, balanced, answerable, and not guessable blind."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from scipy.stats import chisquare

from videollm import io
from videollm.eval import oracle
from videollm.world import suites
from videollm.world.scenarios import Context, TASKS

SUITE_NAMES = list(suites.SUITES)


@pytest.fixture(scope="module")
def questions():
    return {(s, split): suites.load_questions(s, split) for s in SUITE_NAMES for split in suites.SPLITS}


def test_committed_manifests_are_what_the_generator_makes():
    assert suites.check() == [], "run `python -m videollm.world.suites build` and commit data/benchmarks"


def test_building_twice_gives_the_same_hashes(tmp_path):
    assert suites.build(tmp_path / "a") == suites.build(tmp_path / "b")


def test_records_are_well_formed(questions):
    ids = Counter()
    for (suite, split), records in questions.items():
        spec = suites.SUITES[suite]
        assert len(records) == len(spec.cells) * spec.per_cell[split]
        for r in records:
            ids[r["id"]] += 1
            assert r["suite"] == suite and r["split"] == split and r["task"] in spec.tasks
            assert len(r["options"]) == spec.options[split] == len(set(r["options"])), r["id"]
            assert r["answer"] in suites.LETTERS[: len(r["options"])]
            assert r["duration"] in ("short", "medium", "long")
    assert max(ids.values()) == 1, "question ids must be unique across suites and splits"
    mlvu = questions["mlvu", "test"]
    assert {len(r["options"]) for r in mlvu} == {6}, "MLVU's test split has six options (random 16.7%)"


@pytest.mark.parametrize("suite", SUITE_NAMES)
def test_answer_letters_are_balanced(questions, suite):
    for split in ("train", "test"):
        records = questions[suite, split]
        n = len(records[0]["options"])
        counts = Counter(r["answer"] for r in records)
        observed = [counts[letter] for letter in suites.LETTERS[:n]]
        # Balanced by construction within each cell: letters differ by at most one per cell.
        assert max(observed) - min(observed) <= len(suites.SUITES[suite].cells), f"{suite}/{split}: {observed}"
        for cell in {r["task"] for r in records}:
            per_task = Counter(r["answer"] for r in records if r["task"] == cell)
            assert chisquare([per_task[letter] for letter in suites.LETTERS[:n]]).pvalue > 0.05, (suite, cell, per_task)


@pytest.mark.parametrize("suite", SUITE_NAMES)
def test_annotation_oracle_scores_100_percent(questions, suite):
    for split in suites.SPLITS:
        records = questions[suite, split]
        predictions = oracle.frame_limited_predictions(records, None, subtitles=True)
        wrong = [r["id"] for r in records if predictions[r["id"]] != r["answer"]]
        assert not wrong, f"the oracle cannot answer {wrong[:5]} from the annotations: ill-posed questions"


@pytest.mark.parametrize("suite", SUITE_NAMES)
def test_blind_model_stays_near_chance(questions, suite):
    """On the committed test split within three binomial standard errors, and on average over five fresh draws
    of the split (which averages out the luck of one draw) within 3 points."""
    blind = oracle.BlindModel().fit(questions[suite, "train"])
    test = questions[suite, "test"]
    chance = 100 * np.mean([1 / len(r["options"]) for r in test])
    accuracy = oracle.accuracy(test, blind.predictions(test))
    margin = 300 * np.sqrt(chance / 100 * (1 - chance / 100) / len(test))
    assert accuracy <= chance + margin, f"{suite}: a question-only model scores {accuracy:.1f}% vs chance {chance:.1f}%"
    fresh = [suites.generate(suite, "test", code=100 + i) for i in range(5)]
    mean = np.mean([oracle.accuracy(draw, blind.predictions(draw)) for draw in fresh])
    assert abs(mean - chance) < 3, f"{suite}: the blind model averages {mean:.1f}% over fresh draws vs chance {chance:.1f}%"


def test_blind_model_does_find_a_bias_when_there_is_one(questions):
    """The check above has teeth: in a copy of the training split where the answer is always the first option
    text of a fixed list, the blind model learns it."""
    biased = [dict(r, answer="A") for r in questions["perception", "train"]]
    blind = oracle.BlindModel().fit(biased)
    assert oracle.accuracy(biased[:100], blind.predictions(biased[:100])) > 60


def test_without_subtitles_the_subtitle_questions_fall_to_chance(questions):
    records = [r for r in questions["videomme", "test"] if r["subtitles"]]
    assert records and all(r["task"] == "subtitle" for r in records)
    with_subs = oracle.accuracy(records, oracle.frame_limited_predictions(records, None, subtitles=True))
    without = oracle.accuracy(records, oracle.frame_limited_predictions(records, None, subtitles=False))
    assert with_subs == 100 and without < 50


def test_frame_limited_oracle_degrades_on_long_and_needle_questions(questions):
    def acc(records, n):
        return oracle.accuracy(records, oracle.frame_limited_predictions(records, n))

    needles = [r for r in questions["mlvu", "test"] if r["task"] == "needle"]
    long_ = [r for r in questions["videomme", "test"] if r["duration"] == "long" and not r["subtitles"]]
    for records in (needles, long_):
        curve = [acc(records, n) for n in (4, 16, 64)]
        assert curve[0] < curve[1] < curve[2] < 100, curve
    assert acc(needles, 4) < 35, "4 frames almost never land on a 2-3 s needle in a 2-5 min clip"


def test_regenerated_items_match_their_records(questions):
    for r in questions["perception", "val"][::7] + questions["mlvu", "val"][::9]:
        item = suites.item_for(r)
        assert item.question == r["question"] and item.options == r["options"]


def test_a_stale_record_is_reported():
    record = dict(suites.load_questions("perception", "val")[0])
    record["options"] = list(reversed(record["options"]))
    with pytest.raises(ValueError, match="rebuild the manifests"):
        suites.item_for(record)


def test_unknown_suite_and_split_say_what_exists():
    with pytest.raises(KeyError, match="videomme, perception, mlvu"):
        suites.load_questions("egoschema")
    with pytest.raises(ValueError, match="unknown split"):
        suites.load_questions("mlvu", "dev")


@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_task_answers_uniformly_and_is_solvable(task):
    """Across seeds, each task's answer index is spread over all positions, and its oracle agrees."""
    answers = Counter()
    for seed in range(24):
        item = TASKS[task](Context(np.random.default_rng(seed), 3 if task in ("memory", "physics_edge") else 4, 40.0))
        answers[item.answer] += 1
        record = {"options": item.options, "query": item.query, "question": item.question, "id": task}
        assert oracle.solve(record, item.scene, subtitles=True) == {item.answer}, f"{task} seed {seed}"
    assert len(answers) >= 3, f"{task}: answers concentrate on {dict(answers)}"


def test_a_question_clip_renders_with_its_sound_and_subtitles(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOLLM_DATA", str(tmp_path))
    record = min(suites.load_questions("videomme", "val"), key=lambda r: r["seconds"] + 100 * (not r["subtitles"]))
    path = suites.clip_path(record)
    info = io.probe_video(path)
    assert info.num_frames == round(record["seconds"] * 4) and (info.width, info.height) == (128, 96)
    assert (path.parent / f"{record['clip']}.srt").read_text().count("-->") >= 1
    mtime = path.stat().st_mtime_ns
    assert suites.clip_path(record) == path and path.stat().st_mtime_ns == mtime, "a current clip is reused"
