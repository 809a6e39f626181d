"""Unit 00 — sounding clips (unit 07): every object has a voice, so what you hear predicts what you see.

ImageBind binds audio to images with AudioSet's videos, where you hear the dog you see. The course's world gets
the same property: an object *sounds* a short note when it appears and each time it bounces off a wall, and its
note says what it is.

- **pitch** from its colour (:data:`PITCHES`, eight notes a minor third apart, 220 to 740 Hz);
- **timbre** from its shape (:data:`TIMBRES`, the amplitudes of its harmonics): a circle is a pure tone, a square
  has odd harmonics (a square wave's series), a triangle all of them (a sawtooth's), a diamond its octaves.

A :class:`SoundingClip` holds the frames, the sound track and the caption the world writes from its ground truth
("a red circle and a blue diamond"). The three are generated together, but unit 07 never trains on the audio and
the caption of a clip together: that is what makes audio-to-text retrieval *emergent* there.

The track is the sum of :func:`videollm.world.audio.tone_track` calls, one per harmonic amplitude, so it is made of
the same integer-synthesised tones as the event world's beeps and is byte-identical on every machine.

Lecture: `lectures/07_next_gpt.ipynb` §2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from videollm.world.audio import SAMPLE_RATE, tone_track
from videollm.world.clips import ShapeSpec, make_clip
from videollm.world.shapes import COLOR_NAMES, PALETTE, SHAPES

#: Fundamental (Hz) of each colour's note, in :data:`~videollm.world.shapes.COLOR_NAMES` order: minor thirds
#: (ratio 2^(1/4)) from 220 Hz, so two colours never share a fundamental and are several mel bins apart.
PITCHES: dict[str, float] = {name: round(220.0 * 2 ** (i / 4), 2) for i, name in enumerate(COLOR_NAMES)}
#: Relative amplitude of harmonics 1, 2, 3, ... of each shape's note.
TIMBRES: dict[str, tuple[float, ...]] = {
    "circle": (1.0,),                                  # a pure tone
    "square": (1.0, 0.0, 1 / 3, 0.0, 1 / 5),           # odd harmonics, as a square wave
    "triangle": (1.0, 1 / 2, 1 / 3, 1 / 4, 1 / 5),     # all harmonics, as a sawtooth
    "diamond": (1.0, 1 / 2, 0.0, 1 / 3),               # octaves: 1, 2 and 4 times the fundamental
}
#: How long each note lasts (seconds).
NOTE_SECONDS = 0.15
#: Peak amplitude of one note (all harmonics together); two objects' notes may overlap and still stay below 1.
NOTE_PEAK = 0.4
#: Caption templates; ``{}`` is the object list ("a red circle and a blue diamond").
TEMPLATES = ("{}", "there is {}", "{} bouncing around", "a video of {}")


@dataclass
class SoundingClip:
    """One clip of the binding data: ``T`` frames of ``K`` objects, their sound track and their caption.

    Attributes:
        frames: ``(T, H, W, 3)`` uint8 RGB.
        audio: ``(N,)`` float32 mono at ``sample_rate``, ``N = round(T / fps * sample_rate)``.
        caption: what the frames show, written from the ground truth (:func:`caption`).
        objects: the ``K`` objects (:class:`~videollm.world.clips.ShapeSpec`), in drawing order.
        onsets: ``K`` lists of frame indices at which each object sounds (its first frame and every bounce).
        fps, sample_rate: frame and sample rates.
    """

    frames: np.ndarray
    audio: np.ndarray
    caption: str
    objects: list[ShapeSpec]
    onsets: list[list[int]]
    fps: float
    sample_rate: int


def object_name(spec: ShapeSpec) -> str:
    """``"red circle"``: the world's name for a clip object (its colour must be one of the world's)."""
    if spec.color not in PALETTE:
        raise ValueError(f"colour {spec.color} is not one of the world's (videollm.world.shapes.COLORS)")
    return f"{COLOR_NAMES[PALETTE.index(spec.color)]} {spec.shape}"


def caption(objects: list[ShapeSpec], template: int = 0) -> str:
    """``TEMPLATES[template]`` filled with the objects in the palette's colour order (one caption per set of
    objects, whatever their drawing order): ``"there is a red circle and a blue diamond"``."""
    if not objects:
        raise ValueError("a caption needs at least one object")
    objects = sorted(objects, key=lambda o: PALETTE.index(o.color) if o.color in PALETTE else -1)
    names = [("an " if object_name(o)[0] in "aeiou" else "a ") + object_name(o) for o in objects]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return TEMPLATES[template].format(listed)


def bounce_frames(objects: list[ShapeSpec], num_frames: int, height: int, width: int) -> list[list[int]]:
    """For each object, frame 0 and every frame ``t`` such that it hit a wall between frames ``t - 1`` and ``t``.

    A bouncing object's coordinate is its unbounded path ``p0 + t * v`` folded into ``[0, limit]`` (``limit`` =
    frame size minus object size; :func:`~videollm.world.clips.trajectories`). It hits a wall each time the path
    crosses a multiple of ``limit``, so counting ``floor(path / limit)`` finds every hit, also one that lands the
    object exactly where it was a frame before (a folded step of 0, which position differences would miss).
    """
    t = np.arange(num_frames)[:, None, None]  # (T, 1, 1)
    start = np.array([o.position for o in objects], dtype=np.int64).reshape(-1, 2)  # (K, 2)
    vel = np.array([o.velocity for o in objects], dtype=np.int64).reshape(-1, 2)
    size = np.array([o.size for o in objects], dtype=np.int64).reshape(-1)
    limit = np.stack([width - size, height - size], axis=-1)  # (K, 2)
    path, fold = start + t * vel, np.maximum(limit, 1)
    # Which fold the path is in, counted so that it changes on the frame the object touches the wall: floor when
    # moving up the axis, ceil when moving down (a touch at exactly a multiple of the limit is the bounce).
    segment = np.where(vel > 0, np.floor_divide(path, fold), -np.floor_divide(-path, fold))  # (T, K, 2)
    hit = (np.diff(segment, axis=0) != 0) & (limit > 0)  # (T - 1, K, 2)
    hit = hit.any(axis=-1)  # (T - 1, K): a wall was hit on the way into frame t + 1
    return [[0] + [int(f) + 1 for f in np.flatnonzero(hit[:, k])] for k in range(len(objects))]


def notes(spec: ShapeSpec, onsets_s: list[float]) -> list[tuple[float, float, float, float]]:
    """The partials of ``spec``'s note at each onset: ``(start_s, duration_s, frequency_hz, amplitude)``."""
    name = object_name(spec)
    color = name.split()[0]
    if spec.shape not in TIMBRES:
        raise ValueError(f"no timbre for shape {spec.shape!r}; the world's shapes are {SHAPES}")
    weights = np.array(TIMBRES[spec.shape])
    amplitudes = NOTE_PEAK * weights / weights.sum()  # the harmonics' peaks add up to NOTE_PEAK
    return [(start, NOTE_SECONDS, PITCHES[color] * (h + 1), float(a))
            for start in onsets_s for h, a in enumerate(amplitudes) if a > 0]


