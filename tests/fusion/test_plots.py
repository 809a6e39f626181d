"""Tests for videollm.fusion.plots: one box per token in its kind's colour; bars and random lines per task."""

from io import BytesIO

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from videollm.fusion import plots as fusion_plots  # noqa: E402


def test_token_sequences_one_box_per_token():
    rows = {"a": [("text", "user"), ("special", "vs"), ("feature", "f0"), ("feature", "f1"), ("answer", "red")],
            "b": [("text", "user"), ("code", "1003")]}
    fig = fusion_plots.token_sequences(rows)
    patches = fig.axes[0].patches
    assert len(patches) == 7
    feats = [p for p in patches if p.get_gid() == "token-feature"]
    assert len(feats) == 2 and feats[0].get_facecolor() == to_rgba(fusion_plots.KIND_COLORS["feature"])
    fig.savefig(BytesIO(), format="png")
    with pytest.raises(ValueError, match="kind"):
        fusion_plots.token_sequences({"a": [("video", "x")]})


def test_accuracy_bars_and_random_lines():
    results = {"non-tokenised": {"topic": {"accuracy": 70.0, "random": 16.7}, "count": {"accuracy": 20.0, "random": 16.7}},
               "tokenised": {"topic": {"accuracy": 80.0, "random": 16.7}, "count": {"accuracy": 10.0, "random": 16.7}}}
    fig = fusion_plots.accuracy_bars(results, title="t")
    ax = fig.axes[0]
    bars = [p for p in ax.patches if p.get_gid() == "accuracy-bars"]
    assert sorted(round(b.get_height(), 1) for b in bars) == [10.0, 20.0, 70.0, 80.0]
    lines = [ln for ln in ax.lines if ln.get_gid() == "random-baseline"]
    assert len(lines) == 2 and all(list(ln.get_ydata()) == [16.7, 16.7] for ln in lines)
    fig.savefig(BytesIO(), format="png")
