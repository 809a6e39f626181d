"""Unit 00 — clips: coloured shapes sliding by whole pixels over a still background, with exact ground truth.

A clip is the simplest scene of the synthetic world (:mod:`videollm.world.scenes` scripts the general ones): no
camera, no actions, objects that only translate. Its shapes, colours and backgrounds are the world's
(:mod:`~videollm.world.shapes`, :mod:`~videollm.world.backgrounds`); what it adds is speed and exactness. It draws
with integer arithmetic, 10 to 30 times faster than the scene renderer, and ``tests/world/test_clips.py`` checks
that both draw the same pixels for the same objects (:func:`as_scene`).

Every clip is a pure function of its seed and parameters, so a clip can be regenerated anywhere instead of
being downloaded, and it comes with exact ground truth:

- ``boxes``: where each object is in each frame;
- ``segmentation``: which object (if any) each pixel shows;
- ``motion``: the true per-pixel displacement since the previous frame, the target that block matching and
  codec motion vectors (unit 04) are scored against with the end-point error.

Conventions
-----------
- Pixel ``(x, y)`` is column ``x``, row ``y``; frames are ``(T, H, W, 3)`` uint8 RGB.
- An object is a shape drawn inside a ``size x size`` square whose top-left pixel at frame ``t`` is
  ``position + t * velocity`` (``"linear"``), or that position reflected off the frame borders (``"bounce"``,
  the square stays fully inside the frame). Positions and velocities are integers, so objects move by whole
  pixels and a block matcher can recover the motion exactly.
- Objects are drawn in list order: a later object covers an earlier one (``segmentation`` and ``motion`` show
  the topmost object).
- ``motion[t, y, x] = (dx, dy)`` means the content at pixel ``p = (x, y)`` of frame ``t`` was at
  ``p - (dx, dy)`` in frame ``t - 1``. ``motion[0] = 0``, and the background is static, so it is 0 there.
- All randomness comes from ``np.random.default_rng(seed)``, so the same seed gives byte-identical arrays on every
  machine with the same NumPy random streams.

Changing what a seed produces must bump :data:`~videollm.world.shapes.WORLD_VERSION`: the data cache
(``videollm.world.data``) keys clips on it, and ``tests/world/test_clips.py`` pins checksums of reference clips.

Lecture: `lectures/00_video_as_data.ipynb` §2, §4.
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from videollm.cache import spec_hash
from videollm.world.backgrounds import make_background
from videollm.world.files import cached_clip, load_files, save_files
from videollm.world.scenes import Scene
from videollm.world.shapes import PALETTE, SHAPES, WORLD_VERSION, inside

#: The shapes random clips draw from (the world's diamond came later; adding it would change every seed's objects).
CLIP_SHAPES = ("square", "circle", "triangle")
DYNAMICS = ("linear", "bounce")


@dataclass(frozen=True)
class ShapeSpec:
    """One moving object.

    Attributes:
        shape: one of :data:`~videollm.world.shapes.SHAPES`, drawn inside a ``size x size`` square.
        color: RGB, three ints in 0..255.
        size: side of the object's square in pixels (>= 1).
        position: ``(x, y)`` of the square's top-left pixel in frame 0 (ints; may lie outside the frame for
            ``"linear"``; must keep the square inside the frame for ``"bounce"``).
        velocity: ``(vx, vy)`` in pixels per frame (ints, so positions stay on the pixel grid).
        dynamics: ``"linear"`` (constant velocity, may leave the frame) or ``"bounce"`` (reflects off the
            frame borders and stays fully inside).
    """

    shape: str
    color: tuple[int, int, int]
    size: int
    position: tuple[int, int]
    velocity: tuple[int, int]
    dynamics: str = "bounce"

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"unknown shape {self.shape!r}; choose one of {SHAPES}")
        if self.dynamics not in DYNAMICS:
            raise ValueError(f"unknown dynamics {self.dynamics!r}; choose one of {DYNAMICS}")
        if len(self.color) != 3 or not _all_int(self.color) or not all(0 <= c <= 255 for c in self.color):
            raise ValueError(f"color must be three integers in 0..255; got {self.color!r}")
        color = tuple(int(c) for c in self.color)
        for name in ("position", "velocity"):
            value = getattr(self, name)
            if len(value) != 2 or not _all_int(value):
                raise ValueError(
                    f"{name} must be two integers (whole pixels, so motion stays exact); got {value!r}"
                )
        if not _all_int([self.size]) or int(self.size) < 1:
            raise ValueError(f"size must be a positive integer; got {self.size!r}")
        # Normalise to plain Python ints so the spec is hashable and JSON-able.
        object.__setattr__(self, "color", color)
        object.__setattr__(self, "size", int(self.size))
        object.__setattr__(self, "position", tuple(int(v) for v in self.position))
        object.__setattr__(self, "velocity", tuple(int(v) for v in self.velocity))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (lists instead of tuples); ``ShapeSpec(**d)`` inverts it."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


@dataclass
class Clip:
    """A rendered clip and its ground truth (``T`` frames, ``K`` objects).

    Attributes:
        frames: ``(T, H, W, 3)`` uint8 RGB.
        boxes: ``(T, K, 4)`` float32 ``[x0, y0, x1, y1]`` in pixels, ``x1``/``y1`` exclusive (the object covers
            ``frames[t, y0:y1, x0:x1]``): the object's whole (amodal) square, clipped to the frame; NaN where the
            object is entirely outside the frame. Occlusion by other objects does not shrink a box.
        visible: ``(T, K)`` bool, whether any part of object ``k`` lies inside frame ``t``.
        motion: ``(T, H, W, 2)`` float32 ``(dx, dy)``: the content at pixel ``p`` of frame ``t`` was at
            ``p - (dx, dy)`` in frame ``t - 1``. Integer-valued; 0 on the background and in frame 0.
        segmentation: ``(T, H, W)`` int8, the index of the topmost object at each pixel, -1 for background.
        fps: frame rate the clip is meant to be played (and encoded) at.
        meta: JSON-able description: generator version, seed, parameters, background and objects.
    """

    frames: np.ndarray
    boxes: np.ndarray
    visible: np.ndarray
    motion: np.ndarray
    segmentation: np.ndarray
    fps: float
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def objects(self) -> list[ShapeSpec]:
        """The objects as :class:`ShapeSpec`, in drawing order (from ``meta``)."""
        return [ShapeSpec(**o) for o in self.meta.get("objects", [])]


# ----------------------------------------------------------------------------------------------------------------
# Checks


def _all_int(values: Sequence[Any]) -> bool:
    return all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values)


# ----------------------------------------------------------------------------------------------------------------
# Trajectories and rendering


def trajectories(objects: Sequence[ShapeSpec], num_frames: int, height: int, width: int) -> np.ndarray:
    """Top-left positions of every object in every frame: ``(T, K, 2)`` int64 ``(x, y)``.

    ``"linear"`` objects move by ``velocity`` each frame; ``"bounce"`` objects move the same way but are reflected
    (a triangle wave with period ``2 * (W - size)`` horizontally, ``2 * (H - size)`` vertically), so their square
    never leaves the frame.
    """
    k = len(objects)
    t = np.arange(num_frames)[:, None, None]  # (T, 1, 1)
    if k == 0:
        return np.zeros((num_frames, 0, 2), dtype=np.int64)
    start = np.array([o.position for o in objects], dtype=np.int64)  # (K, 2)
    vel = np.array([o.velocity for o in objects], dtype=np.int64)
    size = np.array([o.size for o in objects], dtype=np.int64)
    raw = start + t * vel  # (T, K, 2)
    # Largest top-left coordinate that keeps the square inside: (W - size, H - size).
    limit = np.stack([width - size, height - size], axis=-1)  # (K, 2)
    period = np.maximum(2 * limit, 1)
    phase = np.mod(raw, period)
    reflected = np.where(phase <= limit, phase, period - phase)
    reflected = np.where(limit > 0, reflected, 0)
    bounce = np.array([o.dynamics == "bounce" for o in objects])[:, None]  # (K, 1)
    return np.where(bounce, reflected, raw)


def _shape_masks(objects: Sequence[ShapeSpec], pos: np.ndarray, height: int, width: int) -> np.ndarray:
    """``(T, K, H, W)`` bool: which pixels each object covers in each frame (ignoring occlusion).

    A pixel is covered when its centre is inside the shape (:func:`videollm.world.shapes.inside`), tested in
    doubled, centred local coordinates ``a = 2u + 1 - s``, ``b = 2v + 1 - s`` (``u, v`` the pixel's offset from the
    object's top-left, ``s`` its size): integers, so the test is exact and a mask moves exactly with its object.
    ``a`` is computed on a ``(T, K, 1, W)`` grid and ``b`` on ``(T, K, H, 1)``, and broadcast.
    """
    num_frames, k = pos.shape[:2]
    size = np.array([o.size for o in objects], dtype=np.int64)[None, :, None, None]  # (1, K, 1, 1)
    xs = np.arange(width, dtype=np.int64)[None, None, None, :]
    ys = np.arange(height, dtype=np.int64)[None, None, :, None]
    # int32 is plenty (|a|, |b| <= 2 * (frame size + travel)) and halves the memory traffic of int64.
    a = (2 * (xs - pos[:, :, 0, None, None]) + 1 - size).astype(np.int32)  # (T, K, 1, W)
    b = (2 * (ys - pos[:, :, 1, None, None]) + 1 - size).astype(np.int32)  # (T, K, H, 1)
    size = size.astype(np.int32)
    masks = np.empty((num_frames, k, height, width), dtype=bool)
    shapes = np.array([o.shape for o in objects])
    for shape in SHAPES:  # one vectorised pass per shape kind present
        idx = np.flatnonzero(shapes == shape)
        if idx.size:
            masks[:, idx] = inside(shape, a[:, idx], b[:, idx], size[:, idx])
    return masks


def render(
    objects: Sequence[ShapeSpec | dict],
    background: np.ndarray,
    num_frames: int,
    fps: float = 12,
    meta: dict[str, Any] | None = None,
) -> Clip:
    """Render ``objects`` moving over a static ``background``, with ground truth.

    Args:
        objects: ``K`` objects (:class:`ShapeSpec` or dicts of its fields), in drawing order (last on top).
        background: ``(H, W, 3)`` uint8.
        num_frames: ``T``.
        fps: stored on the clip.
        meta: extra JSON-able entries for ``clip.meta`` (``objects`` is filled in here).

    Returns:
        A :class:`Clip`. Everything is computed with array operations over ``(T, K, H, W)``; no loops over frames
        or pixels.
    """
    objects = [o if isinstance(o, ShapeSpec) else ShapeSpec(**o) for o in objects]
    background = np.asarray(background)
    if background.ndim != 3 or background.shape[-1] != 3 or background.dtype != np.uint8:
        raise ValueError(f"background must be (H, W, 3) uint8; got {background.shape} {background.dtype}")
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1; got {num_frames}")
    if len(objects) > 127:
        raise ValueError(f"at most 127 objects fit the int8 segmentation; got {len(objects)}")
    height, width = background.shape[:2]
    for i, o in enumerate(objects):
        if o.dynamics == "bounce" and not (
            o.size <= min(height, width)
            and 0 <= o.position[0] <= width - o.size
            and 0 <= o.position[1] <= height - o.size
        ):
            raise ValueError(
                f"object {i} bounces, so its {o.size}px square must start inside the {width}x{height} frame; "
                f"got position {o.position}"
            )
    k = len(objects)
    pos = trajectories(objects, num_frames, height, width)  # (T, K, 2)

    # Boxes: the object's square, clipped to the frame; NaN where it is entirely outside.
    size = np.array([o.size for o in objects], dtype=np.int64).reshape(1, k, 1)
    lo = np.clip(pos, 0, [width, height])
    hi = np.clip(pos + size, 0, [width, height])
    visible = np.all(hi > lo, axis=-1)  # (T, K)
    boxes = np.concatenate([lo, hi], axis=-1).astype(np.float32)
    boxes[~visible] = np.nan

    # Displacement of each object since the previous frame (exact: whole pixels, a rigid translation).
    disp = np.zeros((num_frames, k, 2), dtype=np.int64)
    disp[1:] = pos[1:] - pos[:-1]

    # Composite with integer labels: label = 0 for background, k + 1 where object k is the topmost. The
    # topmost object has the largest index, so a max over K of (k + 1) * mask finds it.
    label = np.zeros((num_frames, height, width), dtype=np.uint8)
    if k:
        masks = _shape_masks(objects, pos, height, width)  # (T, K, H, W)
        weights = np.arange(1, k + 1, dtype=np.uint8).reshape(1, k, 1, 1)
        label = (masks * weights).max(axis=1)  # (T, H, W)
    segmentation = label.astype(np.int8) - np.int8(1)
    # Colours and displacements are gathered from lookup tables indexed by the label (np.take is several
    # times faster than fancy indexing). Row 0 of each table is the background.
    colors = np.zeros((k + 1, 3), dtype=np.uint8)
    colors[1:] = np.array([o.color for o in objects], dtype=np.uint8).reshape(k, 3)
    frames = np.take(colors, label, axis=0)  # (T, H, W, 3)
    np.copyto(frames, background, where=(label == 0)[..., None])
    table = np.zeros((num_frames, k + 1, 2), dtype=np.float32)  # background: static, zero motion
    table[:, 1:] = disp
    row = np.arange(num_frames, dtype=np.intp).reshape(-1, 1, 1) * (k + 1) + label
    motion = np.take(table.reshape(-1, 2), row, axis=0)  # (T, H, W, 2)

    meta = dict(meta or {})
    meta["objects"] = [o.to_dict() for o in objects]
    return Clip(
        frames=frames,
        boxes=boxes,
        visible=visible,
        motion=motion,
        segmentation=segmentation,
        fps=fps,
        meta=meta,
    )


def as_scene(objects: Sequence[ShapeSpec | dict], background: np.ndarray, num_frames: int, fps: float = 12) -> Scene:
    """The same objects as a :class:`~videollm.world.scenes.Scene`: what :func:`render` draws, written for the
    general renderer (still camera, no rotation or scaling, each object's centre at ``position + size / 2``).

    ``videollm.world.scenes.render(as_scene(...))`` gives the frames and segmentation of :func:`render` exactly, and
    its motion up to floating-point rounding (the scene computes it in floats, e.g. ``-1.8e-15`` for a clip's 0),
    except that a scene leaves frame 0's motion undefined (NaN) where a clip sets it to 0. Object colours must be
    colours of the world (:data:`~videollm.world.shapes.PALETTE`), as random objects' are.
    """
    objects = [o if isinstance(o, ShapeSpec) else ShapeSpec(**o) for o in objects]
    unknown = [o.color for o in objects if o.color not in PALETTE]
    if unknown:
        raise ValueError(f"a scene names its colours; {unknown} are not in videollm.world.shapes.COLORS")
    height, width = np.asarray(background).shape[:2]
    k = len(objects)
    sizes = np.array([o.size for o in objects], dtype=np.int64).reshape(k)
    centre = trajectories(objects, num_frames, height, width) + sizes[None, :, None] / 2  # (T, K, 2)
    color = np.array([PALETTE.index(o.color) for o in objects], dtype=np.int64).reshape(1, k)
    return Scene(fps=float(fps), height=height, width=width, background="clip", canvas=np.asarray(background),
                 shapes=[o.shape for o in objects], textures=["solid"] * k, sizes=sizes, centre=centre,
                 angle=np.zeros((num_frames, k)), scale=np.ones((num_frames, k)),
                 color=np.repeat(color, num_frames, axis=0), present=np.ones((num_frames, k), dtype=bool),
                 hidden=np.zeros((num_frames, k), dtype=bool), camera=np.zeros((num_frames, 2)),
                 zoom=np.ones(num_frames), shown=np.ones(num_frames, dtype=bool))


def random_objects(
    rng: np.random.Generator,
    num_objects: int,
    height: int,
    width: int,
    max_speed: int = 4,
    dynamics: str = "bounce",
) -> list[ShapeSpec]:
    """Draw ``num_objects`` random objects (distinct colours from :data:`PALETTE`) that start inside the frame.

    Sizes are drawn from ``[max(4, min(H, W) // 10), max(that, min(H, W) // 3)]``; each velocity component from
    ``-max_speed..max_speed``, redrawn while both are 0 (unless ``max_speed == 0``).
    """
    if not 0 <= num_objects <= len(PALETTE):
        raise ValueError(
            f"num_objects must be between 0 and {len(PALETTE)} (one palette colour each); got {num_objects}: "
            "pass objects=[ShapeSpec(...), ...] for larger scenes"
        )
    if max_speed < 0 or int(max_speed) != max_speed:
        raise ValueError(f"max_speed must be a non-negative integer (pixels per frame); got {max_speed!r}")
    max_speed = int(max_speed)
    small = min(height, width)
    lo = max(4, small // 10)
    hi = max(lo, small // 3)
    if hi > small:
        raise ValueError(f"frame {width}x{height} is too small for objects of {lo}px; use at least 8x8")
    k = num_objects
    shape_idx = rng.integers(0, len(CLIP_SHAPES), size=k)
    color_idx = rng.permutation(len(PALETTE))[:k]
    sizes = rng.integers(lo, hi + 1, size=k)
    xs = rng.integers(0, width - sizes + 1)
    ys = rng.integers(0, height - sizes + 1)
    vel = rng.integers(-max_speed, max_speed + 1, size=(k, 2))
    if max_speed > 0:
        still = np.flatnonzero(~vel.any(axis=1))
        while still.size:  # redraw only the objects that would stand still
            vel[still] = rng.integers(-max_speed, max_speed + 1, size=(still.size, 2))
            still = still[~vel[still].any(axis=1)]
    return [
        ShapeSpec(
            shape=CLIP_SHAPES[int(shape_idx[i])],
            color=PALETTE[int(color_idx[i])],
            size=int(sizes[i]),
            position=(int(xs[i]), int(ys[i])),
            velocity=(int(vel[i, 0]), int(vel[i, 1])),
            dynamics=dynamics,
        )
        for i in range(k)
    ]


def make_clip(
    seed: int,
    num_frames: int = 48,
    height: int = 128,
    width: int = 160,
    fps: float = 12,
    num_objects: int = 3,
    background: str = "plain",
    max_speed: int = 4,
    dynamics: str = "bounce",
    objects: Sequence[ShapeSpec | dict] | None = None,
) -> Clip:
    """A deterministic clip of coloured shapes moving over a background, with ground truth.

    Args:
        seed: the only source of randomness (``np.random.default_rng(seed)``, split into one stream for the
            background and one for the objects, so the same seed gives the same objects on any background).
        num_frames, height, width: clip size ``T, H, W`` (even ``H`` and ``W`` if the clip is to be saved as
            yuv420p video).
        fps: playback rate stored on the clip.
        num_objects: ``K`` random objects (0..8), ignored when ``objects`` is given.
        background: ``"plain"``, ``"gradient"`` or ``"photo:<name>"`` (see :func:`make_background`).
        max_speed: largest velocity component in pixels per frame (integer).
        dynamics: ``"bounce"`` (objects stay inside the frame) or ``"linear"`` (they may leave it).
        objects: explicit objects (ShapeSpec or dicts), e.g. for a lecture's hand-made scene.

    Returns:
        :class:`Clip` with ``frames (T, H, W, 3) uint8``, ``boxes (T, K, 4) float32``, ``visible (T, K) bool``,
        ``motion (T, H, W, 2) float32``, ``segmentation (T, H, W) int8``, ``fps`` and ``meta``.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    if dynamics not in DYNAMICS:
        raise ValueError(f"unknown dynamics {dynamics!r}; choose one of {DYNAMICS}")
    if height < 8 or width < 8:
        raise ValueError(f"height and width must be at least 8; got {height}x{width}")
    rng_background, rng_objects = np.random.default_rng(int(seed)).spawn(2)
    bg, bg_desc = make_background(background, height, width, rng_background)
    explicit = objects is not None
    if not explicit:
        objects = random_objects(rng_objects, num_objects, height, width, max_speed, dynamics)
    params = {
        "num_frames": num_frames,
        "height": height,
        "width": width,
        "fps": fps,
        "num_objects": num_objects,
        "background": background,
        "max_speed": max_speed,
        "dynamics": dynamics,
        "explicit_objects": explicit,
    }
    meta = {
        "generator": "videollm.world.clips",
        "version": WORLD_VERSION,
        "seed": int(seed),
        "params": params,
        "background": bg_desc,
    }
    return render(objects, bg, num_frames, fps=fps, meta=meta)


# ----------------------------------------------------------------------------------------------------------------
# Saving and loading


#: :func:`make_clip`'s keyword arguments and their defaults (``seed`` has none; ``objects`` is for hand-made scenes,
#: which a spec of parameters does not describe).
PARAM_DEFAULTS: dict[str, Any] = {name: p.default for name, p in inspect.signature(make_clip).parameters.items()
                                  if name not in ("seed", "objects")}


def clip_hash(params: dict[str, Any], codec: str = "h264") -> str:
    """:func:`videollm.cache.spec_hash` of what decides a clip's files: the world's version, every
    :func:`make_clip` argument (defaults filled in, so a changed default changes the hash) and the codec."""
    return spec_hash({"world_version": WORLD_VERSION, "params": {**PARAM_DEFAULTS, **params}, "codec": codec})


def cached_clip_file(directory: str | Path, name: str, params: dict[str, Any], codec: str = "h264",
                     extra: dict[str, Any] | None = None, force: bool = False) -> tuple[Path, bool]:
    """``<directory>/<name>.mp4`` of ``make_clip(**params)`` with its ground truth, made and saved
    (:func:`save_clip`) the first time, or when ``params``, ``codec`` or the world change
    (:func:`videollm.world.files.cached_clip`). ``extra`` goes into its ``.json``. Returns ``(path, made)``."""
    digest = clip_hash(params, codec)

    def write(folder: Path) -> None:
        clip = make_clip(**{**PARAM_DEFAULTS, **params})
        save_clip(clip, folder, name, codec=codec, extra={"clip_hash": digest, **(extra or {})})

    return cached_clip(directory, name, digest, write, force=force)


def save_clip(
    clip: Clip,
    directory: str | Path,
    name: str,
    codec: str = "h264",
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a clip and its ground truth next to each other.

    Files written in ``directory``:

    - ``<name>.mp4``: the frames, encoded by :func:`videollm.io.write_video` with ``codec`` (``"h264"``/``"mpeg4"``);
    - ``<name>.npz``: ``boxes`` float32, ``visible`` bool, ``motion`` int16 (exact: motion is whole pixels),
      ``segmentation`` int8, compressed;
    - ``<name>.json``: ``meta``, ``fps``, ``shape`` ``[T, H, W]``, ``codec`` and any ``extra`` entries; written
      last, so its presence means the other two are complete.

    Returns:
        The path of the ``.mp4``.
    """
    motion = np.asarray(clip.motion)
    if np.array_equal(motion, np.round(motion)) and np.abs(motion).max(initial=0) < 2**15:
        motion = motion.astype(np.int16)
    else:  # only reachable for hand-made clips with sub-pixel motion
        motion = motion.astype(np.float32)
    arrays = {"boxes": np.asarray(clip.boxes, dtype=np.float32), "visible": np.asarray(clip.visible, dtype=bool),
              "motion": motion, "segmentation": np.asarray(clip.segmentation, dtype=np.int8)}
    record = {"fps": clip.fps, "shape": list(clip.frames.shape[:3]), "codec": codec, "meta": clip.meta, **(extra or {})}
    return save_files(directory, name, clip.frames, clip.fps, arrays, record, codec=codec)


def load_ground_truth(directory: str | Path, name: str) -> dict[str, Any]:
    """Read what :func:`save_clip` wrote (everything except the frames; decode the ``.mp4`` for those).

    Returns:
        dict with ``boxes (T, K, 4) float32``, ``visible (T, K) bool``, ``motion (T, H, W, 2) float32``,
        ``segmentation (T, H, W) int8``, ``fps``, ``shape``, ``codec``, ``meta``, ``video`` (the ``.mp4`` path)
        and any extra entries of the ``.json``.
    """
    result = load_files(directory, name)
    result["motion"] = result["motion"].astype(np.float32)
    return result
