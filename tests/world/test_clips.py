"""Tests for videollm.world.clips: determinism, ground truth (boxes, segmentation, exact motion), backgrounds, files."""

from __future__ import annotations

import hashlib
import json
import socket
import time

import av
import numpy as np
import pytest

from videollm.world import backgrounds, scenes
from videollm.world.backgrounds import PHOTOS
from videollm.world.clips import Clip, ShapeSpec, as_scene, load_ground_truth, make_clip, render, save_clip
from videollm.world.shapes import PALETTE, WORLD_VERSION

BACKGROUNDS = ["plain", "gradient", "photo:astronaut", "photo:coffee"]
ARRAYS = ("frames", "boxes", "visible", "motion", "segmentation")


def digest(clip: Clip) -> str:
    h = hashlib.sha256()
    for key in ARRAYS:
        h.update(np.ascontiguousarray(getattr(clip, key)).tobytes())
    return h.hexdigest()


def assert_same_clip(a: Clip, b: Clip) -> None:
    for key in ARRAYS:
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key), err_msg=key)  # NaN == NaN here
    assert a.meta == b.meta and a.fps == b.fps


# --------------------------------------------------------------------------------------------------------------
# Determinism, shapes, dtypes


@pytest.mark.parametrize("background", BACKGROUNDS)
def test_same_seed_same_clip_and_different_seed_differs(background):
    a, b = make_clip(7, background=background), make_clip(7, background=background)
    assert_same_clip(a, b)
    c = make_clip(8, background=background)
    assert not np.array_equal(a.frames, c.frames)
    assert not np.array_equal(a.motion, c.motion)


def test_pinned_checksums():
    # If you changed the generator on purpose: bump videollm.world.shapes.WORLD_VERSION (so cached clips are
    # rebuilt) and update these.
    assert WORLD_VERSION == 2
    assert digest(make_clip(0)) == "f41eada36ee8b13e788a048490274e3a7d2dfe0e91fcdde9456698dce814b06a"
    assert digest(make_clip(1, background="photo:astronaut")) == (
        "194c1246d18792f23a648fd625116194fdce0f9bf5ca0452df6a02dfcf27f984"
    )
    assert digest(make_clip(3, background="gradient", dynamics="linear", max_speed=6)) == (
        "735daab6b5d9301e50ccba17901375c1e103fc3b239884135cb790a196079f1d"
    )


def test_same_seed_same_objects_on_every_background():
    objects = [make_clip(11, background=bg).meta["objects"] for bg in BACKGROUNDS]
    assert all(o == objects[0] for o in objects)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"num_frames": 5, "height": 64, "width": 96, "num_objects": 8, "background": "gradient"},
        {"num_frames": 1, "num_objects": 0},
        {"num_frames": 20, "height": 40, "width": 30, "background": "photo:chelsea", "dynamics": "linear"},
    ],
)
def test_shapes_and_dtypes(kwargs):
    clip = make_clip(3, **kwargs)
    t, h, w = kwargs.get("num_frames", 48), kwargs.get("height", 128), kwargs.get("width", 160)
    k = kwargs.get("num_objects", 3)
    assert clip.frames.shape == (t, h, w, 3) and clip.frames.dtype == np.uint8
    assert clip.boxes.shape == (t, k, 4) and clip.boxes.dtype == np.float32
    assert clip.visible.shape == (t, k) and clip.visible.dtype == bool
    assert clip.motion.shape == (t, h, w, 2) and clip.motion.dtype == np.float32
    assert clip.segmentation.shape == (t, h, w) and clip.segmentation.dtype == np.int8
    assert clip.fps == 12
    json.dumps(clip.meta)  # JSON-able
    assert clip.meta["seed"] == 3 and clip.meta["version"] == WORLD_VERSION
    assert len(clip.meta["objects"]) == k and len(clip.objects) == k


def test_render_speed():
    make_clip(0)  # warm-up (imports)
    start = time.perf_counter()
    make_clip(1, num_objects=8)
    assert time.perf_counter() - start < 0.5, "a 48x128x160 clip should render in well under a second"


# --------------------------------------------------------------------------------------------------------------
# Ground truth: boxes and segmentation