def sound_track(partials: list[tuple[float, float, float, float]], duration: float,
                sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``(round(duration * sample_rate),)`` float32: the sum of the partials, each a faded sine
    (:func:`~videollm.world.audio.tone_track`), clipped to [-1, 1)."""
    track = np.zeros(int(round(duration * sample_rate)), dtype=np.float64)
    for amplitude in sorted({p[3] for p in partials}):  # tone_track takes one amplitude per call
        events = [(s, d, f) for s, d, f, a in partials if a == amplitude]
        track += tone_track(events, duration, sample_rate=sample_rate, amplitude=amplitude)
    return np.clip(track, -1.0, 1.0 - 1 / 32768).astype(np.float32)


def random_sounding_objects(rng: np.random.Generator, height: int, width: int,
                            max_objects: int = 2) -> list[ShapeSpec]:
    """1 to ``max_objects`` objects of distinct colours and any of the world's shapes, a quarter to two fifths of
    the frame wide, bouncing at 1 to 3 pixels per frame per axis."""
    k = int(rng.integers(1, max_objects + 1))
    colors = rng.permutation(len(PALETTE))[:k]
    small = min(height, width)
    out = []
    for i in range(k):
        size = int(rng.integers(small // 4, 2 * small // 5 + 1))
        velocity = rng.integers(1, 4, size=2) * rng.choice([-1, 1], size=2)
        out.append(ShapeSpec(shape=SHAPES[int(rng.integers(len(SHAPES)))], color=PALETTE[int(colors[i])], size=size,
                             position=(int(rng.integers(0, width - size + 1)), int(rng.integers(0, height - size + 1))),
                             velocity=(int(velocity[0]), int(velocity[1])), dynamics="bounce"))
    return out


def sounding_clip(seed: int, num_frames: int = 24, height: int = 48, width: int = 48, fps: float = 12,
                  sample_rate: int = SAMPLE_RATE, max_objects: int = 2) -> SoundingClip:
    """The sounding clip of ``seed``: random objects (:func:`random_sounding_objects`) on a plain background, their
    notes at each object's first frame and bounces, and a caption in a template drawn from the same seed.

    Args:
        seed: non-negative int, the only source of randomness.
        num_frames, height, width, fps: the clip's size and rate (2 s of 48 x 48 at 12 fps by default).
        sample_rate: of the sound track (16 kHz, as ImageBind's audio branch takes).
        max_objects: at most this many objects (1..8).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    if not 1 <= max_objects <= len(PALETTE):
        raise ValueError(f"max_objects must be in 1..{len(PALETTE)} (one colour each); got {max_objects}")
    rng = np.random.default_rng([7, int(seed)])  # a stream of its own: unit 07's seeds are not the clips' seeds
    objects = random_sounding_objects(rng, height, width, max_objects)
    template = int(rng.integers(len(TEMPLATES)))
    clip = make_clip(int(seed), num_frames=num_frames, height=height, width=width, fps=fps, objects=objects)
    onsets = bounce_frames(objects, num_frames, height, width)
    partials = [p for spec, frames in zip(objects, onsets) for p in notes(spec, [f / fps for f in frames])]
    audio = sound_track(partials, num_frames / fps, sample_rate)
    return SoundingClip(frames=clip.frames, audio=audio, caption=caption(objects, template), objects=objects,
                        onsets=onsets, fps=fps, sample_rate=sample_rate)
