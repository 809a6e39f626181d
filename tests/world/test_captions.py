"""videollm.world.captions writes true descriptions of the frames a model sees; videollm.world.suites.fresh_question
draws new questions that are never a benchmark's."""

import numpy as np
import pytest

from videollm.sampling import uniform_indices
from videollm.world.captions import caption
from videollm.world.scenes import TOPICS
from videollm.world.suites import FRESH_SEED_BASE, SUITES, fresh_question, generate, load_questions, scene_for


def _fresh(suite, task, seed=0):
    rng = np.random.default_rng(seed)
    while True:
        record, item = fresh_question(suite, rng)
        if record["task"] == task:
            return record, item


def test_a_caption_names_the_background_and_the_objects_in_the_order_they_are_first_seen():
    record, item = _fresh("videomme", "temporal")
    scene = item.scene
    index = uniform_indices(scene.num_frames, 8)
    text = caption(scene, index)
    assert text.startswith(f"In front of {TOPICS[scene.background]}: ")
    seen = scene.in_view()[index]
    first = {k: int(np.argmax(seen[:, k])) for k in range(len(scene.shapes)) if seen[:, k].any()}
    names = {k: f"the {scene.describe(k, int(index[t]))}" for k, t in first.items()}
    assert all(name in text for name in names.values())
    by_time = sorted(first, key=lambda k: (first[k], k))
    positions = [text.index(names[k]) for k in by_time]
    assert positions == sorted(positions)


def test_a_caption_says_what_a_sign_and_a_cut_away_show_and_what_is_gone():
    _, item = _fresh("videomme", "ocr")
    scene = item.scene
    sign = scene.texts[0]
    assert f"A sign says {sign.text}." in caption(scene, [sign.start])
    elsewhere = 0 if sign.start > 0 else scene.num_frames - 1
    assert not sign.start <= elsewhere < sign.end and "A sign says" not in caption(scene, [elsewhere])
    _, item = _fresh("mlvu", "needle")
    start, inner = item.scene.inserts[0]
    words = caption(item.scene, [0, start, item.scene.num_frames - 1])
    assert "The video cuts away to " in words
    assert (inner.texts[0].text if inner.texts else inner.shapes[0]) in words
    _, item = _fresh("perception", "memory", seed=3)
    scene = item.scene
    seen = scene.in_view()
    left = [k for k in range(len(scene.shapes)) if seen[0, k] and not scene.present[-1, k]]
    assert left, "this seed's memory scene should take an object off the table"
    said = caption(scene, [0, scene.num_frames - 1])
    assert f"the {scene.describe(left[0])}".capitalize() in said or f"the {scene.describe(left[0])}" in said
    assert "gone at the end" in said
    with pytest.raises(ValueError, match="indices"):
        caption(scene, [scene.num_frames])


@pytest.mark.parametrize("suite", list(SUITES))
def test_fresh_questions_follow_the_suite_format_and_are_never_benchmark_scenes(suite):
    rng = np.random.default_rng(5)
    drawn = [fresh_question(suite, rng) for _ in range(12)]
    manifest_seeds = {r["seed"] for split in ("train", "val", "test") for r in load_questions(suite, split)}
    tasks = set()
    for record, item in drawn:
        assert record["seed"] >= FRESH_SEED_BASE and record["seed"] not in manifest_seeds
        assert record["id"].startswith(f"{suite}-fresh-") and record["split"] == "train"
        assert len(record["options"]) == SUITES[suite].options["train"]
        assert scene_for(record).num_frames == item.scene.num_frames  # the record regenerates its scene
        tasks.add(record["task"])
    assert len(tasks) >= 2
    again = [r for r, _ in (fresh_question(suite, np.random.default_rng(5)) for _ in range(1))]
    assert again[0] == drawn[0][0]  # a pure function of the generator's state
    assert set(generate(suite, "train")[0]) == set(drawn[0][0])
