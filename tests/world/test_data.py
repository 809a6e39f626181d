"""Tests for videollm.world.data: the manifest, the on-demand cache and its invalidation, the CLI."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import av
import numpy as np
import pytest

from videollm.world import clips, data, shapes

TINY = [
    {"name": "tiny", "description": "test clip", "seed": 5, "num_frames": 10, "height": 32, "width": 48,
     "fps": 8, "num_objects": 2, "background": "plain", "max_speed": 3, "dynamics": "bounce", "codec": "h264"},
    {"name": "tiny_photo", "seed": 6, "num_frames": 6, "height": 32, "width": 48, "num_objects": 1,
     "background": "photo:chelsea", "codec": "mpeg4"},
]


def write_manifest(path: Path, entries) -> None:
    path.write_text(json.dumps(entries, indent=1))


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A temporary cache and a tiny manifest, through the environment variables users would set."""
    cache, manifest = tmp_path / "cache", tmp_path / "manifest.json"
    write_manifest(manifest, TINY)
    monkeypatch.setenv("VIDEOLLM_DATA", str(cache))
    monkeypatch.setenv("VIDEOLLM_MANIFEST", str(manifest))
    return cache, manifest


def decode(path):
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


# --------------------------------------------------------------------------------------------------------------
# The repository's manifest


def test_repository_manifest(monkeypatch):
    monkeypatch.delenv("VIDEOLLM_MANIFEST", raising=False)
    entries = data.manifest()
    assert {"bouncing_shapes", "photo_astronaut", "photo_coffee", "long_drift"} <= set(entries)
    signature = inspect.signature(clips.make_clip)
    for name in entries:
        params = data.clip_params(name)
        signature.bind(**params)  # every entry is a valid make_clip call
        assert params["height"] % 2 == 0 and params["width"] % 2 == 0, "yuv420p needs even sizes"
        assert entries[name].get("description"), f"{name} needs a description"
    assert data.clip_params("long_drift")["num_frames"] == 240 and data.clip_params("long_drift")["fps"] == 24
    assert data.clip_params("photo_astronaut")["background"] == "photo:astronaut"
    assert data.manifest_path() == Path(data.__file__).resolve().parents[2] / "data" / "manifest.json"


# --------------------------------------------------------------------------------------------------------------
# The cache


def test_clip_path_generates_then_reuses(env, monkeypatch):
    cache, _ = env
    path = data.clip_path("tiny")
    assert path == cache / "tiny.mp4"
    assert {p.name for p in cache.iterdir()} == {"tiny.mp4", "tiny.npz", "tiny.json"}  # no staging left behind
    stamps = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}

    def must_not_run(**kwargs):
        raise AssertionError("a current cached clip must be reused, not generated again")

    monkeypatch.setattr(clips, "make_clip", must_not_run)
    assert data.clip_path("tiny") == path
    data.ground_truth("tiny")
    assert {p.name: p.stat().st_mtime_ns for p in cache.iterdir()} == stamps


def test_ground_truth_matches_the_generator(env):
    gt = data.ground_truth("tiny")
    clip = clips.make_clip(5, num_frames=10, height=32, width=48, fps=8, num_objects=2, max_speed=3)
    for key in ("boxes", "visible", "motion", "segmentation"):
        np.testing.assert_array_equal(gt[key], getattr(clip, key), err_msg=key)
    assert gt["meta"] == clip.meta and gt["fps"] == 8 and gt["codec"] == "h264"
    assert gt["description"] == "test clip" and gt["clip_hash"] == data.clip_hash("tiny")


@pytest.mark.parametrize("name, frames", [("tiny", 10), ("tiny_photo", 6)])
def test_cached_mp4_decodes_to_all_frames(env, name, frames):
    video = decode(data.clip_path(name))
    assert video.shape == (frames, 32, 48, 3)