@pytest.mark.parametrize("seed", range(4))
def test_boxes_agree_with_rendered_pixels(seed):
    clip = make_clip(seed, num_objects=6, background="plain", dynamics="linear", max_speed=6)
    t_len, h, w = clip.frames.shape[:3]
    for k, obj in enumerate(clip.objects):
        # Plain backgrounds stay below 128 in every channel and palette colours are distinct, so an object's
        # colour identifies its pixels.
        has_color = np.all(clip.frames == np.array(obj.color, dtype=np.uint8), axis=-1)  # (T, H, W)
        np.testing.assert_array_equal(has_color, clip.segmentation == k)
        t_idx, ys, xs = np.nonzero(has_color)
        box = clip.boxes[t_idx, k]
        assert np.all((box[:, 0] <= xs) & (xs < box[:, 2]) & (box[:, 1] <= ys) & (ys < box[:, 3]))
        for t in range(t_len):
            if not clip.visible[t, k]:
                assert np.isnan(clip.boxes[t, k]).all() and not has_color[t].any()
                continue
            x0, y0, x1, y1 = clip.boxes[t, k]
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
    # Rendered alone, an object touches all four sides of its box: boxes are tight.
    # (Only where the whole square is inside the frame: a circle cut by the border shows less than its box.
    # And a pixel is drawn when its centre is inside the shape: the apex row of an even-sized triangle has no
    # pixel centre inside, so that triangle starts one row below its box.)
    obj = clip.objects[0]
    apex_gap = int(obj.shape == "triangle" and obj.size % 2 == 0)
    alone = render([obj], np.zeros_like(clip.frames[0]), t_len)
    whole = np.all(alone.boxes[:, 0, 2:] - alone.boxes[:, 0, :2] == obj.size, axis=-1)
    assert whole.any()
    for t in np.flatnonzero(whole):
        ys, xs = np.nonzero(alone.segmentation[t] == 0)
        np.testing.assert_array_equal(
            alone.boxes[t, 0] + [0, apex_gap, 0, 0], [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1],
            err_msg=f"frame {t}"
        )


def test_topmost_object_wins():
    objects = [
        ShapeSpec("square", (255, 0, 0), 20, (10, 10), (1, 0)),
        ShapeSpec("square", (0, 255, 0), 20, (20, 10), (-1, 1)),
    ]
    clip = render(objects, np.zeros((48, 64, 3), np.uint8), 4)
    # Pixel (25, 15) is inside both squares in frame 0: the later object (1) is drawn on top.
    assert clip.segmentation[0, 15, 25] == 1
    np.testing.assert_array_equal(clip.frames[0, 15, 25], (0, 255, 0))
    np.testing.assert_array_equal(clip.motion[1, 16, 25], (-1, 1))


# --------------------------------------------------------------------------------------------------------------
# Ground truth: motion is exact


MOTION_CASES = [
    {"seed": 0},
    {"seed": 1, "background": "photo:astronaut", "num_objects": 8},
    {"seed": 2, "background": "gradient", "dynamics": "linear", "max_speed": 7, "num_objects": 5},
    {"seed": 3, "height": 48, "width": 64, "max_speed": 9, "num_objects": 4},  # many bounces
]


@pytest.mark.parametrize("kwargs", MOTION_CASES)
def test_motion_is_exact(kwargs):
    clip = make_clip(**kwargs)
    frames, motion, seg = clip.frames, clip.motion, clip.segmentation
    t_len, h, w = frames.shape[:3]
    assert np.all(motion[0] == 0)
    assert np.all(motion[seg == -1] == 0), "the background is static"
    assert np.array_equal(motion, np.round(motion)), "objects move by whole pixels"

    t, y, x = np.nonzero((seg[1:] >= 0) & np.any(motion[1:] != 0, axis=-1))
    t = t + 1
    dx, dy = motion[t, y, x, 0].astype(int), motion[t, y, x, 1].astype(int)
    qx, qy = x - dx, y - dy
    inside = (qx >= 0) & (qx < w) & (qy >= 0) & (qy < h)
    t, x, y, qx, qy = t[inside], x[inside], y[inside], qx[inside], qy[inside]
    # Where the same object is visible at p in frame t and at p - m in frame t-1 (not occluded there), the
    # content must be identical: frame[t][p] == frame[t-1][p - m].
    same = seg[t, y, x] == seg[t - 1, qy, qx]
    assert same.mean() > 0.8, "most moving pixels should be checkable"
    np.testing.assert_array_equal(frames[t, y, x][same], frames[t - 1, qy, qx][same])


@pytest.mark.parametrize("kwargs", MOTION_CASES)
def test_each_object_moves_rigidly(kwargs):
    """Rendered alone, each object's mask in frame t is exactly its mask in t-1 shifted by its motion."""
    clip = make_clip(**kwargs)
    t_len, h, w = clip.frames.shape[:3]
    for obj in clip.objects:
        alone = render([obj], np.zeros((h, w, 3), np.uint8), t_len)
        mask = alone.segmentation == 0
        for t in range(1, t_len):
            ys, xs = np.nonzero(mask[t])
            if len(xs) == 0:
                continue
            m = alone.motion[t, ys, xs].astype(int)
            assert (m == m[0]).all(), "one displacement per object"
            dx, dy = m[0]
            # Shift frame t-1's mask by (dx, dy) on a padded canvas and compare.
            pad = 20
            prev = np.zeros((h + 2 * pad, w + 2 * pad), bool)
            prev[pad + dy : pad + dy + h, pad + dx : pad + dx + w] = mask[t - 1]
            cur = np.zeros_like(prev)
            cur[pad : pad + h, pad : pad + w] = mask[t]
            inside = np.zeros_like(prev)
            inside[pad : pad + h, pad : pad + w] = True
            np.testing.assert_array_equal(prev & inside, cur, err_msg=f"frame {t}")
            # Against the box: the displacement is the change of the (unclipped, for bounce) top-left corner.
            if obj.dynamics == "bounce":
                np.testing.assert_array_equal(alone.boxes[t, 0, :2] - alone.boxes[t - 1, 0, :2], (dx, dy))


