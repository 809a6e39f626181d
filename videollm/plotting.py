"""Pictures for unit 00 (video as data): frame grids, sampling timelines, ground-truth boxes, motion fields.

Every function either draws on an ``Axes`` you pass (``draw_*``, returns that Axes), returns an image array
(:func:`flow_to_rgb`), or builds and returns a new ``matplotlib.figure.Figure``. Nothing here calls
``plt.show()`` or touches pyplot's global state; a notebook displays the returned figure (with
``%matplotlib inline``) and a script saves it with ``fig.savefig(...)``.

Frames are ``(T, H, W, 3)`` uint8 RGB as :func:`videollm.io.load_video` returns them; single images may be
``(H, W)`` (drawn with a colour map) or ``(H, W, 3)``. Torch tensors are accepted wherever arrays are.

Artists carry a ``gid`` so tests (and curious students) can find them: ``"samples"`` (sampled-frame markers
in :func:`sampling_timeline`), ``"box"`` (ground-truth rectangles), ``"motion-arrows"`` (the quiver in
:func:`motion_field`), ``"frames"`` and ``"gap"`` (curves in :func:`frames_vs_duration`).

Lecture: `lectures/00_video_as_data.ipynb` §2–4.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import hsv_to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from videollm.arrays import as_numpy

__all__ = [
    "image_grid",
    "contact_sheet",
    "sampling_timeline",
    "frames_vs_duration",
    "draw_boxes",
    "flow_to_rgb",
    "motion_field",
    "format_seconds",
]

# ----------------------------------------------------------------------------------------------------------------
# Small helpers


def _clean(ax: Axes) -> None:
    """No ticks, no frame: for axes that only show an image."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def format_seconds(seconds: float) -> str:
    """A duration as people say it: ``0.5 s``, ``45 s``, ``2 min``, ``1.5 h``.

    >>> [format_seconds(s) for s in (0.5, 45, 120, 5400)]
    ['0.5 s', '45 s', '2 min', '1.5 h']
    """
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.3g} s"
    if seconds < 3600:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / 3600:.3g} h"


# ----------------------------------------------------------------------------------------------------------------
# Grids of images