def test_regenerates_when_the_spec_changes(env):
    cache, manifest = env
    first = data.ground_truth("tiny")
    old_hash = first["clip_hash"]
    old_frames = decode(cache / "tiny.mp4")

    changed = [dict(TINY[0], seed=99), TINY[1]]
    write_manifest(manifest, changed)
    assert data.clip_hash("tiny") != old_hash
    second = data.ground_truth("tiny")
    assert second["clip_hash"] == data.clip_hash("tiny") and second["meta"]["seed"] == 99
    assert not np.array_equal(decode(cache / "tiny.mp4"), old_frames)
    expected = clips.make_clip(99, num_frames=10, height=32, width=48, fps=8, num_objects=2, max_speed=3)
    np.testing.assert_array_equal(second["motion"], expected.motion)

    # Only what determines the files counts: a new description, or spelling out a default, changes nothing.
    before = data.clip_hash("tiny"), data.clip_hash("tiny_photo")
    write_manifest(manifest, [dict(changed[0], description="reworded"), dict(TINY[1], fps=12)])  # 12 = default
    assert (data.clip_hash("tiny"), data.clip_hash("tiny_photo")) == before
    assert data.build_all(["tiny"])[0]["status"] == "cached"


def test_regenerates_when_the_generator_version_changes(env, monkeypatch):
    data.clip_path("tiny")
    old = data.clip_hash("tiny")
    monkeypatch.setattr(clips, "WORLD_VERSION", shapes.WORLD_VERSION + 1)
    assert data.clip_hash("tiny") != old
    assert data.build_all(["tiny"])[0]["status"] == "generated"


def test_regenerates_when_a_file_is_missing_or_the_json_is_corrupt(env):
    cache, _ = env
    data.clip_path("tiny")
    (cache / "tiny.npz").unlink()
    assert data.build_all(["tiny"])[0]["status"] == "generated"
    (cache / "tiny.json").write_text("{not json")
    assert data.build_all(["tiny"])[0]["status"] == "generated"
    assert data.build_all(["tiny"])[0]["status"] == "cached"


def test_unknown_name_lists_the_available_ones(env):
    with pytest.raises(KeyError, match="tiny, tiny_photo"):
        data.clip_path("nope")
    with pytest.raises(KeyError, match="unknown clip 'nope'"):
        data.build_all(["tiny", "nope"])
    assert not (env[0] / "tiny.mp4").exists(), "a typo must fail before anything is generated"


@pytest.mark.parametrize(
    "entries, message",
    [
        ([TINY[0], TINY[0]], "appears twice"),
        ([dict(TINY[0], colour="red")], "unknown keys"),
        ([{k: v for k, v in TINY[0].items() if k != "seed"}], "no 'seed'"),
        ([dict(TINY[0], codec="vp9")], "codec"),
        ({"tiny": TINY[0]}, "JSON list"),
        ([dict(TINY[0], name="../escape")], "name"),
    ],
)
def test_bad_manifests_are_rejected(env, entries, message):
    write_manifest(env[1], entries)
    with pytest.raises(ValueError, match=message):
        data.manifest()


def test_missing_manifest(env, monkeypatch):
    env[1].unlink()
    with pytest.raises(FileNotFoundError, match="manifest not found"):
        data.manifest()


# --------------------------------------------------------------------------------------------------------------
# build_all and the command line


def test_build_all_and_cli(env, capsys):
    records = data.build_all()
    assert [r["name"] for r in records] == ["tiny", "tiny_photo"]
    assert all(r["status"] == "generated" for r in records)
    assert records[0]["frames"] == 10 and (records[0]["width"], records[0]["height"]) == (48, 32)

    assert data.main(["build"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and "cached" in lines[0] and lines[0].startswith("tiny ") and "10 frames" in lines[0]

    assert data.main(["build", "--force", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "generated" in out and "tiny_photo" not in out

    assert data.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "tiny " in out and "photo:chelsea" in out and "mpeg4" in out and str(env[0]) in out

    assert data.main(["build", "nope"]) == 2
    assert "unknown clip 'nope'" in capsys.readouterr().err