# --------------------------------------------------------------------------------------------------------------
# Dynamics


@pytest.mark.parametrize("seed", range(6))
def test_bounce_keeps_objects_inside(seed):
    clip = make_clip(seed, num_frames=120, height=64, width=80, max_speed=7, num_objects=5)
    assert clip.visible.all()
    sizes = np.array([o.size for o in clip.objects], dtype=np.float32)
    np.testing.assert_array_equal(clip.boxes[..., 2] - clip.boxes[..., 0], np.broadcast_to(sizes, clip.visible.shape))
    np.testing.assert_array_equal(clip.boxes[..., 3] - clip.boxes[..., 1], np.broadcast_to(sizes, clip.visible.shape))
    assert (clip.boxes[..., :2] >= 0).all() and (clip.boxes[..., 2] <= 80).all() and (clip.boxes[..., 3] <= 64).all()
    # Every object with a horizontal velocity reverses direction at least once in 120 frames on a narrow frame.
    vx = clip.boxes[1:, :, 0] - clip.boxes[:-1, :, 0]
    for k, obj in enumerate(clip.objects):
        if obj.velocity[0]:
            assert (vx[:, k] > 0).any() and (vx[:, k] < 0).any()


def test_linear_objects_leave_the_frame():
    obj = ShapeSpec("circle", (255, 0, 0), 10, (0, 5), (4, 0), dynamics="linear")
    clip = render([obj], np.zeros((32, 32, 3), np.uint8), 12)
    np.testing.assert_array_equal(clip.visible[:, 0], [True] * 8 + [False] * 4)  # x = 0, 4, ..., 28 visible
    np.testing.assert_array_equal(clip.boxes[7, 0], [28, 5, 32, 15])  # clipped to the frame
    assert np.isnan(clip.boxes[8:]).all()
    assert (clip.segmentation[8:] == -1).all()


def test_invalid_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match="whole pixels"):
        ShapeSpec("square", (1, 2, 3), 5, (0, 0), (0.5, 1))
    with pytest.raises(ValueError, match="unknown shape"):
        ShapeSpec("hexagon", (1, 2, 3), 5, (0, 0), (1, 1))
    with pytest.raises(ValueError, match="unknown background"):
        make_clip(0, background="stripes")
    with pytest.raises(ValueError, match="unknown photo"):
        make_clip(0, background="photo:nope")
    with pytest.raises(ValueError, match="num_objects"):
        make_clip(0, num_objects=len(PALETTE) + 1)
    with pytest.raises(ValueError, match="start inside"):
        render([ShapeSpec("square", (1, 2, 3), 5, (30, 0), (1, 1))], np.zeros((32, 32, 3), np.uint8), 3)


# --------------------------------------------------------------------------------------------------------------
# Backgrounds


def test_plain_and_gradient_backgrounds():
    plain = make_clip(5, num_objects=0).frames
    assert (plain == plain[0, 0, 0]).all() and (plain < 128).all()
    gradient = make_clip(5, num_objects=0, background="gradient").frames[0].astype(int)
    assert len(np.unique(gradient.reshape(-1, 3), axis=0)) > 10
    assert (np.abs(np.diff(gradient, axis=0)) <= 2).all() and (np.abs(np.diff(gradient, axis=1)) <= 2).all()


