"""Tests for videollm.vlm.mini (model, batches, data, train, evaluate): option scoring on the real Qwen2-VL class (transformers 5.23.0), training,
the cached checkpoint and evaluation records (no full training here)."""

import dataclasses
from pathlib import Path

import pytest
import torch

from videollm.cache import spec_hash
from videollm.eval.metrics import accuracy, accuracy_table, m_avg
from videollm.vlm.mini import batches as mini_batches, data as mini_data, evaluate as mini_eval
from videollm.vlm.mini import model as mini_model, train as mini_train
from videollm.world.qa_frames import frame_set

SMALL = dataclasses.replace(mini_model.MiniVLMConfig(), hidden=32, heads=2, mlp=64, vision_dim=16, steps=3, batch_size=4)


@pytest.fixture(scope="module")
def data():
    fs = frame_set("perception", "val", SMALL.num_frames, SMALL.size, progress=False)
    return fs.frames[:12], fs.records[:12]


@pytest.fixture(scope="module")
def small():
    return mini_model.build_model(SMALL)


def test_option_scores_equal_the_plain_forward_of_each_option(small, data):
    """Shared video features, left padding and logits_to_keep give the log-likelihood that the processor's
    own inputs give, one option at a time."""
    model, processor = small
    frames, records = data
    model.eval()
    idx = [0, 1]
    pixels, grid = mini_batches.video_pixels(processor, frames[idx])
    enc = mini_batches.encode(processor, records, grid[0].tolist())
    batch = mini_batches.option_batch(enc, idx, pixels, grid, processor.tokenizer.pad_token_id, processor.video_token_id)
    with torch.no_grad():
        scores = mini_batches.option_scores(model, batch)
    tok = processor.tokenizer
    for b, i in enumerate(idx):
        prompt = mini_batches.prompt_text(processor, records[i]["question"])
        video = frames[i].permute(0, 2, 3, 1).numpy()
        plain = processor(text=[prompt], videos=[video], return_tensors="pt", do_sample_frames=False)
        assert plain["input_ids"][0].tolist() == enc.prefix[i]  # the processor's placeholder expansion
        for j, option in enumerate(records[i]["options"]):
            full = processor(text=[prompt + option + "<|im_end|>"], videos=[video], return_tensors="pt",
                             do_sample_frames=False)
            n = len(tok(option + "<|im_end|>", add_special_tokens=False).input_ids)
            with torch.no_grad():
                logp = torch.log_softmax(model(**full).logits[0, :-1].float(), -1)
            ids = full["input_ids"][0, 1:]
            expected = logp[torch.arange(len(ids)), ids][-n:].sum()
            assert scores[b, j] == pytest.approx(float(expected), abs=1e-4)
    assert scores.shape == (2, 3)


def test_a_few_steps_lower_the_loss(data):
    model, processor = mini_model.build_model(SMALL)
    frames, records = data
    history = mini_train.train(model, processor, frames[:4], records[:4], steps=12, batch_size=4, lr=1e-2, warmup=1)
    assert len(history["loss"]) == 12
    assert sum(history["loss"][-3:]) / 3 < sum(history["loss"][:3]) / 3 - 0.1


def test_checkpoint_round_trip_and_cache_key(tmp_path, monkeypatch, data):
    monkeypatch.setenv("VIDEOLLM_DATA", str(tmp_path))
    frames, records = data
    model, processor = mini_model.build_model(SMALL)
    history = mini_train.train(model, processor, frames[:4], records[:4], steps=2, batch_size=4)
    monkeypatch.setattr(mini_train, "train_config", lambda *args, **kwargs: ((model, processor), history))
    assert mini_train.cached_model(SMALL) is None
    trained, _ = mini_train.pretrained(SMALL, progress=False)
    folder = Path(trained.meta["path"])
    assert (folder / "meta.json").exists() and (folder / "config.json").exists() and not trained.meta["cached"]
    loaded, loaded_processor = mini_train.cached_model(SMALL)  # loads, trains nothing
    assert loaded.meta["cached"] and loaded.meta["history"] == history and loaded.mini_vlm_config == SMALL
    assert mini_eval.predict(model, processor, frames[:5], records[:5]) == \
        mini_eval.predict(loaded, loaded_processor, frames[:5], records[:5])
    assert mini_train.cached_model(dataclasses.replace(SMALL, seed=1)) is None  # another config: another key
    assert spec_hash(mini_model.spec(SMALL)) != spec_hash(mini_model.spec(dataclasses.replace(SMALL, steps=4)))


