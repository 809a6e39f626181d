"""Unit 00 — training and evaluation sets for the course's small video LLMs: each benchmark question with a few of
its frames.

A model that answers from ``T`` uniformly sampled frames needs only those frames, so nothing is decoded: each
question's scene is regenerated from its record (:func:`videollm.world.suites.scene_for`) and only the sampled
frames are drawn (:func:`videollm.world.scenes.render_frames`), then resized. A whole split takes seconds to a couple of
minutes (MLVU's long scenes take longest to build) and is cached in ``<data cache>/qa_frames/``.

    >>> fs = frame_set("perception", "train", num_frames=8, size=(56, 56))   # doctest: +SKIP
    >>> fs.frames.shape, fs.records[0]["question"]                            # doctest: +SKIP
    (torch.Size([300, 8, 3, 56, 56]), 'While the camera was turned away, which object was put on the table?')

Lecture: `lectures/00_video_as_data.ipynb` §6; `lectures/03_early_fusion.ipynb` §4.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from videollm.cache import data_dir, spec_hash, write_atomic
from videollm.io import load_video, probe_video
from videollm.sampling import uniform_indices
from videollm.world import scenes as world
from videollm.world.scenarios import SCENARIOS_VERSION
from videollm.world.shapes import WORLD_VERSION
from videollm.world.suites import SPLITS, SUITES, clip_path, load_questions, scene_for

QA_FRAMES_VERSION = 1  # bump when the frames drawn for a record change


def data_version() -> dict[str, int]:
    """Everything that decides the frames and questions drawn here: this module's, the scenarios' and the world's
    versions. The caches of these sets and of every model trained on them are keyed on it, so a change to the
    world retrains those models instead of leaving them stale."""
    return {"qa_frames": QA_FRAMES_VERSION, "scenarios": SCENARIOS_VERSION, "world": WORLD_VERSION}


@dataclass
class FrameSet:
    """Questions with their sampled frames.

    Attributes:
        frames: ``(N, T, 3, H, W)`` uint8 tensor, the ``T`` uniformly sampled frames of each question's clip.
        records: the ``N`` question dicts (as in ``data/benchmarks/<suite>/<split>.jsonl``), same order.
        times: ``(N, T)`` float32 tensor, the timestamp in seconds of each sampled frame.
    """

    frames: torch.Tensor
    records: list[dict[str, Any]]
    times: torch.Tensor

    def __len__(self) -> int:
        return len(self.records)

    def select(self, keep: Sequence[int] | np.ndarray | torch.Tensor) -> "FrameSet":
        """The subset at positions ``keep`` (indices or a bool mask)."""
        keep = torch.as_tensor(np.asarray(keep))
        if keep.dtype == torch.bool:
            keep = torch.nonzero(keep).flatten()
        return FrameSet(self.frames[keep], [self.records[i] for i in keep.tolist()], self.times[keep])


def _check_size(size) -> tuple[int, int]:
    try:
        h, w = (int(size), int(size)) if np.isscalar(size) else (int(size[0]), int(size[1]))
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"size must be an int or (height, width); got {size!r}") from None
    if h < 1 or w < 1:
        raise ValueError(f"size must be positive; got {(h, w)}")
    return h, w


def resize_frames(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 -> ``(T, h, w, 3)`` uint8, area-averaged when shrinking (antialiased bilinear)."""
    h, w = size
    if frames.shape[1:3] == (h, w):
        return frames
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=(h, w), mode="bilinear", antialias=True, align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def sampled_indices(total_frames: int, num_frames: int) -> np.ndarray:
    """``num_frames`` uniformly sampled frame indices of a ``total_frames``-frame clip, first and last included; a clip
    shorter than the request repeats its last frame, as Qwen's loader pads."""
    index = uniform_indices(total_frames, min(int(num_frames), total_frames))
    if len(index) < num_frames:
        index = np.concatenate([index, np.full(num_frames - len(index), index[-1])])
    return index


def question_frames(record: dict[str, Any], num_frames: int = 8, size=(56, 56)) -> tuple[np.ndarray, np.ndarray]:
    """The ``num_frames`` uniformly sampled frames of one question's clip, resized to ``size``.

    Args:
        record: a question dict from :func:`videollm.world.suites.load_questions`.
        num_frames: frames to keep, first and last included (``uniform_indices``); at most the clip's length.
        size: ``(height, width)`` of the returned frames (the world renders ``96 x 128``).

    Returns:
        ``frames`` ``(T, h, w, 3)`` uint8 and ``times`` ``(T,)`` float32 seconds.
    """
    scene = scene_for(record)
    index = sampled_indices(scene.num_frames, num_frames)
    frames = world.render_frames(scene, index)
    return resize_frames(frames, _check_size(size)), (index / scene.fps).astype(np.float32)


