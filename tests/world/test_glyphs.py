"""Tests for videollm.world.glyphs: the built-in 5x7 font, text sizes, and stamping text into frames in place."""

import hashlib
import re

import numpy as np
import pytest

from videollm.world.glyphs import CHARSET, GLYPH_HEIGHT, GLYPH_WIDTH, draw_text, text_mask, text_size


def rows(mask):
    return ["".join("#" if v else "." for v in row) for row in mask]


# ---------------------------------------------------------------- the font


def test_charset_is_what_the_course_promises():
    assert CHARSET == "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,!?-:'"


def test_every_glyph_is_distinct_and_fits_its_cell():
    masks = {c: text_mask(c) for c in CHARSET}
    assert all(m.shape == (GLYPH_HEIGHT, GLYPH_WIDTH) and m.dtype == bool for m in masks.values())
    keys = {m.tobytes() for m in masks.values()}
    assert len(keys) == len(CHARSET), "two characters share a glyph"
    assert not masks[" "].any()
    assert all(m.any() for c, m in masks.items() if c != " "), "a visible character has no ink"


def test_known_glyphs():
    assert rows(text_mask("A")) == [".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"]
    assert rows(text_mask("1")) == ["..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."]
    # Zero is slashed so that OCR answers never confuse it with the letter O.
    assert not np.array_equal(text_mask("0"), text_mask("O"))


def test_font_is_pinned():
    # The font is data in the module: the same text gives the same pixels on every machine. Changing a glyph
    # changes every clip with text in it: update this checksum deliberately (and the world's version).
    digest = hashlib.sha256(np.packbits(text_mask(CHARSET)).tobytes()).hexdigest()
    assert digest == "2b1b56f2e0ffa0b8e6cc8928b98457e25f1e900954f3db7f6a9ab021009036e7"


# ---------------------------------------------------------------- text_mask and text_size


@pytest.mark.parametrize("text", ["A", "HELLO", "NO. 42!", "", "  "])
@pytest.mark.parametrize("scale", [1, 2, 3])
def test_size_arithmetic(text, scale):
    width = max(6 * len(text) - 1, 0) * scale
    assert text_size(text, scale) == (width, 7 * scale)
    assert text_mask(text, scale).shape == (7 * scale, width)


def test_glyphs_are_separated_by_one_empty_column():
    mask = text_mask("HH")
    assert mask.shape == (7, 11)
    assert not mask[:, 5].any()
    assert np.array_equal(mask[:, :5], mask[:, 6:])


def test_scale_repeats_each_pixel():
    small = text_mask("OK?")
    assert np.array_equal(text_mask("OK?", 3), np.kron(small, np.ones((3, 3), dtype=bool)))


def test_lower_case_is_upper_cased():
    assert np.array_equal(text_mask("Pip's cat"), text_mask("PIP'S CAT"))


@pytest.mark.parametrize("text, char", [("héllo", "é"), ("a_b", "_"), ("line\nbreak", "\n"), ("50%", "%")])
def test_unsupported_character_is_named(text, char):
    pattern = rf"character {re.escape(repr(char))} .* not in the built-in font; supported: A-Z, 0-9"
    with pytest.raises(ValueError, match=pattern):
        text_mask(text)
    with pytest.raises(ValueError, match="not in the built-in font"):
        text_size(text)


@pytest.mark.parametrize("scale", [0, -1, 1.5, True])
def test_bad_scale(scale):
    with pytest.raises(ValueError, match="scale must be a positive integer"):
        text_mask("A", scale)


# ---------------------------------------------------------------- draw_text


def blank(t=5, h=20, w=40, value=10):
    return np.full((t, h, w, 3), value, dtype=np.uint8)


def test_draws_the_mask_in_colour_and_returns_its_box():
    frames = blank()
    box = draw_text(frames, "HI", 3, 4, (200, 100, 50), scale=2)
    mask = text_mask("HI", 2)
    assert box == (3, 4, 3 + mask.shape[1], 4 + mask.shape[0])
    region = frames[:, 4:18, 3:25]
    assert (region[:, mask] == [200, 100, 50]).all()
    assert (region[:, ~mask] == 10).all()
    outside = np.ones(frames.shape[:3], bool)
    outside[:, 4:18, 3:25] = False
    assert (frames[outside] == 10).all()


@pytest.mark.parametrize(
    "selector, chosen",
    [
        (np.array([1, 3]), [1, 3]),
        (slice(2, None), [2, 3, 4]),
        (4, [4]),
        (np.array([True, False, False, True, False]), [0, 3]),
        (None, [0, 1, 2, 3, 4]),
        ([], []),
    ],
)
def test_only_the_chosen_frames_change_in_place(selector, chosen):
    frames = blank()
    before = frames.copy()
    draw_text(frames, "AB", 2, 2, (255, 255, 255), frame_indices=selector)
    changed = [t for t in range(len(frames)) if not np.array_equal(frames[t], before[t])]
    assert changed == chosen
    if chosen:
        assert all(np.array_equal(frames[t], frames[chosen[0]]) for t in chosen)


def test_background_box_with_padding():
    frames = blank()
    box = draw_text(frames, "A", 5, 5, (255, 0, 0), scale=2, background=(0, 0, 255))
    assert box == (3, 3, 17, 20)  # the 10x14 text padded by scale=2 on each side, clipped at the bottom (H=20)
    x0, y0, x1, y1 = box
    inside = frames[0, y0:y1, x0:x1].reshape(-1, 3)
    assert {tuple(p) for p in inside} == {(255, 0, 0), (0, 0, 255)}
    assert (frames[0, :y0] == 10).all() and (frames[0, :, x1:] == 10).all()
    assert draw_text(blank(), "A", 5, 5, (255, 0, 0), background=(0, 0, 0), padding=0) == (5, 5, 10, 12)


def test_clipping_at_every_border():
    mask = text_mask("WORD")  # 7 x 23
    for x, y in [(-4, 2), (30, 2), (5, -3), (5, 16), (-10, -5), (35, 17)]:
        frames = blank(t=1)
        x0, y0, x1, y1 = draw_text(frames, "WORD", x, y, (255, 255, 255))
        assert (x0, y0) == (max(x, 0), max(y, 0)) and (x1, y1) == (min(x + 23, 40), min(y + 7, 20))
        expected = mask[y0 - y : y1 - y, x0 - x : x1 - x]
        assert np.array_equal(frames[0, y0:y1, x0:x1, 0] == 255, expected)
        assert (frames[0] == 255).all(axis=-1).sum() == expected.sum()  # nothing drawn elsewhere


def test_text_entirely_outside_draws_nothing():
    frames = blank()
    for x, y in [(-100, 0), (41, 0), (0, 21), (0, -8)]:  # outside the text and its 1-pixel background margin
        x0, y0, x1, y1 = draw_text(frames, "HI", x, y, (255, 255, 255), background=(0, 0, 0))
        assert x0 == x1 or y0 == y1
    assert (frames == 10).all()


def test_draw_errors():
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\) uint8"):
        draw_text(np.zeros((20, 40, 3), np.uint8), "A", 0, 0)
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\) uint8"):
        draw_text(np.zeros((1, 20, 40, 3), np.float32), "A", 0, 0)
    frozen = blank()
    frozen.setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        draw_text(frozen, "A", 0, 0)
    with pytest.raises(ValueError, match="color must be three integers in 0..255"):
        draw_text(blank(), "A", 0, 0, (300, 0, 0))
    with pytest.raises(ValueError, match="background must be three integers"):
        draw_text(blank(), "A", 0, 0, background=(1, 2))
    with pytest.raises(ValueError, match="x must be an integer"):
        draw_text(blank(), "A", 1.5, 0)
    with pytest.raises(IndexError, match="frame_indices must lie in"):
        draw_text(blank(), "A", 0, 0, frame_indices=[5])
    with pytest.raises(ValueError, match="one entry per frame"):
        draw_text(blank(), "A", 0, 0, frame_indices=np.array([True, False]))
    with pytest.raises(ValueError, match="'~' .* not in the built-in font"):
        draw_text(blank(), "~", 0, 0)

