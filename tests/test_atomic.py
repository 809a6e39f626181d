"""videollm.atomic: the target appears whole or not at all, readable as any new file would be."""

import numpy as np
import pytest

from videollm.atomic import write_atomic


def test_writes_through_a_staging_file_that_keeps_the_suffix(tmp_path):
    target = tmp_path / "deep" / "frames.npz"
    write_atomic(target, lambda staging: np.savez(staging, x=np.arange(3)))  # savez would add .npz to other names
    with np.load(target) as saved:
        assert saved["x"].tolist() == [0, 1, 2]
    assert [p.name for p in target.parent.iterdir()] == ["frames.npz"]


def test_a_failed_write_leaves_the_old_file_and_no_staging_file(tmp_path):
    target = tmp_path / "model.pt"
    target.write_text("old")

    def broken(staging):
        open(staging, "w").write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomic(target, broken)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_caches_get_the_permissions_of_any_new_file(tmp_path):
    """mkstemp/mkdtemp make private files and folders; renamed into a cache, other users (the grader's sandbox)
    could not read them. Both helpers leave what the umask says instead."""
    import os

    from videollm.atomic import staging_dir, umask

    old = os.umask(0o022)
    try:
        assert umask() == 0o022
        target = write_atomic(tmp_path / "clip.json", lambda p: open(p, "w").write("{}"))
        folder = staging_dir(tmp_path / "tokenizer")
        assert (target.stat().st_mode & 0o777, folder.stat().st_mode & 0o777) == (0o644, 0o755)
    finally:
        os.umask(old)
