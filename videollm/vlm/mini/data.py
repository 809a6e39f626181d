"""Unit 05 — the mini video LLM's training questions with their frames: the suites' training splits and fresh draws.

Lecture: `lectures/05_llava_ov_qwen2_vl.ipynb` §12.
"""

from __future__ import annotations

import torch

from videollm.cache import data_dir, spec_hash
from videollm.vlm.mini.model import MiniVLMConfig
from videollm.world.qa_frames import cached_frames, data_version, frame_set
from videollm.world.suites import generate


#: Seed codes of the extra training draws (far from the suites' own codes 1-3, so no test scene recurs).
EXTRA_CODE_BASE = 1000


def extra_draws(suite: str, draws: int, num_frames: int, size: tuple[int, int], progress: bool = False):
    """``(frames, records)`` of ``draws`` fresh, independent draws of ``suite``'s *train* split
    (:func:`videollm.world.suites.generate` with seed codes ``EXTRA_CODE_BASE + k``): the same
    generators, new scenes. Frames come from :func:`videollm.world.qa_frames.cached_frames` (only the sampled frames
    are drawn) and are cached in ``data_dir()/qa_frames/extra-*.npz``."""
    frames, records = [], []
    for k in range(draws):
        code = EXTRA_CODE_BASE + k
        recs = [dict(r, id=f"{r['id']}-x{code}", clip=f"{r['clip']}-x{code}") for r in generate(suite, "train", code)]
        spec = {"v": data_version(), "suite": suite, "code": code, "n": num_frames, "size": list(size),
                "seeds": [r["seed"] for r in recs]}
        digest = spec_hash(spec)[:12]
        path = data_dir() / "qa_frames" / f"extra-{suite}-train-{code}-{num_frames}x{size[0]}x{size[1]}-{digest}.npz"
        x, _ = cached_frames(path, recs, num_frames, size, desc=f"drawing {suite} extra draw {k}", progress=progress)
        frames.append(torch.from_numpy(x).permute(0, 1, 4, 2, 3).contiguous())
        records.extend(recs)
    return frames, records


def training_data(config: MiniVLMConfig = MiniVLMConfig(), split: str = "train", progress: bool = False):
    """``(frames (N, T, 3, H, W) uint8, records)``: the questions of ``split`` of every suite in ``config``
    (:func:`videollm.world.qa_frames.frame_set`), plus, for ``split="train"``, ``config.extra_draws`` fresh draws of
    each suite's training split (:func:`extra_draws`)."""
    sets = [frame_set(s, split, config.num_frames, config.size, progress=progress) for s in config.suites]
    frames, records = [s.frames for s in sets], [r for s in sets for r in s.records]
    if split == "train" and config.extra_draws:
        for suite in config.suites:
            f, r = extra_draws(suite, config.extra_draws, config.num_frames, config.size, progress)
            frames.extend(f)
            records.extend(r)
    frames = torch.cat(frames)
    if split == "train" and config.tasks is not None:
        keep = [i for i, r in enumerate(records) if r["task"] in set(config.tasks)]
        frames, records = frames[keep], [records[i] for i in keep]
    return frames, records