@pytest.mark.parametrize("name", PHOTOS)
def test_photo_backgrounds_load_offline(name, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("photo backgrounds must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    backgrounds._load_photo.cache_clear()
    clip = make_clip(4, num_objects=0, background=f"photo:{name}", height=64, width=80)
    desc = clip.meta["background"]
    assert desc["kind"] == "photo" and desc["name"] == name and desc["factor"] >= 1
    # The background is the recorded crop, box-filtered by the recorded factor.
    x0, y0, x1, y1 = desc["crop"]
    f = desc["factor"]
    crop = backgrounds.photo(name)[y0:y1, x0:x1].astype(float)
    expected = crop.reshape(64, f, 80, f, 3).mean(axis=(1, 3))
    assert np.abs(clip.frames[0] - expected).max() <= 0.5 + 1e-9
    assert clip.frames[0].std() > 10  # a real, textured photograph


# --------------------------------------------------------------------------------------------------------------
# Files


def decode(path):
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


@pytest.mark.parametrize("codec", ["h264", "mpeg4"])
def test_save_and_load_round_trip(tmp_path, codec):
    clip = make_clip(2, num_frames=16, background="photo:coffee", num_objects=4)
    video = save_clip(clip, tmp_path, "demo", codec=codec, extra={"note": "hi"})
    assert video == tmp_path / "demo.mp4"
    assert {p.name for p in tmp_path.iterdir()} == {"demo.mp4", "demo.npz", "demo.json"}
    with np.load(tmp_path / "demo.npz") as arrays:
        assert arrays["motion"].dtype == np.int16  # exact and compact
    gt = load_ground_truth(tmp_path, "demo")
    for key in ("boxes", "visible", "motion", "segmentation"):
        np.testing.assert_array_equal(gt[key], getattr(clip, key), err_msg=key)
        assert gt[key].dtype == getattr(clip, key).dtype
    assert gt["meta"] == clip.meta and gt["fps"] == clip.fps and gt["codec"] == codec
    assert gt["shape"] == [16, 128, 160] and gt["note"] == "hi" and gt["video"] == video

    frames = decode(video)
    assert frames.shape == clip.frames.shape
    mse = np.mean((frames.astype(float) - clip.frames) ** 2)
    psnr = 10 * np.log10(255**2 / mse)
    # About 30 dB for both codecs (measured here: h264 crf 18 30.1, mpeg4 29.7); 4:2:0 chroma subsampling of the
    # saturated shape edges, not the codec, limits the RGB PSNR.
    assert psnr > 27, f"decoded clip is far from the rendered one: PSNR {psnr:.1f} dB"


def test_load_ground_truth_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        load_ground_truth(tmp_path, "nothing")


# --------------------------------------------------------------------------------------------------------------
# One world: a clip is a scene whose objects only slide


def _assert_scene_draws_the_clip(objects, background, num_frames):
    clip = render(objects, background, num_frames)
    drawn = scenes.render(as_scene(objects, background, num_frames, fps=clip.fps))
    np.testing.assert_array_equal(drawn.frames, clip.frames)
    np.testing.assert_array_equal(drawn.segmentation, clip.segmentation)
    assert np.isnan(drawn.motion[0]).all()  # a scene has no motion before its first frame; a clip says 0
    np.testing.assert_allclose(drawn.motion[1:], clip.motion[1:], rtol=0, atol=1e-6)  # floats against integers


@pytest.mark.parametrize("seed", [4, 22, 46, 52])
@pytest.mark.parametrize("kwargs", [
    {"num_objects": 8, "background": "plain"},
    {"num_objects": 5, "background": "gradient", "dynamics": "linear", "max_speed": 6},
    {"num_objects": 3, "background": "photo:coffee", "height": 64, "width": 96},
])
def test_clips_and_scenes_draw_the_same_pixels(seed, kwargs):
    # clips.render is the fast, exact special case of scenes.render: same shapes, colours, background, motion.
    clip = make_clip(seed, num_frames=12, **kwargs)
    rng_background = np.random.default_rng(seed).spawn(2)[0]
    background = backgrounds.make_background(kwargs["background"], *clip.frames.shape[1:3], rng_background)[0]
    np.testing.assert_array_equal(render(clip.objects, background, 12).frames, clip.frames)
    _assert_scene_draws_the_clip(clip.objects, background, 12)


def test_clips_and_scenes_agree_on_every_shape_and_at_the_borders():
    # Every shape (random clips draw no diamonds), sizes odd and even down to 1 pixel, objects leaving the frame.
    objects = [
        ShapeSpec("diamond", PALETTE[0], 9, (3, 4), (2, 1)),
        ShapeSpec("diamond", PALETTE[1], 12, (20, 20), (-1, 2)),
        ShapeSpec("triangle", PALETTE[2], 10, (30, 2), (3, 0), dynamics="linear"),
        ShapeSpec("circle", PALETTE[3], 1, (5, 30), (1, -1)),
        ShapeSpec("square", PALETTE[4], 7, (-3, 10), (2, 0), dynamics="linear"),
        ShapeSpec("triangle", PALETTE[5], 11, (40, 30), (0, -3)),
    ]
    _assert_scene_draws_the_clip(objects, np.full((48, 64, 3), 40, np.uint8), 16)


def test_as_scene_needs_world_colours():
    with pytest.raises(ValueError, match="COLORS"):
        as_scene([ShapeSpec("square", (1, 2, 3), 5, (0, 0), (1, 1))], np.zeros((32, 32, 3), np.uint8), 3)
