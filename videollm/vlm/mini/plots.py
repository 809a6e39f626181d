"""Unit 05 — pictures of the mini video LLM: what its vision tower sees (linear probe), how each training stage's
loss falls, accuracy against the number of input frames, and the eyes-or-lookup test.

Every function takes numbers that :mod:`videollm.vlm.mini.sight`, :mod:`~videollm.vlm.mini.train` or
:mod:`~videollm.vlm.mini.evaluate` computed and returns a new ``matplotlib.figure.Figure`` (pyplot untouched).
Artists carry a ``gid``: ``"probe"`` (a probe bar), ``"majority"`` (the commonest-class line), ``"loss"`` (a
stage's loss curve), ``"curve"`` (a suite's accuracy against frames, or a readout against steps), ``"oracle"`` and
``"random"``.

Lecture: `lectures/05_llava_ov_qwen2_vl.ipynb` §12.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure


def probe_bars(results: Mapping[str, Mapping[str, Mapping[str, float]]], title: str | None = None) -> Figure:
    """Grouped bars of linear-probe accuracy per label, one bar per tower.

    Args:
        results: ``{tower name: probe result}``, each :func:`videollm.vlm.mini.sight.probe`'s
            ``{label: {"accuracy", "majority", ...}}`` (e.g. ``{"pre-trained": ..., "random init": ...}``).
    """
    towers = list(results)
    if not towers:
        raise ValueError("results is empty: pass {tower name: sight.probe(...)}")
    labels = list(results[towers[0]])
    fig = Figure(figsize=(1.6 + 1.5 * len(labels), 3.2))
    ax = fig.add_subplot()
    width = 0.8 / len(towers)
    x = np.arange(len(labels))
    for i, tower in enumerate(towers):
        values = [results[tower][label]["accuracy"] for label in labels]
        bars = ax.bar(x + (i - (len(towers) - 1) / 2) * width, values, width, label=tower, gid="probe")
        ax.bar_label(bars, fmt="%.0f", fontsize=8)
    for j, label in enumerate(labels):
        ax.hlines(results[towers[0]][label]["majority"], j - 0.45, j + 0.45, colors="k", linestyles="--",
                  gid="majority", label="commonest class" if j == 0 else None)
    ax.set_xticks(x, [f"{label}\n({results[towers[0]][label].get('cells', 0)} cells)" for label in labels])
    ax.set_ylabel("probe accuracy on new scenes (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title or "Linear probe of the vision tower's patch features")
    fig.tight_layout()
    return fig


def stage_losses(history: Mapping[str, Mapping[str, Sequence[float]]], smooth: int = 10) -> Figure:
    """One panel per training stage (``sight``, ``align``, ``instruct`` as present): the loss per step and its
    running mean over ``smooth`` steps."""
    stages = [s for s in ("sight", "align", "instruct") if len(history.get(s, {}).get("loss", ()))]
    if not stages:
        raise ValueError(f"history has no stage with steps; expected some of sight, align, instruct, got "
                         f"{list(history)}")
    titles = {"sight": "1. vision pre-training", "align": "2. caption alignment", "instruct": "3. instructions"}
    fig = Figure(figsize=(3.4 * len(stages), 2.8))
    for i, stage in enumerate(stages):
        ax = fig.add_subplot(1, len(stages), i + 1)
        loss = np.asarray(history[stage]["loss"], dtype=float)
        ax.plot(loss, color="0.75", lw=0.8)
        k = max(1, min(smooth, len(loss)))
        ax.plot(np.arange(k - 1, len(loss)), np.convolve(loss, np.ones(k) / k, mode="valid"), gid="loss")
        ax.set_title(titles[stage], fontsize=10)
        ax.set_xlabel("step")
        if i == 0:
            ax.set_ylabel("training loss")
    fig.tight_layout()
    return fig


def frames_curve(rows: Sequence[Mapping], title: str | None = None) -> Figure:
    """Accuracy against input frames, one panel per suite: the model with its 95% interval, the frame-limited
    oracle and the random baseline (rows of :func:`videollm.vlm.mini.evaluate.frames_curve`)."""
    suites = list(dict.fromkeys(r["suite"] for r in rows))
    if not suites:
        raise ValueError("rows is empty: pass mini evaluate.frames_curve(...)")
    fig = Figure(figsize=(3.4 * len(suites), 3.0))
    for i, suite in enumerate(suites):
        ax = fig.add_subplot(1, len(suites), i + 1)
        mine = sorted((r for r in rows if r["suite"] == suite), key=lambda r: r["frames"])
        x = [r["frames"] for r in mine]
        ax.plot(x, [r["model"] for r in mine], "o-", gid="curve", label="mini VLM")
        ax.fill_between(x, [r["ci"][0] for r in mine], [r["ci"][1] for r in mine], alpha=0.2)
        ax.plot(x, [r["oracle"] for r in mine], "s--", color="tab:green", gid="oracle", label="oracle, same frames")
        ax.plot(x, [r["random"] for r in mine], ":", color="k", gid="random", label="random")
        ax.set_xscale("log", base=2)
        ax.set_xticks(x, [str(v) for v in x])
        ax.set_xlabel("input frames")
        ax.set_title(suite, fontsize=10)
        ax.set_ylim(0, 100)
        if i == 0:
            ax.set_ylabel("accuracy / M-Avg (%)")
            ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def lookup_curves(runs: Mapping[str, Mapping[str, Sequence[float]]], chance: float,
                  title: str | None = None) -> Figure:
    """Colour readout against alignment steps, one line per kind of eyes (:func:`videollm.vlm.mini.diagnose.lookup`
    results, ``{label: {"step": [...], "readout": [...]}}``), and the ``chance`` line."""
    if not runs:
        raise ValueError("runs is empty: pass {label: diagnose.lookup(...)}")
    fig = Figure(figsize=(4.6, 3.0))
    ax = fig.add_subplot()
    for label, run in runs.items():
        ax.plot(run["step"], run["readout"], "o-", gid="curve", label=label)
    ax.axhline(chance, color="k", ls=":", gid="random", label="chance")
    ax.set_xlabel("alignment steps (one-object clips)")
    ax.set_ylabel("colour read out (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=7)
    ax.set_title(title or "Eyes or lookup? The same language model, two kinds of eyes", fontsize=9)
    fig.tight_layout()
    return fig
