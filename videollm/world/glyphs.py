"""Unit 00 — a built-in 5x7 bitmap font for on-screen text (signs, captions, scoreboards) in synthetic clips.

OCR questions ("what word is written on the sign?") need text whose pixels are known exactly. A font file or
a system font would render differently from machine to machine; this module's glyph table is plain data, so the
same text gives the same pixels everywhere.

Layout: every glyph is 5 pixels wide and 7 high, and glyphs are separated by one empty column, so a text of
``n`` characters is ``6 * n - 1`` pixels wide and 7 high, times ``scale`` (an integer: each font pixel becomes
a ``scale x scale`` block). Supported: ``A``-``Z``, ``0``-``9``, space and ``. , ! ? - : '``; lower-case
letters are drawn as upper-case.

- :func:`text_mask` gives the ``(h, w)`` bool ink mask of a text;
- :func:`text_size` its ``(width, height)`` without drawing;
- :func:`draw_text` stamps it into frames in place and returns the box it covered (ground truth for OCR and
  grounding questions).

Lecture: `lectures/00_video_as_data.ipynb` §6.
"""

from __future__ import annotations

import numpy as np

from videollm.validate import positive_int

GLYPH_WIDTH = 5
GLYPH_HEIGHT = 7
#: Empty columns between two glyphs (before scaling).
SPACING = 1

