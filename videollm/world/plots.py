"""Unit 00 — pictures of the event world (used by unit 09 too): what happens when in a scene, and what sampled frames
show.

- :func:`event_timeline`: one row per object (when it is in the scene, its actions), camera look-aways, signs,
  cut-ins, subtitle cues and tones, against time.
- :func:`scene_strip`: ``N`` uniformly sampled frames of a scene with their times and the events under way.
- :func:`accuracy_vs_frames`: the frame-limited oracle's score against the number of sampled frames.

Like :mod:`videollm.plotting`, every function builds and returns a ``Figure`` (or draws on an ``Axes`` you
pass) and never calls ``plt.show()``. Artists carry a ``gid`` that tests can find: ``"present"``, ``"action"``,
``"away"``, ``"text"``, ``"insert"``, ``"cue"``, ``"tone"``.

Lecture: `lectures/00_video_as_data.ipynb` §6; `lectures/09_evaluation.ipynb` §2, §5.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from videollm.sampling import uniform_indices
from videollm.world import scenes as world
from videollm.world.shapes import PALETTE

__all__ = ["event_timeline", "scene_strip", "accuracy_vs_frames", "events_at"]

#: How each action is drawn on the timeline: (hatch, edge colour).
ACTION_STYLE = {"jump": ("", "black"), "spin": ("////", "black"), "grow": ("xxx", "black"), "blink": ("...", "grey")}


def _rgb(color_index: int) -> tuple[float, float, float]:
    return tuple(c / 255 for c in PALETTE[color_index])


def event_timeline(scene: world.Scene, ax: Axes | None = None, title: str | None = None) -> Figure:
    """Draw what happens when in ``scene``.

    Rows, top to bottom: one per object (a thin bar in its colour while it is in the scene, thick hatched blocks
    for its actions), then ``camera`` (look-aways shaded, cut-ins marked), ``screen`` (signs), ``subtitles``
    (cue spans) and ``sound`` (tone ticks). The x axis is seconds.

    Returns:
        The figure (``ax.figure`` when ``ax`` is given).
    """
    K = len(scene.shapes)
    if ax is None:
        fig = Figure(figsize=(10, 0.45 * (K + 4) + 0.8))
        ax = fig.add_subplot()
    fig = ax.figure
    fps = scene.fps
    rows = [scene.describe(k) for k in range(K)] + ["camera", "screen", "subtitles", "sound"]
    y = {name: len(rows) - 1 - i for i, name in enumerate(rows)}
    for k in range(K):
        spans = world.runs(scene.present[:, k])
        ax.broken_barh([(s / fps, (e - s) / fps) for s, e in spans], (y[rows[k]] - 0.1, 0.2),
                       color=_rgb(scene.color[0, k]), gid="present")
    for e in scene.events:
        if e["kind"] in world.ACTIONS:
            hatch, edge = ACTION_STYLE[e["kind"]]
            row = y[rows[e["object"]]]
            ax.broken_barh([(e["frame"] / fps, (e["end"] - e["frame"]) / fps)], (row - 0.35, 0.7),
                           facecolor=_rgb(scene.color[e["frame"], e["object"]]), edgecolor=edge, hatch=hatch,
                           gid="action", label=e["kind"])
        elif e["kind"] == "look_away":
            ax.broken_barh([(e["frame"] / fps, (e["end"] - e["frame"]) / fps)], (y["camera"] - 0.35, 0.7),
                           color="0.6", gid="away", label="camera looks away")
        elif e["kind"] == "insert":
            ax.broken_barh([(e["frame"] / fps, (e["end"] - e["frame"]) / fps)], (y["camera"] - 0.35, 0.7),
                           color="crimson", gid="insert", label="cut-in (needle)")
        elif e["kind"] == "text":
            ax.broken_barh([(e["frame"] / fps, (e["end"] - e["frame"]) / fps)], (y["screen"] - 0.35, 0.7),
                           color="0.2", gid="text")
            ax.text((e["frame"] + e["end"]) / 2 / fps, y["screen"], e["text"], ha="center", va="center",
                    color="white", fontsize=7)
    for cue in scene.cues:
        ax.broken_barh([(cue.start, cue.end - cue.start)], (y["subtitles"] - 0.3, 0.6), color="tab:blue", alpha=0.6,
                       gid="cue")
    if scene.tones:
        ax.vlines([t for t, _, _ in scene.tones], y["sound"] - 0.3, y["sound"] + 0.3, color="tab:green", gid="tone")
    ax.set_yticks([y[r] for r in rows], rows)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlim(0, scene.duration)
    ax.set_xlabel("time (s)")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    if unique:
        ax.legend(unique.values(), unique.keys(), loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax.set_title(title or f"{scene.duration:.0f} s, {scene.num_frames} frames at {scene.fps:g} fps")
    fig.tight_layout()
    return fig


def events_at(scene: world.Scene, frame: int) -> list[str]:
    """Short descriptions of the events under way at ``frame`` (``"red square jump"``, ``"look_away"``, ...)."""
    return [f"{e['description']} {e['kind']}" if "description" in e else e["kind"]
            for e in scene.events if e["frame"] <= frame < e.get("end", e["frame"] + 1)]


def scene_strip(scene: world.Scene, num_frames: int = 6, rendered: world.Rendered | None = None,
                frames: Sequence[int] | None = None) -> Figure:
    """``num_frames`` uniformly sampled frames (or the given ``frames``) in a row, titled with time and events.

    Args:
        scene: the scene.
        rendered: ``world.render(scene)`` if you have it; else the scene is rendered here (a 5-minute scene
            takes about 2 s).
    """
    rendered = rendered if rendered is not None else world.render(scene)
    idx = np.asarray(frames) if frames is not None else uniform_indices(scene.num_frames, num_frames)
    fig = Figure(figsize=(2.2 * len(idx), 2.4))
    axes = fig.subplots(1, len(idx), squeeze=False)[0]
    for ax, t in zip(axes, idx):
        ax.imshow(rendered.frames[t])
        ax.set_xticks([])
        ax.set_yticks([])
        label = ", ".join(events_at(scene, int(t))) or " "
        ax.set_title(f"t = {t / scene.fps:.1f} s\n{label}", fontsize=7)
    fig.tight_layout()
    return fig


def accuracy_vs_frames(curves: Mapping[str, Sequence[float]], budgets: Sequence[int], all_frames: Mapping[str, float],
                       baselines: Mapping[str, Mapping[str, float]] | None = None) -> Figure:
    """The frame-limited oracle's score (%) against the number of sampled frames, one line per suite.

    Args:
        curves: ``{suite label: [score at each budget]}``.
        budgets: the frame budgets (x axis, log scale).
        all_frames: ``{suite label: score with every frame}``, drawn as a marker at the right edge.
        baselines: optional ``{suite label: {"random": %, "blind": %}}``, drawn as dotted / dashed lines.
    """
    fig = Figure(figsize=(8, 4.5))
    ax = fig.add_subplot()
    for i, (label, values) in enumerate(curves.items()):
        color = f"C{i}"
        ax.plot(budgets, values, "o-", color=color, label=label, gid="oracle")
        ax.plot([budgets[-1] * 2], [all_frames[label]], "*", color=color, markersize=10, gid="all-frames")
        if baselines and label in baselines:
            ax.axhline(baselines[label]["random"], color=color, linestyle=":", linewidth=1, gid="random")
    ax.set_xscale("log", base=2)
    ax.set_xticks([*budgets, budgets[-1] * 2], [*map(str, budgets), "all"])
    ax.set_xlabel("frames sampled uniformly")
    ax.set_ylabel("accuracy of the frame-limited oracle (%)")
    ax.set_ylim(0, 102)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("How much can N frames answer? (dotted: random baseline; star: every frame)")
    fig.tight_layout()
    return fig