def decoded_frames(record: dict[str, Any], num_frames: int = 8, size=(56, 56)) -> tuple[np.ndarray, np.ndarray]:
    """:func:`question_frames` the way a user's video reaches a model: the question's clip is rendered and encoded
    as H.264 (:func:`videollm.world.suites.clip_path`, cached), then ``num_frames`` uniformly sampled frames are
    decoded by :func:`videollm.io.load_video` and resized to ``size``. The same frames as
    :func:`question_frames` up to the codec's loss; ``(frames (T, h, w, 3) uint8, times (T,) float32 s)``."""
    path = clip_path(record)
    num_frames = int(num_frames)
    if num_frames < 1:
        raise ValueError(f"num_frames must be at least 1; got {num_frames}")
    frames, times = load_video(path, num_frames=min(num_frames, probe_video(path).num_frames))
    if len(frames) < num_frames:  # a clip shorter than the request: repeat its last frame
        pad = num_frames - len(frames)
        frames = np.concatenate([frames, np.repeat(frames[-1:], pad, 0)])
        times = np.concatenate([times, np.repeat(times[-1:], pad)])
    return resize_frames(frames, _check_size(size)), times.astype(np.float32)


def _cache_file(suite: str, split: str, num_frames: int, size: tuple[int, int], ids: list[str]) -> Path:
    spec = {"version": data_version(), "suite": suite, "split": split,
            "num_frames": num_frames, "size": list(size), "ids": list(ids)}
    digest = spec_hash(spec)[:12]
    return data_dir() / "qa_frames" / f"{suite}-{split}-{num_frames}x{size[0]}x{size[1]}-{digest}.npz"


def cached_frames(path: str | Path, records: Sequence[dict[str, Any]], num_frames: int, size: tuple[int, int],
                  desc: str = "drawing frames", progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """:func:`question_frames` of every record, stacked: ``(N, T, h, w, 3)`` uint8 and ``(N, T)`` float32 times.

    Loaded from the ``.npz`` at ``path`` if it exists, else drawn and saved there; the caller's ``path`` must name
    everything that decides the frames (records, ``num_frames``, ``size``, versions).
    """
    path = Path(path)
    if path.exists():
        with np.load(path) as cached:
            return cached["frames"], cached["times"]
    from tqdm.auto import tqdm

    drawn = [question_frames(r, num_frames, size) for r in tqdm(records, desc=desc, disable=not progress, leave=False)]
    frames = np.stack([f for f, _ in drawn])
    times = np.stack([t for _, t in drawn])
    write_atomic(path, lambda staging: np.savez(staging, frames=frames, times=times))
    return frames, times


def frame_set(suite: str, split: str = "train", num_frames: int = 8, size=(56, 56), tasks: Sequence[str] | None = None,
              progress: bool = True) -> FrameSet:
    """Every question of ``suite``/``split`` with its sampled frames; drawn once, then loaded from the cache.

    Args:
        suite: ``"videomme"``, ``"perception"`` or ``"mlvu"``.
        split: ``"train"``, ``"val"`` or ``"test"``.
        num_frames, size: as in :func:`question_frames`.
        tasks: keep only questions whose ``task`` is in this list (the cache always holds the whole split).
        progress: show a progress bar while drawing.

    Returns:
        A :class:`FrameSet` with ``frames`` ``(N, T, 3, h, w)`` uint8.
    """
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; choose one of {sorted(SUITES)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {list(SPLITS)}")
    size = _check_size(size)
    num_frames = int(num_frames)
    if num_frames < 1:
        raise ValueError(f"num_frames must be at least 1; got {num_frames}")
    records = load_questions(suite, split)
    if tasks is not None:
        unknown = sorted(set(tasks) - set(SUITES[suite].tasks))
        if unknown:
            raise ValueError(f"{suite} has no task(s) {unknown}; its tasks are {SUITES[suite].tasks}")
    path = _cache_file(suite, split, num_frames, size, [r["id"] for r in records])
    frames, times = cached_frames(path, records, num_frames, size, desc=f"drawing {suite}/{split} frames",
                                  progress=progress)
    result = FrameSet(torch.from_numpy(frames).permute(0, 1, 4, 2, 3).contiguous(), records, torch.from_numpy(times))
    if tasks is not None:
        result = result.select([i for i, r in enumerate(records) if r["task"] in set(tasks)])
    return result