def test_evaluate_returns_records_videollm_eval_scores(small):
    model, processor = small
    records = mini_eval.evaluate(model, processor, "perception", "val", tasks=["physics", "counting"], config=SMALL)
    assert len(records) == 40 and {"id", "correct", "task", "num_options", "parsed"} <= set(records[0])
    assert all(r["parsed"] in "ABC" and not r["missing"] for r in records)
    assert 0 <= accuracy(records) <= 100
    table = accuracy_table(records, "task")
    assert {row["task"] for row in table["rows"]} == {"physics", "counting"}
    assert table["overall"]["n"] == 40
    name, value = mini_eval.suite_metric(records)
    assert name == "accuracy" and value == accuracy(records)
    as_mlvu = [dict(r, suite="mlvu") for r in records]  # MLVU's headline is M-Avg, the mean over tasks
    assert mini_eval.suite_metric(as_mlvu) == ("m_avg", m_avg(as_mlvu))
    assert m_avg(as_mlvu) == pytest.approx(sum(row["accuracy"] for row in table["rows"]) / 2)
    assert mini_eval.random_metric([{"suite": "mlvu", "task": t, "options": ["a"] * n}
                             for t, n in (("x", 2), ("x", 2), ("y", 4))]) == pytest.approx(37.5)


def test_bad_inputs(small, data):
    model, processor = small
    frames, records = data
    with pytest.raises(ValueError, match="uint8"):
        mini_train.train(model, processor, frames.float(), records, steps=1)
    with pytest.raises(ValueError, match="videos for"):
        mini_eval.predict(model, processor, frames[:2], records[:3])
    with pytest.raises(ValueError, match="heads"):
        mini_model.build_model(dataclasses.replace(SMALL, hidden=30, heads=4))


def test_extra_draws_are_fresh_training_scenes_and_cached(tmp_path, monkeypatch):
    """An extra draw repeats the training split's tasks in order with new scenes (seeds shared with neither the
    train nor the test split), and the second call loads the same frames from the cache."""
    from videollm.world.suites import generate

    monkeypatch.setenv("VIDEOLLM_DATA", str(tmp_path))
    frames, records = mini_data.extra_draws("perception", 2, 2, (28, 28))
    train, test = generate("perception", "train"), generate("perception", "test")
    assert len(frames) == 2 and len(records) == 2 * len(train)
    for f in frames:
        assert f.dtype == torch.uint8 and tuple(f.shape) == (len(train), 2, 3, 28, 28)
    assert [r["task"] for r in records] == [r["task"] for r in train] * 2
    seeds = [r["seed"] for r in records]
    assert len(set(seeds)) == len(seeds)
    assert not set(seeds) & {r["seed"] for r in train + test}
    assert not {r["id"] for r in records} & {r["id"] for r in train}
    assert not torch.equal(frames[0], frames[1])
    assert len(list((tmp_path / "qa_frames").glob("extra-perception-train-*.npz"))) == 2
    again, _ = mini_data.extra_draws("perception", 2, 2, (28, 28))
    assert all(torch.equal(a, b) for a, b in zip(frames, again))


def test_results_table_reports_scores_with_bootstrap_intervals(small):
    model, processor = small
    rows, markdown = mini_eval.results_table(model, processor, "val", suites=("perception", "mlvu"), n_boot=400)
    headline = {r["suite"]: r for r in rows if r["task"] == "all"}
    assert set(headline) == {"perception", "mlvu"} and headline["mlvu"]["metric"] == "m_avg"
    for suite, row in headline.items():
        records = mini_eval.evaluate(model, processor, suite, "val")
        assert row["model"] == pytest.approx(mini_eval.suite_metric(records)[1]) and row["n"] == len(records)
        assert row["random"] == pytest.approx(mini_eval.random_metric(records))
    for row in rows:
        low, high = row["ci"]
        assert low <= row["model"] <= high, row
        p = row["model"] / 100
        if row["task"] != "all" and 0 < p < 1:  # a binomial proportion's 95% interval: about +-1.96 standard errors
            width = 2 * 1.96 * 100 * (p * (1 - p) / row["n"]) ** 0.5
            assert 0.6 * width < high - low < 1.5 * width, row
    mlvu_tasks = [r for r in rows if r["suite"] == "mlvu" and r["task"] != "all"]
    assert len(mlvu_tasks) == 4  # M-Avg averages four independent task accuracies: a narrower interval than theirs
    widths = [r["ci"][1] - r["ci"][0] for r in mlvu_tasks]
    assert headline["mlvu"]["ci"][1] - headline["mlvu"]["ci"][0] <= sum(widths) / len(widths)
    assert "95% CI" in markdown.splitlines()[0] and len(markdown.splitlines()) == 2 + len(rows)
