"""Unit 00 — how the world stores a clip: the video a model reads beside the ground truth it is scored against.

One clip is four files with one name: ``<name>.mp4`` (the frames, and a sound track if there is one), ``<name>.npz``
(ground-truth arrays), ``<name>.srt`` (subtitles, when there are any) and ``<name>.json`` (what the clip is). The
``.json`` is written last, so a reader that finds it finds the rest complete. :func:`cached_clip` keeps such clips
in a cache folder, keyed on a hash of everything that determines them.

Lecture: `lectures/00_video_as_data.ipynb` §4.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from videollm.cache import staging_dir
from videollm.io import write_video
from videollm.world.subtitles import Cue, write_srt


def save_files(directory: str | Path, name: str, frames: np.ndarray, fps: float, arrays: dict[str, np.ndarray],
               record: dict[str, Any], codec: str = "h264", audio: np.ndarray | None = None,
               sample_rate: int = 16000, cues: Sequence[Cue] | None = None) -> Path:
    """Write one clip's files in ``directory``; returns the ``.mp4`` path.

    Args:
        frames: ``(T, H, W, 3)`` uint8, encoded by :func:`videollm.io.write_video` with ``codec``.
        arrays: the ground truth, saved compressed in ``<name>.npz``.
        record: JSON-able description, saved as ``<name>.json`` (with ``"name"``) after everything else.
        audio, sample_rate: an optional sound track for the ``.mp4``.
        cues: subtitles for ``<name>.srt`` (``None``: no ``.srt``).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    video = write_video(directory / f"{name}.mp4", frames, fps, codec=codec, audio=audio, sample_rate=sample_rate)
    if cues is not None:
        write_srt(cues, directory / f"{name}.srt")
    np.savez_compressed(directory / f"{name}.npz", **arrays)
    (directory / f"{name}.json").write_text(json.dumps({"name": name, **record}, indent=1) + "\n")
    return video


def load_files(directory: str | Path, name: str) -> dict[str, Any]:
    """What :func:`save_files` wrote, except the frames (decode ``result["video"]`` for those): the ``.json``
    entries, the ``.npz`` arrays and ``video``, the ``.mp4`` path.

    Raises:
        FileNotFoundError: a file is missing (the message names which).
    """
    directory = Path(directory)
    paths = {ext: directory / f"{name}.{ext}" for ext in ("json", "npz", "mp4")}
    missing = [p.name for p in paths.values() if not p.exists()]
    if missing:
        raise FileNotFoundError(f"no complete clip {name!r} in {directory}: missing {', '.join(missing)}; write it "
                                "with videollm.world.files.save_files (or `python -m videollm.world.data build` for "
                                "the manifest's clips)")
    result = json.loads(paths["json"].read_text())
    with np.load(paths["npz"]) as arrays:
        result.update({key: arrays[key] for key in arrays.files})
    result["video"] = paths["mp4"]
    return result


def is_cached(directory: str | Path, name: str, digest: str) -> bool:
    """Whether ``directory`` holds clip ``name`` complete (``.json``, ``.npz``, ``.mp4``) with hash ``digest``."""
    directory = Path(directory)
    if not all((directory / f"{name}.{ext}").exists() for ext in ("json", "npz", "mp4")):
        return False
    try:
        return json.loads((directory / f"{name}.json").read_text()).get("clip_hash") == digest
    except (json.JSONDecodeError, OSError):
        return False


def cached_clip(directory: str | Path, name: str, digest: str, write: Callable[[Path], None],
                force: bool = False) -> tuple[Path, bool]:
    """The ``.mp4`` of clip ``name`` in ``directory``, made by ``write`` first unless it is cached with ``digest``.

    ``write(folder)`` must save the clip's files in ``folder`` (an empty staging folder) with ``"clip_hash":
    digest`` in its ``.json``. They are then moved into place, the ``.json`` last, so two processes making the same
    clip at once both leave complete, identical files. Returns ``(path, made)``.
    """
    directory = Path(directory)
    if not force and is_cached(directory, name, digest):
        return directory / f"{name}.mp4", False
    staging = staging_dir(directory / name)
    try:
        write(staging)
        if not is_cached(staging, name, digest):  # else every later call would make the clip again
            raise ValueError(f"write() must save {name}.mp4, .npz and a .json with \"clip_hash\": {digest!r} in "
                             f"the folder it is given; it left {sorted(p.name for p in staging.iterdir())}")
        made = sorted(staging.iterdir(), key=lambda p: p.suffix == ".json")  # the .json last
        (directory / f"{name}.json").unlink(missing_ok=True)  # a reader never pairs a new .json with old media
        for path in made:
            os.replace(path, directory / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory / f"{name}.mp4", True
