"""videollm.cache: where the cache lives; a target appears whole or not at all, readable as any new file would be."""

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from videollm import cache
from videollm.cache import write_atomic


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

    from videollm.cache import staging_dir, umask

    old = os.umask(0o022)
    try:
        assert umask() == 0o022
        target = write_atomic(tmp_path / "clip.json", lambda p: open(p, "w").write("{}"))
        folder = staging_dir(tmp_path / "tokenizer")
        assert (target.stat().st_mode & 0o777, folder.stat().st_mode & 0o777) == (0o644, 0o755)
    finally:
        os.umask(old)


def test_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOLLM_DATA", str(tmp_path / "here"))
    assert cache.data_dir() == tmp_path / "here" and (tmp_path / "here").is_dir()
    monkeypatch.delenv("VIDEOLLM_DATA")
    assert cache.data_dir() == Path(cache.__file__).resolve().parents[1] / "data" / "cache"  # a checkout
    monkeypatch.setattr(cache, "REPO_DATA", tmp_path / "absent")  # an installed package: no data/manifest.json
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.data_dir() == tmp_path / "home" / ".cache" / "videollm"


# --------------------------------------------------------------------------------------------------------------
# load_or_train: the one "load if present, else train" of every trained model


class Trainer:
    """Counts its runs; the artifact is a number, saved as text."""

    def __init__(self, value=7):
        self.value, self.runs = value, 0

    def train(self):
        self.runs += 1
        return self.value, {"history": [3.0, 2.0, 1.0]}

    @staticmethod
    def save(artifact, folder):
        (folder / "value.txt").write_text(str(artifact))

    @staticmethod
    def load(folder):
        return int((folder / "value.txt").read_text())


def test_spec_hash_is_canonical_json_of_the_spec():
    @dataclasses.dataclass
    class Config:
        size: tuple = (32, 32)
        lr: float = 1e-3

    assert cache.spec_hash({"b": 1, "a": [1, 2]}) == cache.spec_hash({"a": (1, 2), "b": 1})
    assert cache.spec_hash(Config()) == cache.spec_hash({"lr": 1e-3, "size": [32, 32]})
    assert cache.spec_hash(Config(lr=1e-2)) != cache.spec_hash(Config()) and len(cache.spec_hash(Config())) == 64
    with pytest.raises(TypeError, match="not part of a cache spec"):
        cache.spec_hash({"model": object()})


