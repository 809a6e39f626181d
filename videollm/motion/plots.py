"""Unit 04 — pictures: block fields as arrows on frames, error maps, motion strips, token grids.

Block fields are ``(H/B, W/B, 2)`` ``(dx, dy)`` per block (``dy > 0`` points down), as
:func:`videollm.motion.estimate.block_matching` and :func:`videollm.motion.lavit.vectors_to_field` return them; frames are
``(H, W, 3)`` uint8. Functions that take ``ax`` draw on it and return it; the others build and return a new
``matplotlib.figure.Figure`` (nothing touches pyplot's global state). Artists carry a ``gid``: ``"block-arrows"``
(the quiver), ``"error-map"`` (the image of end-point errors).

Lecture: `lectures/04_lavit_motion.ipynb` §2, §4–5.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from videollm.arrays import as_numpy
from videollm.plotting import flow_to_rgb

__all__ = ["draw_block_arrows", "block_arrows", "compare_fields", "motion_strip", "token_grid"]


def _clean(ax: Axes) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def _field(field) -> np.ndarray:
    field = as_numpy(field).astype(np.float64)
    if field.ndim != 3 or field.shape[-1] != 2:
        raise ValueError(f"a block field must be (H/B, W/B, 2); got shape {field.shape}")
    return field


def draw_block_arrows(ax: Axes, frame, field, gain: float = 1.0, color: str = "white", title: str | None = None,
                      grid: bool = True) -> Axes:
    """Draw ``frame`` with one arrow per block, from the block's centre along ``gain * (dx, dy)``.

    The arrow points where the content moved *to* (it came from ``centre - (dx, dy)``). Blocks without motion
    get a dot; NaN blocks (no estimate) get nothing.
    """
    frame = as_numpy(frame)
    field = _field(field)
    H, W = frame.shape[:2]
    rows, cols = field.shape[:2]
    bh, bw = H / rows, W / cols
    ax.imshow(frame, interpolation="nearest")
    ys, xs = np.mgrid[0:rows, 0:cols]
    cx, cy = (xs + 0.5) * bw - 0.5, (ys + 0.5) * bh - 0.5
    known = ~np.isnan(field).any(-1)
    moving = known & (np.hypot(field[..., 0], field[..., 1]) > 0)
    ax.quiver(cx[moving], cy[moving], field[moving][:, 0], field[moving][:, 1], angles="xy", scale_units="xy",
              scale=1.0 / gain, color=color, edgecolor="black", linewidth=0.5, width=0.006, gid="block-arrows")
    still = known & ~moving
    ax.plot(cx[still], cy[still], ".", color=color, markersize=2, alpha=0.7)
    if grid:
        for x in np.arange(1, cols) * bw - 0.5:
            ax.axvline(x, color="white", linewidth=0.3, alpha=0.4)
        for y in np.arange(1, rows) * bh - 0.5:
            ax.axhline(y, color="white", linewidth=0.3, alpha=0.4)
    ax.set_xlim(-0.5, W - 0.5)
    ax.set_ylim(H - 0.5, -0.5)
    if title:
        ax.set_title(title, fontsize=9)
    _clean(ax)
    return ax


def block_arrows(frame, field, gain: float = 2.0, title: str | None = None) -> Figure:
    """One frame with its block field as arrows (length ``gain`` times the motion)."""
    frame = as_numpy(frame)
    H, W = frame.shape[:2]
    fig = Figure(figsize=(6.0, 6.0 * H / W + 0.4), layout="constrained")
    draw_block_arrows(fig.add_subplot(), frame, field, gain=gain,
                      title=(title or "block motion") + f" (arrows x{gain:g})")
    return fig


def compare_fields(frame, fields: Mapping[str, object], truth, gain: float = 2.0, vmax: float = 4.0) -> Figure:
    """Each estimate as arrows on ``frame`` (top row) and its per-block end-point error against ``truth`` (bottom).

    ``fields`` maps a name to an ``(H/B, W/B, 2)`` field; ``truth`` is the block ground truth (NaN = undefined).
    The first column shows the truth itself.
    """
    truth = _field(truth)
    names = ["ground truth", *fields]
    frame = as_numpy(frame)
    H, W = frame.shape[:2]
    fig = Figure(figsize=(3.2 * len(names), 2 * 3.2 * H / W + 0.9), layout="constrained")
    axes = fig.subplots(2, len(names), squeeze=False)
    image = None
    for k, name in enumerate(names):
        field = truth if k == 0 else _field(fields[name])
        draw_block_arrows(axes[0, k], frame, field, gain=gain, title=name)
        error = np.hypot(*(field - truth).transpose(2, 0, 1))
        image = axes[1, k].imshow(error, cmap="magma", vmin=0, vmax=vmax, interpolation="nearest", gid="error-map")
        epe = np.nanmean(error) if np.isfinite(error).any() else float("nan")
        axes[1, k].set_title(f"EPE per block (mean {epe:.2f} px)", fontsize=8)
        _clean(axes[1, k])
    fig.colorbar(image, ax=axes[1, :].tolist(), shrink=0.8, label="end-point error (px)")
    return fig


def motion_strip(fields, titles: Sequence[str] | None = None, max_magnitude: float | None = None,
                 rows: Sequence[str] | None = None) -> Figure:
    """Colour-coded block fields side by side (hue = direction, saturation = speed).

    ``fields``: ``(T, h, w, 2)``, or ``(R, T, h, w, 2)`` for R rows (e.g. input and reconstruction) named ``rows``.
    """
    f = as_numpy(fields).astype(np.float64)
    if f.ndim == 4:
        f = f[None]
    if f.ndim != 5 or f.shape[-1] != 2:
        raise ValueError(f"fields must be (T, h, w, 2) or (R, T, h, w, 2); got {as_numpy(fields).shape}")
    R, T, h, w, _ = f.shape
    top = max_magnitude or float(np.nanmax(np.hypot(f[..., 0], f[..., 1]))) or 1.0
    fig = Figure(figsize=(1.3 * T + 0.6, 1.3 * R * h / w + 0.5), layout="constrained")
    axes = fig.subplots(R, T, squeeze=False)
    for r in range(R):
        for t in range(T):
            axes[r, t].imshow(flow_to_rgb(np.nan_to_num(f[r, t]), top), interpolation="nearest")
            if r == 0:
                axes[r, t].set_title(titles[t] if titles else f"t={t}", fontsize=7)
            _clean(axes[r, t])
        if rows:
            axes[r, 0].set_ylabel(rows[r], fontsize=8)
    return fig


def token_grid(tokens, grid: tuple[int, int, int], title: str | None = None) -> Figure:
    """Token ids ``(t * h * w,)`` of one clip drawn as ``t`` small ``h x w`` grids, each cell labelled with its id."""
    tokens = as_numpy(tokens).reshape(grid)
    t, h, w = grid
    fig = Figure(figsize=(1.1 * t * w / 2 + 0.6, 1.1 * h / 2 + 0.7), layout="constrained")
    axes = fig.subplots(1, t, squeeze=False)[0]
    for k in range(t):
        axes[k].imshow(tokens[k] % 20, cmap="tab20", vmin=0, vmax=19, interpolation="nearest")
        for (y, x), value in np.ndenumerate(tokens[k]):
            axes[k].text(x, y, str(value), ha="center", va="center", fontsize=6)
        axes[k].set_title(f"latent frame {k}", fontsize=8)
        _clean(axes[k])
    if title:
        fig.suptitle(title, fontsize=9)
    return fig
