"""The sounding clips of unit 07: notes at the right pitch and timbre, at each object's first frame and bounces."""

import numpy as np
import pytest

from videollm.world import voices
from videollm.world.audio import SAMPLE_RATE
from videollm.world.clips import ShapeSpec, trajectories
from videollm.world.shapes import COLORS, PALETTE, SHAPES


def _walk(spec: ShapeSpec, num_frames: int, height: int, width: int):
    """An independent bounce simulation: one pixel at a time, turning on reaching a wall (that frame sounds)."""
    limit = (width - spec.size, height - spec.size)
    pos, direction = list(spec.position), [int(np.sign(v)) for v in spec.velocity]
    path, hits = [tuple(pos)], [0]
    for t in range(1, num_frames):
        for axis in (0, 1):
            for _ in range(abs(spec.velocity[axis])):
                if pos[axis] + direction[axis] < 0 or pos[axis] + direction[axis] > limit[axis]:
                    direction[axis] = -direction[axis]  # at the wall at the start of this pixel step
                pos[axis] += direction[axis]
                if pos[axis] in (0, limit[axis]):
                    hits.append(t)
        path.append(tuple(pos))
    return path, sorted(set(hits))


@pytest.mark.parametrize("seed", range(40))
def test_bounce_frames_match_a_pixel_by_pixel_walk(seed):
    clip = voices.sounding_clip(seed)
    for spec, onsets in zip(clip.objects, clip.onsets):
        path, hits = _walk(spec, 24, 48, 48)
        assert [tuple(p) for p in trajectories([spec], 24, 48, 48)[:, 0]] == path  # the walk is the world's path
        assert onsets == hits


def test_a_standstill_bounce_is_heard():
    # Folded back onto the same pixel: the position does not change, yet the object hit the wall.
    spec = ShapeSpec("circle", PALETTE[0], 10, (36, 0), (2, 0))  # limit 38: 36 -> 38 (touch) -> 36 ...
    assert voices.bounce_frames([spec], 4, 48, 48) == [[0, 1]]
    spec = ShapeSpec("circle", PALETTE[0], 10, (37, 0), (2, 0))  # 37 -> (38) -> 37: same pixel, one bounce
    assert trajectories([spec], 2, 48, 48)[:, 0, 0].tolist() == [37, 37]
    assert voices.bounce_frames([spec], 2, 48, 48) == [[0, 1]]


def _amplitudes(samples: np.ndarray, frequencies) -> np.ndarray:
    """Amplitude of each frequency over a whole note (a pure tone of amplitude A reads about A)."""
    n = np.arange(len(samples))
    window = np.hanning(len(samples))
    return np.array([2 * abs(np.sum(window * samples * np.exp(-2j * np.pi * f * n / SAMPLE_RATE))) / window.sum()
                     for f in frequencies])


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("color", ["red", "yellow", "magenta"])
def test_a_note_has_its_colours_pitch_and_its_shapes_harmonics(shape, color):
    spec = ShapeSpec(shape, COLORS[color], 10, (0, 0), (1, 1))
    track = voices.sound_track(voices.notes(spec, [0.1]), 0.4)
    note = track[int(0.1 * SAMPLE_RATE): int((0.1 + voices.NOTE_SECONDS) * SAMPLE_RATE)]
    f0 = voices.PITCHES[color]
    found = _amplitudes(note, [f0 * h for h in range(1, 6)])
    weights = np.array(voices.TIMBRES[shape] + (0.0,) * (5 - len(voices.TIMBRES[shape])))
    expected = voices.NOTE_PEAK * weights / weights.sum()
    assert np.allclose(found, expected, atol=0.02), (found, expected)
    assert np.abs(track[: int(0.1 * SAMPLE_RATE)]).max() == 0  # silence before the onset


def test_colours_have_distinct_pitches_a_minor_third_apart():
    pitches = list(voices.PITCHES.values())
    assert len(pitches) == len(COLORS) and pitches[0] == 220.0
    assert np.allclose(np.diff(np.log2(pitches)), 0.25, atol=1e-4)


def test_sounding_clips_are_deterministic_and_consistent():
    a, b = voices.sounding_clip(3), voices.sounding_clip(3)
    assert a.frames.tobytes() == b.frames.tobytes() and a.audio.tobytes() == b.audio.tobytes()
    assert a.caption == b.caption
    assert a.frames.shape == (24, 48, 48, 3) and a.frames.dtype == np.uint8
    assert a.audio.shape == (32000,) and a.audio.dtype == np.float32 and np.abs(a.audio).max() < 1
    assert voices.sounding_clip(4).audio.tobytes() != a.audio.tobytes()
    # The onsets are where the sound is: every note starts with energy, and nothing sounds elsewhere.
    loud = np.abs(a.audio).reshape(-1, SAMPLE_RATE // 100).max(1) > 0  # (200,) 10 ms bins
    expected = np.zeros(200, bool)
    for onsets in a.onsets:
        for f in onsets:
            start = int(round(f / a.fps * 100))
            expected[start: start + int(voices.NOTE_SECONDS * 100)] = True
    assert (loud == expected).mean() > 0.97


def test_captions_name_the_objects_in_palette_order_with_the_right_article():
    red = ShapeSpec("circle", COLORS["red"], 10, (0, 0), (1, 1))
    orange = ShapeSpec("diamond", COLORS["orange"], 10, (0, 0), (1, 1))
    assert voices.caption([orange, red]) == "a red circle and an orange diamond" == voices.caption([red, orange])
    assert voices.caption([orange], 1) == "there is an orange diamond"
    seen = {voices.sounding_clip(s).caption.split(" a")[0] for s in range(40)}
    assert len(seen) > 1  # more than one template
    with pytest.raises(ValueError, match="at least one object"):
        voices.caption([])
    with pytest.raises(ValueError, match="not one of the world's"):
        voices.caption([ShapeSpec("circle", (1, 2, 3), 10, (0, 0), (1, 1))])


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="seed"):
        voices.sounding_clip(-1)
    with pytest.raises(ValueError, match="max_objects"):
        voices.sounding_clip(0, max_objects=9)
