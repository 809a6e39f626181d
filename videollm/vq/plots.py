"""Unit 02 — pictures: Voronoi cells of a codebook, straight-through gradients, code usage,
training curves, reconstructions and token maps.

Every function either draws on an ``Axes`` you pass (``draw_*``, returns that Axes) or builds and returns a new
``matplotlib.figure.Figure``; nothing calls ``plt.show()``. Inputs may be NumPy arrays or torch tensors on any
device; images are ``(N, 3, H, W)`` float in [0, 1] as PyTorch stores them.

Lecture: `lectures/02_vq_tokenization.ipynb` §1–4, §7.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from videollm.arrays import as_numpy

__all__ = ["draw_voronoi", "draw_straight_through", "usage_histograms", "history_curves", "reconstruction_rows",
           "draw_token_map"]


def _nearest(points: np.ndarray, codes: np.ndarray) -> np.ndarray:
    d = (points ** 2).sum(1, keepdims=True) - 2 * points @ codes.T + (codes ** 2).sum(1)
    return d.argmin(1)


def draw_voronoi(ax: Axes, points, codes, colors=None, resolution: int = 300, point_size: float = 6,
                 cells: bool = True) -> Axes:
    """2-D ``points`` ``(N, 2)`` and ``codes`` ``(K, 2)``: each code's Voronoi cell shaded (unless ``cells`` is
    False, e.g. for a 2-D view of higher-dimensional codes), points coloured by their nearest code (or by
    ``colors``, ``(N, 3)`` in [0, 1]), codes as black-rimmed stars."""
    points, codes = as_numpy(points).astype(np.float64), as_numpy(codes).astype(np.float64)
    both = np.concatenate([points, codes])
    lo, hi = both.min(0), both.max(0)
    pad = 0.08 * (hi - lo + 1e-9)
    lo, hi = lo - pad, hi + pad
    xs, ys = np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
    cmap = colormaps["tab20"]
    if cells:
        owner = _nearest(grid, codes).reshape(resolution, resolution)
        ax.imshow(owner % 20, origin="lower", extent=(lo[0], hi[0], lo[1], hi[1]), cmap=cmap, vmin=0, vmax=19,
                  alpha=0.25, aspect="auto", interpolation="nearest", gid="voronoi-cells")
    if colors is None:
        colors = cmap(_nearest(points, codes) % 20)
    ax.scatter(points[:, 0], points[:, 1], s=point_size, c=colors, linewidths=0, gid="latents")
    ax.scatter(codes[:, 0], codes[:, 1], s=140, marker="*", c="white", edgecolors="black", linewidths=1.2,
               zorder=3, gid="codes")
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    return ax


def draw_straight_through(ax: Axes, z, q, grad, scale: float = 1.0) -> Axes:
    """Latents ``z`` ``(N, 2)``, their codes ``q`` ``(N, 2)`` and the gradient ``(N, 2)`` of the loss at ``q``.

    Grey segments join each latent to its code; the red arrows are the gradient step ``-grad`` drawn once at the
    code (where it was computed) and once at the latent (where the straight-through estimator copies it).
    """
    z, q, grad = (as_numpy(a).astype(np.float64) for a in (z, q, grad))
    step = -scale * grad
    for a, b in zip(z, q):
        ax.plot([a[0], b[0]], [a[1], b[1]], color="0.6", lw=1, zorder=1)
    ax.scatter(q[:, 0], q[:, 1], s=140, marker="*", c="white", edgecolors="black", zorder=3, label="code q")
    ax.scatter(z[:, 0], z[:, 1], s=30, c="tab:blue", zorder=3, label="latent z")
    kw = dict(angles="xy", scale_units="xy", scale=1, width=0.006, zorder=4)
    ax.quiver(q[:, 0], q[:, 1], step[:, 0], step[:, 1], color="tab:red", alpha=0.45, gid="grad-at-code", **kw)
    ax.quiver(z[:, 0], z[:, 1], step[:, 0], step[:, 1], color="tab:red", gid="grad-at-latent", **kw)
    ax.set_aspect("equal")
    ax.legend(loc="best", fontsize=8)
    return ax


def usage_histograms(usages: Mapping[str, object], perplexities: Mapping[str, float] | None = None,
                     width: float = 3.2, height: float = 2.6) -> Figure:
    """One panel per quantiser: the share of latents each code receives (``(K,)``), codes sorted from most to
    least used, with the perplexity in the title. A collapsed codebook is a spike at the left and zeros after."""
    fig = Figure(figsize=(width * len(usages), height), layout="constrained")
    axes = fig.subplots(1, len(usages), squeeze=False)[0]
    for ax, (name, usage) in zip(axes, usages.items()):
        u = np.sort(as_numpy(usage).astype(np.float64))[::-1]
        ax.bar(np.arange(len(u)), u, width=1.0, color="tab:blue", gid="usage")
        used = int((u > 0).sum())
        title = f"{name}\n{used}/{len(u)} codes used"
        if perplexities is not None and name in perplexities:
            title += f", perplexity {perplexities[name]:.0f}"
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("code (sorted by use)")
        ax.set_yscale("log")
        ax.set_ylim(1e-4, 1)
    axes[0].set_ylabel("share of latents")
    return fig


def history_curves(histories: Mapping[str, Mapping[str, Sequence[float]]], keys: Sequence[str] = ("psnr", "perplexity"),
                   smooth: int = 10, width: float = 4.5, height: float = 3.0) -> Figure:
    """Training curves of several runs, one panel per history key, smoothed with a running mean of ``smooth``."""
    labels = {"psnr": "PSNR on the batch (dB)", "perplexity": "perplexity (codes in use)", "loss": "loss",
              "usage": "share of codes used in the batch", "recon_loss": "reconstruction MSE"}
    fig = Figure(figsize=(width * len(keys), height), layout="constrained")
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    for ax, key in zip(axes, keys):
        for name, history in histories.items():
            y = np.asarray(history[key], dtype=np.float64)
            if smooth > 1 and len(y) >= smooth:
                y = np.convolve(y, np.ones(smooth) / smooth, mode="valid")
            ax.plot(np.arange(len(y)) + 1, y, label=name, gid=f"curve-{key}")
        ax.set_xlabel("step")
        ax.set_ylabel(labels.get(key, key))
    axes[0].legend(fontsize=8)
    return fig


def reconstruction_rows(rows: Mapping[str, object], n: int = 8, size: float = 1.2) -> Figure:
    """A grid of frames: one row per entry of ``rows`` (label -> ``(N, 3, H, W)`` in [0, 1]), ``n`` columns."""
    fig = Figure(figsize=(size * n + 1.2, size * len(rows)), layout="constrained")
    axes = fig.subplots(len(rows), n, squeeze=False)
    for r, (label, frames) in enumerate(rows.items()):
        images = np.clip(as_numpy(frames)[:n].transpose(0, 2, 3, 1), 0, 1)
        for c in range(n):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(images):
                ax.imshow(images[c], interpolation="nearest")
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    return fig


def draw_token_map(ax: Axes, indices, numbers: bool = True) -> Axes:
    """A ``(h, w)`` grid of token ids as coloured cells, with the ids written in."""
    ids = as_numpy(indices)
    ax.imshow(ids % 20, cmap="tab20", vmin=0, vmax=19, interpolation="nearest", gid="token-map")
    if numbers:
        for (y, x), value in np.ndenumerate(ids):
            ax.text(x, y, str(int(value)), ha="center", va="center", fontsize=7, gid="token-id")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax
