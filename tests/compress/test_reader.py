"""The needle reader (unit 06's benchmark model): its questions, its training wiring, its committed weights; the
figures and the command line."""

import json

import numpy as np
import pytest
import torch

from videollm.cache import COMMITTED_WEIGHTS, committed_dir
from videollm.compress import plots, reader
from videollm.compress.__main__ import main
from videollm.world.suites import item_for, scene_for

SHORT = reader.ReaderConfig(steps=2, batch_size=2)


def test_needle_questions_are_colour_needles_the_generator_rebuilds():
    records = reader.needle_questions(6)
    assert len({r["id"] for r in records}) == 6 and len({r["seed"] for r in records}) == 6
    for r in records:
        assert "colour" in r["question"] and r["query"]["field"] == "color"
        assert 8 <= r["seconds"] <= 16 and len(r["options"]) == 6
        assert item_for(r).options == r["options"]  # suite-compatible: rebuilt from its seed
        scene = scene_for(r)
        assert (~scene.shown).sum() >= 8  # a 2-3 s cut-away at 4 fps
    assert reader.needle_questions(6) == records  # deterministic
    train_seeds = {r["seed"] for b in range(3) for r, _ in reader.needle_records(4, reader.TRAIN_SEEDS + b * 1000,
                                                                                   (8, 16))}
    assert all(s >= reader.TRAIN_SEEDS for s in train_seeds)
    assert not train_seeds & {r["seed"] for r in records}
    assert all(r["seed"] >= reader.TEST_SEEDS for r in records)


def test_training_batches_hold_fresh_needles():
    batches = list(reader.needle_batches(SHORT))
    assert len(batches) == 2
    assert batches[0].frames.shape == (2, 16, 3, 56, 56) and batches[0].frames.dtype == torch.uint8
    ids = [r["id"] for b in batches for r in b.records]
    seeds = [r["seed"] for b in batches for r in b.records]
    assert len(set(seeds)) == len(seeds) == 4 and all("needle" in i for i in ids)


def test_train_reader_runs_its_steps_on_the_mini_vlm():
    (model, _), history = reader.train_reader(SHORT)
    assert len(history["step"]) == 2 and all(np.isfinite(history["loss"]))
    assert not model.training


def test_the_committed_reader_is_the_current_configs_and_loads():
    """``data/weights/needle_reader-<hash>`` must be rebuilt whenever the reader's config or the mini VLM change
    (``python -m videollm.compress build --force && python -m videollm.compress commit``)."""
    folder = committed_dir(reader.CHECKPOINT_NAME, reader.reader_spec(reader.ReaderConfig()))
    others = sorted(p.name for p in COMMITTED_WEIGHTS.glob("needle_reader-*") if p != folder)
    assert (folder / "meta.json").exists(), f"no committed reader for the current config ({folder.name}); {others}"
    assert not others, f"remove stale committed weights: {others}"
    assert sum(f.stat().st_size for f in folder.iterdir()) < 5e6
    found = reader.cached_reader()
    assert found is not None
    assert np.mean(found[0].meta["history"]["accuracy"][-50:]) > 0.4  # it learned the question (chance 1/6)


def test_budget_figure_and_kept_map():
    rows = [{"suite": "needle", "method": "full", "ratio": 1.0, "kept": 1.0, "score": 60.0, "ci": (50, 70),
             "random": 16.7, "metric": "accuracy", "n": 10}]
    for method, score in (("adaretake", 55.0), ("uniform frames", 20.0)):
        rows += [{**rows[0], "method": method, "ratio": r, "kept": r * 0.98, "score": score * r ** 0.2}
                 for r in (0.5, 0.25)]
    fig = plots.budget_curves(rows)
    ax = fig.axes[0]
    assert len([l for l in ax.lines if l.get_gid() == "curve"]) == 2
    assert [c for c in ax.collections if c.get_gid() == "interval"]
    kept = {"a": torch.tensor([[True, False, True, True], [True, True, False, False]]), "b": torch.ones(2, 4).bool()}
    fig = plots.kept_tokens(kept, (2, 1, 2), marked=[1])
    image = [im for im in fig.axes[0].images if im.get_gid() == "kept"][0]
    # patch 0 = tokens 0-1: layer 0 keeps 1 of 2, layer 1 both -> 0.75; patch 1 = tokens 2-3: 2 of 2 and 0 -> 0.5
    assert np.allclose(image.get_array(), [[0.75, 0.5], [1.0, 1.0]])
    assert [p for p in fig.axes[0].patches if p.get_gid() == "needle"]


def test_command_line_info_and_a_short_benchmark(tmp_path, capsys):
    assert main(["info"]) == 0
    assert "needle_reader" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["benchmark", "--frames", "3"])
    assert main(["benchmark", "--questions", "2", "--frames", "8", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| needle | adaretake | 0.25 |" in out and "One budget, more frames" in out and "Cost" in out
    assert "How much of the needle" in out
    assert (tmp_path / "adaretake_budget.png").exists() and (tmp_path / "adaretake_kept.png").exists()
    report = json.loads((tmp_path / "adaretake_report.json").read_text())
    assert {"needle", "retention", "frames", "cost"} <= set(report)


def test_needle_tokens_are_the_shape_in_the_cut_aways_frames_only():
    from videollm.compress.benchmark import needle_patches, needle_tokens
    from videollm.world.qa_frames import sampled_indices

    for record in reader.needle_questions(6):
        shape = needle_tokens(record, 16)
        assert shape.shape == (8 * 16,) and shape.dtype == torch.bool and 1 <= int(shape.sum()) <= 40
        scene = scene_for(record)
        away = ~scene.shown[sampled_indices(scene.num_frames, 16)]
        patches = needle_patches(record, 16)
        assert patches == sorted({int(i) // 2 for i in np.flatnonzero(away)})
        assert {int(i) // 16 for i in torch.nonzero(shape)[:, 0]} <= set(patches)
    # needle-test-1's temporal patch 4 pairs a cut-away frame with a frame of the main scene, whose objects sit in
    # tokens 68 and 72: they are not the needle
    record = reader.needle_questions(2)[1]
    assert not needle_tokens(record, 16)[[68, 72]].any()
    with pytest.raises(ValueError, match="even"):
        needle_tokens(record, 15)


def test_training_seeds_cannot_reach_the_held_out_ones():
    with pytest.raises(ValueError, match="held-out"):
        next(reader.needle_batches(reader.ReaderConfig(seed=20_000)))
