"""Tests for videollm.world.lessons and the Video-MMMU-like suite built on them (``videommmu`` in
videollm.world.suites): well-formed and balanced, answerable from the clip, not answerable without it, the rule
visible in the pixels, and the other suites and the tokenizer untouched."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from videollm import io
from videollm.eval import oracle
from videollm.world import lessons, suites
from videollm.world import text_tokenizer as tt
from videollm.world.scenes import render_frames
from videollm.world.shapes import COLOR_NAMES, PALETTE

SUITE = "videommmu"
SPEC = suites.LESSON_SUITES[SUITE]
OPTIONS = {"perception": 5, "comprehension": 5, "adaptation": 10}
QA_TYPES = {"perception": {"ocr", "asr"}, "comprehension": {"concept"}, "adaptation": {"case_study"}}
RAMP_DONE = lessons.RAMP + 1  # frames after a meeting by which every effect has fully happened


@pytest.fixture(scope="module")
def questions():
    return {split: suites.load_questions(SUITE, split) for split in suites.SPLITS}


def test_the_suite_is_built_with_the_others_and_kept_out_of_the_one_question_per_clip_suites():
    assert SUITE in suites.ALL_SUITES and SUITE not in suites.SUITES  # trainers, captions and labs iterate SUITES
    assert suites.MAX_OPTIONS == 10 == max(OPTIONS.values())
    with pytest.raises(KeyError, match="lesson suite"):
        suites.fresh_question(SUITE, np.random.default_rng(0))


def test_the_tokenizer_corpus_still_reads_only_the_first_three_suites():
    # The trained models are keyed on the corpus's hash: the new suite's words and letters G-J must not enter it.
    lines = tt.corpus()
    assert not any("two shapes meet" in line or "lesson" in line for line in lines)
    assert "Answer: F" in lines and "Answer: G" not in lines
    assert tt.CORPUS_SUITES == tuple(suites.SUITES)


def test_records_are_well_formed(questions):
    ids = Counter()
    for split, records in questions.items():
        n = SPEC.clips[split]
        assert len(records) == 3 * n
        clips = {}
        for r in records:
            ids[r["id"]] += 1
            clips.setdefault(r["clip"], []).append(r["track"])
            assert r["suite"] == SUITE and r["split"] == split and r["task"] == r["track"]
            assert len(r["options"]) == OPTIONS[r["track"]] == len(set(r["options"])), r["id"]
            assert r["answer"] in suites.LETTERS[: len(r["options"])]  # one letter, unique option texts: one answer
            assert r["qa_type"] in QA_TYPES[r["track"]]
            assert r["subtitles"] == (r["qa_type"] == "asr")
            assert r["rule"] in lessons.RULE_NAMES and SPEC.seconds[0] <= r["seconds"] <= SPEC.seconds[1]
        assert len(clips) == n and all(tracks == list(lessons.TRACKS) for tracks in clips.values())
    assert max(ids.values()) == 1, "question ids must be unique"


def test_tracks_rules_kinds_and_answer_letters_are_balanced(questions):
    for split, records in questions.items():
        n = SPEC.clips[split]
        assert Counter(r["track"] for r in records) == {t: n for t in lessons.TRACKS}
        adaptation = [r for r in records if r["track"] == "adaptation"]
        rules = Counter(r["rule"] for r in adaptation)
        assert set(rules) == set(lessons.RULE_NAMES) and max(rules.values()) - min(rules.values()) <= 1, rules
        kinds = Counter(r["qa_type"] for r in records if r["track"] == "perception")
        assert abs(kinds["ocr"] - kinds["asr"]) <= 1, kinds
        for track, k in OPTIONS.items():
            letters = Counter(r["answer"] for r in records if r["track"] == track)
            observed = [letters[letter] for letter in suites.LETTERS[:k]]
            assert max(observed) - min(observed) <= 1, (split, track, observed)


def test_the_annotation_oracle_with_every_frame_scores_100_percent(questions):
    for split, records in questions.items():
        predictions = oracle.frame_limited_predictions(records, None, subtitles=True)
        wrong = [r["id"] for r in records if predictions[r["id"]] != r["answer"]]
        assert not wrong, f"the oracle cannot answer {wrong[:5]} from the annotations: ill-posed questions"


def test_the_blind_model_stays_near_chance_on_every_track(questions):
    """On the committed test split within three binomial standard errors, and averaged over five fresh draws of the
    split within 3 points (the adaptation track: 600 questions, chance 10%, one standard error 1.2 points)."""
    blind = oracle.BlindModel().fit(questions["train"])
    fresh = [suites.generate(SUITE, "test", code=100 + i) for i in range(5)]
    for track, k in OPTIONS.items():
        test = [r for r in questions["test"] if r["track"] == track]
        chance = 100 / k
        accuracy = oracle.accuracy(test, blind.predictions(test))
        margin = 300 * np.sqrt(chance / 100 * (1 - chance / 100) / len(test))
        assert accuracy <= chance + margin, f"{track}: question-only {accuracy:.1f}% vs chance {chance:.1f}%"
        mean = np.mean([oracle.accuracy(d, blind.predictions(d)) for d in
                        ([r for r in draw if r["track"] == track] for draw in fresh)])
        assert abs(mean - chance) < 3, f"{track}: the blind model averages {mean:.1f}% vs chance {chance:.1f}%"


def test_the_question_image_alone_leaves_every_rule_and_outcome_open(questions):
    for r in [r for r in questions["val"] if r["track"] != "perception"][::7]:
        scene = suites.scene_for(r)
        last = np.array([scene.num_frames - 1])
        assert oracle.solve(r, scene, last) == set(range(len(r["options"]))), r["id"]
        assert lessons.rules_consistent_with(r, scene, last) == list(range(len(lessons.RULES)))


def test_one_frame_after_a_meeting_settles_the_rule_and_none_before_it(questions):
    for r in [r for r in questions["val"] if r["track"] == "comprehension"][:12]:
        lesson = lessons.build_lesson(r["seed"], r["seconds"], lessons.RULE_NAMES.index(r["rule"]))
        rule = lessons.RULE_NAMES.index(r["rule"])
        first_meeting = lesson.meetings[0][3]
        assert lessons.rules_consistent_with(r, lesson.scene, np.arange(first_meeting + 1)) == list(range(10))
        assert lessons.rules_consistent_with(r, lesson.scene, np.array([first_meeting + RAMP_DONE])) == [rule]


def _pixels(frame: np.ndarray, colour: str) -> np.ndarray:
    """``(y, x)`` of the pixels painted exactly in a palette colour (lesson shapes are solid)."""
    rgb = np.array(PALETTE[COLOR_NAMES.index(colour)], dtype=np.uint8)
    return np.argwhere(np.all(frame == rgb, axis=-1))


def _mean_x(frame: np.ndarray, colour: str) -> float:
    return float(_pixels(frame, colour)[:, 1].mean())


@pytest.mark.parametrize("rule", range(len(lessons.RULES)), ids=lambda r: lessons.RULE_NAMES[r])
def test_the_rule_is_visible_in_the_rendered_pixels(rule):
    """Independent of the annotations: count and locate the pixels of each shape's colour before and after the first
    meeting in the rendered frames, and check the effect the rule names befalls the shape of the size it names."""
    effect, who = lessons.RULES[rule]
    lesson = lessons.build_lesson(20240 + rule, 36, rule)
    scene = lesson.scene
    left, right, target, meet = lesson.meetings[0]
    other = left + right - target
    colour = {k: COLOR_NAMES[scene.color[meet, k]] for k in (left, right)}
    before, after = render_frames(scene, [meet, meet + 8])
    area = {k: len(_pixels(before, colour[k])) for k in (left, right)}
    assert (area[target] < area[other]) == (who == "smaller"), "the effect befalls the shape the rule names"
    t_after, o_after = len(_pixels(after, colour[target])), len(_pixels(after, colour[other]))
    if effect == "vanishes":
        assert t_after == 0 and o_after == area[other]
    elif effect == "colour":
        assert t_after == 0 and o_after > area[other] + 0.5 * area[target]
    elif effect in ("grows", "shrinks"):
        ratio = t_after / area[target]
        expected = lessons.GROWTH[effect] ** 2
        assert expected * 0.7 < ratio < expected * 1.3, ratio
    else:  # bounces: it has moved away from the other shape, which stayed where they met
        gap_before = abs(_mean_x(before, colour[target]) - _mean_x(before, colour[other]))
        gap_after = abs(_mean_x(after, colour[target]) - _mean_x(after, colour[other]))
        assert gap_after > gap_before + 5 and o_after == area[other]


def test_the_adaptation_answer_applies_the_rule_to_the_smaller_or_larger_shape_of_the_quiz_image(questions):
    """The quiz pair's sizes read from the last rendered frame's pixels; the right option names the effect of the
    lesson's rule on the shape of the size the rule names."""
    for r in [r for r in questions["val"] if r["track"] == "adaptation"][:20]:
        effect, who = lessons.RULES[lessons.RULE_NAMES.index(r["rule"])]
        scene = suites.scene_for(r)
        last = render_frames(scene, [scene.num_frames - 1])[0]
        names = r["question"].removeprefix("At the end of the video, ").split(" slide towards")[0].split(" and ")
        area = [len(_pixels(last, name.split()[1])) for name in names]
        assert min(area) > 0
        named = names[int(np.argmin(area)) if who == "smaller" else int(np.argmax(area))]
        answer = r["options"][suites.LETTERS.index(r["answer"])]
        assert answer.startswith(named + " "), (answer, named)
        verb = {"vanishes": "vanishes", "colour": "turns", "bounces": "bounces back", "grows": "grows",
                "shrinks": "shrinks"}[effect]
        assert verb in answer


