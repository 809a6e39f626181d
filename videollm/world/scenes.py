"""Unit 00 — the course's event world: shapes on a table, filmed by a camera, doing things at known times.

A clip (:mod:`videollm.world.clips`) slides shapes over a background. The benchmark suites
(:mod:`videollm.world.suites`) need *events*: objects entering and leaving, jumping, spinning, stopping; the camera
looking away while the table changes; a sign with a word on it; a short unrelated segment cut into a long clip
(MLVU's "needle"); a narrator whose subtitles carry facts; tones on the sound track. This module describes such a
scene as per-frame state arrays and renders it.

Two layers, so that questions can be made and checked without drawing a pixel:

- :class:`SceneBuilder` -> :class:`Scene`: the script. Per-frame state of every object (centre, angle, scale,
  colour, present, hidden), the camera (top-left and zoom), text overlays, cut-in segments, subtitle cues, tones,
  and the event list derived from them. Building a 5-minute scene takes about a millisecond.
- :func:`render` -> :class:`Rendered`: frames, segmentation and dense motion, computed in chunks of frames with
  array operations over ``(frames, objects, H, W)`` (no loops over pixels); :func:`save_scene` writes the
  ``.mp4`` (with its audio track), ``.npz`` (tracks, boxes, motion, segmentation), ``.json`` (events, meta) and
  ``.srt`` (subtitles).

Coordinates
-----------
The background is a *canvas* twice as wide as the frame: the left half is the table where objects live, the
right half is "the wall" the camera turns to when it looks away. An object's ``centre`` is in canvas pixels
(continuous: pixel ``(x, y)`` covers ``[x, x + 1) x [y, y + 1)``). The camera at frame ``t`` shows canvas point
``camera[t] + (p + 0.5) / zoom[t]`` at the centre of screen pixel ``p``. ``motion[t, y, x] = (dx, dy)`` means the
content at pixel ``p`` of frame ``t`` was at ``p - (dx, dy)`` in frame ``t - 1`` (the same convention as
clips), for objects and background alike, so a camera pan moves everything. It is NaN where the content has no
past: frame 0, the first frame an object is drawn, and the frames at a cut.

Objects may be solid, striped or checked (:data:`TEXTURES`); stripes turn with the object, so the texture shows
rotation that a solid square hides. Occlusion is found while rendering (:func:`occlusion_events`).

Everything follows from the builder's calls (themselves drawn from one seed by :mod:`videollm.world.suites`), so a
scene is byte-identical on every machine; :data:`~videollm.world.shapes.WORLD_VERSION` is bumped whenever that would
change. Shapes, colours and backgrounds are the world's (:mod:`~videollm.world.shapes`,
:mod:`~videollm.world.backgrounds`), shared with clips.

Lecture: `lectures/00_video_as_data.ipynb` §6.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from videollm.world.audio import tone_track
from videollm.world.backgrounds import make_background
from videollm.world.files import save_files
from videollm.world.glyphs import draw_text, text_size
from videollm.world.shapes import COLOR_NAMES, COLORS, PALETTE, SHAPES, WORLD_VERSION, inside
from videollm.world.subtitles import Cue

#: Surface patterns: stripes and checks are drawn in a darker shade of the object's colour and turn with it.
TEXTURES = ("solid", "stripes", "checks")
#: Actions an object can perform, and how many frames each takes.
ACTIONS = ("jump", "spin", "grow", "blink")
ACTION_FRAMES = {"jump": 5, "spin": 6, "grow": 6, "blink": 3}
#: Height of a jump in pixels.
JUMP_HEIGHT = 10
#: The tone (Hz) that marks each kind of event on the sound track.
TONES = {"enter": 330.0, "leave": 220.0, "jump": 440.0, "spin": 660.0, "grow": 880.0, "blink": 1100.0}
TONE_SECONDS = 0.2
#: What each background looks like, in words (MLVU-style topic questions ask for it).
TOPICS = {
    "plain": "a plain coloured wall",
    "gradient": "a colour gradient",
    "photo:astronaut": "a photograph of an astronaut",
    "photo:coffee": "a cup of coffee",
    "photo:chelsea": "a cat",
    "photo:rocket": "a rocket on its launch pad",
}
_BACKGROUNDS = tuple(TOPICS)


@dataclass(frozen=True)
class TextOverlay:
    """A word shown at a fixed screen position for frames ``start <= t < end`` (drawn over everything)."""

    text: str
    start: int
    end: int
    x: int
    y: int
    scale: int = 2
    color: tuple[int, int, int] = (255, 255, 255)
    box_color: tuple[int, int, int] = (0, 0, 0)



@dataclass
class Scene:
    """A scripted scene: ``T`` frames, ``K`` objects. Arrays are NumPy; see the module docstring for coordinates.

    Attributes:
        fps, height, width: playback rate and frame size ``H x W``.
        background: background spec (``"plain"``, ``"gradient"``, ``"photo:<name>"``); ``canvas`` is ``(H, 2W, 3)``
            uint8.
        shapes, textures: ``K`` names each (:data:`SHAPES`, :data:`TEXTURES`); ``sizes``: ``(K,)`` int, the
            side of each object's square at scale 1.
        centre: ``(T, K, 2)`` float64 canvas coordinates ``(x, y)``; ``angle``: ``(T, K)`` radians; ``scale``: ``(T, K)``.
        color: ``(T, K)`` int, index into :data:`COLOR_NAMES`.
        present: ``(T, K)`` bool, the object is in the scene; ``hidden``: ``(T, K)`` bool, present but not drawn
            (a blink).
        camera: ``(T, 2)`` float64 canvas point at the screen's top-left corner; ``zoom``: ``(T,)``.
        shown: ``(T,)`` bool, False during cut-in segments (``inserts``), when the frame shows another scene.
        texts, cues, inserts: overlays, subtitles, and ``(start_frame, Scene)`` cut-ins.
        tones: ``(start_s, duration_s, frequency_hz)`` per sound-track event.
        events: the event list (dicts with ``kind``, ``frame``, ``time`` and kind-specific fields), sorted by frame.
        meta: JSON-able description (scenario, seed, parameters, objects).
    """

    fps: float
    height: int
    width: int
    background: str
    canvas: np.ndarray
    shapes: list[str]
    textures: list[str]
    sizes: np.ndarray
    centre: np.ndarray
    angle: np.ndarray
    scale: np.ndarray
    color: np.ndarray
    present: np.ndarray
    hidden: np.ndarray
    camera: np.ndarray
    zoom: np.ndarray
    shown: np.ndarray
    texts: list[TextOverlay] = field(default_factory=list)
    cues: list[Cue] = field(default_factory=list)
    inserts: list[tuple[int, "Scene"]] = field(default_factory=list)
    tones: list[tuple[float, float, float]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return len(self.camera)

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps

    def describe(self, k: int, t: int = 0) -> str:
        """``"the red circle"``-style name of object ``k`` (its colour at frame ``t``)."""
        return f"{COLOR_NAMES[self.color[t, k]]} {self.shapes[k]}"

    def boxes(self) -> np.ndarray:
        """``(T, K, 4)`` float32 screen boxes ``[x0, y0, x1, y1]`` (exclusive), clipped to the frame; NaN where the
        object is not drawn, not in view, or the frame shows a cut-in. Geometric: occlusion is ignored."""
        half = 0.5 * self.sizes[None, :] * self.scale  # (T, K)
        # A rotated polygon's axis-aligned extent grows by |cos| + |sin|; a circle's does not.
        spread = np.abs(np.cos(self.angle)) + np.abs(np.sin(self.angle))
        round_ = np.array([s == "circle" for s in self.shapes])[None, :]
        half = half * np.where(round_, 1.0, spread)
        lo = (self.centre - half[..., None] - self.camera[:, None]) * self.zoom[:, None, None]
        hi = (self.centre + half[..., None] - self.camera[:, None]) * self.zoom[:, None, None]
        size = np.array([self.width, self.height], dtype=np.float64)
        lo, hi = np.clip(lo, 0, size), np.clip(hi, 0, size)
        ok = self.drawn & self.shown[:, None] & np.all(hi > lo, axis=-1)
        boxes = np.concatenate([lo, hi], axis=-1).astype(np.float32)
        boxes[~ok] = np.nan
        return boxes

    @property
    def drawn(self) -> np.ndarray:
        """``(T, K)`` bool: present and not hidden."""
        return self.present & ~self.hidden

    def in_view(self) -> np.ndarray:
        """``(T, K)`` bool: the object is drawn and some of its box is on screen (what a viewer of frame t sees,
        occlusion aside)."""
        return ~np.isnan(self.boxes()[..., 0])

    def texts_at(self, frames: np.ndarray) -> list[TextOverlay]:
        """The overlays visible in at least one of ``frames`` (frame indices)."""
        frames = np.asarray(frames)
        shown = frames[self.shown[frames]] if len(frames) else frames
        return [o for o in self.texts if np.any((shown >= o.start) & (shown < o.end))]


# ----------------------------------------------------------------------------------------------------------------
# Building a scene


def _bounce(raw: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Reflect coordinates ``raw`` into ``[low, high]`` (a triangle wave), elementwise, broadcasting."""
    span = np.maximum(high - low, 1e-9)
    phase = np.mod(raw - low, 2 * span)
    return low + np.where(phase <= span, phase, 2 * span - phase)


