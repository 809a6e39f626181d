"""Tests for videollm.world.files: one clip on disk, and the cache that makes it once."""

from __future__ import annotations

import numpy as np
import pytest

from videollm.world.files import cached_clip, is_cached, load_files, save_files

FRAMES = np.zeros((4, 32, 32, 3), dtype=np.uint8)


def test_a_clip_is_made_once_and_read_back(tmp_path):
    calls = []

    def writer(digest):
        def write(folder):
            calls.append(folder)
            save_files(folder, "clip", FRAMES, 4.0, {"motion": np.ones((4, 2))}, {"clip_hash": digest})
        return write

    path, made = cached_clip(tmp_path, "clip", "abc", writer("abc"))
    assert made and path == tmp_path / "clip.mp4" and is_cached(tmp_path, "clip", "abc")
    assert cached_clip(tmp_path, "clip", "abc", writer("abc")) == (path, False) and len(calls) == 1
    assert cached_clip(tmp_path, "clip", "other", writer("other"))[1], "another hash makes the clip again"
    assert is_cached(tmp_path, "clip", "other") and not is_cached(tmp_path, "clip", "abc")
    got = load_files(tmp_path, "clip")
    assert got["name"] == "clip" and got["video"] == path and np.array_equal(got["motion"], np.ones((4, 2)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.json", "clip.mp4", "clip.npz"], "no staging left"


def test_a_writer_that_forgets_the_hash_is_told_and_leaves_nothing(tmp_path):
    def write(folder):
        save_files(folder, "clip", FRAMES, 4.0, {"motion": np.ones(2)}, {})

    with pytest.raises(ValueError, match="clip_hash"):
        cached_clip(tmp_path, "clip", "abc", write)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(FileNotFoundError, match="missing clip.json"):
        load_files(tmp_path, "clip")
