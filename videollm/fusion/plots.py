"""Unit 03 — pictures: token sequences of both fusion styles and accuracy against random.

Functions build and return a new ``matplotlib.figure.Figure`` (nothing touches pyplot's global state). Artists
carry a ``gid``: ``"token-<kind>"`` on every token box of :func:`token_sequences`, ``"accuracy-bars"`` and
``"random-baseline"`` in :func:`accuracy_bars`.

Lecture: `lectures/03_early_fusion.ipynb` §1, §8.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

__all__ = ["KIND_COLORS", "accuracy_bars", "token_sequences"]

#: Colour of each kind of token in :func:`token_sequences`.
KIND_COLORS = {"text": "#d9d9d9", "special": "#8da0cb", "feature": "#fc8d62", "code": "#66c2a5",
               "answer": "#ffd92f", "pad": "#ffffff"}


def token_sequences(rows: Mapping[str, Sequence[tuple[str, str]]], width: float = 12.0) -> Figure:
    """One row of boxes per sequence: ``rows[name] = [(kind, label), ...]``, one box per token.

    ``kind`` is a key of :data:`KIND_COLORS` (``text``, ``special``, ``feature`` (a projected feature vector in
    ``inputs_embeds``), ``code`` (a VQ token id), ``answer``, ``pad``); ``label`` is written in the box.
    """
    if not rows:
        raise ValueError("give at least one sequence: {name: [(kind, label), ...]}")
    longest = max(len(r) for r in rows.values())
    fig = Figure(figsize=(width, 0.75 * len(rows) + 0.4))
    ax = fig.add_subplot(1, 1, 1)
    for y, (name, tokens) in enumerate(rows.items()):
        for x, (kind, label) in enumerate(tokens):
            if kind not in KIND_COLORS:
                raise ValueError(f"unknown token kind {kind!r}; choose one of {list(KIND_COLORS)}")
            box = Rectangle((x, -y - 0.4), 0.92, 0.8, facecolor=KIND_COLORS[kind], edgecolor="#555555", lw=0.6,
                            gid=f"token-{kind}")
            ax.add_patch(box)
            ax.text(x + 0.46, -y, label, ha="center", va="center", fontsize=7, rotation=90 if len(label) > 3 else 0)
        ax.text(-0.3, -y, name, ha="right", va="center", fontsize=9)
    ax.set_xlim(-0.2, longest + 0.2)
    ax.set_ylim(-len(rows) + 0.4, 0.6)
    ax.axis("off")
    fig.subplots_adjust(left=0.2, right=0.99, top=0.98, bottom=0.02)
    return fig


def accuracy_bars(results: Mapping[str, Mapping[str, Mapping[str, float]]], title: str | None = None) -> Figure:
    """Grouped bars of held-out accuracy per task, one bar per model, with each task's random baseline.

    ``results[model][task] = {"accuracy": %, "random": %}`` (the ``"tasks"`` of
    :func:`videollm.fusion.train.evaluate`).
    """
    if not results:
        raise ValueError("no results to draw")
    models = list(results)
    tasks = list(dict.fromkeys(t for m in models for t in results[m]))
    fig = Figure(figsize=(1.6 + 1.3 * len(tasks), 3.2))
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / len(models)
    for i, model in enumerate(models):
        xs = [t + (i - (len(models) - 1) / 2) * width for t in range(len(tasks))]
        values = [results[model].get(task, {}).get("accuracy", 0.0) for task in tasks]
        bars = ax.bar(xs, values, width * 0.95, label=model)
        for b in bars:
            b.set_gid("accuracy-bars")
    for t, task in enumerate(tasks):
        chance = next(results[m][task]["random"] for m in models if task in results[m])
        (line,) = ax.plot([t - 0.45, t + 0.45], [chance, chance], "k--", lw=1)
        line.set_gid("random-baseline")
    ax.set_xticks(range(len(tasks)), tasks)
    ax.set_ylabel("held-out accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8, loc="upper left")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
