"""Tests for videollm.world.plots: the event timeline, the scene strip and the frames-vs-accuracy plot."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from videollm.world import plots as world_plots, scenes as world


def busy_scene() -> world.Scene:
    """A scene with every kind of event the timeline draws."""
    b = world.SceneBuilder(48, 4.0, 64, 96, "gradient", np.random.default_rng(3))
    k = b.add_object("square", "red", 12, (30, 30), (1, 0))
    j = b.add_object("triangle", "blue", 14, (60, 30), (0, 1), appear=6, leave=40)
    b.act(k, "jump", 2)
    b.act(j, "spin", 10)
    b.act(k, "blink", 20)
    b.look_away(24, 36, turn=3)
    b.show_text("HELLO", 8, 16)
    b.say("Meet Pip, the red square.", 1.0, 3.0)
    inner = world.SceneBuilder(4, 4.0, 64, 96, "plain", np.random.default_rng(4))
    inner.add_object("circle", "green", 30, (48, 32))
    b.insert(42, inner.build())
    return b.build()


def gids(fig: Figure, gid: str) -> list:
    return [a for ax in fig.axes for a in ax.get_children() if a.get_gid() == gid]


def test_event_timeline_draws_a_row_per_object_and_every_event_kind():
    scene = busy_scene()
    fig = world_plots.event_timeline(scene)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["red square", "blue triangle", "camera", "screen", "subtitles", "sound"]
    assert len(gids(fig, "present")) == 2 and len(gids(fig, "action")) == 3
    for gid in ("away", "insert", "text", "cue", "tone"):
        assert gids(fig, gid), f"no {gid!r} artist"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"jump", "spin", "blink", "camera looks away", "cut-in (needle)"} <= set(legend)
    assert ax.get_xlim() == (0, scene.duration)


def test_events_at():
    scene = busy_scene()
    assert world_plots.events_at(scene, 3) == ["red square jump"]
    assert "look_away" in world_plots.events_at(scene, 30)


def test_scene_strip_shows_the_sampled_frames_with_times():
    scene = busy_scene()
    rendered = world.render(scene)
    fig = world_plots.scene_strip(scene, 4, rendered=rendered)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 4
    assert shown[-1].get_title().startswith(f"t = {47 / 4:.1f} s")
    assert np.array_equal(shown[0].images[0].get_array(), rendered.frames[0])


def test_accuracy_vs_frames_plots_one_line_per_suite():
    fig = world_plots.accuracy_vs_frames({"a": [30, 50, 70], "b": [25, 26, 27]}, [4, 16, 64], {"a": 100, "b": 100},
                                {"a": {"random": 25.0}})
    assert len(gids(fig, "oracle")) == 2 and len(gids(fig, "all-frames")) == 2 and len(gids(fig, "random")) == 1
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()][-1] == "all"