def image_grid(
    images,
    titles: Sequence[str] | None = None,
    cols: int | None = None,
    cmap: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    colorbar: bool = False,
    size: float = 2.4,
    suptitle: str | None = None,
) -> Figure:
    """Show images in a grid, one Axes per image, left to right and top to bottom.

    Args:
        images: ``(N, H, W, 3)`` uint8/float RGB frames, ``(N, H, W)`` single-channel maps, or a list of
            such images (sizes may differ).
        titles: ``N`` titles, or None.
        cols: images per row (default: all in one row, at most 8).
        cmap, vmin, vmax: colour map and limits for single-channel images (shared by all, so maps compare).
        colorbar: add one colour bar for the single-channel images (needs ``cmap``-drawn images).
        size: width of one image in inches (heights follow the aspect ratio of the first image).
        suptitle: title over the whole grid.

    Returns:
        A Figure with exactly ``N`` image Axes (``len(fig.axes) == N``, plus one if ``colorbar``).
    """
    images = [as_numpy(im) for im in images]
    n = len(images)
    if n == 0:
        raise ValueError("image_grid: no images to show")
    if titles is not None and len(titles) != n:
        raise ValueError(f"image_grid: got {len(titles)} titles for {n} images")
    cols = min(n, 8) if cols is None else max(1, min(int(cols), n))
    rows = math.ceil(n / cols)
    h, w = images[0].shape[:2]
    fig = Figure(figsize=(size * cols, size * h / w * rows + 0.35 * rows + (0.4 if suptitle else 0)),
                 layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    shown = None
    for i, ax in enumerate(axes):
        if i >= n:
            fig.delaxes(ax)
            continue
        image = images[i]
        if image.ndim == 2:
            shown = ax.imshow(image, cmap=cmap or "viridis", vmin=vmin, vmax=vmax, interpolation="nearest")
        else:
            if np.issubdtype(image.dtype, np.floating):
                image = np.clip(image, 0.0, 1.0)
            ax.imshow(image, interpolation="nearest")
        _clean(ax)
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    if colorbar and shown is not None:
        fig.colorbar(shown, ax=list(axes[:n]), shrink=0.8)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def contact_sheet(
    frames,
    timestamps=None,
    cols: int = 4,
    indices=None,
    size: float = 2.4,
    suptitle: str | None = None,
) -> Figure:
    """A contact sheet: sampled frames in a grid, each titled with its time (and frame index).

    Args:
        frames: ``(N, H, W, 3)`` uint8 RGB.
        timestamps: ``(N,)`` seconds (as :func:`videollm.io.load_video` returns), or None for no times.
        cols: frames per row.
        indices: ``(N,)`` frame indices in the source video to print next to the times, or None.
        size: width of one frame in inches.
        suptitle: title over the sheet.

    Returns:
        A Figure with one Axes per frame; titles read ``"t = 1.25 s"`` or ``"#15 · t = 1.25 s"``.
    """
    frames = as_numpy(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"contact_sheet: frames must have shape (N, H, W, 3); got {frames.shape}")
    n = len(frames)
    titles = [""] * n
    if timestamps is not None:
        timestamps = as_numpy(timestamps).astype(np.float64)
        if timestamps.shape != (n,):
            raise ValueError(f"contact_sheet: {n} frames but timestamps of shape {timestamps.shape}")
        titles = [f"t = {t:.2f} s" for t in timestamps]
    if indices is not None:
        indices = as_numpy(indices)
        if indices.shape != (n,):
            raise ValueError(f"contact_sheet: {n} frames but indices of shape {indices.shape}")
        titles = [f"#{int(i)} · {title}" if title else f"#{int(i)}" for i, title in zip(indices, titles)]
    return image_grid(frames, titles=titles if any(titles) else None, cols=cols, size=size, suptitle=suptitle)


# ----------------------------------------------------------------------------------------------------------------
# Frame sampling


def sampling_timeline(
    total_frames: int,
    fps: float,
    schemes: Mapping[str, Sequence[int]],
    title: str | None = None,
) -> Figure:
    """Which frames each sampling scheme keeps, on a shared time axis.

    Every scheme gets one row: small grey ticks mark all ``total_frames`` frames of the video, coloured dots
    the kept ones (at ``index / fps`` seconds). The row label says how many frames were kept and how far apart
    they are on average.

    Args:
        total_frames: frames in the video.
        fps: the video's frame rate (to turn indices into seconds).
        schemes: name -> frame indices, e.g. ``{"uniform-8": uniform_indices(240, 8), ...}``.
        title: axes title (default: the video's length and frame count).

    Returns:
        A Figure with one Axes; one marker line (gid ``"samples"``) per scheme whose x data are the kept
        frames' times in seconds.
    """
    total_frames = int(total_frames)
    fps = float(fps)
    if total_frames < 1 or fps <= 0:
        raise ValueError(f"sampling_timeline: need total_frames >= 1 and fps > 0; got {total_frames}, {fps}")
    duration = total_frames / fps
    fig = Figure(figsize=(9.0, 0.7 * len(schemes) + 1.3), layout="constrained")
    ax = fig.add_subplot()
    all_times = np.arange(total_frames) / fps
    colors = colormaps["tab10"]
    labels = []
    for row, (name, indices) in enumerate(schemes.items()):
        indices = as_numpy(indices).astype(np.int64).ravel()
        if indices.size and (indices.min() < 0 or indices.max() >= total_frames):
            raise ValueError(f"sampling_timeline: {name!r} has indices outside [0, {total_frames - 1}]")
        y = -row
        ax.plot(all_times, np.full(total_frames, y), linestyle="none", marker="|", markersize=6,
                color="0.8", zorder=1)
        ax.plot(indices / fps, np.full(indices.size, y), linestyle="none", marker="o", markersize=6,
                color=colors(row % 10), markeredgecolor="black", markeredgewidth=0.5, zorder=2, gid="samples")
        gap = duration / max(indices.size, 1)
        labels.append(f"{name}\n{indices.size} frames, every {gap:.2f} s")
    ax.set_yticks(-np.arange(len(labels)), labels, fontsize=9)
    ax.set_ylim(-len(labels) + 0.5, 0.5)
    ax.set_xlim(-0.02 * duration, duration * 1.02)
    ax.set_xlabel("time in the video (s)")
    for spine in ("top", "right", "left"):
        ax.spines[spine].set_visible(False)
    ax.tick_params(axis="y", length=0)
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_title(title or f"{duration:.3g} s video, {total_frames} frames at {fps:g} fps (grey: every frame)")
    return fig


def frames_vs_duration(
    seconds,
    counts: Mapping[str, Sequence[float]],
    title: str | None = None,
) -> Figure:
    """How many frames each recipe samples, and how far apart they are, against video length (log-log).

    Args:
        seconds: ``(L,)`` video lengths in seconds.
        counts: recipe name -> ``(L,)`` number of sampled frames at those lengths.
        title: title over both panels.

    Returns:
        A Figure with two Axes: left, frames sampled (curves with gid ``"frames"``); right, seconds between
        consecutive samples, ``length / frames`` (curves with gid ``"gap"``).
    """
    seconds = as_numpy(seconds).astype(np.float64)
    fig = Figure(figsize=(10.0, 3.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    for name, values in counts.items():
        values = as_numpy(values).astype(np.float64)
        if values.shape != seconds.shape:
            raise ValueError(f"frames_vs_duration: counts[{name!r}] has shape {values.shape}; expected {seconds.shape}")
        (line,) = left.plot(seconds, values, linewidth=2, label=name, gid="frames")
        right.plot(seconds, seconds / values, linewidth=2, label=name, color=line.get_color(), gid="gap")
    ticks = [t for t in (1, 10, 60, 600, 3600, 36000) if seconds.min() <= t <= seconds.max()]
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(ticks, [format_seconds(t) for t in ticks])
        ax.set_xlabel("video length")
        ax.grid(True, which="major", alpha=0.3)
    left.set_ylabel("frames sampled")
    right.set_ylabel("seconds between samples")
    left.legend(fontsize=9)
    if title:
        fig.suptitle(title)
    return fig


# ----------------------------------------------------------------------------------------------------------------
# Ground truth: boxes and motion


def draw_boxes(
    ax: Axes,
    boxes,
    labels: Sequence[str] | None = None,
    colors: Sequence | None = None,
    linewidth: float = 2.0,
) -> Axes:
    """Draw ``[x0, y0, x1, y1]`` boxes on an Axes that shows an image with ``imshow``.

    Boxes use the course's pixel convention (``x1``/``y1`` exclusive: the box covers ``image[y0:y1, x0:x1]``);
    since ``imshow`` centres pixel ``i`` at coordinate ``i``, each rectangle is drawn from ``x0 - 0.5`` to
    ``x1 - 0.5`` so that it hugs the covered pixels exactly. Rows with a NaN (an object outside the frame) are
    skipped.

    Args:
        ax: the Axes to draw on.
        boxes: ``(K, 4)`` (or ``(4,)``) float, pixel coordinates.
        labels: ``K`` strings written at the top-left corner of each box, or None.
        colors: ``K`` matplotlib colours (e.g. the objects' RGB divided by 255), or None for tab10.
        linewidth: line width in points.

    Returns:
        ``ax``; one Rectangle patch (gid ``"box"``) per drawn box.
    """
    boxes = as_numpy(boxes).astype(np.float64).reshape(-1, 4)
    k = len(boxes)
    if labels is not None and len(labels) != k:
        raise ValueError(f"draw_boxes: got {len(labels)} labels for {k} boxes")
    if colors is not None and len(colors) != k:
        raise ValueError(f"draw_boxes: got {len(colors)} colours for {k} boxes")
    palette = colormaps["tab10"]
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        if not np.all(np.isfinite([x0, y0, x1, y1])):
            continue
        color = palette(i % 10) if colors is None else colors[i]
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor=color,
                               linewidth=linewidth, gid="box"))
        if labels is not None:
            ax.text(x0 - 0.5, y0 - 1.5, labels[i], color="white", fontsize=8, va="bottom",
                    bbox={"facecolor": color, "edgecolor": "none", "pad": 1.0, "alpha": 0.8})
    return ax


def flow_to_rgb(motion, max_magnitude: float | None = None) -> np.ndarray:
    """Colour-code a motion field: hue is the direction, saturation the speed; no motion is white.

    Args:
        motion: ``(H, W, 2)`` float ``(dx, dy)`` in pixels (``dy`` positive = downwards, image coordinates).
        max_magnitude: the speed drawn fully saturated (default: the largest in ``motion``; 1 if all zero).

    Returns:
        ``(H, W, 3)`` float RGB in [0, 1]. Rightward motion is red, downward yellow-green, leftward cyan,
        upward violet (hue = angle of ``(dx, dy)`` measured clockwise on screen from the +x axis).
    """
    motion = as_numpy(motion).astype(np.float64)
    if motion.ndim != 3 or motion.shape[-1] != 2:
        raise ValueError(f"flow_to_rgb: motion must have shape (H, W, 2); got {motion.shape}")
    dx, dy = motion[..., 0], motion[..., 1]
    magnitude = np.hypot(dx, dy)
    if max_magnitude is None:
        max_magnitude = float(magnitude.max()) or 1.0
    hue = np.mod(np.arctan2(dy, dx), 2 * np.pi) / (2 * np.pi)
    saturation = np.clip(magnitude / max_magnitude, 0.0, 1.0)
    return hsv_to_rgb(np.stack([hue, saturation, np.ones_like(hue)], axis=-1))


def motion_field(
    frame,
    motion,
    step: int = 8,
    gain: float | None = None,
    title: str | None = None,
) -> Figure:
    """A frame with its motion field drawn twice: as arrows, and colour-coded pixel by pixel.

    Args:
        frame: ``(H, W, 3)`` uint8 RGB.
        motion: ``(H, W, 2)`` ``(dx, dy)``: where each pixel's content moved from since the previous frame.
        step: draw one arrow every ``step`` pixels (at the centre of each ``step x step`` cell); zero vectors
            are left out.
        gain: arrow length = ``gain * motion`` pixels (default: the longest arrow is 0.9 * ``step``).
        title: title over both panels.

    Returns:
        A Figure with three Axes: the frame with a quiver (gid ``"motion-arrows"``) whose arrows point in
        the direction of motion; :func:`flow_to_rgb` of the field; and a small colour-wheel key (the colour of
        every direction at full speed; its centre, no motion, is white).
    """
    frame = as_numpy(frame)
    motion = as_numpy(motion).astype(np.float64)
    if motion.shape[:2] != frame.shape[:2] or motion.shape[-1] != 2:
        raise ValueError(f"motion_field: frame {frame.shape} and motion {motion.shape} must share (H, W)")
    step = int(step)
    if step < 1:
        raise ValueError(f"motion_field: step must be >= 1; got {step}")
    h, w = frame.shape[:2]
    fig = Figure(figsize=(10.0, 8.6 * h / w / 2 + 0.6), layout="constrained")
    left, right, key = fig.subplots(1, 3, width_ratios=[1.0, 1.0, 0.4 * h / w])

    left.imshow(frame, interpolation="nearest")
    ys, xs = np.mgrid[step // 2 : h : step, step // 2 : w : step]
    sampled = motion[ys, xs]
    moving = np.hypot(sampled[..., 0], sampled[..., 1]) > 0
    speed = float(np.hypot(motion[..., 0], motion[..., 1]).max())
    if gain is None:
        gain = 0.9 * step / speed if speed > 0 else 1.0
    # angles="xy" draws (dx, dy) in data coordinates; with imshow's downward y axis, dy > 0 points down.
    left.quiver(xs[moving], ys[moving], sampled[moving][:, 0], sampled[moving][:, 1], angles="xy",
                scale_units="xy", scale=1.0 / gain, color="white", edgecolor="black", linewidth=0.5,
                width=0.006, gid="motion-arrows")
    left.set_xlim(-0.5, w - 0.5)
    left.set_ylim(h - 0.5, -0.5)
    left.set_title(f"arrows every {step} px (x{gain:.1f} length)", fontsize=9)
    _clean(left)

    right.imshow(flow_to_rgb(motion, speed or None), interpolation="nearest")
    right.set_title(f"colour = direction, saturation = speed (max {speed:.1f} px/frame)", fontsize=9)
    _clean(right)
    r = np.linspace(-1, 1, 65)
    wheel = np.stack(np.meshgrid(r, r), axis=-1)
    key_image = flow_to_rgb(wheel, 1.0)
    key_image[np.hypot(wheel[..., 0], wheel[..., 1]) > 1] = 1.0
    key.imshow(key_image, interpolation="bilinear", extent=(-1, 1, 1, -1))
    for text, x, y, ha in (("right", 1.1, 0.0, "left"), ("left", -1.1, 0.0, "right"),
                           ("down", 0.0, 1.2, "center"), ("up", 0.0, -1.2, "center")):
        key.text(x, y, text, ha=ha, va="center", fontsize=7)
    key.set_xlim(-2.2, 2.2)
    key.set_ylim(1.5, -1.5)
    key.set_title("key", fontsize=9)
    key.set_aspect("equal")
    key.axis("off")
    if title:
        fig.suptitle(title)
    return fig
