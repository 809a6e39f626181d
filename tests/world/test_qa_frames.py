"""videollm.world.scenes.render_frames draws exactly the frames render draws; videollm.world.qa_frames builds and caches sets."""

import numpy as np
import pytest
import torch

from videollm.sampling import uniform_indices
from videollm.world import scenes as world
from videollm.world.qa_frames import frame_set, question_frames, resize_frames
from videollm.world.suites import load_questions, scene_for


def _record(suite, task):
    return next(q for q in load_questions(suite, "val") if q["task"] == task)


@pytest.mark.parametrize("suite, task", [("mlvu", "needle"), ("videomme", "ocr"), ("perception", "memory")])
def test_render_frames_equals_the_full_render(suite, task):
    scene = scene_for(_record(suite, task))
    full = world.render(scene).frames
    rng = np.random.default_rng(0)
    index = np.concatenate([[0, scene.num_frames - 1, 3, 3], rng.integers(0, scene.num_frames, 40)])
    np.testing.assert_array_equal(world.render_frames(scene, index), full[index])


def test_the_needle_cut_in_and_the_sign_are_drawn():
    needle = scene_for(_record("mlvu", "needle"))
    assert needle.inserts, "the needle scenario should cut to another scene"
    start, inner = needle.inserts[0]
    np.testing.assert_array_equal(world.render_frames(needle, [start + 1])[0], world.render(inner).frames[1])
    ocr = scene_for(_record("videomme", "ocr"))
    sign = ocr.texts[0]
    shown = world.render_frames(ocr, [sign.start])[0]
    bare = world._render_at(ocr, np.array([sign.start]))[0][0]
    assert (shown != bare).any(), "the sign's text should change the frame it is shown in"


def test_render_frames_rejects_indices_outside_the_clip():
    scene = scene_for(_record("perception", "memory"))
    with pytest.raises(ValueError, match="frame indices"):
        world.render_frames(scene, [scene.num_frames])


def test_question_frames_are_uniform_samples_resized():
    record = _record("perception", "counting")
    scene = scene_for(record)
    frames, times = question_frames(record, num_frames=6, size=(48, 64))
    assert frames.shape == (6, 48, 64, 3) and frames.dtype == np.uint8
    index = uniform_indices(scene.num_frames, 6)
    np.testing.assert_allclose(times, index / scene.fps, rtol=1e-6)
    expected = resize_frames(world.render(scene).frames[index], (48, 64))
    np.testing.assert_array_equal(frames, expected)


def test_resize_frames_keeps_a_flat_colour():
    flat = np.full((2, 96, 128, 3), (200, 10, 90), dtype=np.uint8)
    small = resize_frames(flat, (24, 32))
    assert small.shape == (2, 24, 32, 3) and (small == flat[0, 0, 0]).all()


def test_frame_set_is_cached_and_filters_tasks(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOLLM_DATA", str(tmp_path))
    fs = frame_set("perception", "val", num_frames=4, size=(28, 28), progress=False)
    n = len(load_questions("perception", "val"))
    assert fs.frames.shape == (n, 4, 3, 28, 28) and fs.frames.dtype == torch.uint8 and fs.times.shape == (n, 4)
    cached = list((tmp_path / "qa_frames").glob("*.npz"))
    assert len(cached) == 1
    again = frame_set("perception", "val", num_frames=4, size=(28, 28), tasks=["counting"], progress=False)
    assert list((tmp_path / "qa_frames").glob("*.npz")) == cached  # loaded, not drawn again
    assert {r["task"] for r in again.records} == {"counting"}
    keep = [i for i, r in enumerate(fs.records) if r["task"] == "counting"]
    assert torch.equal(again.frames, fs.frames[keep])
    first = question_frames(fs.records[0], 4, (28, 28))[0]
    assert torch.equal(fs.frames[0], torch.from_numpy(first).permute(0, 3, 1, 2))


@pytest.mark.parametrize("kwargs, message", [
    (dict(suite="nope"), "unknown suite"), (dict(split="dev"), "unknown split"),
    (dict(tasks=["cooking"]), "no task"), (dict(num_frames=0), "num_frames"), (dict(size=(0, 4)), "positive"),
])
def test_frame_set_explains_bad_arguments(kwargs, message):
    args = dict(suite="perception", split="val", **{k: v for k, v in kwargs.items() if k not in ("suite", "split")})
    args.update({k: v for k, v in kwargs.items() if k in ("suite", "split")})
    with pytest.raises(ValueError, match=message):
        frame_set(**args)


@pytest.mark.parametrize("suite, task", [("mlvu", "needle"), ("videomme", "ocr"), ("perception", "memory")])
def test_render_truth_labels_every_pixel_with_what_the_renderer_drew(suite, task):
    """Colour and shape labels follow the full render's segmentation (objects), the sign's box is SIGN, a
    cut-in's pixels carry the inner scene's labels, and each frame knows its background."""
    from videollm.world.shapes import SHAPES

    scene = scene_for(_record(suite, task))
    full = world.render(scene)
    index = uniform_indices(scene.num_frames, 16)
    truth = world.render_truth(scene, index)
    np.testing.assert_array_equal(truth.frames, full.frames[index])
    assert truth.color.shape == truth.shape.shape == (16, scene.height, scene.width)
    seg = full.segmentation[index].astype(np.int64)
    signed = truth.shape == world.SIGN
    objects = (seg >= 0) & ~signed
    k = np.clip(seg, 0, None)
    expected_color = scene.color[index][np.arange(16)[:, None, None], k]
    np.testing.assert_array_equal(truth.color[objects], expected_color[objects])
    shape_ids = np.array([SHAPES.index(s) for s in scene.shapes])
    np.testing.assert_array_equal(truth.shape[objects], shape_ids[k][objects])
    assert (truth.color[(seg == -1) & ~signed] == -1).all() and (truth.shape[(seg == -1) & ~signed] == -1).all()
    assert (truth.color[signed] == -1).all()
    backgrounds = list(world.TOPICS)
    for i, t in enumerate(index):
        inside = [inner for s, inner in scene.inserts if s <= t < s + inner.num_frames]
        assert backgrounds[truth.background[i]] == (inside[0] if inside else scene).background
    if task == "ocr":
        sign = scene.texts[0]
        shown = [i for i, t in enumerate(index) if sign.start <= t < sign.end and scene.shown[t]]
        assert shown and all(signed[i].any() for i in shown)
    if task == "needle":
        start, inner = scene.inserts[0]
        t = start + 1
        inner_truth = world.render_truth(inner, [1])
        cut = world.render_truth(scene, [t])
        np.testing.assert_array_equal(cut.color, inner_truth.color)
        np.testing.assert_array_equal(cut.shape, inner_truth.shape)


def test_decoded_frames_are_the_rendered_frames_through_the_codec(tmp_path, monkeypatch):
    """The user's path (render, encode as H.264, decode with videollm.io) gives the frames question_frames draws,
    at the same times, up to the codec's small loss."""
    from videollm.world.qa_frames import decoded_frames

    monkeypatch.setenv("VIDEOLLM_DATA", str(tmp_path))
    record = min(load_questions("perception", "val"), key=lambda r: r["seconds"])
    drawn, drawn_times = question_frames(record, 6, (56, 56))
    decoded, times = decoded_frames(record, 6, (56, 56))
    assert decoded.shape == drawn.shape and decoded.dtype == np.uint8
    np.testing.assert_allclose(times, drawn_times, atol=1e-3)
    error = np.abs(decoded.astype(np.float64) - drawn.astype(np.float64))
    psnr = 10 * np.log10(255 ** 2 / np.mean(error ** 2))
    assert psnr > 30, psnr
    total = scene_for(record).num_frames  # more frames than the clip has: its last frame repeats, as drawn
    padded, padded_times = decoded_frames(record, total + 3, (56, 56))
    assert len(padded) == total + 3 and (padded_times[-4:] == padded_times[-1]).all()
    np.testing.assert_array_equal(padded[-3:], np.repeat(padded[-4:-3], 3, 0))
