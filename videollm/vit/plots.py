"""Unit 01 — pictures: patch grids, patch strips, position embeddings, merge groups, token counts.

Every function either draws on an ``Axes`` you pass (``draw_*``, returns that Axes) or builds and returns a new
``matplotlib.figure.Figure``. Nothing here calls ``plt.show()``; notebooks display the returned figure.
Inputs may be NumPy arrays or torch tensors (on any device); images are ``(H, W, 3)`` uint8 or float in [0, 1],
or ``(3, H, W)`` float as PyTorch stores them.

Artists carry a ``gid`` so tests (and curious students) can find them:
``"patch-grid"`` (grid lines), ``"patch-number"`` (patch labels), ``"merge-overlay"`` (merge-group colours),
``"scheme"`` (token-count curves) and ``"context"`` (context-size lines).

Lecture: `lectures/01_vit_patching.ipynb` §1–5.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.patheffects as path_effects
import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from videollm.arrays import as_numpy

__all__ = [
    "draw_patch_grid",
    "patch_strip",
    "flatten_diagram",
    "frame_row",
    "pos_embed_channels",
    "cosine_similarity_map",
    "pos_embed_similarity",
    "draw_merge_groups",
    "tokens_vs_length",
    "DEFAULT_CONTEXTS",
]

#: Context windows drawn by :func:`tokens_vs_length`: label -> tokens.
DEFAULT_CONTEXTS: dict[str, int] = {"8k": 8_192, "32k": 32_768, "128k": 131_072}

_OUTLINE = [path_effects.withStroke(linewidth=2, foreground="black")]


# ----------------------------------------------------------------------------------------------------------------
# Small conversions


def _pair(size) -> tuple[int, int]:
    if isinstance(size, (tuple, list)):
        if len(size) != 2:
            raise ValueError(f"expected an int or a pair (height, width); got {size!r}")
        return int(size[0]), int(size[1])
    return int(size), int(size)


def _as_image(image) -> np.ndarray:
    """``(H, W)``, ``(H, W, C)`` or channels-first ``(C, H, W)`` (C in 1, 3) -> ``(H, W)`` or ``(H, W, 3)`` for imshow.

    Floats are clipped to [0, 1]; integers are kept as uint8.
    """
    image = as_numpy(image)
    if image.ndim == 3 and image.shape[0] in (1, 3) and image.shape[-1] not in (1, 3):
        image = np.moveaxis(image, 0, -1)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] != 3):
        raise ValueError(f"expected an image (H, W), (H, W, 3) or (3, H, W); got shape {image.shape}")
    if np.issubdtype(image.dtype, np.floating):
        return np.clip(image, 0.0, 1.0)
    return image.astype(np.uint8)


def _rescale(x: np.ndarray) -> np.ndarray:
    """Min-max scale to [0, 1] (constant input -> 0.5)."""
    lo, hi = float(x.min()), float(x.max())
    return np.full_like(x, 0.5, dtype=np.float64) if hi == lo else (x - lo) / (hi - lo)


def _clean(ax: Axes) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


# ----------------------------------------------------------------------------------------------------------------
# Patches


def draw_patch_grid(
    ax: Axes,
    image,
    patch_size,
    number: bool = True,
    color: str = "white",
    linewidth: float = 0.8,
    fontsize: float = 6,
    start: int = 0,
) -> Axes:
    """Show ``image`` on ``ax`` with its ``P x P`` patch grid and (optionally) each patch's row-major number.

    Patch ``(i, j)`` (row ``i``, column ``j`` of the grid) gets number ``start + i * (W // P) + j``: the order in
    which ``patchify`` and a Conv2d patch embedding emit tokens. Lines are drawn at every multiple of ``P``
    inside the image: ``H // P - 1`` horizontal and ``W // P - 1`` vertical ones when ``P`` divides the size;
    otherwise a line also marks where the incomplete border strip (which a strict ViT drops or pads) begins.

    Args:
        ax: where to draw.
        image: ``(H, W, 3)`` uint8/float, ``(3, H, W)`` float, or ``(H, W)``.
        patch_size: ``P`` or ``(P_h, P_w)``.
        number: write the patch numbers at the patch centres (complete patches only).
        color, linewidth: grid line style.
        fontsize: size of the numbers in points.
        start: number of the first patch (e.g. 1 for a model with a class token in position 0).

    Returns:
        ``ax``.
    """
    img = _as_image(image)
    ph, pw = _pair(patch_size)
    if ph < 1 or pw < 1:
        raise ValueError(f"patch_size must be positive; got {patch_size!r}")
    height, width = img.shape[:2]
    ax.imshow(img, cmap=None if img.ndim == 3 else "gray", interpolation="nearest")
    for x in range(pw, width, pw):
        ax.axvline(x - 0.5, color=color, linewidth=linewidth, gid="patch-grid")
    for y in range(ph, height, ph):
        ax.axhline(y - 0.5, color=color, linewidth=linewidth, gid="patch-grid")
    if number:
        gh, gw = height // ph, width // pw
        for i in range(gh):
            for j in range(gw):
                ax.text(
                    j * pw + (pw - 1) / 2, i * ph + (ph - 1) / 2, str(start + i * gw + j),
                    ha="center", va="center", color="white", fontsize=fontsize, path_effects=_OUTLINE,
                    gid="patch-number",
                )
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)
    _clean(ax)
    return ax


def patch_strip(patches, patch_size, n: int = 8, channels: int = 3, start: int = 0, rescale: bool = False) -> Figure:
    """Show ``n`` consecutive flattened patches side by side, as ``patchify`` returns them.

    Args:
        patches: ``(N, C*P*P)`` or ``(1, N, C*P*P)`` (the first batch element is used), each row flattened in
            ``(C, P, P)`` order.
        patch_size: ``P``.
        n: how many patches to show (fewer if there are fewer).
        channels: ``C``.
        start: index of the first patch shown.
        rescale: min-max scale each patch to [0, 1] (for embeddings or normalised pixels); otherwise values are
            taken as pixels in [0, 1] (floats) or 0..255 (integers).

    Returns:
        A Figure with one image Axes per patch, titled with the patch's index.
    """
    x = as_numpy(patches)
    if x.ndim == 3:
        x = x[0]
    p = int(patch_size)
    if x.ndim != 2 or x.shape[1] != channels * p * p:
        raise ValueError(
            f"patches must be (N, C*P*P) = (N, {channels * p * p}) for C={channels}, P={p}; got shape {x.shape}"
        )
    idx = np.arange(start, min(start + n, x.shape[0]))
    if idx.size == 0:
        raise ValueError(f"no patches to show: start={start} but there are {x.shape[0]} patches")
    fig = Figure(figsize=(1.1 * len(idx) + 0.2, 1.5), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(idx)))
    for ax, k in zip(axes, idx):
        patch = x[k].reshape(channels, p, p)
        if rescale:
            patch = _rescale(patch)
        ax.imshow(_as_image(patch), cmap="gray", interpolation="nearest")
        ax.set_title(f"#{k}", fontsize=8)
        _clean(ax)
    return fig


def flatten_diagram(patch, channels: int = 3) -> Figure:
    """How one ``(C, P, P)`` patch becomes a vector of length ``C*P*P``: the patch, its channel planes, the vector.

    Top row: the patch, then each channel as a grey image. Bottom: the flattened vector, coloured by channel, in
    the ``(C, P, P)`` order of a Conv2d weight (all of channel 0 row by row, then channel 1, ...).

    Args:
        patch: ``(C, P, P)`` or the flattened ``(C*P*P,)`` patch (square ``P``), values in [0, 1] or 0..255.
        channels: ``C``.

    Returns:
        A Figure.
    """
    x = as_numpy(patch).astype(np.float64)
    if x.ndim == 1:
        p = int(round((x.size / channels) ** 0.5))
        if channels * p * p != x.size:
            raise ValueError(f"a flat patch of length {x.size} is not C*P*P for C={channels}")
        x = x.reshape(channels, p, p)
    if x.ndim != 3 or x.shape[0] != channels:
        raise ValueError(f"patch must be (C, P, P) with C={channels}; got shape {x.shape}")
    if x.max() > 1.0:
        x = x / 255.0
    names = ["R", "G", "B"] if channels == 3 else [f"c{c}" for c in range(channels)]
    colors = ["tab:red", "tab:green", "tab:blue"] if channels == 3 else [f"C{c}" for c in range(channels)]
    fig = Figure(figsize=(7.5, 3.2), layout="constrained")
    grid = fig.add_gridspec(2, channels + 1, height_ratios=[1.2, 1])
    ax = fig.add_subplot(grid[0, 0])
    ax.imshow(_as_image(x), cmap="gray", interpolation="nearest")
    ax.set_title(f"patch {x.shape[1]}×{x.shape[2]}", fontsize=9)
    _clean(ax)
    for c in range(channels):
        ax = fig.add_subplot(grid[0, c + 1])
        ax.imshow(x[c], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"channel {names[c]}", fontsize=9, color=colors[c])
        _clean(ax)
    ax = fig.add_subplot(grid[1, :])
    flat = x.reshape(channels, -1)
    per = flat.shape[1]
    for c in range(channels):
        ax.plot(np.arange(c * per, (c + 1) * per), flat[c], color=colors[c], linewidth=0.8, label=names[c])
    ax.set_xlim(0, channels * per)
    ax.set_xlabel("position in the flattened vector (C, P, P order)")
    ax.set_ylabel("value")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return fig


def frame_row(frames, patch_size, group: int = 1, titles: Sequence[str] | None = None, number: bool = False) -> Figure:
    """Frames side by side with their patch grids; frames that form one token group share a frame colour.

    ``group=1`` pictures per-frame tokens (every frame its own tokens); ``group=2`` pictures ViViT tubelets or
    Qwen2-VL's temporal patch (two consecutive frames feed the same tokens).

    Args:
        frames: ``(T, H, W, 3)`` uint8/float or ``(T, 3, H, W)`` float.
        patch_size: ``P`` (or ``(P_h, P_w)``).
        group: consecutive frames per token group.
        titles: one title per frame (default ``"t=<index>"`` and the group number).
        number: write patch numbers too.

    Returns:
        A Figure with one Axes per frame.
    """
    frames = as_numpy(frames)
    if frames.ndim != 4:
        raise ValueError(f"frames must be (T, H, W, 3) or (T, 3, H, W); got shape {frames.shape}")
    if group < 1:
        raise ValueError(f"group must be >= 1; got {group}")
    t = frames.shape[0]
    fig = Figure(figsize=(1.9 * t + 0.2, 2.0), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, t))
    palette = colormaps["tab10"]
    for k, ax in enumerate(axes):
        draw_patch_grid(ax, frames[k], patch_size, number=number, linewidth=0.5)
        colour = palette((k // group) % 10)
        for spine in ax.spines.values():
            spine.set_edgecolor(colour)
            spine.set_linewidth(3)
        label = titles[k] if titles is not None else f"t={k}  ·  group {k // group}"
        ax.set_title(label, fontsize=8, color=colour)
    return fig


# ----------------------------------------------------------------------------------------------------------------
# Position embeddings


def _grid_embed(posemb, grid_size, num_prefix_tokens: int) -> tuple[np.ndarray, int, int]:
    """``(1, prefix + gh*gw, D)`` or ``(prefix + gh*gw, D)`` -> ``(gh, gw, D)`` float64 (prefix tokens dropped)."""
    x = as_numpy(posemb).astype(np.float64)
    if x.ndim == 3:
        x = x[0]
    gh, gw = _pair(grid_size)
    if x.ndim != 2 or x.shape[0] != num_prefix_tokens + gh * gw:
        raise ValueError(
            f"posemb must have {num_prefix_tokens} prefix + {gh}x{gw} = {num_prefix_tokens + gh * gw} tokens; "
            f"got shape {tuple(as_numpy(posemb).shape)}"
        )
    return x[num_prefix_tokens:].reshape(gh, gw, -1), gh, gw


def pos_embed_channels(
    posemb, grid_size, channels: Sequence[int], num_prefix_tokens: int = 0, title: str | None = None
) -> Figure:
    """Show chosen channels of a position embedding as ``gh x gw`` images, one panel per channel.

    Args:
        posemb: ``(1, prefix + gh*gw, D)`` or ``(prefix + gh*gw, D)``, grid tokens in row-major order.
        grid_size: ``(gh, gw)`` (or one int for a square grid).
        channels: indices into ``D``.
        num_prefix_tokens: leading class/register tokens to skip.
        title: figure title.

    Returns:
        A Figure with ``len(channels)`` image Axes (diverging colour map, symmetric around 0).
    """
    grid, gh, gw = _grid_embed(posemb, grid_size, num_prefix_tokens)
    channels = list(channels)
    fig = Figure(figsize=(1.7 * len(channels) + 0.3, 1.9 * max(0.6, gh / gw) + 0.3), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(channels)))
    for ax, c in zip(axes, channels):
        plane = grid[..., c]
        vmax = float(np.abs(plane).max()) or 1.0
        ax.imshow(plane, cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
        ax.set_title(f"channel {c}", fontsize=8)
        _clean(ax)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def cosine_similarity_map(posemb, grid_size, query: tuple[int, int], num_prefix_tokens: int = 0) -> np.ndarray:
    """Cosine similarity between the embedding of grid cell ``query = (row, col)`` and every grid cell.

    Returns:
        ``(gh, gw)`` float64 array in [-1, 1], 1 at ``query``.
    """
    grid, gh, gw = _grid_embed(posemb, grid_size, num_prefix_tokens)
    r, c = query
    if not (0 <= r < gh and 0 <= c < gw):
        raise ValueError(f"query {query} is outside the {gh}x{gw} grid")
    unit = grid / np.maximum(np.linalg.norm(grid, axis=-1, keepdims=True), 1e-12)
    return unit @ unit[r, c]


def pos_embed_similarity(
    posembs: Sequence,
    grid_sizes: Sequence,
    query: tuple[float, float] = (0.5, 0.5),
    titles: Sequence[str] | None = None,
    num_prefix_tokens: int = 0,
    vmin: float | None = -1.0,
) -> Figure:
    """Cosine-similarity maps of one position to all others, for several position embeddings side by side.

    The query is given *relative* to the grid, ``(y, x)`` fractions in [0, 1] (``(0, 0)`` the top-left cell,
    ``(1, 1)`` the bottom-right one), so that the same image location is queried on grids of different sizes,
    e.g. before and after resampling; each panel marks its query cell with a star.

    Args:
        posembs: embeddings, each ``(1, prefix + gh*gw, D)`` or ``(prefix + gh*gw, D)``.
        grid_sizes: one ``(gh, gw)`` per embedding.
        query: relative ``(y, x)`` of the query position.
        titles: one title per panel (default: the grid size).
        num_prefix_tokens: leading class/register tokens to skip (same for all).
        vmin: bottom of the colour scale (the top is 1). ``None``: the smallest similarity in any panel, which
            shows the shape of embeddings whose similarities are all close to 1 (e.g. sin-cos).

    Returns:
        A Figure with one image Axes per embedding and a shared colour bar from ``vmin`` to 1.
    """
    if len(posembs) != len(grid_sizes):
        raise ValueError(f"got {len(posembs)} embeddings but {len(grid_sizes)} grid sizes")
    fy, fx = query
    if not (0 <= fy <= 1 and 0 <= fx <= 1):
        raise ValueError(f"query is a relative (y, x) position in [0, 1]; got {query}")
    maps, cells = [], []
    for posemb, size in zip(posembs, grid_sizes):
        gh, gw = _pair(size)
        cells.append((int(round(fy * (gh - 1))), int(round(fx * (gw - 1)))))
        maps.append(cosine_similarity_map(posemb, (gh, gw), cells[-1], num_prefix_tokens))
    if vmin is None:
        vmin = min(float(m.min()) for m in maps)
    fig = Figure(figsize=(3.0 * len(posembs) + 0.8, 2.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(posembs)))
    image = None
    for k, (ax, sim, cell) in enumerate(zip(axes, maps, cells)):
        gh, gw = sim.shape
        image = ax.imshow(sim, cmap="RdBu_r" if vmin <= -1 else "viridis", vmin=vmin, vmax=1, interpolation="nearest")
        ax.plot(cell[1], cell[0], marker="*", color="white", markersize=12, markeredgecolor="black")
        ax.set_title(titles[k] if titles is not None else f"{gh}×{gw} grid", fontsize=9)
        _clean(ax)
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="cosine similarity")
    return fig


# ----------------------------------------------------------------------------------------------------------------
# Qwen2-VL merge groups


def draw_merge_groups(
    ax: Axes,
    order,
    grid_size,
    merge_size: int = 2,
    image=None,
    number: bool = True,
    alpha: float = 0.55,
    fontsize: float = 6,
) -> Axes:
    """Colour the cells of a patch grid by the merge group they end up in, and number them in sequence order.

    ``order[s]`` is the row-major grid index of the patch at position ``s`` of the model's patch sequence (one
    temporal slice). Qwen2-VL's PatchMerger concatenates every ``merge_size**2`` consecutive patches into one
    LLM token, so position ``s`` belongs to group ``s // merge_size**2``: with the processor's ordering each group
    is a ``merge_size x merge_size`` square; with plain row-major order (``order = arange``) it would be a strip.

    Args:
        ax: where to draw.
        order: ``(gh*gw,)`` ints, a permutation of ``0..gh*gw-1``.
        grid_size: ``(gh, gw)``.
        merge_size: side of a merge block (groups have ``merge_size**2`` patches).
        image: optional ``(H, W, 3)`` frame drawn underneath (stretched over the grid).
        number: write each cell's sequence position ``s``.
        alpha: opacity of the colour layer.
        fontsize: size of the numbers in points.

    Returns:
        ``ax``.
    """
    gh, gw = _pair(grid_size)
    order = as_numpy(order).astype(np.int64).reshape(-1)
    if order.size != gh * gw or not np.array_equal(np.sort(order), np.arange(gh * gw)):
        raise ValueError(f"order must be a permutation of 0..{gh * gw - 1} for a {gh}x{gw} grid; got {order.size} values")
    per_group = merge_size * merge_size
    group = np.empty(gh * gw, dtype=np.int64)
    group[order] = np.arange(gh * gw) // per_group  # group of each cell, row-major
    # tab20 lists each hue twice (dark, light); take the ten dark hues first so that neighbouring groups differ
    hues = np.r_[0:20:2, 1:20:2]
    rgba = colormaps["tab20"](hues[group.reshape(gh, gw) % 20])
    rgba[..., 3] = alpha if image is not None else 1.0
    extent = (-0.5, gw - 0.5, gh - 0.5, -0.5)
    if image is not None:
        ax.imshow(_as_image(image), extent=extent, interpolation="bilinear")
    ax.imshow(rgba, extent=extent, interpolation="nearest", gid="merge-overlay")
    for x in range(1, gw):
        ax.axvline(x - 0.5, color="white", linewidth=0.4, gid="patch-grid")
    for y in range(1, gh):
        ax.axhline(y - 0.5, color="white", linewidth=0.4, gid="patch-grid")
    if number:
        for s, cell in enumerate(order):
            ax.text(cell % gw, cell // gw, str(s), ha="center", va="center", color="white", fontsize=fontsize,
                    path_effects=_OUTLINE, gid="patch-number")
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    _clean(ax)
    return ax


# ----------------------------------------------------------------------------------------------------------------
# Token budgets


def tokens_vs_length(
    seconds,
    counts: Mapping[str, Sequence[float]],
    contexts: Mapping[str, int] | None = None,
    logx: bool = False,
    title: str | None = None,
) -> Figure:
    """Visual tokens against video length, one curve per tokenisation scheme, log-scaled token axis.

    Args:
        seconds: ``(L,)`` video lengths in seconds.
        counts: scheme name -> ``(L,)`` token counts at those lengths.
        contexts: label -> context size in tokens, drawn as dashed horizontal lines (default
            :data:`DEFAULT_CONTEXTS`: 8k, 32k, 128k); ``{}`` for none.
        logx: log-scale the length axis too (then every linear scheme is a straight line of slope 1).
        title: axes title.

    Returns:
        A Figure with one Axes: ``len(counts)`` curves (gid ``"scheme"``) and ``len(contexts)`` lines
        (gid ``"context"``).
    """
    seconds = as_numpy(seconds).astype(np.float64)
    contexts = DEFAULT_CONTEXTS if contexts is None else contexts
    fig = Figure(figsize=(7.0, 4.0), layout="constrained")
    ax = fig.add_subplot()
    for name, values in counts.items():
        values = as_numpy(values).astype(np.float64)
        if values.shape != seconds.shape:
            raise ValueError(f"counts[{name!r}] has shape {values.shape}; expected {seconds.shape} like seconds")
        ax.plot(seconds, values, linewidth=2, label=name, gid="scheme")
    for label, size in contexts.items():
        ax.axhline(size, color="gray", linestyle="--", linewidth=1, gid="context")
        ax.annotate(f"{label} context", xy=(0.01, size), xycoords=("axes fraction", "data"),
                    xytext=(0, 2), textcoords="offset points", fontsize=8, color="gray", va="bottom")
    ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
        ticks = [t for t in (1, 10, 60, 600, 3600, 36000) if seconds.min() <= t <= seconds.max()]
        names = {1: "1 s", 10: "10 s", 60: "1 min", 600: "10 min", 3600: "1 h", 36000: "10 h"}
        ax.set_xticks(ticks, [names[t] for t in ticks])
    ax.set_xlabel("video length" + ("" if logx else " (s)"))
    ax.set_ylabel("visual tokens (log scale)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    if title:
        ax.set_title(title)
    return fig
