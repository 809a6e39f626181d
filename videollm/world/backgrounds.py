"""Unit 00 — the backgrounds objects move over: a plain colour, a gradient, or a crop of a bundled photograph.

Integer arithmetic only (photos are cropped and box-filtered with integer sums), and all randomness comes from the
caller's generator, so a background is byte-identical on every machine with the same NumPy random streams (and, for
the JPEG photo ``rocket``, the same Pillow JPEG decoder).

Lecture: `lectures/00_video_as_data.ipynb` §4.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

#: Photographs bundled with scikit-image (no download needed) usable as ``background="photo:<name>"``.
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")

_GRADIENT_DIRECTIONS = ("horizontal", "vertical", "diagonal", "antidiagonal")


@lru_cache(maxsize=None)
def _load_photo(name: str) -> np.ndarray:
    import skimage.data

    image = np.asarray(getattr(skimage.data, name)())
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    image = np.ascontiguousarray(image[..., :3], dtype=np.uint8)
    image.setflags(write=False)
    return image


def photo(name: str) -> np.ndarray:
    """A photograph bundled with scikit-image: ``(h, w, 3)`` uint8, read-only. ``name`` is one of :data:`PHOTOS`."""
    if name not in PHOTOS:
        raise ValueError(f"unknown photo {name!r}; choose one of {PHOTOS}")
    return _load_photo(name)


def _photo_background(name: str, height: int, width: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Seeded crop of a bundled photo, shrunk to ``(height, width)`` by an integer box filter (exact, portable)."""
    image = photo(name).astype(np.int64)
    h0, w0 = image.shape[:2]
    factor = min(h0 // height, w0 // width)
    if factor >= 1:
        ch, cw = factor * height, factor * width
        y0 = int(rng.integers(0, h0 - ch + 1))
        x0 = int(rng.integers(0, w0 - cw + 1))
        crop = image[y0 : y0 + ch, x0 : x0 + cw]
        sums = crop.reshape(height, factor, width, factor, 3).sum(axis=(1, 3))
        n = factor * factor
        background = (sums + n // 2) // n  # round half up, in integers
        desc = {"kind": "photo", "name": name, "crop": [x0, y0, x0 + cw, y0 + ch], "factor": factor}
    else:  # the frame is larger than the photo: nearest-neighbour upsampling of the whole photo
        rows = (np.arange(height) * h0) // height
        cols = (np.arange(width) * w0) // width
        background = image[rows[:, None], cols[None, :]]
        desc = {"kind": "photo", "name": name, "crop": [0, 0, w0, h0], "factor": 0}
    return background.astype(np.uint8), desc


def make_background(spec: str, height: int, width: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Render a background from its spec string.

    Args:
        spec: ``"plain"`` (a seeded solid colour, every channel < 128), ``"gradient"`` (a seeded two-colour ramp
            in one of four directions) or ``"photo:<name>"`` with ``<name>`` in :data:`PHOTOS` (a seeded crop,
            box-filtered to the frame size).
        rng: the generator that all of the background's randomness is drawn from.

    Returns:
        ``(H, W, 3)`` uint8 image and a JSON-able description of what was drawn.
    """
    if spec == "plain":
        color = rng.integers(0, 128, size=3)
        background = np.broadcast_to(color.astype(np.uint8), (height, width, 3)).copy()
        return background, {"kind": "plain", "color": [int(c) for c in color]}
    if spec == "gradient":
        colors = rng.integers(0, 256, size=(2, 3))
        direction = _GRADIENT_DIRECTIONS[int(rng.integers(0, len(_GRADIENT_DIRECTIONS)))]
        y, x = np.mgrid[0:height, 0:width]
        d = {"horizontal": x, "vertical": y, "diagonal": x + y, "antidiagonal": (width - 1 - x) + y}[direction]
        span = max(int(d.max()), 1)
        d = d[..., None].astype(np.int64)
        background = (colors[0] * (span - d) + colors[1] * d + span // 2) // span
        desc = {"kind": "gradient", "colors": colors.tolist(), "direction": direction}
        return background.astype(np.uint8), desc
    if spec.startswith("photo:"):
        return _photo_background(spec.split(":", 1)[1], height, width, rng)
    raise ValueError(
        f"unknown background {spec!r}; use 'plain', 'gradient' or 'photo:<name>' with <name> in {PHOTOS}"
    )