# The font: one entry per character, seven rows of five columns, "#" = ink. Drawn for this course.
_FONT: dict[str, tuple[str, ...]] = {
    "A": (".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "B": ("####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."),
    "C": (".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."),
    "D": ("####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."),
    "E": ("#####", "#....", "#....", "####.", "#....", "#....", "#####"),
    "F": ("#####", "#....", "#....", "####.", "#....", "#....", "#...."),
    "G": (".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"),
    "H": ("#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "I": (".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "J": ("..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."),
    "K": ("#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"),
    "L": ("#....", "#....", "#....", "#....", "#....", "#....", "#####"),
    "M": ("#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"),
    "N": ("#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"),
    "O": (".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "P": ("####.", "#...#", "#...#", "####.", "#....", "#....", "#...."),
    "Q": (".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"),
    "R": ("####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"),
    "S": (".####", "#....", "#....", ".###.", "....#", "....#", "####."),
    "T": ("#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."),
    "U": ("#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "V": ("#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."),
    "W": ("#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."),
    "X": ("#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"),
    "Y": ("#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."),
    "Z": ("#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"),
    "0": (".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."),  # slashed: never mistaken for O
    "1": ("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "2": (".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"),
    "3": ("#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."),
    "4": ("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."),
    "5": ("#####", "#....", "####.", "....#", "....#", "#...#", ".###."),
    "6": ("..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."),
    "7": ("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."),
    "8": (".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."),
    "9": (".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."),
    " ": (".....", ".....", ".....", ".....", ".....", ".....", "....."),
    ".": (".....", ".....", ".....", ".....", ".....", ".##..", ".##.."),
    ",": (".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."),
    "!": ("..#..", "..#..", "..#..", "..#..", "..#..", ".....", "..#.."),
    "?": (".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."),
    "-": (".....", ".....", ".....", "#####", ".....", ".....", "....."),
    ":": (".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."),
    "'": ("..#..", "..#..", ".#...", ".....", ".....", ".....", "....."),
}

#: The characters :func:`text_mask` can draw (lower-case letters are accepted and drawn upper-case).
CHARSET = "".join(_FONT)

# (n_glyphs, 7, 6) bool: each glyph followed by its spacing column, so a text is a gather and a reshape.
_GLYPHS = np.zeros((len(_FONT), GLYPH_HEIGHT, GLYPH_WIDTH + SPACING), dtype=bool)
for _i, _rows in enumerate(_FONT.values()):
    _GLYPHS[_i, :, :GLYPH_WIDTH] = np.array([[c == "#" for c in row] for row in _rows])
_GLYPHS.setflags(write=False)
# Code point -> glyph index (-1 = unsupported), for the printable ASCII range the font lives in.
_LOOKUP = np.full(128, -1, dtype=np.int64)
_LOOKUP[[ord(c) for c in _FONT]] = np.arange(len(_FONT))


def _check_scale(scale) -> int:
    return positive_int(scale, "scale", "each font pixel becomes scale x scale pixels")


def _glyph_indices(text: str) -> np.ndarray:
    """Glyph indices of ``text`` (upper-cased); ValueError naming the first unsupported character."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    upper = text.upper()
    codes = np.frombuffer(upper.encode("utf-32-le"), dtype="<u4").astype(np.int64)
    indices = np.where(codes < 128, _LOOKUP[np.minimum(codes, 127)], -1)
    bad = np.flatnonzero(indices < 0)
    if bad.size:
        # Name the character as the caller wrote it (upper() can change the length, e.g. "ß" -> "SS").
        char = (text if len(upper) == len(text) else upper)[bad[0]]
        raise ValueError(
            f"character {char!r} at position {bad[0]} of {text!r} is not in the built-in font; "
            f"supported: A-Z, 0-9, space and . , ! ? - : ' (lower case is drawn as upper case)"
        )
    return indices


def text_size(text: str, scale: int = 1) -> tuple[int, int]:
    """``(width, height)`` in pixels of ``text`` drawn at ``scale``: ``((6 * len(text) - 1) * scale, 7 * scale)``.

    An empty text is ``(0, 7 * scale)``. Raises ValueError like :func:`text_mask` for unsupported characters.
    """
    scale = _check_scale(scale)
    n = len(_glyph_indices(text))
    width = max(n * (GLYPH_WIDTH + SPACING) - SPACING, 0)
    return width * scale, GLYPH_HEIGHT * scale


def text_mask(text: str, scale: int = 1) -> np.ndarray:
    """The ink of ``text`` as a bool mask.

    Args:
        text: characters from :data:`CHARSET` (lower case is upper-cased).
        scale: positive integer; each font pixel becomes a ``scale x scale`` block.

    Returns:
        ``(7 * scale, (6 * len(text) - 1) * scale)`` bool, True where there is ink (row 0 is the top).

    Raises:
        ValueError: an unsupported character (named, with the supported set), or a bad ``scale``.

    >>> text_mask("HI").astype(int)[0].tolist()
    [1, 0, 0, 0, 1, 0, 0, 1, 1, 1, 0]
    """
    scale = _check_scale(scale)
    indices = _glyph_indices(text)
    if indices.size == 0:
        return np.zeros((GLYPH_HEIGHT * scale, 0), dtype=bool)
    # (n, 7, 6) -> (7, n, 6) -> (7, 6n), then drop the spacing column after the last glyph.
    mask = _GLYPHS[indices].transpose(1, 0, 2).reshape(GLYPH_HEIGHT, -1)[:, :-SPACING]
    if scale > 1:
        mask = np.repeat(np.repeat(mask, scale, axis=0), scale, axis=1)
    return np.ascontiguousarray(mask)


def _check_color(value, name: str) -> np.ndarray:
    values = list(value) if isinstance(value, (tuple, list, np.ndarray)) else [value]
    if len(values) != 3 or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 0 <= v <= 255 for v in values
    ):
        raise ValueError(f"{name} must be three integers in 0..255 (RGB); got {value!r}")
    return np.array(values, dtype=np.uint8)


def _frame_selector(frame_indices, num_frames: int):
    """Normalise ``frame_indices`` to something that indexes axis 0 and keeps it (a slice or a 1-D index array)."""
    if frame_indices is None:
        return slice(None)
    if isinstance(frame_indices, slice):
        return frame_indices
    index = np.asarray(frame_indices)
    if index.size == 0:
        return np.zeros(0, dtype=np.intp)  # np.asarray([]) is float64: an empty selection of any type is fine
    if index.ndim == 0:
        index = index.reshape(1)
    if index.ndim != 1 or not (index.dtype == bool or np.issubdtype(index.dtype, np.integer)):
        raise ValueError(
            f"frame_indices must be None, a slice, an int, a 1-D integer array or a bool mask of length T; "
            f"got {frame_indices!r}"
        )
    if index.dtype == bool:
        if len(index) != num_frames:
            raise ValueError(f"a bool frame mask must have one entry per frame ({num_frames}); got {len(index)}")
        return np.flatnonzero(index)
    if index.size and (index.min() < -num_frames or index.max() >= num_frames):
        raise IndexError(
            f"frame_indices must lie in [-{num_frames}, {num_frames}) for {num_frames} frames; got {index.tolist()}"
        )
    return index


def draw_text(
    frames: np.ndarray,
    text: str,
    x: int,
    y: int,
    color=(255, 255, 255),
    scale: int = 1,
    frame_indices=None,
    background=None,
    padding: int | None = None,
) -> tuple[int, int, int, int]:
    """Stamp ``text`` into ``frames`` in place, with its top-left font pixel at column ``x``, row ``y``.

    Vectorised: one gather of the chosen frames' box, one masked assignment, one scatter back.

    Args:
        frames: ``(T, H, W, 3)`` uint8 RGB, modified in place.
        text: characters from :data:`CHARSET` (lower case is upper-cased).
        x, y: integer position of the text's top-left corner; may lie partly or wholly outside the frame
            (what falls outside is clipped).
        color: RGB of the ink, three ints in 0..255.
        scale: positive integer magnification (the text is ``text_size(text, scale)`` pixels).
        frame_indices: which frames to draw into: None (all), a slice, an int, an integer index array, or a
            ``(T,)`` bool mask. Other frames are left untouched.
        background: RGB of a solid box drawn behind the text for legibility, or None for no box.
        padding: margin of the background box around the text in pixels; default ``scale`` (one font pixel)
            when ``background`` is given. Ignored without a background.

    Returns:
        ``(x0, y0, x1, y1)``, the box drawn (the background box if any, else the text's box), clipped to the
        frame, ``x1``/``y1`` exclusive: the pixels written are inside ``frames[t, y0:y1, x0:x1]``. Empty
        (``x0 == x1`` or ``y0 == y1``) when the text lies entirely outside the frame.

    Raises:
        ValueError: bad frames, colour, scale, position or an unsupported character.
    """
    if not isinstance(frames, np.ndarray) or frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        shape = getattr(frames, "shape", None)
        raise ValueError(
            f"frames must be a (T, H, W, 3) uint8 NumPy array (drawn into in place); "
            f"got {type(frames).__name__} {shape}"
        )
    if not frames.flags.writeable:
        raise ValueError("frames is read-only; pass a writeable array (e.g. frames.copy())")
    for name, value in (("x", x), ("y", y)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be an integer pixel position; got {value!r}")
    ink = _check_color(color, "color")
    mask = text_mask(text, scale)
    scale = int(scale)
    h, w = mask.shape
    x, y = int(x), int(y)
    pad = 0
    fill = None
    if background is not None:
        fill = _check_color(background, "background")
        pad = scale if padding is None else int(padding)
        if pad < 0:
            raise ValueError(f"padding must be >= 0; got {padding!r}")
    height, width = frames.shape[1:3]
    # The box in frame coordinates before and after clipping.
    bx0, by0, bx1, by1 = x - pad, y - pad, x + w + pad, y + h + pad
    x0, x1 = min(max(bx0, 0), width), min(max(bx1, 0), width)
    y0, y1 = min(max(by0, 0), height), min(max(by1, 0), height)
    box = (x0, y0, x1, y1)
    selector = _frame_selector(frame_indices, len(frames))
    if x1 <= x0 or y1 <= y0:
        return box
    # The text mask placed inside the (padded) box, then cut to the visible part.
    placed = np.zeros((by1 - by0, bx1 - bx0), dtype=bool)
    placed[pad : pad + h, pad : pad + w] = mask
    visible = placed[y0 - by0 : y1 - by0, x0 - bx0 : x1 - bx0]
    # A fancy index on axis 0 gathers a copy, so edit the region and write it back (for a slice it is a view
    # and the write-back is a no-op copy onto itself).
    region = frames[selector, y0:y1, x0:x1]
    if fill is not None:
        region[...] = fill
    region[:, visible] = ink
    frames[selector, y0:y1, x0:x1] = region
    return box
