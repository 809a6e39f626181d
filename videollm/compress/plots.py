"""Unit 06 — figures: accuracy against the kept-token budget, and which tokens each method keeps.

Each function returns a new ``matplotlib.figure.Figure`` (pyplot untouched). Artists carry a ``gid``: ``"curve"``
(a method's accuracy line), ``"interval"`` (AdaReTaKe's shaded 95% interval), ``"random"``, ``"kept"`` (the
kept-token map) and ``"needle"`` (an outlined temporal patch).

Lecture: `lectures/06_adaretake.ipynb` §8.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

#: One colour and line style per method, the same in every figure.
STYLES = {"full": ("black", "-"), "adaretake": ("tab:red", "-"), "temporal only": ("tab:orange", "--"),
          "layers only": ("tab:pink", "--"), "attention top-k": ("tab:purple", "-."),
          "random eviction": ("tab:gray", ":"), "uniform frames": ("tab:blue", "-"),
          "uniform tokens": ("tab:cyan", "-."), "dpselect keyframes": ("tab:green", "-")}


def budget_curves(rows: Sequence[dict], suite: str | None = None) -> Figure:
    """Accuracy (and its 95% interval, shaded) against the kept share of the video's KV entries, one line per
    method, from :func:`videollm.compress.benchmark.budget_table`'s rows (of ``suite``, default the first); the
    uncompressed model at budget 1 starts every line, and random guessing is dotted."""
    suite = suite or rows[0]["suite"]
    rows = [r for r in rows if r["suite"] == suite]
    full = next(r for r in rows if r["method"] == "full")
    fig = Figure(figsize=(7, 4.2))
    ax = fig.add_subplot()
    for method in dict.fromkeys(r["method"] for r in rows if r["method"] != "full"):
        points = [full] + sorted((r for r in rows if r["method"] == method), key=lambda r: -r["ratio"])
        x = [100 * r["kept"] for r in points]
        colour, style = STYLES.get(method, ("black", "-"))
        ax.plot(x, [r["score"] for r in points], style, color=colour, marker="o", ms=3, label=method, gid="curve")
        if method == "adaretake":
            ax.fill_between(x, [r["ci"][0] for r in points], [r["ci"][1] for r in points], color=colour, alpha=0.12,
                            gid="interval")
    ax.axhline(full["random"], color="black", lw=0.8, ls=":", label="random", gid="random")
    ax.set_xscale("log", base=2)
    ax.set_xticks([12.5, 25, 50, 100], ["12.5%", "25%", "50%", "100%"])
    ax.set_xlabel("video KV entries kept (log scale)")
    ax.set_ylabel("accuracy (%)" if full["metric"] == "accuracy" else "M-Avg")
    ax.set_title(f"{suite}: {full['n']} questions; AdaReTaKe's 95% interval shaded")
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    fig.tight_layout()
    return fig


def kept_tokens(kept: dict[str, torch.Tensor], grid: tuple[int, int, int], marked: Sequence[int] = ()) -> Figure:
    """Which video tokens each method keeps: one row per method, one column per temporal patch, the share of the
    patch's tokens kept (averaged over layers). ``kept``: ``{method: (layers, t * h * w) bool}``; ``marked``:
    temporal patches to outline (the needle's)."""
    t = grid[0]
    names = list(kept)
    share = np.stack([kept[m].float().view(kept[m].shape[0], t, -1).mean((0, 2)).numpy() for m in names])
    fig = Figure(figsize=(7, 0.35 * len(names) + 1.2))
    ax = fig.add_subplot()
    ax.imshow(share, aspect="auto", cmap="magma", vmin=0, vmax=1, interpolation="nearest", gid="kept")
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel("temporal patch (2 frames)")
    for p in marked:
        ax.add_patch(Rectangle((p - 0.5, -0.5), 1, len(names), fill=False, ec="cyan", lw=1.5, gid="needle"))
    ax.set_title("share of each temporal patch's tokens kept (cyan: the cut-away)")
    fig.tight_layout()
    return fig
