"""Unit 05 — pictures: AnyRes tiling, best-resolution scores, token maps, token
budgets, M-RoPE position ids and leaderboard bars.

Every function takes data that the reference code (:mod:`videollm.vlm.llava_ov`, :mod:`videollm.vlm.qwen_vl`) computed and
returns a new ``matplotlib.figure.Figure``; ``draw_*`` functions draw on an ``Axes`` you pass and return it.
Nothing touches pyplot's global state. Images are ``(H, W, 3)`` uint8 or float in [0, 1], or ``(3, H, W)`` float;
sizes are ``(height, width)`` as in transformers.

Artists carry a ``gid`` so tests (and curious students) can find them: ``"crop-tile"`` (one rectangle per AnyRes
crop), ``"content-box"`` (the resized image inside the padded canvas), ``"effective-map"`` and ``"best"`` (the
best-resolution score map and its winner), ``"token-map"`` (a feature map drawn in token units), ``"budget"`` and
``"context"`` (token-budget curves and context lines), ``"mrope-ids"`` (the three id rows), ``"mrope-cell"`` (one
video token's ``(t, h, w)`` label), ``"rule"`` and ``"disagree"`` (position-id curves of two rules and where they
differ), ``"time-ids"`` (temporal ids against seconds), ``"score"`` (leaderboard bars).

Lecture: `lectures/05_llava_ov_qwen2_vl.ipynb` §2–4, §8–9, §11.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from videollm.arrays import as_numpy
from videollm.vit.plots import _as_image

__all__ = [
    "content_box",
    "draw_tiling",
    "anyres_tiling",
    "crop_strip",
    "resolution_scores",
    "token_maps",
    "token_budgets",
    "mrope_sequence",
    "mrope_grid",
    "mrope_compare",
    "time_ids",
    "leaderboard",
    "KIND_COLORS",
]

#: Colour of each token kind in the M-RoPE pictures.
KIND_COLORS: dict[str, str] = {"text": "#9e9e9e", "image": "#1f77b4", "video": "#d62728"}

_CONTEXTS: dict[str, int] = {"8k": 8_192, "32k": 32_768}


def _clean(ax: Axes) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def _size(size, name: str) -> tuple[int, int]:
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise ValueError(f"{name} must be a pair (height, width); got {size!r}")
    h, w = int(size[0]), int(size[1])
    if h < 1 or w < 1:
        raise ValueError(f"{name} must be positive; got {size!r}")
    return h, w


# ----------------------------------------------------------------------------------------------------------------
# AnyRes tiling


def content_box(original_size, canvas_size) -> tuple[int, int, int, int]:
    """Where a ``(h0, w0)`` image lands when resized to fit a ``(H, W)`` canvas and centred on it (LLaVA's rule).

    The side that limits the scale fills the canvas; the other is ``ceil(side * scale)``, capped at the canvas.
    Returns ``(top, left, height, width)`` in canvas pixels; the rest of the canvas is black padding.
    """
    h0, w0 = _size(original_size, "original_size")
    H, W = _size(canvas_size, "canvas_size")
    if W / w0 < H / h0:
        new_w, new_h = W, min(math.ceil(h0 * W / w0), H)
    else:
        new_h, new_w = H, min(math.ceil(w0 * H / h0), W)
    return (H - new_h) // 2, (W - new_w) // 2, new_h, new_w


def draw_tiling(ax: Axes, canvas, crop: int = 384, original_size=None, number: bool = True,
                title: str | None = None) -> Axes:
    """Draw the resized-and-padded ``canvas`` ``(H, W, 3)`` with its ``crop x crop`` tiles in row-major order.

    One rectangle per tile (gid ``"crop-tile"``, ``(H // crop) * (W // crop)`` of them), numbered from 1 (crop 0
    is the base image). With ``original_size`` ``(h0, w0)``, the region the image fills is outlined (gid
    ``"content-box"``); the rest is padding, which unpadding later removes from the features.
    """
    img = _as_image(canvas)
    H, W = img.shape[:2]
    if H % crop or W % crop:
        raise ValueError(f"the canvas {H}x{W} is not a whole number of {crop}x{crop} crops; pass the output of "
                         "resize_and_pad at the selected best resolution")
    rows, cols = H // crop, W // crop
    ax.imshow(img, interpolation="bilinear")
    for k in range(rows * cols):
        i, j = divmod(k, cols)
        ax.add_patch(Rectangle((j * crop - 0.5, i * crop - 0.5), crop, crop, fill=False, edgecolor="yellow",
                               linewidth=1.5, gid="crop-tile"))
        if number:
            ax.text(j * crop + crop / 2, i * crop + crop / 2, str(k + 1), ha="center", va="center", fontsize=14,
                    color="yellow", fontweight="bold")
    if original_size is not None:
        top, left, h, w = content_box(original_size, (H, W))
        ax.add_patch(Rectangle((left - 0.5, top - 0.5), w, h, fill=False, edgecolor="cyan", linestyle="--",
                               linewidth=1.5, gid="content-box"))
    ax.set_xlim(-0.5, W - 0.5)
    ax.set_ylim(H - 0.5, -0.5)
    ax.set_title(title or f"{H}x{W}: {rows}x{cols} crops of {crop}", fontsize=9)
    _clean(ax)
    return ax


def anyres_tiling(image, canvas, crop: int = 384, base=None, title: str | None = None) -> Figure:
    """The AnyRes picture: the original image, the canvas at the best resolution cut into crops, the base image.

    Args:
        image: the original ``(h0, w0, 3)`` image.
        canvas: the image resized and padded to the selected best resolution ``(H, W, 3)`` (``resize_and_pad``).
        crop: the vision tower's input side (384 for SigLIP in LLaVA-OneVision).
        base: optional ``(crop, crop, 3)`` base image (the whole image squashed to one crop), drawn last.
        title: figure title.

    Returns:
        A Figure with 2 or 3 Axes; the middle one has one ``"crop-tile"`` rectangle per crop and the
        ``"content-box"`` of the original image.
    """
    img = _as_image(image)
    can = _as_image(canvas)
    panels = 3 if base is not None else 2
    h0, w0 = img.shape[:2]
    H, W = can.shape[:2]
    ratios = [w0 / h0, W / H] + ([1.0] if base is not None else [])
    fig = Figure(figsize=(3.2 * sum(ratios) + 0.5, 3.6), layout="constrained")
    axes = fig.subplots(1, panels, width_ratios=ratios)
    axes[0].imshow(img)
    axes[0].set_title(f"original {h0}x{w0}", fontsize=9)
    _clean(axes[0])
    draw_tiling(axes[1], can, crop=crop, original_size=(h0, w0))
    if base is not None:
        b = _as_image(base)
        axes[2].imshow(b)
        axes[2].set_title(f"base image {b.shape[0]}x{b.shape[1]} (crop 0)", fontsize=9)
        _clean(axes[2])
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def crop_strip(crops, titles: Sequence[str] | None = None, size: float = 1.4) -> Figure:
    """What the vision tower receives: ``crops`` ``(1 + n, C, crop, crop)`` (base first) as a row of images."""
    crops = as_numpy(crops)
    if crops.ndim != 4:
        raise ValueError(f"crops must be (1 + n, C, crop, crop) or (1 + n, crop, crop, 3); got shape {crops.shape}")
    n = crops.shape[0]
    fig = Figure(figsize=(size * n + 0.3, size + 0.5), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    for k in range(n):
        axes[k].imshow(_as_image(crops[k]))
        axes[k].set_title(titles[k] if titles else ("base" if k == 0 else f"crop {k}"), fontsize=8)
        _clean(axes[k])
    return fig


def resolution_scores(candidates, effective, wasted, best, original_size=None, crop: int = 384) -> Figure:
    """Best-resolution selection as a map over the grid pinpoints.

    Cell ``(i, j)`` stands for the candidate ``((i + 1) * crop, (j + 1) * crop)``; its colour is the effective
    resolution (pixels of the original kept after the fit, capped at the original's pixel count) and its label
    the wasted pixels in millions. The winner (max effective, then min wasted) is outlined (gid ``"best"``).

    Args:
        candidates: ``(K, 2)`` (height, width) candidates, multiples of ``crop``.
        effective, wasted: ``(K,)`` pixel counts per candidate.
        best: the selected ``(height, width)``.
        original_size: ``(h0, w0)``, for the title.
        crop: the crop side.

    Returns:
        A Figure whose image (gid ``"effective-map"``) holds ``effective`` at ``(h // crop - 1, w // crop - 1)``
        (NaN where no candidate).
    """
    cand = as_numpy(candidates).astype(np.int64).reshape(-1, 2)
    eff = as_numpy(effective).astype(np.float64).reshape(-1)
    waste = as_numpy(wasted).astype(np.float64).reshape(-1)
    if not (len(cand) == len(eff) == len(waste)):
        raise ValueError(f"candidates, effective and wasted need one entry each per candidate; got {len(cand)}, "
                         f"{len(eff)} and {len(waste)}")
    if (cand % crop).any() or (cand < crop).any():
        raise ValueError(f"candidates must be positive multiples of crop={crop}; got {cand.tolist()}")
    gi, gj = cand[:, 0] // crop - 1, cand[:, 1] // crop - 1
    grid = np.full((gi.max() + 1, gj.max() + 1), np.nan)
    grid[gi, gj] = eff
    fig = Figure(figsize=(0.8 * grid.shape[1] + 2.2, 0.7 * grid.shape[0] + 1.2), layout="constrained")
    ax = fig.add_subplot()
    im = ax.imshow(grid, cmap="viridis", gid="effective-map")
    for i, j, w in zip(gi, gj, waste):
        ax.text(j, i, f"{w / 1e6:.1f}", ha="center", va="center", fontsize=7, color="white")
    bh, bw = _size(tuple(best), "best")
    ax.add_patch(Rectangle((bw // crop - 1.5, bh // crop - 1.5), 1, 1, fill=False, edgecolor="red", linewidth=2.5,
                           gid="best"))
    ax.set_xticks(range(grid.shape[1]), [str((j + 1) * crop) for j in range(grid.shape[1])], fontsize=7)
    ax.set_yticks(range(grid.shape[0]), [str((i + 1) * crop) for i in range(grid.shape[0])], fontsize=7)
    ax.set_xlabel("candidate width")
    ax.set_ylabel("candidate height")
    bar = fig.colorbar(im, ax=ax, shrink=0.9)
    bar.set_label("effective pixels")
    where = f"for a {original_size[0]}x{original_size[1]} image: " if original_size is not None else ""
    ax.set_title(f"{where}best {bh}x{bw} (labels: wasted Mpx)", fontsize=9)
    return fig


# ----------------------------------------------------------------------------------------------------------------
# Feature maps in token units


def _map_image(x) -> np.ndarray:
    """``(C, H, W)`` / ``(H, W, C)`` / ``(H, W)`` -> something imshow can draw: 3 channels as RGB, else the norm."""
    x = as_numpy(x).astype(np.float64)
    if x.ndim == 2:
        return x
    if x.ndim != 3:
        raise ValueError(f"a feature map must be (C, H, W), (H, W, 3) or (H, W); got shape {x.shape}")
    if x.shape[-1] == 3 and x.shape[0] != 3:
        x = np.moveaxis(x, -1, 0)
    if x.shape[0] == 3:
        lo, hi = x.min(), x.max()
        return np.moveaxis((x - lo) / (hi - lo) if hi > lo else np.full_like(x, 0.5), 0, -1)
    return np.linalg.norm(x, axis=0)


def token_maps(maps: Mapping[str, object], extra: Mapping[str, int] | None = None, extra_label: str = "newlines",
               title: str | None = None, scale: float = 0.05, max_width: float = 12.0) -> Figure:
    """Feature maps side by side at one scale: one image cell per visual token.

    Args:
        maps: name -> ``(C, H, W)`` map (3 channels are drawn as colour, more as the per-token norm), or
            ``(H, W, 3)``. Typically the stages of LLaVA-OneVision's packing (crops joined, unpadded, Max-9
            downsampled) or a frame's 27x27 map before and after bilinear pooling to 14x14.
        extra: name -> tokens added to that stage (e.g. ``H`` newline tokens), shown in the label.
        extra_label: what the extra tokens are ("newlines").
        title: figure title.
        scale: inches per token, reduced if the maps would be wider than ``max_width`` inches together.
        max_width: the widest the figure may get, in inches.

    Returns:
        A Figure with one Axes per map; each image (gid ``"token-map"``) is the map, and its title says
        ``H x W = H*W tokens`` (``+ extra``).
    """
    if not maps:
        raise ValueError("token_maps needs at least one map")
    images = {name: _map_image(m) for name, m in maps.items()}
    heights = [im.shape[0] for im in images.values()]
    widths = [im.shape[1] for im in images.values()]
    scale = min(scale, (max_width - 0.6 * len(maps)) / sum(widths))
    fig = Figure(figsize=(max(scale * sum(widths) + 0.6 * len(maps), 3.0), scale * max(heights) + 1.0),
                 layout="constrained")
    axes = fig.subplots(1, len(maps), squeeze=False, width_ratios=widths)[0]
    extra = extra or {}
    for ax, (name, im) in zip(axes, images.items()):
        h, w = im.shape[:2]
        ax.imshow(im, interpolation="nearest", cmap=None if im.ndim == 3 else "magma", gid="token-map")
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(max(heights) - 0.5, -0.5)
        label = f"{h}x{w} = {h * w:,} tokens"
        if name in extra:
            label += f" + {extra[name]:,} {extra_label}"
        ax.set_title(f"{name}\n{label}", fontsize=8)
        _clean(ax)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


# ----------------------------------------------------------------------------------------------------------------
# Token budgets


def token_budgets(x, curves: Mapping[str, Sequence[float]], xlabel: str, ylabel: str = "visual tokens",
                  contexts: Mapping[str, int] | None = None, logy: bool = True, logx: bool = False,
                  title: str | None = None, ax: Axes | None = None) -> Figure:
    """Token counts of several recipes against one variable (resolution, frames, seconds).

    Args:
        x: ``(L,)`` values of the variable.
        curves: recipe name -> ``(L,)`` token counts at ``x`` (drawn as steps: counts jump at thresholds).
        xlabel, ylabel: axis labels.
        contexts: label -> tokens, dashed horizontal lines (default 8k and 32k); ``{}`` for none.
        logy, logx: log-scale the axes.
        title: axes title.
        ax: draw on this Axes (its figure is returned) instead of a new Figure.

    Returns:
        The Figure; each curve is a line with gid ``"budget"`` whose y-data are the counts.
    """
    x = as_numpy(x).astype(np.float64)
    contexts = _CONTEXTS if contexts is None else contexts
    if ax is None:
        fig = Figure(figsize=(6.5, 3.8), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    for name, values in curves.items():
        values = as_numpy(values).astype(np.float64)
        if values.shape != x.shape:
            raise ValueError(f"token_budgets: curves[{name!r}] has shape {values.shape}; expected {x.shape} like x")
        ax.plot(x, values, drawstyle="steps-post", linewidth=2, label=name, gid="budget")
    for label, size in contexts.items():
        ax.axhline(size, color="gray", linestyle="--", linewidth=1, gid="context")
        ax.annotate(f"{label} context", xy=(0.01, size), xycoords=("axes fraction", "data"), xytext=(0, 2),
                    textcoords="offset points", fontsize=8, color="gray", va="bottom")
    if logy:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel + (" (log scale)" if logy else ""))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


# ----------------------------------------------------------------------------------------------------------------
# M-RoPE


def _ids(position_ids) -> np.ndarray:
    ids = as_numpy(position_ids)
    if ids.ndim == 3 and ids.shape[1] == 1:
        ids = ids[:, 0]
    if ids.ndim != 2 or ids.shape[0] != 3:
        raise ValueError(f"position_ids must be (3, L) (or (3, 1, L)); got shape {ids.shape}")
    return ids.astype(np.int64)


def _kinds(kinds, length: int) -> list[str]:
    kinds = list(kinds)
    if len(kinds) != length:
        raise ValueError(f"kinds needs one entry per token ({length}); got {len(kinds)}")
    unknown = set(kinds) - set(KIND_COLORS)
    if unknown:
        raise ValueError(f"unknown token kinds {sorted(unknown)}; use {sorted(KIND_COLORS)}")
    return kinds


def mrope_sequence(position_ids, kinds: Sequence[str], title: str | None = None, numbers: bool = True) -> Figure:
    """The three M-RoPE id rows (temporal, height, width) over a sequence, each token labelled with its id.

    Args:
        position_ids: ``(3, L)`` int ids (rows t, h, w), as ``mrope_position_ids`` returns them.
        kinds: ``L`` strings, ``"text"``, ``"image"`` or ``"video"``, drawn as a coloured band above.
        title: figure title.
        numbers: write each id in its cell (turn off for long sequences).

    Returns:
        A Figure whose main image (gid ``"mrope-ids"``) holds ``position_ids`` exactly.
    """
    ids = _ids(position_ids)
    L = ids.shape[1]
    kinds = _kinds(kinds, L)
    fig = Figure(figsize=(min(0.24 * L + 1.2, 16.0), 2.1), layout="constrained")
    band, ax = fig.subplots(2, 1, sharex=True, height_ratios=[0.35, 3])
    colors = np.array([[int(KIND_COLORS[k][i:i + 2], 16) / 255 for i in (1, 3, 5)] for k in kinds])
    band.imshow(colors[None], aspect="auto", interpolation="nearest")
    band.set_yticks([])
    band.set_title(title or "M-RoPE position ids (band: grey text, blue image, red video)", fontsize=9)
    ax.imshow(ids, aspect="auto", cmap="viridis", interpolation="nearest", gid="mrope-ids")
    if numbers:
        top = max(int(ids.max()), 1)
        for (r, c), value in np.ndenumerate(ids):
            ax.text(c, r, str(value), ha="center", va="center", fontsize=6,
                    color="white" if value < 0.6 * top else "black")
    ax.set_yticks([0, 1, 2], ["t", "h", "w"])
    ax.set_xlabel("token index")
    return fig


def mrope_grid(position_ids, grid: tuple[int, int, int], start: int, title: str | None = None) -> Figure:
    """One vision block's ids drawn as its ``(t, h, w)`` grid: ``t`` panels of ``h x w`` tokens labelled ``t,h,w``.

    Args:
        position_ids: ``(3, L)`` ids of the whole sequence.
        grid: the block's grid in LLM tokens (after the 2x2 merge): ``(t, h, w)``.
        start: index of the block's first token in the sequence.
        title: figure title.

    Returns:
        A Figure with ``t`` Axes, each with ``h * w`` texts (gid ``"mrope-cell"``) reading ``"t,h,w"``.
    """
    ids = _ids(position_ids)
    t, h, w = (int(g) for g in grid)
    n = t * h * w
    if start < 0 or start + n > ids.shape[1]:
        raise ValueError(f"a {t}x{h}x{w} block starting at token {start} does not fit in {ids.shape[1]} tokens")
    block = ids[:, start:start + n].reshape(3, t, h, w)
    fig = Figure(figsize=(min(t * (0.45 * w + 0.3) + 0.4, 16.0), 0.45 * h + 0.9), layout="constrained")
    axes = fig.subplots(1, t, squeeze=False)[0]
    for k in range(t):
        axes[k].imshow(block[0, k], cmap="Reds", vmin=block[0].min() - 1, vmax=block[0].max() + 1,
                       interpolation="nearest")
        for (y, x), _ in np.ndenumerate(block[0, k]):
            axes[k].text(x, y, f"{block[0, k, y, x]},{block[1, k, y, x]},{block[2, k, y, x]}", ha="center",
                         va="center", fontsize=6, gid="mrope-cell")
        axes[k].set_title(f"temporal slice {k}", fontsize=8)
        _clean(axes[k])
    fig.suptitle(title or "video tokens: (t, h, w) position ids", fontsize=9)
    return fig


def mrope_compare(rules: Mapping[str, object], kinds: Sequence[str], title: str | None = None) -> Figure:
    """Position ids of the same sequence under several rules, one panel per axis (t, h, w).

    Args:
        rules: rule name -> ``(3, L)`` ids (e.g. the original Qwen2-VL rule and transformers 5.23).
        kinds: ``L`` token kinds, shading the vision tokens.
        title: figure title.

    Returns:
        A Figure with 3 Axes; each has one line per rule (gid ``"rule"``, y-data = that axis's ids) and, when
        the first two rules differ on that axis, a scatter (gid ``"disagree"``) at the differing tokens.
    """
    if not rules:
        raise ValueError("mrope_compare needs at least one rule")
    arrays = {name: _ids(ids) for name, ids in rules.items()}
    shapes = {a.shape for a in arrays.values()}
    if len(shapes) != 1:
        raise ValueError(f"all rules must give ids for the same sequence; got shapes {sorted(shapes)}")
    L = next(iter(shapes))[1]
    kinds = _kinds(kinds, L)
    fig = Figure(figsize=(8.0, 5.5), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True)
    x = np.arange(L)
    names = list(arrays)
    vision = np.array([k != "text" for k in kinds])
    for r, (ax, axis) in enumerate(zip(axes, "thw")):
        for k, name in enumerate(names):
            ax.plot(x, arrays[name][r], drawstyle="steps-mid", linewidth=2.5 - k, label=name, gid="rule",
                    linestyle="-" if k == 0 else "--")
        if len(names) > 1:
            differ = np.flatnonzero(arrays[names[0]][r] != arrays[names[1]][r])
            if differ.size:
                ax.scatter(differ, arrays[names[1]][r][differ], s=30, facecolors="none", edgecolors="black",
                           zorder=3, gid="disagree", label=f"{names[1]} differs ({differ.size} tokens)")
        for i in np.flatnonzero(vision):
            ax.axvspan(i - 0.5, i + 0.5, color=KIND_COLORS[kinds[i]], alpha=0.08, linewidth=0)
        ax.set_ylabel(f"{axis} id")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    axes[-1].set_xlabel("token index (shaded: vision tokens)")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def time_ids(series: Mapping[str, tuple[Sequence[float], Sequence[int]]], title: str | None = None) -> Figure:
    """Temporal position ids against the time they stand for, one curve per sampling rate or model.

    Args:
        series: label -> ``(seconds, t_ids)``: the start time of each temporal grid and its temporal id.
        title: axes title.

    Returns:
        A Figure with one Axes; each curve (gid ``"time-ids"``) has x-data seconds and y-data ids.
    """
    fig = Figure(figsize=(6.5, 3.6), layout="constrained")
    ax = fig.add_subplot()
    markers = "osD^vP*X"
    for k, (label, (seconds, ids)) in enumerate(series.items()):
        seconds = as_numpy(seconds).astype(np.float64)
        ids = as_numpy(ids).astype(np.float64)
        if seconds.shape != ids.shape:
            raise ValueError(f"time_ids: series[{label!r}] has {seconds.shape} seconds and {ids.shape} ids")
        # open markers shrinking from curve to curve, so that coinciding curves stay visible
        ax.plot(seconds, ids, marker=markers[k % len(markers)], markersize=max(10 - 1.5 * k, 3), fillstyle="none",
                linewidth=1.2, label=label, gid="time-ids")
    ax.set_xlabel("time in the video (s)")
    ax.set_ylabel("temporal position id")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


# ----------------------------------------------------------------------------------------------------------------
# Leaderboards


def leaderboard(scores: Mapping[str, Mapping[str, float]], title: str | None = None, xlabel: str = "accuracy (%)",
                highlight: Sequence[str] = ()) -> Figure:
    """Grouped horizontal bars: one group per model, one bar per column (e.g. Video-MME without / with subtitles).

    Args:
        scores: model -> {column -> score}; missing columns are left out of that group.
        title: axes title.
        xlabel: value axis label.
        highlight: models whose names are drawn in bold.

    Returns:
        A Figure with one Axes; every bar has gid ``"score"`` and its width is the score, written at its end.
    """
    if not scores:
        raise ValueError("leaderboard needs at least one model")
    columns: list[str] = []
    for row in scores.values():
        columns += [c for c in row if c not in columns]
    models = list(scores)
    height = 0.8 / len(columns)
    cmap = colormaps["tab10"]
    fig = Figure(figsize=(7.0, 0.28 * len(models) * max(len(columns), 1.5) + 1.0), layout="constrained")
    ax = fig.add_subplot()
    top = max(v for row in scores.values() for v in row.values())
    for c, column in enumerate(columns):
        for m, model in enumerate(models):
            if column not in scores[model]:
                continue
            value = float(scores[model][column])
            y = m + (c - (len(columns) - 1) / 2) * height
            ax.barh(y, value, height=height * 0.9, color=cmap(c), gid="score",
                    label=column if m == next(i for i, mm in enumerate(models) if column in scores[mm]) else None)
            ax.text(value + 0.01 * top, y, f"{value:.1f}", va="center", fontsize=7)
    ax.set_yticks(range(len(models)), models, fontsize=8)
    for label in ax.get_yticklabels():
        if label.get_text() in highlight:
            label.set_fontweight("bold")
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.12)
    ax.set_xlabel(xlabel)
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    if title:
        ax.set_title(title, fontsize=10)
    return fig
