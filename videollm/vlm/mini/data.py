"""Unit 05 — the mini video LLM's training data: fresh scenes from the suites' generators, with what the world
knows about them (per-patch labels, a detailed caption, a question).

Real video LLMs are trained on millions of videos; the course's world can write new ones without end. Every
example here is a *new* scene (:func:`videollm.world.suites.fresh_question`), so no test scene is ever seen and
nothing can be memorised. One example carries what all three training stages need:

- the ``T`` uniformly sampled frames (``config.num_frames``, resized to ``config.size``);
- per-patch soft labels for the vision pre-training (:mod:`videollm.vlm.mini.sight`): for each frame and each
  ``patch_size`` cell of the resized frame, the share of its pixels showing each colour / each shape / a sign /
  the background (:func:`videollm.world.scenes.render_truth`), and the frame's background;
- a detailed caption of those frames (:func:`videollm.world.captions.caption`) for the alignment stage;
- a multiple-choice question in its suite's format for instruction tuning.

:class:`Stream` makes batches in background worker processes (``torch.utils.data``), batch ``i`` drawn from its
own seed, so the batches are the same whatever the number of workers. The fixed training splits (828 questions,
:func:`training_data`) remain for the ablation that trains on them instead.

Lecture: `lectures/05_llava_ov_qwen2_vl.ipynb` §12.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from videollm.vlm.mini.model import MiniVLMConfig
from videollm.world.captions import caption
from videollm.world.qa_frames import frame_set, resize_frames, sampled_indices
from videollm.world.scenes import SIGN, TOPICS, render_truth
from videollm.world.shapes import COLOR_NAMES
from videollm.world.suites import fresh_question

#: Label classes of the vision pre-training: colour (background first), shape (background first, sign last),
#: background (the frame's, :data:`~videollm.world.scenes.TOPICS` order).
NUM_COLORS = len(COLOR_NAMES) + 1
NUM_SHAPES = SIGN + 2
NUM_BACKGROUNDS = len(TOPICS)


@dataclass
class Batch:
    """``B`` fresh examples.

    Attributes:
        frames: ``(B, T, 3, h, w)`` uint8, the sampled frames.
        color: ``(B, T, gh, gw, NUM_COLORS)`` float32, per frame and patch cell the share of pixels of each
            colour (index 0: no object); ``gh = h / patch_size``, ``gw = w / patch_size``.
        shape: ``(B, T, gh, gw, NUM_SHAPES)`` float32, likewise for shapes (0: background, last: a sign).
        background: ``(B, T)`` int64, each frame's background.
        records: the ``B`` question records (suite format, ``id`` ``"<suite>-fresh-<seed>"``).
        captions: the ``B`` detailed captions of the sampled frames.
    """

    frames: torch.Tensor
    color: torch.Tensor
    shape: torch.Tensor
    background: torch.Tensor
    records: list[dict]
    captions: list[str]


def _shares(labels: np.ndarray, classes: int, grid: tuple[int, int]) -> torch.Tensor:
    """``(T, H, W)`` int labels in ``[-1, classes - 1)`` -> ``(T, gh, gw, classes)`` share of each label per cell
    (label -1 is class 0)."""
    onehot = F.one_hot(torch.from_numpy(labels + 1), classes).permute(0, 3, 1, 2).float()
    return F.adaptive_avg_pool2d(onehot, grid).permute(0, 2, 3, 1)


def scene_example(scene, num_frames: int, size: tuple[int, int], patch_size: int):
    """What the world knows about ``num_frames`` uniformly sampled frames of ``scene``: ``(frames (T, 3, h, w)
    uint8, color, shape, background, caption)`` (shapes as in :class:`Batch`, without ``B``), frames sampled as
    :func:`videollm.world.qa_frames.question_frames` samples them (:func:`~videollm.world.qa_frames.sampled_indices`)."""
    index = sampled_indices(scene.num_frames, num_frames)
    truth = render_truth(scene, index)
    grid = (size[0] // patch_size, size[1] // patch_size)
    frames = torch.from_numpy(resize_frames(truth.frames, size)).permute(0, 3, 1, 2).contiguous()
    return (frames, _shares(truth.color, NUM_COLORS, grid), _shares(truth.shape, NUM_SHAPES, grid),
            torch.from_numpy(truth.background), caption(scene, index))


def scenes_batch(scenes, records: list[dict], num_frames: int, size: tuple[int, int], patch_size: int) -> Batch:
    """A :class:`Batch` of ``B`` ``scenes`` (each :func:`scene_example`): frames ``(B, T, 3, h, w)`` uint8, labels
    ``(B, T, gh, gw, classes)``, backgrounds ``(B, T)``, captions, and the scenes' question ``records`` (or ``[]``)."""
    parts = [scene_example(scene, num_frames, size, patch_size) for scene in scenes]
    frames, color, shape, background, captions = zip(*parts)
    return Batch(torch.stack(frames), torch.stack(color), torch.stack(shape), torch.stack(background),
                 list(records), list(captions))


