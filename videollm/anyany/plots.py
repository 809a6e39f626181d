"""Unit 07 — figures: NExT-GPT's diagram with the course's sizes, an InfoNCE similarity matrix, the retrieval bars,
and pictures drawn from captions and from signal tokens.

Each function returns a new ``matplotlib.figure.Figure`` (pyplot untouched). Artists carry a ``gid``: ``"box"``
(a block of the diagram), ``"arrow"``, ``"diagonal"`` (the positive pairs of the matrix), ``"bar"`` and ``"chance"``.

Lecture: `lectures/07_next_gpt.ipynb` §1, §3, §4, §6.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

#: Block colours by role: frozen, trained, and the LLM.
ROLE_COLOURS = {"frozen": "#dfe7f2", "trained": "#f9d9c4", "llm": "#e4f1dc"}


def architecture(sizes: dict[str, str] | None = None) -> Figure:
    """NExT-GPT as the slide draws it: encoders -> input projection -> LLM -> output projections -> decoders, each
    block labelled with NExT-GPT's component and, under it, the course's (``sizes``: block name -> text)."""
    sizes = sizes or {}
    blocks = [  # name, x, y, text, role
        ("encoders", 0.02, 0.35, "ImageBind\n(frozen)", "frozen"),
        ("input projection", 0.21, 0.35, "input\nprojection", "trained"),
        ("LLM", 0.40, 0.35, "LLM\n(Vicuna-7B + LoRA)", "llm"),
        ("output projections", 0.61, 0.35, "output\nprojections", "trained"),
        ("decoders", 0.80, 0.35, "SD / AudioLDM /\nZeroscope (frozen)", "frozen"),
    ]
    fig = Figure(figsize=(10, 3.4))
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_axis_off()
    for name, x, y, text, role in blocks:
        ax.add_patch(FancyBboxPatch((x, y), 0.17, 0.3, boxstyle="round,pad=0.01", fc=ROLE_COLOURS[role], ec="black",
                                    gid="box"))
        ax.text(x + 0.085, y + 0.15, text, ha="center", va="center", fontsize=9)
        if name in sizes:
            ax.text(x + 0.085, y - 0.08, sizes[name], ha="center", va="top", fontsize=7.5, color="#444444")
    for (_, x0, y0, *_), (_, x1, *_) in zip(blocks, blocks[1:]):
        ax.add_patch(FancyArrowPatch((x0 + 0.175, y0 + 0.15), (x1 - 0.005, y0 + 0.15), arrowstyle="->",
                                     mutation_scale=12, gid="arrow"))
    ax.text(0.02, 0.93, "text, image, audio, video in", fontsize=9)
    ax.text(0.98, 0.93, "text + image, audio, video out", fontsize=9, ha="right")
    ax.text(0.5, 0.78, "[IMG0..3]  [AUD0..7]  [VID0..23]: signal tokens the LLM writes", fontsize=8.5, ha="left",
            color="tab:red")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    return fig


def similarity_matrix(logits: torch.Tensor, row_labels: Sequence[str], col_labels: Sequence[str],
                      title: str = "") -> Figure:
    """A batch's ``(B, B)`` logit matrix with the positive pairs (the diagonal) outlined: InfoNCE's picture, each row
    a softmax over its columns."""
    values = logits.detach().cpu().float().numpy()
    b = len(values)
    fig = Figure(figsize=(1.2 + 0.55 * b, 0.9 + 0.5 * b))
    ax = fig.add_subplot()
    ax.imshow(values, cmap="viridis")
    for i in range(b):
        ax.add_patch(FancyBboxPatch((i - 0.5, i - 0.5), 1, 1, boxstyle="square,pad=0", fill=False, ec="red", lw=1.5,
                                    gid="diagonal"))
        for j in range(b):
            ax.text(j, i, f"{values[i, j]:.0f}", ha="center", va="center", fontsize=7, color="white")
    ax.set_yticks(range(b), row_labels, fontsize=7)
    ax.set_xticks(range(b), col_labels, fontsize=7, rotation=60, ha="right")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def retrieval_bars(rows: Sequence[dict], k: int = 1) -> Figure:
    """Recall@``k`` of each row of :func:`videollm.anyany.bind.evaluate` as bars, chance as a line."""
    chance = next(r for r in rows if r["row"] == "chance")
    rest = [r for r in rows if r["row"] != "chance"]
    fig = Figure(figsize=(7, 3.2))
    ax = fig.add_subplot()
    colours = ["tab:gray" if "video" in r["row"] else "tab:red" if "emergent" in r["row"] else
               "tab:orange" if "learnable" in r["row"] else "tab:blue" for r in rest]
    ax.barh(range(len(rest)), [r[f"R@{k}"] for r in rest], color=colours, gid="bar")
    ax.axvline(chance[f"R@{k}"], color="black", ls=":", gid="chance", label=f"chance ({chance[f'R@{k}']:.1f}%)")
    ax.set_yticks(range(len(rest)), [r["row"] for r in rest], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"Recall@{k} (%), gallery of {chance['gallery']} captions")
    ax.set_xlim(0, 100)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def picture_rows(rows: dict[str, torch.Tensor], captions: Sequence[str], verdicts: dict[str, Sequence[bool]] | None
                 = None) -> Figure:
    """Pictures in rows (``{row name: (N, 3, S, S) uint8}``), one column per caption; a verdict (``True`` = the judge
    read the caption back) is written under each picture when given."""
    names = list(rows)
    n = len(captions)
    fig = Figure(figsize=(1.3 * n, 1.5 * len(names) + 0.3))
    for r, name in enumerate(names):
        images = rows[name].permute(0, 2, 3, 1).cpu().numpy()
        for c in range(n):
            ax = fig.add_subplot(len(names), n, r * n + c + 1)
            ax.imshow(images[c], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(captions[c], fontsize=7)
            if c == 0:
                ax.set_ylabel(name, fontsize=7)
            if verdicts and name in verdicts:
                ax.set_xlabel("✓" if verdicts[name][c] else "✗", fontsize=9,
                              color="tab:green" if verdicts[name][c] else "tab:red")
    fig.tight_layout()
    return fig


def spectrogram(mel: torch.Tensor, title: str = "") -> Figure:
    """A ``(204, 128)`` log-mel (time x mel bin) as an image, low frequencies at the bottom."""
    fig = Figure(figsize=(6, 2.4))
    ax = fig.add_subplot()
    ax.imshow(np.asarray(mel.cpu()).T, origin="lower", aspect="auto", cmap="magma", extent=(0, 2.04, 0, 128))
    ax.set_xlabel("seconds")
    ax.set_ylabel("mel bin")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


__all__ = ["architecture", "picture_rows", "retrieval_bars", "similarity_matrix", "spectrogram"]
