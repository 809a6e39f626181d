"""Tests for videollm.world.scenes: the event world's script, its renderer and its ground truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

from videollm.world import scenes as world


def small_scene(**kwargs) -> world.SceneBuilder:
    return world.SceneBuilder(40, 4.0, 64, 96, kwargs.pop("background", "plain"), np.random.default_rng(0), **kwargs)


def warp_agreement(rendered: world.Rendered, frames=None) -> float:
    """Fraction of pixels with finite motion whose colour equals frame t-1's at p - motion (rounded), among
    those whose source pixel showed the same object (content hidden behind another object has no colour to
    compare)."""
    frames_, motion, seg = rendered.frames, rendered.motion, rendered.segmentation
    T, H, W = frames_.shape[:3]
    ok = total = 0
    for t in frames if frames is not None else range(1, T):
        ys, xs = np.nonzero(np.isfinite(motion[t, ..., 0]))
        py = np.round(ys + 0.0 - motion[t, ys, xs, 1]).astype(int)
        px = np.round(xs + 0.0 - motion[t, ys, xs, 0]).astype(int)
        inside = (py >= 0) & (py < H) & (px >= 0) & (px < W)
        inside[inside] &= seg[t - 1, py[inside], px[inside]] == seg[t, ys[inside], xs[inside]]
        same = np.all(frames_[t, ys[inside], xs[inside]] == frames_[t - 1, py[inside], px[inside]], axis=-1)
        ok, total = ok + same.sum(), total + inside.sum()
    return ok / total


def test_linear_object_follows_its_velocity_and_stays_on_the_table():
    b = small_scene()
    k = b.add_object("square", "red", 10, (20, 30), (3, -2))
    scene = b.build()
    assert scene.centre.shape == (40, 1, 2)
    assert np.array_equal(scene.centre[1, k] - scene.centre[0, k], [3, -2])
    half = 5
    assert scene.centre[..., 0].min() >= half and scene.centre[..., 0].max() <= 96 - half
    assert scene.centre[..., 1].min() >= half and scene.centre[..., 1].max() <= 64 - half
    # The bounce reverses the vertical velocity at the top edge.
    vy = np.diff(scene.centre[:, k, 1])
    assert (vy > 0).any() and (vy < 0).any()


def test_translation_motion_is_exact_and_background_static():
    b = small_scene()
    b.add_object("square", "red", 12, (30, 30), (2, 1))
    b.add_object("circle", "blue", 14, (70, 30), (-1, 0))
    out = world.render(b.build())
    assert np.isnan(out.motion[0]).all(), "frame 0 has no past"
    seg, motion = out.segmentation, out.motion
    assert np.array_equal(np.unique(motion[5][seg[5] == 0], axis=0), [[2, 1]])
    assert np.array_equal(np.unique(motion[5][seg[5] == 1], axis=0), [[-1, 0]])
    assert np.all(motion[5][seg[5] == -1] == 0)
    assert warp_agreement(out) == 1.0


def test_rotation_scale_and_camera_motion_explain_the_next_frame():
    b = small_scene(background="gradient")
    k = b.add_object("triangle", "green", 16, (40, 35), (1, 0))
    b.act(k, "spin", 4)
    b.act(k, "grow", 14)
    b.look_away(22, 34, turn=4)
    out = world.render(b.build())
    assert warp_agreement(out) > 0.97  # nearest-neighbour edges are the only misses


def test_zoom_moves_the_background_away_from_the_centre():
    b = small_scene(background="gradient")
    b.zoom(0, 39, 1.5)
    scene = b.build()
    out = world.render(scene)
    m = out.motion[10]
    assert m[5, 5, 0] < 0 and m[5, 5, 1] < 0 and m[-5, -5, 0] > 0 and m[-5, -5, 1] > 0
    assert np.allclose(scene.camera[0], 0) and scene.zoom[-1] == pytest.approx(1.5)


def test_actions_blink_look_away_and_events():
    b = small_scene()
    k = b.add_object("diamond", "yellow", 14, (30, 40), (1, 0))
    j = b.add_object("square", "cyan", 12, (70, 40), (0, 0), appear=8, leave=30)
    b.act(k, "jump", 2)
    b.act(k, "blink", 12)
    b.look_away(20, 32, turn=3)
    scene = b.build()
    out = world.render(scene)
    # The jump lifts the object (y decreases) and brings it back.
    assert scene.centre[4, k, 1] < scene.centre[1, k, 1] and scene.centre[7, k, 1] == scene.centre[1, k, 1] + 0
    assert not (out.segmentation[12:15] == k).any() and (out.segmentation[15] == k).any()
    assert not (out.segmentation[:8] == j).any() and (out.segmentation[8] == j).any()
    view = scene.in_view()
    assert not view[24:28].any(), "nothing on the table is in view while the camera looks at the wall"
    kinds = [(e["kind"], e["frame"]) for e in scene.events]
    assert kinds == [("jump", 2), ("enter", 8), ("blink", 12), ("look_away", 20), ("leave", 30)]
    assert [tone[2] for tone in scene.tones] == [world.TONES[k] for k in ("jump", "enter", "blink", "leave")]
    assert scene.events[0]["time"] == pytest.approx(0.5)


def test_boxes_contain_every_pixel_of_their_object():
    b = small_scene()
    k = b.add_object("triangle", "red", 18, (30, 30), (2, 1), spin=0.2)
    b.add_object("circle", "blue", 12, (60, 20), (-1, 2))
    scene = b.build()
    out, boxes = world.render(scene), scene.boxes()
    for t in range(0, 40, 3):
        for obj in (k, 1):
            ys, xs = np.nonzero(out.segmentation[t] == obj)
            x0, y0, x1, y1 = boxes[t, obj]
            assert xs.min() >= np.floor(x0) and xs.max() < np.ceil(x1) and ys.min() >= np.floor(y0) and ys.max() < np.ceil(y1)


def test_insert_is_spliced_with_cuts():
    b = small_scene()
    b.add_object("square", "red", 12, (30, 30), (1, 1))
    inner = world.SceneBuilder(6, 4.0, 64, 96, "plain", np.random.default_rng(1))
    inner.add_object("circle", "purple", 40, (48, 32))
    b.insert(10, inner.build())
    scene = b.build()
    out = world.render(scene)
    assert (out.segmentation[10:16] == -2).all() and not (out.segmentation[16] == -2).any()
    assert np.isnan(out.motion[10]).all() and np.isnan(out.motion[16]).all()
    assert not scene.shown[10:16].any() and not scene.in_view()[10:16].any()
    assert (out.frames[12, 32, 48] == world.COLORS["purple"]).all()


def test_the_same_calls_give_the_same_arrays():
    def make():
        b = small_scene(background="photo:coffee")
        k = b.add_object("triangle", "orange", 16, (40, 30), (2, -1))
        b.act(k, "spin", 5)
        return world.render(b.build())

    a, c = make(), make()
    assert np.array_equal(a.frames, c.frames) and np.array_equal(a.segmentation, c.segmentation)
    assert np.array_equal(a.motion, c.motion, equal_nan=True)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda b: b.add_object("hexagon", "red", 10, (5, 5)), "unknown shape"),
        (lambda b: b.add_object("square", "teal", 10, (5, 5)), "unknown colour"),
        (lambda b: b.add_object("square", "red", 10, (5, 5), dynamics="stop"), "stop=<frame>"),
        (lambda b: b.add_object("square", "red", 10, (5, 5), appear=30, leave=20), "appear < leave"),
        (lambda b: b.act(0, "dance", 3), "unknown action"),
        (lambda b: b.act(5, "jump", 3), "no object 5"),
        (lambda b: b.look_away(30, 33, turn=4), "look_away needs"),
        (lambda b: b.insert(36, world.SceneBuilder(6, 4.0, 64, 96).build()), "strictly inside"),
        (lambda b: b.insert(5, world.SceneBuilder(6, 4.0, 32, 32).build()), "same size"),
    ],
)
def test_bad_calls_say_what_is_wrong(call, message):
    b = small_scene()
    b.add_object("square", "red", 10, (20, 20), leave=38)
    with pytest.raises(ValueError, match=message):
        call(b)


def test_an_action_outside_the_objects_lifetime_is_refused():
    b = small_scene()
    b.add_object("square", "red", 10, (20, 20), appear=10)
    with pytest.raises(ValueError, match="does not fit"):
        b.act(0, "jump", 5)


def test_save_scene_writes_video_audio_subtitles_and_ground_truth(tmp_path):
    from videollm.io import load_audio, load_video
    from videollm.world.subtitles import read_srt

    b = small_scene()
    k = b.add_object("square", "red", 12, (30, 30), (1, 0))
    b.act(k, "jump", 8)
    b.show_text("HELLO", 20, 30)
    b.say("Meet Pip, the red square.", 1.0, 3.0)
    scene = b.build()
    video = world.save_scene(scene, tmp_path, "demo")
    frames, _ = load_video(video)
    assert frames.shape == (40, 64, 96, 3)
    samples, rate = load_audio(video)
    assert abs(len(samples) / rate - scene.duration) < 0.25
    assert [c.text for c in read_srt(tmp_path / "demo.srt")] == ["Meet Pip, the red square."]
    record = json.loads((tmp_path / "demo.json").read_text())
    assert [e["kind"] for e in record["events"]] == ["jump", "text"]
    with np.load(tmp_path / "demo.npz") as gt:
        assert gt["motion"].shape == (40, 64, 96, 2) and gt["boxes"].shape == (40, 1, 4)
        assert gt["visible_fraction"].shape == (40, 1)
        assert gt["segmentation"].dtype == np.int8
    # The decoded frames are the rendered ones (up to the lossy encoder), sign included.
    rendered = world.render(scene).frames
    assert np.abs(frames[25].astype(int) - rendered[25].astype(int)).mean() < 8
    text = record["texts"][0]
    assert text["text"] == "HELLO" and (text["start"], text["end"]) == (20, 30)
    band = slice(text["y"], text["y"] + 14)
    assert not np.array_equal(rendered[25, band], rendered[19, band]), "the sign is not drawn"


def test_textures_darken_a_pattern_that_turns_with_the_object():
    b = small_scene()
    k = b.add_object("square", "red", 20, (30, 30), (0, 0), texture="stripes", spin=0.1)
    j = b.add_object("square", "green", 16, (70, 30), (0, 0), texture="checks")
    out = world.render(b.build())
    red, green = np.array(world.COLORS["red"]), np.array(world.COLORS["green"])
    for obj, color in ((k, red), (j, green)):
        shades = np.unique(out.frames[0][out.segmentation[0] == obj], axis=0)
        assert {tuple(c) for c in shades} == {tuple(color), tuple(color * 3 // 5)}
    # The stripes rotate with the square, so the moving pattern is explained by the motion field.
    assert warp_agreement(out) > 0.95
    with pytest.raises(ValueError, match="unknown texture"):
        small_scene().add_object("square", "red", 10, (5, 5), texture="dots")


def test_occlusion_is_measured_while_rendering():
    b = small_scene()
    k = b.add_object("square", "red", 20, (30, 30), (0, 0))
    b.add_object("circle", "blue", 16, (10, 30), (2, 0))  # drawn on top, slides across the square
    scene = b.build()
    out = world.render(scene)
    fraction = out.visible_fraction[:, k]
    assert fraction[0] == 1.0 and fraction.min() < 0.5
    events = world.occlusion_events(scene, out)
    assert [(e["kind"], e["object"]) for e in events] == [("occluded", k)]
    assert np.all(fraction[events[0]["frame"]:events[0]["end"]] < 0.5)
    assert world.runs(np.array([0, 1, 1, 0, 1], dtype=bool)) == [(1, 3), (4, 5)]