def test_records_regenerate_their_questions_and_a_stale_one_is_reported(questions):
    clip = questions["val"][:3]
    assert len({suites.scene_for(r).num_frames for r in clip}) == 1
    for r in questions["val"][::11]:
        item = suites.item_for(r)
        assert item.question == r["question"] and item.options == r["options"]
    stale = dict(clip[1], rule=lessons.RULE_NAMES[(lessons.RULE_NAMES.index(clip[1]["rule"]) + 1) % 10])
    with pytest.raises(ValueError, match="rebuild the manifests"):
        suites.item_for(stale)


def test_bad_arguments_say_what_to_do():
    with pytest.raises(ValueError, match="rule must be an index"):
        lessons.build_lesson(0, 36, 10)
    with pytest.raises(ValueError, match="at least 24 s"):
        lessons.build_lesson(0, 12, 0)
    lesson = lessons.build_lesson(0, 36, 0)
    with pytest.raises(ValueError, match="qa_type"):
        lessons.lesson_item(lesson, "comprehension", "ocr", 5, 0)
    with pytest.raises(ValueError, match="num_options"):
        lessons.lesson_item(lesson, "adaptation", "case_study", 11, 0)
    with pytest.raises(KeyError, match="videommmu"):
        suites.load_questions("egoschema")


def test_a_lesson_clip_renders_once_for_its_three_questions(tmp_path, monkeypatch, questions):
    monkeypatch.setenv("VIDEOLLM_DATA", str(tmp_path))
    clip = min((questions["val"][i:i + 3] for i in range(0, len(questions["val"]), 3)), key=lambda c: c[0]["seconds"])
    path = suites.clip_path(clip[0])
    mtime = path.stat().st_mtime_ns
    assert all(suites.clip_path(r) == path for r in clip) and path.stat().st_mtime_ns == mtime
    info = io.probe_video(path)
    assert info.num_frames == clip[0]["seconds"] * 4 and (info.width, info.height) == (128, 96)
    srt = (path.parent / f"{clip[0]['clip']}.srt").read_text()
    assert "This lesson is brought to you by" in srt and srt.count("Watch what happens when they meet.") == 3