def draw_batch(config: MiniVLMConfig, batch_size: int, seed, num_frames: int | None = None) -> Batch:
    """``batch_size`` fresh examples of ``num_frames`` frames (default ``config.num_frames``): new questions of the
    suites in turn from a random start (:func:`videollm.world.suites.fresh_question`, all from
    ``np.random.default_rng(seed)``) and their scenes."""
    rng = np.random.default_rng(seed)
    first = int(rng.integers(len(config.suites)))
    drawn = [fresh_question(config.suites[(first + b) % len(config.suites)], rng) for b in range(batch_size)]
    return scenes_batch([item.scene for _, item in drawn], [record for record, _ in drawn],
                        int(num_frames or config.num_frames), config.size, config.patch_size)


class _Batches(torch.utils.data.IterableDataset):
    def __init__(self, config: MiniVLMConfig, batch_size: int, steps: int, stage: str, frame_counts):
        self.config, self.batch_size, self.steps, self.stage = config, batch_size, steps, stage
        self.frame_counts = tuple(frame_counts or (config.num_frames,))

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
        code = sum(map(ord, self.stage))
        for i in range(worker, self.steps, workers):  # DataLoader takes workers in turn: batch order is fixed
            seed = [self.config.seed, code, i]
            count = self.frame_counts[int(np.random.default_rng(seed + [1]).integers(len(self.frame_counts)))]
            yield draw_batch(self.config, self.batch_size, seed, count)


def stream(config: MiniVLMConfig, batch_size: int, steps: int, stage: str, workers: int = 1,
           frame_counts=None):
    """An iterator over ``steps`` fresh :class:`Batch` es for training ``stage`` (its name seeds it, so stages see
    different scenes), drawn by ``workers`` background processes (0: in this process). Each batch's videos have
    a number of frames drawn from ``frame_counts`` (default: ``config.num_frames`` only)."""
    for count in frame_counts or (config.num_frames,):
        if count < 2 or count % 2:
            raise ValueError(f"frame counts must be even and >= 2 (Qwen2-VL pairs frames); got {count}")
    cell = config.patch_size * config.merge
    if config.size[0] % cell or config.size[1] % cell:
        raise ValueError(f"size {tuple(config.size)} must be a multiple of patch_size * merge = {cell} on both sides, "
                         "so that the processor keeps it and the labels' grid matches the patches")
    dataset = _Batches(config, batch_size, steps, stage, frame_counts)
    return iter(torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=workers,
                                            prefetch_factor=4 if workers else None,
                                            persistent_workers=False))


@dataclass
class Questions:
    """A batch of fixed questions: ``frames`` ``(B, T, 3, H, W)`` uint8 and their ``records``."""

    frames: torch.Tensor
    records: list[dict]


def fixed_batches(frames: torch.Tensor, records: list[dict], batch_size: int, seed: int = 0):
    """Endless :class:`Questions` batches of ``batch_size`` from a fixed set, reshuffled every epoch (seeded)."""
    if batch_size < 1 or batch_size > len(records):
        raise ValueError(f"batch_size must be in 1..{len(records)} (the number of questions); got {batch_size}")
    g = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(len(records), generator=g).tolist()
        for lo in range(0, len(order) - batch_size + 1, batch_size):
            idx = order[lo:lo + batch_size]
            yield Questions(frames[idx], [records[i] for i in idx])


def training_data(config: MiniVLMConfig = MiniVLMConfig(), split: str = "train", progress: bool = False):
    """``(frames (N, T, 3, H, W) uint8, records)``: the fixed questions of ``split`` of every suite in ``config``
    (:func:`videollm.world.qa_frames.frame_set`): the 828 training questions that the fresh draws replace (kept
    for the ablation, and for scoring the validation and test splits)."""
    sets = [frame_set(s, split, config.num_frames, config.size, progress=progress) for s in config.suites]
    return torch.cat([s.frames for s in sets]), [r for s in sets for r in s.records]