class SceneBuilder:
    """Script a scene call by call, then :meth:`build` it.

    Frames are indices ``0 .. num_frames - 1``; objects are numbered in the order they are added (later ones are
    drawn on top). Every method checks its arguments and says what is wrong.
    """

    def __init__(self, num_frames: int, fps: float = 4.0, height: int = 96, width: int = 128,
                 background: str = "plain", rng: np.random.Generator | None = None, meta: dict | None = None):
        if num_frames < 2:
            raise ValueError(f"a scene needs at least 2 frames; got {num_frames}")
        if height % 2 or width % 2 or height < 32 or width < 32:
            raise ValueError(f"height and width must be even and at least 32 (yuv420p video); got {height}x{width}")
        self.T, self.fps, self.H, self.W = int(num_frames), float(fps), int(height), int(width)
        self.background = background
        rng = rng if rng is not None else np.random.default_rng(0)
        self.canvas, self.background_desc = make_background(background, self.H, 2 * self.W, rng)
        self.objects: list[dict[str, Any]] = []
        self.actions: list[tuple[int, str, int]] = []
        self.away: list[tuple[int, int, int]] = []
        self.zooms: list[tuple[int, int, float]] = []
        self.texts: list[TextOverlay] = []
        self.cues: list[Cue] = []
        self.inserts: list[tuple[int, Scene]] = []
        self.meta = dict(meta or {})

    # -- objects and what they do --------------------------------------------------------------------------------

    def add_object(self, shape: str, color: str, size: int, position: tuple[float, float],
                   velocity: tuple[float, float] = (0, 0), dynamics: str = "bounce", appear: int = 0,
                   leave: int | None = None, stop: int | None = None, spin: float = 0.0,
                   texture: str = "solid") -> int:
        """Add an object; returns its index ``k``.

        Args:
            shape, color: one of :data:`SHAPES` and :data:`COLOR_NAMES`.
            size: side of its square in pixels.
            position: centre ``(x, y)`` at frame 0 on the table (the canvas's left ``W x H``).
            velocity: pixels per frame.
            dynamics: ``"bounce"`` (reflects off the table's edges), ``"linear"`` (may leave the view), or
                ``"stop"`` (moves until frame ``stop``, then stays).
            appear, leave: the object is in the scene for ``appear <= t < leave`` (``leave=None``: to the end).
            spin: constant rotation in radians per frame.
            texture: one of :data:`TEXTURES`.
        """
        if shape not in SHAPES:
            raise ValueError(f"unknown shape {shape!r}; choose one of {SHAPES}")
        if color not in COLORS:
            raise ValueError(f"unknown colour {color!r}; choose one of {COLOR_NAMES}")
        if texture not in TEXTURES:
            raise ValueError(f"unknown texture {texture!r}; choose one of {TEXTURES}")
        if dynamics not in ("bounce", "linear", "stop"):
            raise ValueError(f"unknown dynamics {dynamics!r}; choose 'bounce', 'linear' or 'stop'")
        if dynamics == "stop" and stop is None:
            raise ValueError("dynamics='stop' needs the frame it stops at: stop=<frame>")
        leave = self.T if leave is None else int(leave)
        if not 0 <= appear < leave <= self.T:
            raise ValueError(f"need 0 <= appear < leave <= {self.T}; got appear={appear}, leave={leave}")
        self.objects.append(dict(shape=shape, color=color, size=int(size), position=tuple(map(float, position)),
                                 velocity=tuple(map(float, velocity)), dynamics=dynamics, appear=int(appear),
                                 leave=leave, stop=None if stop is None else int(stop), spin=float(spin),
                                 texture=texture))
        return len(self.objects) - 1

    def act(self, k: int, action: str, start: int) -> tuple[int, int]:
        """Object ``k`` performs ``action`` (one of :data:`ACTIONS`) from frame ``start``; returns ``(start, end)``."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; choose one of {ACTIONS}")
        if not 0 <= k < len(self.objects):
            raise ValueError(f"no object {k}; add it first (there are {len(self.objects)})")
        end = start + ACTION_FRAMES[action]
        obj = self.objects[k]
        if not obj["appear"] <= start or end > obj["leave"]:
            raise ValueError(f"object {k} is in the scene for frames {obj['appear']}..{obj['leave'] - 1}; "
                             f"a {action} from {start} to {end - 1} does not fit")
        self.actions.append((k, action, int(start)))
        return start, end

    # -- the camera ----------------------------------------------------------------------------------------------

    def look_away(self, start: int, end: int, turn: int = 4) -> None:
        """Pan to the wall over ``turn`` frames from ``start``, stay, and be back on the table at frame ``end``."""
        if not 0 <= start < start + 2 * turn <= end <= self.T:
            raise ValueError(f"look_away needs 0 <= start, start + 2*turn <= end <= {self.T}; got {start}, {end}, {turn}")
        self.away.append((int(start), int(end), int(turn)))

    def zoom(self, start: int, end: int, factor: float) -> None:
        """Zoom in smoothly (about the table's centre) from 1 at ``start`` to ``factor`` at ``end`` and hold."""
        if not 0 <= start < end <= self.T or factor <= 0:
            raise ValueError(f"zoom needs 0 <= start < end <= {self.T} and factor > 0; got {start}, {end}, {factor}")
        self.zooms.append((int(start), int(end), float(factor)))

    # -- overlays, subtitles, cut-ins ----------------------------------------------------------------------------

    def show_text(self, text: str, start: int, end: int, x: int | None = None, y: int | None = None,
                  scale: int = 2) -> TextOverlay:
        """Show ``text`` on screen for ``start <= t < end`` (centred horizontally unless ``x`` is given)."""
        w, h = text_size(text, scale)
        x = (self.W - w) // 2 if x is None else int(x)
        y = 4 if y is None else int(y)
        if not 0 <= start < end <= self.T:
            raise ValueError(f"text frames must satisfy 0 <= start < end <= {self.T}; got {start}, {end}")
        overlay = TextOverlay(text.upper(), int(start), int(end), x, y, int(scale))
        self.texts.append(overlay)
        return overlay

    def say(self, text: str, start: float, end: float) -> None:
        """A subtitle line from ``start`` to ``end`` seconds."""
        if not 0 <= start < end:
            raise ValueError(f"a cue needs 0 <= start < end; got {start}, {end}")
        self.cues.append(Cue(round(float(start), 3), round(float(end), 3), text))

    def insert(self, start: int, scene: Scene) -> None:
        """Cut to ``scene`` (same size and fps) for its length from frame ``start``, then cut back."""
        if (scene.height, scene.width, scene.fps) != (self.H, self.W, self.fps):
            raise ValueError("an inserted scene must have the same size and fps")
        if not (0 < start and start + scene.num_frames < self.T):
            raise ValueError(f"the insert ({scene.num_frames} frames at {start}) must lie strictly inside the scene")
        self.inserts.append((int(start), scene))

    # -- build ---------------------------------------------------------------------------------------------------

    def build(self) -> Scene:
        """Turn the script into per-frame arrays and the event list."""
        T, K = self.T, len(self.objects)
        t = np.arange(T, dtype=np.float64)[:, None]  # (T, 1)
        objs = self.objects
        size = np.array([o["size"] for o in objs], dtype=np.int64).reshape(K)
        start = np.array([o["position"] for o in objs], dtype=np.float64).reshape(K, 2)
        vel = np.array([o["velocity"] for o in objs], dtype=np.float64).reshape(K, 2)
        stop = np.array([o["stop"] if o["stop"] is not None else T for o in objs], dtype=np.float64)
        moving_t = np.minimum(t, stop[None, :])  # (T, K): frames of motion so far ("stop" freezes)
        raw = start[None] + moving_t[..., None] * vel[None]  # (T, K, 2)
        half = size[None, :, None] / 2.0
        table = np.array([self.W, self.H], dtype=np.float64)
        bounced = _bounce(raw, half, table - half)
        linear = np.array([o["dynamics"] == "linear" for o in objs])[None, :, None]
        centre = np.where(linear, raw, bounced)
        angle = np.array([o["spin"] for o in objs], dtype=np.float64)[None, :] * t
        scale = np.ones((T, K))
        present = np.zeros((T, K), dtype=bool)
        for k, o in enumerate(objs):
            present[o["appear"]:o["leave"], k] = True
        hidden = np.zeros((T, K), dtype=bool)
        color = np.tile(np.array([COLOR_NAMES.index(o["color"]) for o in objs], dtype=np.int64), (T, 1))
        events: list[dict[str, Any]] = []
        for k, action, s in self.actions:
            n = ACTION_FRAMES[action]
            phase = (np.arange(n) + 1) / (n + 1)  # strictly inside (0, 1): every action frame differs from rest
            if action == "jump":
                centre[s:s + n, k, 1] -= np.round(JUMP_HEIGHT * np.sin(np.pi * phase))
            elif action == "spin":
                angle[s:s + n, k] += 2 * np.pi * phase
            elif action == "grow":
                scale[s:s + n, k] *= 1 + 0.6 * np.sin(np.pi * phase)
            else:  # blink
                hidden[s:s + n, k] = True
            events.append({"kind": action, "frame": s, "end": s + n, "object": k})
        camera = np.zeros((T, 2))
        zoom = np.ones(T)
        for s, e, f in self.zooms:
            ramp = np.clip((np.arange(T) - s) / max(e - s, 1), 0, 1)
            zoom *= 1 + (f - 1) * ramp
        # Zoom about the table's centre: the centre stays at the screen's centre.
        camera += (table / 2)[None] * (1 - 1 / zoom[:, None])
        for s, e, turn in self.away:
            ramp = np.clip((np.arange(T) - s) / turn, 0, 1) - np.clip((np.arange(T) - (e - turn)) / turn, 0, 1)
            camera[:, 0] += self.W * ramp
            events.append({"kind": "look_away", "frame": s, "end": e})
        shown = np.ones(T, dtype=bool)
        for s, scene in self.inserts:
            shown[s:s + scene.num_frames] = False
            events.append({"kind": "insert", "frame": s, "end": s + scene.num_frames,
                           "content": scene.meta.get("content", "")})
        for k, o in enumerate(objs):
            if o["appear"] > 0:
                events.append({"kind": "enter", "frame": o["appear"], "object": k})
            if o["leave"] < T:
                events.append({"kind": "leave", "frame": o["leave"], "object": k})
            if o["dynamics"] == "stop" and o["stop"] < T:
                events.append({"kind": "stop", "frame": o["stop"], "object": k})
        for overlay in self.texts:
            events.append({"kind": "text", "frame": overlay.start, "end": overlay.end, "text": overlay.text})
        for e in events:
            e["time"] = round(e["frame"] / self.fps, 4)
            if "object" in e:
                e["description"] = f"{objs[e['object']]['color']} {objs[e['object']]['shape']}"
        events.sort(key=lambda e: (e["frame"], e["kind"], e.get("object", -1)))
        tones = [(e["time"], TONE_SECONDS, TONES[e["kind"]]) for e in events if e["kind"] in TONES]
        meta = {"generator": "videollm.world.scenes", "version": WORLD_VERSION, "background": self.background_desc,
                "objects": objs, **self.meta}
        return Scene(fps=self.fps, height=self.H, width=self.W, background=self.background, canvas=self.canvas,
                     shapes=[o["shape"] for o in objs], textures=[o["texture"] for o in objs], sizes=size, centre=centre, angle=angle, scale=scale,
                     color=color, present=present, hidden=hidden, camera=camera, zoom=zoom, shown=shown,
                     texts=list(self.texts), cues=sorted(self.cues, key=lambda c: c.start),
                     inserts=list(self.inserts), tones=tones, events=events, meta=meta)


# ----------------------------------------------------------------------------------------------------------------
# Rendering


@dataclass
class Rendered:
    """Pixels and dense ground truth of a scene.

    Attributes:
        frames: ``(T, H, W, 3)`` uint8 RGB.
        segmentation: ``(T, H, W)`` int8: topmost object index, -1 background, -2 inside a cut-in segment.
        motion: ``(T, H, W, 2)`` float32 ``(dx, dy)``; NaN where the content has no previous frame.
        visible_fraction: ``(T, K)`` float32, the share of each object's on-screen pixels not covered by another
            object; NaN where none of it is on screen (or the frame shows a cut-in).
    """

    frames: np.ndarray
    segmentation: np.ndarray
    motion: np.ndarray
    visible_fraction: np.ndarray


def _texture_shade(textures: list[str], index: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Which object pixels a texture darkens, from their object-frame coordinates ``(u, v)`` in [-1, 1]."""
    kind = np.array([TEXTURES.index(t) for t in textures])[index]
    stripes = np.floor((u + 1) * 2.5).astype(np.int64) % 2 == 1  # five vertical stripes across the object
    checks = (np.floor((u + 1) * 2).astype(np.int64) + np.floor((v + 1) * 2).astype(np.int64)) % 2 == 1
    return ((kind == 1) & stripes) | ((kind == 2) & checks)


def _render_chunk(scene: Scene, t0: int, t1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Frames ``t0 .. t1 - 1`` of ``scene`` ignoring cut-ins and text: ``(frames, labels, motion, fraction)``."""
    return _render_at(scene, np.arange(t0, t1))


def _render_at(scene: Scene, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Frames ``ts`` (any frame indices) of ``scene`` ignoring cut-ins and text: ``(frames, labels, motion,
    fraction)``, each with a leading ``len(ts)`` axis."""
    H, W, K = scene.height, scene.width, len(scene.shapes)
    prev = np.maximum(ts - 1, 0)
    px = (np.arange(W) + 0.5)[None, None, :]
    py = (np.arange(H) + 0.5)[None, :, None]
    zoom = scene.zoom[ts][:, None, None]
    wx = scene.camera[ts, 0][:, None, None] + px / zoom  # (n, 1, W) canvas coordinates of pixel centres
    wy = scene.camera[ts, 1][:, None, None] + py / zoom  # (n, H, 1)
    # The background: nearest canvas pixel.
    cy = np.clip(np.floor(wy).astype(np.int64), 0, scene.canvas.shape[0] - 1)
    cx = np.clip(np.floor(wx).astype(np.int64), 0, scene.canvas.shape[1] - 1)
    frames = scene.canvas[cy, cx]  # (n, H, W, 3)
    labels = np.zeros((len(ts), H, W), dtype=np.int64)  # 0 background, k + 1 object k
    canon_u = np.zeros((len(ts), H, W))
    canon_v = np.zeros((len(ts), H, W))
    area = np.zeros((len(ts), K))  # on-screen pixels of each object, covered or not
    for k in range(K):  # objects are few; everything inside is vectorised over (frames, H, W)
        half = 0.5 * scene.sizes[k] * scene.scale[ts, k][:, None, None]
        cos, sin = np.cos(scene.angle[ts, k])[:, None, None], np.sin(scene.angle[ts, k])[:, None, None]
        dx = wx - scene.centre[ts, k, 0][:, None, None]
        dy = wy - scene.centre[ts, k, 1][:, None, None]
        u = (cos * dx + sin * dy) / half  # rotate by -angle, then normalise
        v = (-sin * dx + cos * dy) / half
        mask = inside(scene.shapes[k], u, v) & scene.drawn[ts, k][:, None, None]
        area[:, k] = mask.sum(axis=(1, 2))
        labels = np.where(mask, k + 1, labels)
        canon_u = np.where(mask, u, canon_u)
        canon_v = np.where(mask, v, canon_v)
    palette = np.array(PALETTE, dtype=np.uint8)
    if K:
        index = np.clip(labels - 1, 0, K - 1)
        colored = palette[scene.color[ts][np.arange(len(ts))[:, None, None], index]]  # (n, H, W, 3)
        shade = _texture_shade(scene.textures, index, canon_u, canon_v)[..., None]
        colored = np.where(shade, (colored.astype(np.uint16) * 3 // 5).astype(np.uint8), colored)
        frames = np.where((labels > 0)[..., None], colored, frames)
    # Motion: where was this content one frame earlier? Background points stay put on the canvas; object points
    # move with their object (centre, angle, scale at t - 1).
    bx = np.broadcast_to(wx, labels.shape)
    by = np.broadcast_to(wy, labels.shape)
    if K:
        k = np.clip(labels - 1, 0, K - 1)
        tt = prev[:, None, None]
        half = 0.5 * scene.sizes[k] * scene.scale[tt, k]
        cos, sin = np.cos(scene.angle[tt, k]), np.sin(scene.angle[tt, k])
        ox = scene.centre[tt, k, 0] + half * (cos * canon_u - sin * canon_v)
        oy = scene.centre[tt, k, 1] + half * (sin * canon_u + cos * canon_v)
        is_obj = labels > 0
        bx, by = np.where(is_obj, ox, bx), np.where(is_obj, oy, by)
    zp = scene.zoom[prev][:, None, None]
    sx = (bx - scene.camera[prev, 0][:, None, None]) * zp
    sy = (by - scene.camera[prev, 1][:, None, None]) * zp
    motion = np.stack([px - sx, py - sy], axis=-1).astype(np.float32)
    no_past = (ts == 0)[:, None, None]
    if K:  # an object drawn now but not in the previous frame has no past position
        was_drawn = scene.drawn[prev][np.arange(len(ts))[:, None, None], k]
        no_past = no_past | ((labels > 0) & ~was_drawn)
    motion[np.broadcast_to(no_past, labels.shape)] = np.nan
    shown = np.stack([(labels == k + 1).sum(axis=(1, 2)) for k in range(K)], axis=1) if K else area
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(area > 0, shown / area, np.nan).astype(np.float32)
    return frames, labels, motion, fraction


def render(scene: Scene, chunk: int = 32) -> Rendered:
    """Draw every frame of ``scene`` with its segmentation and motion, ``chunk`` frames at a time.

    Memory stays at a few ``chunk x K x H x W`` float arrays; time is about 10 ms per 96x128 frame on one CPU
    core. Cut-ins are rendered from their own scene and spliced in; text overlays are drawn last (their pixels
    have zero motion while the text stays on screen).
    """
    T, H, W = scene.num_frames, scene.height, scene.width
    frames = np.empty((T, H, W, 3), dtype=np.uint8)
    segmentation = np.empty((T, H, W), dtype=np.int8)
    motion = np.empty((T, H, W, 2), dtype=np.float32)
    fraction = np.empty((T, len(scene.shapes)), dtype=np.float32)
    for t0 in range(0, T, chunk):
        t1 = min(t0 + chunk, T)
        f, labels, m, fraction[t0:t1] = _render_chunk(scene, t0, t1)
        frames[t0:t1], segmentation[t0:t1], motion[t0:t1] = f, (labels - 1).astype(np.int8), m
    for s, inner in scene.inserts:
        sub = render(inner, chunk)
        e = s + inner.num_frames
        frames[s:e], segmentation[s:e], motion[s:e] = sub.frames, -2, sub.motion
        fraction[s:e] = np.nan
        motion[s], motion[e] = np.nan, np.nan  # the cuts
    for overlay in scene.texts:
        idx = np.arange(overlay.start, overlay.end)
        idx = idx[scene.shown[idx]]
        if not len(idx):
            continue
        x0, y0, x1, y1 = draw_text(frames, overlay.text, overlay.x, overlay.y, overlay.color, scale=overlay.scale,
                                   frame_indices=idx, background=overlay.box_color)
        steady = idx[(idx > overlay.start) & scene.shown[np.maximum(idx - 1, 0)]]
        motion[steady, y0:y1, x0:x1] = 0.0
        motion[idx[~np.isin(idx, steady)], y0:y1, x0:x1] = np.nan
    return Rendered(frames=frames, segmentation=segmentation, motion=motion, visible_fraction=fraction)


@dataclass
class Truth:
    """Some frames of a scene with what each pixel shows (the dense labels a vision encoder can learn from).

    Attributes:
        frames: ``(n, H, W, 3)`` uint8 RGB, as :func:`render` draws them.
        color: ``(n, H, W)`` int64, the colour (index into :data:`~videollm.world.shapes.COLOR_NAMES`) of the
            topmost object; -1 where no object is (background, or a sign).
        shape: ``(n, H, W)`` int64, the shape (index into :data:`~videollm.world.shapes.SHAPES`) of the topmost
            object, ``len(SHAPES)`` on a sign's box (:data:`SIGN`), -1 on the background.
        background: ``(n,)`` int64, the background each frame shows (index into :data:`TOPICS`'s keys; a cut-in
            shows its own).
    """

    frames: np.ndarray
    color: np.ndarray
    shape: np.ndarray
    background: np.ndarray


#: The ``shape`` label of a sign's pixels in :class:`Truth` (one past the shapes).
SIGN = len(SHAPES)


def render_truth(scene: Scene, indices) -> Truth:
    """Only frames ``indices`` of ``scene``, exactly as :func:`render` draws them (cut-ins and text included), with
    each pixel's colour and shape label and each frame's background (:class:`Truth`).

    A model that samples 8 frames of a 5-minute clip needs 8 frames drawn, not 1200: this is how the course's
    training sets are made quickly.

    Args:
        indices: frame indices, any order, repeats allowed, each in ``[0, num_frames)``.
    """
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if len(idx) and (idx.min() < 0 or idx.max() >= scene.num_frames):
        raise ValueError(f"frame indices must lie in [0, {scene.num_frames}) for this {scene.num_frames}-frame "
                         f"scene; got {idx.min()} .. {idx.max()}")
    frames, labels = _render_at(scene, idx)[:2]
    k = np.clip(labels - 1, 0, max(len(scene.shapes) - 1, 0))
    on = labels > 0
    if scene.shapes:
        color = np.where(on, scene.color[idx][np.arange(len(idx))[:, None, None], k], -1)
        shape = np.where(on, np.array([SHAPES.index(s) for s in scene.shapes])[k], -1)
    else:
        color = np.full(labels.shape, -1, dtype=np.int64)
        shape = color.copy()
    background = np.full(len(idx), _BACKGROUNDS.index(scene.background), dtype=np.int64)
    for s, inner in scene.inserts:
        inside = (idx >= s) & (idx < s + inner.num_frames)
        if inside.any():
            sub = render_truth(inner, idx[inside] - s)
            frames[inside], color[inside], shape[inside] = sub.frames, sub.color, sub.shape
            background[inside] = sub.background
    for overlay in scene.texts:
        where = np.flatnonzero((idx >= overlay.start) & (idx < overlay.end) & scene.shown[idx])
        if len(where):
            x0, y0, x1, y1 = draw_text(frames, overlay.text, overlay.x, overlay.y, overlay.color,
                                       scale=overlay.scale, frame_indices=where, background=overlay.box_color)
            color[where, y0:y1, x0:x1] = -1
            shape[where, y0:y1, x0:x1] = SIGN
    return Truth(frames, color, shape, background)


def render_frames(scene: Scene, indices) -> np.ndarray:
    """``(len(indices), H, W, 3)`` uint8: only frames ``indices`` of ``scene``, equal to
    ``render(scene).frames[indices]`` (:func:`render_truth` without the labels)."""
    return render_truth(scene, indices).frames


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[(start, end), ...]`` of the runs of True in a 1-D bool array (end exclusive).

    >>> runs(np.array([0, 1, 1, 0, 1], dtype=bool))
    [(1, 3), (4, 5)]
    """
    edges = np.flatnonzero(np.diff(np.concatenate([[0], np.asarray(mask).astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def occlusion_events(scene: Scene, rendered: Rendered, threshold: float = 0.5) -> list[dict[str, Any]]:
    """Spans where an object on screen is mostly hidden behind others: visible fraction below ``threshold``.

    Returns events ``{"kind": "occluded", "frame", "end", "time", "object", "description"}`` (end exclusive),
    found from the rendered masks (occlusion is not part of the geometric script).
    """
    hidden = rendered.visible_fraction < threshold  # NaN compares False: off screen is not "occluded"
    events = []
    for k in range(hidden.shape[1]):
        for start, end in runs(hidden[:, k]):
            events.append({"kind": "occluded", "frame": start, "end": end, "time": round(start / scene.fps, 4),
                           "object": k, "description": scene.describe(k, start)})
    return events


# ----------------------------------------------------------------------------------------------------------------
# Saving


def scene_record(scene: Scene) -> dict[str, Any]:
    """The JSON-able annotation of a scene: events, cues, tones, texts, inserts and meta."""
    return {
        "fps": scene.fps,
        "shape": [scene.num_frames, scene.height, scene.width],
        "duration": scene.duration,
        "events": scene.events,
        "subtitles": [{"start": c.start, "end": c.end, "text": c.text} for c in scene.cues],
        "tones": [list(t) for t in scene.tones],
        "texts": [{**vars(o), "color": list(o.color), "box_color": list(o.box_color)} for o in scene.texts],
        "inserts": [{"frame": s, "frames": inner.num_frames, "meta": inner.meta} for s, inner in scene.inserts],
        "meta": scene.meta,
    }


def save_scene(scene: Scene, directory: str | Path, name: str, extra: dict[str, Any] | None = None,
               sample_rate: int = 16000) -> Path:
    """Render ``scene`` and write ``<name>.mp4`` (H.264 with an AAC tone track), ``.npz``, ``.srt`` and ``.json``.

    The ``.npz`` holds ``centre (T, K, 2)``, ``angle``, ``scale``, ``color``, ``present``, ``hidden`` (the tracks),
    ``boxes (T, K, 4)``, ``camera (T, 2)``, ``zoom (T,)``, ``shown (T,)``, ``segmentation (T, H, W)`` int8 and
    ``motion (T, H, W, 2)`` float16 (NaN where undefined) and ``visible_fraction (T, K)``. The ``.json`` (whose
    event list also gets the occlusion events found while rendering) is written last: its presence means the rest
    is complete. Returns the ``.mp4`` path.
    """
    out = render(scene)
    arrays = dict(
        centre=scene.centre.astype(np.float32), angle=scene.angle.astype(np.float32),
        scale=scene.scale.astype(np.float32), color=scene.color.astype(np.int8), present=scene.present,
        hidden=scene.hidden, boxes=scene.boxes(), camera=scene.camera.astype(np.float32),
        zoom=scene.zoom.astype(np.float32), shown=scene.shown, segmentation=out.segmentation,
        visible_fraction=out.visible_fraction,
        motion=out.motion.astype(np.float16),
    )
    record = {**scene_record(scene), **(extra or {})}
    record["events"] = sorted(record["events"] + occlusion_events(scene, out),
                              key=lambda e: (e["frame"], e["kind"], e.get("object", -1)))
    audio = tone_track(scene.tones, scene.duration, sample_rate=sample_rate)
    return save_files(directory, name, out.frames, scene.fps, arrays, record, audio=audio, sample_rate=sample_rate,
                      cues=scene.cues)
