"""Unit 00 — detailed captions that the world writes from its own ground truth, for the frames a model sees.

LLaVA-Video and LLaVA-OneVision align their vision encoder with the language model on *detailed descriptions* of
videos (LLaVA-Video-178K's captions). The course's world knows exactly what every frame shows, so it can write
such descriptions itself, true by construction, and only about the frames the model is shown:

    >>> caption(scene, [0, 40, 80])                                         # doctest: +SKIP
    'In front of a cat: the red triangle, then the blue square and the green circle. A sign says TIGER.'

A caption names the background, every object seen in the sampled frames in the order they are first seen
(objects first seen in the same frame are joined by "and"), which of them are gone by the last sampled frame,
the words on signs, and a cut-away's content. It uses the words the suites' questions use ("the red triangle",
the background phrases), so aligning on captions teaches the vocabulary the questions ask in.

Lecture: `lectures/05_llava_ov_qwen2_vl.ipynb` §12.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from videollm.world.scenes import TOPICS, Scene
from videollm.world.shapes import COLOR_NAMES


def _joined(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _insert_words(inner: Scene) -> str:
    if inner.texts:
        return f"a card that says {inner.texts[0].text}"
    if inner.shapes:
        return f"a large {COLOR_NAMES[inner.color[0, 0]]} {inner.shapes[0]}"
    return "another scene"


def caption(scene: Scene, indices: Sequence[int]) -> str:
    """A detailed description of what frames ``indices`` of ``scene`` show (see the module docstring).

    Args:
        scene: a :class:`~videollm.world.scenes.Scene` (e.g. ``suites.scene_for(record)``).
        indices: the frame indices a model is shown, in time order, each in ``[0, num_frames)``.

    Returns:
        One paragraph of plain text.
    """
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if not len(idx) or idx.min() < 0 or idx.max() >= scene.num_frames:
        raise ValueError(f"indices must be a non-empty list of frames in [0, {scene.num_frames}); got {list(idx)}")
    seen = scene.in_view()[idx]  # (n, K)
    groups: list[list[str]] = []
    for t in range(len(idx)):
        new = [k for k in np.flatnonzero(seen[t]) if not seen[:t, k].any()]
        if new:
            groups.append([f"the {scene.describe(int(k), int(idx[t]))}" for k in new])
    topic = TOPICS[scene.background]
    sentences = [f"In front of {topic}: " + ", then ".join(_joined(g) for g in groups) + "." if groups
                 else f"In front of {topic}: no shapes."]
    gone = [k for k in range(seen.shape[1]) if seen[:, k].any() and not seen[-1, k]
            and scene.shown[idx[-1]] and not scene.present[idx[-1], k]]
    if gone:
        sentences.append(_joined([f"the {scene.describe(int(k))}" for k in gone]).capitalize()
                         + (" is" if len(gone) == 1 else " are") + " gone at the end.")
    for overlay in scene.texts_at(idx):
        sentences.append(f"A sign says {overlay.text}.")
    for start, inner in scene.inserts:
        if np.any((idx >= start) & (idx < start + inner.num_frames)):
            sentences.append(f"The video cuts away to {_insert_words(inner)}.")
    return " ".join(sentences)
