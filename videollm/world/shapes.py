"""Unit 00 — what the synthetic world is made of: its shapes, its colours and its version.

Both ways of making video in this world draw from here: :mod:`videollm.world.clips` (shapes sliding by whole pixels,
the exact ground truth of units 00, 02 and 04) and :mod:`videollm.world.scenes` (scripted scenes with actions, a
camera and signs, the benchmark suites). A shape is defined once, by :func:`inside`, and a pixel belongs to an object
when its *centre* lies inside the object's shape.

Lecture: `lectures/00_video_as_data.ipynb` §4, §6.
"""

from __future__ import annotations

import numpy as np

#: Bump whenever the same seed or script would give different arrays: the clip, suite and training-set caches
#: are keyed on it, and so are the checkpoints trained on them (the VQ-VAE, the motion tokenizer, the fusion models
#: and the mini video LLM), so a bump retrains every one of them, even for a change to clips alone. (2: one shape
#: test for clips and scenes; a clip's triangle lost the extra pixel column it had on each side of every row.)
WORLD_VERSION = 2

SHAPES = ("square", "circle", "triangle", "diamond")

#: Object colours (Trubetskoy's "distinct colours"); each has a channel >= 180, while plain backgrounds stay below
#: 128 in every channel, so objects always stand out.
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (230, 25, 75),
    "green": (60, 180, 75),
    "blue": (0, 130, 200),
    "yellow": (255, 225, 25),
    "orange": (245, 130, 48),
    "purple": (145, 30, 180),
    "cyan": (70, 240, 240),
    "magenta": (240, 50, 230),
}
COLOR_NAMES = tuple(COLORS)
#: The colours of :data:`COLORS` in their order, as RGB triples.
PALETTE: tuple[tuple[int, int, int], ...] = tuple(COLORS.values())


def inside(shape: str, u: np.ndarray, v: np.ndarray, radius=1) -> np.ndarray:
    """Whether the points ``(u, v)`` lie in ``shape``, elementwise.

    ``(u, v)`` are in the object's own frame: origin at its centre, ``v`` pointing down, and the shape filling the
    square ``|u|, |v| <= radius``. A triangle has its apex at the top.

    Integer inputs give an exact answer, which is how clips draw: they pass doubled pixel offsets and
    ``radius = size``. Scenes pass rotated, scaled floats with ``radius = 1``.
    """
    if shape == "square":
        return (np.abs(u) <= radius) & (np.abs(v) <= radius)
    if shape == "circle":
        return u * u + v * v <= radius * radius
    if shape == "diamond":
        return np.abs(u) + np.abs(v) <= radius
    if shape == "triangle":
        return (np.abs(v) <= radius) & (2 * np.abs(u) <= v + radius)
    raise ValueError(f"unknown shape {shape!r}; choose one of {SHAPES}")
