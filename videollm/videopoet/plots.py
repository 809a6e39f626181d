"""Unit 08 — figures: every task's token layout, a clip with its sound, which frames a convolution reads, LFQ's
cube of codes, level-major audio ids, the prefix-LM mask, the task mixture's losses, and what a long sequence
costs.

Each function returns a new ``matplotlib.figure.Figure`` (pyplot untouched) and takes tensors or numpy arrays.
Artists carry a ``gid``: ``"prefix"`` (the end of a sequence's conditioning), ``"token-run"`` (a run of tokens of
one kind), ``"waveform"``, ``"corner"`` (a code of the LFQ cube) and ``"level"`` (an audio level's ids).

Token kinds and their colours (:data:`KIND_COLOURS`): ``special`` (boundary, task, source and resolution tokens),
``text`` (the ``<text>`` slots that receive text embeddings), ``visual`` and ``audio`` codes.

Lecture: `lectures/08_videopoet.ipynb` §1, §2, §3, §4, §5, §6.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from videollm.arrays import as_numpy
from videollm.videopoet.sequence import Sequence as TokenSequence
from videollm.videopoet.tokens import Vocabulary

#: One colour per kind of token.
KIND_COLOURS = {"special": "#9e9e9e", "text": "#f4a259", "visual": "#5b8e7d", "audio": "#8e5b9e"}
#: One colour per residual-VQ level.
LEVEL_COLOURS = ("#3b6fb6", "#e07b39", "#4c9a4c", "#b8475a", "#7d5ba6", "#8c6d31")


def token_kinds(sequence: TokenSequence, vocab: Vocabulary) -> list[str]:
    """The kind of each id of ``sequence``: ``"special"``, ``"text"``, ``"visual"`` or ``"audio"``."""
    ids = as_numpy(sequence.ids)
    text = as_numpy(sequence.text).astype(bool)
    kinds = np.where(ids >= vocab.audio_offset, "audio", np.where(ids >= vocab.visual_offset, "visual", "special"))
    return list(np.where(text, "text", kinds))


def _runs(kinds: Sequence[str]) -> list[tuple[int, int, str]]:
    """``(start, length, kind)`` of each run of equal kinds."""
    runs: list[tuple[int, int, str]] = []
    for i, kind in enumerate(kinds):
        if runs and runs[-1][2] == kind:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1, kind)
        else:
            runs.append((i, 1, kind))
    return runs


def task_layouts(sequences: Mapping[str, TokenSequence], vocab: Vocabulary) -> Figure:
    """One row per task: each token a unit-wide block coloured by its kind, runs of text, visual and audio tokens
    labelled with their length, and a black line where the conditioning prefix ends (generation starts there)."""
    names = list(sequences)
    longest = max(len(s.ids) for s in sequences.values())
    fig = Figure(figsize=(11, 0.5 * len(names) + 1.2))
    ax = fig.add_subplot()
    for row, name in enumerate(names):
        seq = sequences[name]
        for start, length, kind in _runs(token_kinds(seq, vocab)):
            ax.add_patch(Rectangle((start, row - 0.38), length, 0.76, fc=KIND_COLOURS[kind], ec="white", lw=0.3,
                                   gid="token-run"))
            if kind != "special" and length >= 4:
                ax.text(start + length / 2, row, str(length), ha="center", va="center", fontsize=7, color="white")
        ax.plot([seq.prefix, seq.prefix], [row - 0.48, row + 0.48], color="black", lw=2, gid="prefix")
        ax.text(len(seq.ids) + 1, row, f"{len(seq.ids)} tokens, prefix {seq.prefix}", va="center", fontsize=7)
    for kind, colour in KIND_COLOURS.items():
        ax.add_patch(Rectangle((0, 0), 0, 0, fc=colour, label=kind))
    ax.plot([], [], color="black", lw=2, label="end of the prefix")
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlim(0, longest * 1.22)
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_xlabel("position in the sequence")
    ax.legend(fontsize=7, ncol=5, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def clip_and_sound(frames, audio, sample_rate: int, fps: float, caption: str = "", every: int = 4) -> Figure:
    """Every ``every``-th frame of a clip ``(T, H, W, 3)`` uint8 (or ``(T, 3, H, W)`` float in [0, 1]) over its
    sound track ``(S,)``, with a tick on the waveform at each frame shown."""
    frames = as_numpy(frames)
    if frames.shape[-1] != 3:
        frames = frames.transpose(0, 2, 3, 1)
    audio = as_numpy(audio)
    shown = list(range(0, len(frames), every))
    fig = Figure(figsize=(1.4 * len(shown), 3.2))
    grid = fig.add_gridspec(2, len(shown), height_ratios=(1.3, 1))
    for col, t in enumerate(shown):
        ax = fig.add_subplot(grid[0, col])
        ax.imshow(frames[t], interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"frame {t} ({t / fps:.2f} s)", fontsize=7)
    wave = fig.add_subplot(grid[1, :])
    seconds = np.arange(len(audio)) / sample_rate
    wave.plot(seconds, audio, lw=0.4, color="tab:blue", gid="waveform")
    for t in shown:
        wave.axvline(t / fps, color="gray", lw=0.6, ls=":")
    wave.set_xlim(0, len(audio) / sample_rate)
    wave.set_xlabel("seconds")
    wave.set_yticks([])
    fig.suptitle(caption, fontsize=9)
    fig.tight_layout()
    return fig


def temporal_reads(reads: Mapping[str, object], pad: Mapping[str, tuple[int, int]] | None = None) -> Figure:
    """For each convolution (``{name: (T_out, T_in)}``, nonzero where output frame ``j`` depends on input frame
    ``i``), a grid of output rows by input columns. ``pad[name] = (before, after)`` adds grey columns for the
    padding frames on each side (drawn, not read from the matrix). In a square grid (stride 1) cell ``(j, j)`` is
    outlined: right of it lies the future of output frame ``j``."""
    names = list(reads)
    pad = pad or {}
    fig = Figure(figsize=(3.6 * len(names), 3.3))
    for k, name in enumerate(names):
        matrix = (np.abs(as_numpy(reads[name])) > 0).astype(float)
        rows, cols = matrix.shape
        before, after = pad.get(name, (0, 0))
        ax = fig.add_subplot(1, len(names), k + 1)
        ax.imshow(matrix, cmap="Greens", vmin=0, vmax=1.4, extent=(-0.5, cols - 0.5, rows - 0.5, -0.5),
                  aspect="equal" if 2 * rows >= cols else "auto")
        for x in [-1 - j for j in range(before)] + [cols + j for j in range(after)]:
            ax.add_patch(Rectangle((x - 0.5, -0.5), 1, rows, fc="#dddddd", ec="white", gid="padding"))
        for j in range(rows if rows == cols else 0):
            ax.add_patch(Rectangle((j - 0.5, j - 0.5), 1, 1, fill=False, ec="black", lw=1))
        ax.set_xlim(-0.5 - before, cols - 0.5 + after)
        ax.set_ylim(rows - 0.5, -0.5)
        ax.set_xlabel("input frame" + (" (grey: padding)" if before or after else ""), fontsize=8)
        ax.set_ylabel("output frame", fontsize=8)
        ax.set_title(name, fontsize=9)
    fig.tight_layout()
    return fig


def clip_rows(rows: Mapping[str, object], frames: Sequence[int], size: float = 1.1) -> Figure:
    """Clips in rows (``{name: (T, 3, H, W)}`` float in [0, 1]), the same ``frames`` of each in columns."""
    names = list(rows)
    fig = Figure(figsize=(size * len(frames) + 0.6, size * len(names) + 0.4))
    for r, name in enumerate(names):
        video = np.clip(as_numpy(rows[name]), 0, 1).transpose(0, 2, 3, 1)
        for c, t in enumerate(frames):
            ax = fig.add_subplot(len(names), len(frames), r * len(frames) + c + 1)
            ax.imshow(video[t], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"frame {t}", fontsize=7)
            if c == 0:
                ax.set_ylabel(name, fontsize=7)
    fig.tight_layout()
    return fig


def lfq_cube(codes, labels: Mapping[str, object]) -> Figure:
    """The ``2^3`` LFQ codes ``(8, 3)`` of ``{-1, +1}`` as the corners of a cube, one 3-D panel per labelling
    (``{name: (8,) indices}``: the index each convention gives corner ``i``)."""
    codes = as_numpy(codes)
    fig = Figure(figsize=(4.6 * len(labels), 4.6))
    edges = [(a, b) for a in range(len(codes)) for b in range(a + 1, len(codes))
             if np.abs(codes[a] - codes[b]).sum() == 2]                       # corners one sign apart
    for k, (name, index) in enumerate(labels.items()):
        ax = fig.add_subplot(1, len(labels), k + 1, projection="3d")
        for a, b in edges:
            ax.plot(*zip(codes[a], codes[b]), color="#bbbbbb", lw=1)
        ax.scatter(*codes.T, s=60, c="tab:red", depthshade=False, gid="corner")
        for corner, i in zip(codes, as_numpy(index)):
            bits = "".join("1" if v > 0 else "0" for v in corner)
            ax.text(*(corner * 1.2), f"{int(i)}\n({bits})", fontsize=8, ha="center", va="center")
        for axis in range(codes.shape[1]):                                   # name each axis by its edge
            where = np.full(codes.shape[1], -1.45)
            where[axis] = 0.0
            ax.text(*where, f"channel {axis}", fontsize=8, color="tab:blue", ha="center")
        ax.set_axis_off()
        ax.set_title(name, fontsize=9)
    fig.text(0.5, 0.02, "labels: index (signs of channels 0, 1, 2 as bits)", ha="center", fontsize=8)
    return fig


def level_major_layout(codes, ids, codebook_size: int) -> Figure:
    """Residual-VQ codes ``(F, L)`` as a grid (levels in rows, frames in columns), and below it the level-major
    ids ``(L * F,)`` they become, each coloured by its level and written as an id."""
    codes, ids = as_numpy(codes), as_numpy(ids)
    frames, levels = codes.shape
    fig = Figure(figsize=(max(6.0, 0.42 * len(ids)), 3.2))
    top, bottom = fig.subplots(2, 1, height_ratios=(levels, 1.6))
    for level in range(levels):
        colour = LEVEL_COLOURS[level % len(LEVEL_COLOURS)]
        for f in range(frames):
            top.add_patch(Rectangle((f, level), 1, 1, fc=colour, ec="white", alpha=0.85))
            top.text(f + 0.5, level + 0.5, str(int(codes[f, level])), ha="center", va="center", fontsize=7,
                     color="white")
        for f in range(frames):
            p = level * frames + f
            bottom.add_patch(Rectangle((p, 0), 1, 1, fc=colour, ec="white", gid="level"))
            bottom.text(p + 0.5, 0.5, str(int(ids[p])), ha="center", va="center", fontsize=6, color="white",
                        rotation=90)
    top.set_xlim(0, frames)
    top.set_ylim(levels, 0)
    top.set_yticks(np.arange(levels) + 0.5, [f"level {l}" for l in range(levels)], fontsize=7)
    top.set_xticks(np.arange(frames) + 0.5, range(frames), fontsize=7)
    top.set_xlabel("audio frame (codes in [0, %d))" % codebook_size, fontsize=8)
    bottom.set_xlim(0, len(ids))
    bottom.set_ylim(0, 1)
    bottom.set_yticks([])
    bottom.set_xticks([])
    bottom.set_xlabel("the sequence: all of level 0, then level 1, ... (id = level x codebook + code)", fontsize=8)
    fig.tight_layout()
    return fig


def attention_mask(mask, labels: Sequence[str], prefix: int) -> Figure:
    """A ``(L, L)`` attention mask (``True`` or 0 where query ``i`` may read key ``j``; an additive float mask is
    read as allowed where it is 0) with the token names on both axes and the prefix's end marked."""
    mask = as_numpy(mask)
    allowed = mask == 0 if mask.dtype.kind == "f" else mask.astype(bool)
    n = len(labels)
    fig = Figure(figsize=(0.32 * n + 1.8, 0.32 * n + 1.4))
    ax = fig.add_subplot()
    ax.imshow(allowed, cmap="Blues", vmin=0, vmax=1.3)
    ax.axvline(prefix - 0.5, color="tab:red", lw=1.5, gid="prefix")
    ax.axhline(prefix - 0.5, color="tab:red", lw=1.5)
    ax.set_xticks(range(n), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(n), labels, fontsize=7)
    ax.set_xlabel("key j (read)")
    ax.set_ylabel("query i (reads)")
    ax.set_title("blue: i may read j; red: end of the prefix", fontsize=9)
    fig.tight_layout()
    return fig