def test_load_or_train_trains_once_then_loads(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOLLM_DATA", str(tmp_path))
    trainer = Trainer()
    value, meta = cache.load_or_train("toy", {"v": 1}, trainer.train, trainer.save, trainer.load)
    assert value == 7 and not meta["cached"] and meta["history"] == [3.0, 2.0, 1.0] and meta["seconds"] >= 0
    folder = tmp_path / "checkpoints" / f"toy-{cache.spec_hash({'v': 1})[:16]}"
    assert meta["path"] == str(folder) and sorted(p.name for p in folder.iterdir()) == ["meta.json", "value.txt"]
    again, meta2 = cache.load_or_train("toy", {"v": 1}, trainer.train, trainer.save, trainer.load)
    assert again == 7 and meta2["cached"] and trainer.runs == 1 and meta2["history"] == meta["history"]
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [folder.name], "no staging left behind"


def test_a_changed_spec_is_another_checkpoint_and_overwrites_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOLLM_DATA", str(tmp_path))
    first, second = Trainer(1), Trainer(2)
    cache.load_or_train("toy", {"v": 1}, first.train, first.save, first.load)
    value, meta = cache.load_or_train("toy", {"v": 2}, second.train, second.save, second.load)
    assert value == 2 and not meta["cached"] and second.runs == 1
    assert cache.load_or_train("toy", {"v": 1}, first.train, first.save, first.load)[0] == 1 and first.runs == 1
    assert cache.cached("toy", {"v": 3}, first.load) is None


def test_a_damaged_or_half_written_checkpoint_is_trained_again(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VIDEOLLM_DATA", str(tmp_path))
    trainer = Trainer()
    _, meta = cache.load_or_train("toy", {"v": 1}, trainer.train, trainer.save, trainer.load)
    folder = Path(meta["path"])
    (folder / "value.txt").write_text("not a number")
    value, meta = cache.load_or_train("toy", {"v": 1}, trainer.train, trainer.save, trainer.load)
    assert value == 7 and not meta["cached"] and trainer.runs == 2
    assert "ignoring unreadable checkpoint" in capsys.readouterr().err
    (folder / "meta.json").unlink()  # the file written last is missing: the folder is incomplete
    assert cache.cached("toy", {"v": 1}, trainer.load) is None
    assert cache.load_or_train("toy", {"v": 1}, trainer.train, trainer.save, trainer.load)[1]["cached"] is False


def test_retrain_replaces_the_checkpoint_and_a_failed_training_leaves_it(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOLLM_DATA", str(tmp_path))
    trainer = Trainer()
    cache.load_or_train("toy", {"v": 1}, trainer.train, trainer.save, trainer.load)
    trainer.value = 8
    assert cache.load_or_train("toy", {"v": 1}, trainer.train, trainer.save, trainer.load, retrain=True)[0] == 8

    def broken(artifact, folder):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        cache.load_or_train("toy", {"v": 1}, trainer.train, broken, trainer.load, retrain=True)
    assert cache.cached("toy", {"v": 1}, trainer.load)[0] == 8
    assert len(list((tmp_path / "checkpoints").iterdir())) == 1


def test_two_processes_training_the_same_spec_both_succeed(tmp_path, monkeypatch):
    # The second trainer finishes while the first is still training (two test workers, two lectures): the first
    # finds a complete folder in its way and keeps it instead of failing or leaving a mix of both.
    monkeypatch.setenv("VIDEOLLM_DATA", str(tmp_path))
    other = Trainer(5)
    first = Trainer(5)
    real_train = first.train

    def train_while_another_process_finishes():
        cache.load_or_train("toy", {"v": 1}, other.train, other.save, other.load)
        return real_train()

    value, meta = cache.load_or_train("toy", {"v": 1}, train_while_another_process_finishes, first.save, first.load)
    assert value == 5 and not meta["cached"] and other.runs == first.runs == 1
    assert cache.cached("toy", {"v": 1}, first.load)[0] == 5
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == [Path(meta["path"]).name], "nothing left over"
    assert cache.load_or_train("toy", {"v": 1}, first.train, first.save, first.load, retrain=True)[0] == 5



def test_a_committed_checkpoint_is_loaded_when_the_cache_has_none(tmp_path, monkeypatch):
    """``data/weights/<name>-<hash>`` (committed with the course) stands in for a missing cache entry; a cache
    entry of the same spec comes first; a committed folder of another spec is ignored."""
    monkeypatch.setenv("VIDEOLLM_DATA", str(tmp_path / "cache"))
    committed = tmp_path / "weights"
    monkeypatch.setattr(cache, "COMMITTED_WEIGHTS", committed)
    maker = Trainer(5)
    _, meta = cache.load_or_train("toy", {"v": 1}, maker.train, maker.save, maker.load)
    committed.mkdir()
    shutil.move(meta["path"], committed / Path(meta["path"]).name)
    assert cache.cached_path("toy", {"v": 1}) == cache.committed_dir("toy", {"v": 1})
    user = Trainer(9)
    value, meta = cache.load_or_train("toy", {"v": 1}, user.train, user.save, user.load)
    assert value == 5 and meta["cached"] and user.runs == 0 and meta["path"] == str(cache.committed_dir("toy", {"v": 1}))
    assert cache.cached_meta("toy", {"v": 2}) is None and cache.cached_path("toy", {"v": 2}) is None
    value, meta = cache.load_or_train("toy", {"v": 1}, user.train, user.save, user.load, retrain=True)
    assert value == 9 and cache.cached_path("toy", {"v": 1}) == cache.checkpoint_dir("toy", {"v": 1})
    assert (cache.committed_dir("toy", {"v": 1}) / "meta.json").exists(), "retraining never touches committed weights"