def spectrogram_rows(rows: Mapping[str, object], seconds: float) -> Figure:
    """Spectrograms in rows (``{name: (frames, bins)}``, low bins at the bottom), sharing one colour scale."""
    names = list(rows)
    arrays = {name: as_numpy(rows[name]) for name in names}
    low = min(float(a.min()) for a in arrays.values())
    high = max(float(a.max()) for a in arrays.values())
    fig = Figure(figsize=(7, 1.3 * len(names) + 0.5))
    axes = fig.subplots(len(names), 1, sharex=True, squeeze=False)[:, 0]
    for ax, name in zip(axes, names):
        a = arrays[name]
        ax.imshow(a.T, origin="lower", aspect="auto", cmap="magma", vmin=low, vmax=high, interpolation="nearest",
                  extent=(0, seconds, 0, a.shape[1]))
        ax.set_ylabel(name, fontsize=7)
        ax.set_yticks([])
    axes[-1].set_xlabel("seconds")
    fig.tight_layout()
    return fig


def sequence_costs(lengths: Mapping[str, int]) -> Figure:
    """Two log-scale bar charts of ``{name: tokens}``: the sequential steps an autoregressive model takes (one per
    token) and the query-key pairs of one full attention layer over the sequence (``tokens^2``)."""
    names = list(lengths)
    n = np.array([lengths[k] for k in names], dtype=float)
    fig = Figure(figsize=(9, 0.5 * len(names) + 1.6))
    steps, pairs = fig.subplots(1, 2, sharey=True)
    for ax, values, title in ((steps, n, "sequential steps (one per token)"),
                              (pairs, n ** 2, "attention pairs per layer (tokens²)")):
        ax.barh(range(len(names)), values, color="tab:blue")
        for i, v in enumerate(values):
            ax.text(v, i, f" {v:,.0f}", va="center", fontsize=7)
        ax.set_xscale("log")
        ax.set_xlim(1, values.max() * 30)
        ax.set_title(title, fontsize=9)
    steps.set_yticks(range(len(names)), names, fontsize=8)
    steps.invert_yaxis()
    fig.tight_layout()
    return fig


__all__ = ["KIND_COLOURS", "LEVEL_COLOURS", "attention_mask", "clip_and_sound", "clip_rows", "level_major_layout",
           "lfq_cube", "sequence_costs", "spectrogram_rows", "task_layouts", "temporal_reads", "token_kinds"]


def task_losses(history: Mapping[str, Sequence], window: int = 25) -> Figure:
    """Each task's training loss (a moving average over its last ``window`` steps) against the training step, from a
    history of ``task`` and ``loss`` per step (one task per step)."""
    tasks, losses = list(history["task"]), np.asarray(history["loss"], dtype=float)
    fig = Figure(figsize=(7, 3.2))
    ax = fig.add_subplot()
    for name in dict.fromkeys(tasks):
        steps = np.array([i for i, t in enumerate(tasks) if t == name])
        values = losses[steps]
        smooth = np.convolve(values, np.ones(window) / window, mode="valid") if len(values) >= window else values
        ax.plot(steps[len(steps) - len(smooth):], smooth, label=name.replace("_", " "), lw=1.2)
    ax.set_xlabel("training step")
    ax.set_ylabel("loss per output token (nats)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig
