"""Tests for videollm.vlm.mini (model, batches, data, train, evaluate): option scoring on the real Qwen2-VL class (transformers 5.23.0), training,
the cached checkpoint and evaluation records (no full training here)."""

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from videollm.cache import spec_hash
from videollm.eval.metrics import accuracy, accuracy_table, m_avg
from videollm.vlm.mini import batches as mini_batches, data as mini_data, evaluate as mini_eval
from videollm.vlm.mini import model as mini_model, train as mini_train
from videollm.world.qa_frames import frame_set
from videollm.world.suites import load_questions

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
    batches = mini_data.fixed_batches(frames[:4], records[:4], 4)
    history = mini_train.train(model, processor, batches, steps=12, lr=1e-2, warmup=1)
    assert len(history["loss"]) == 12
    assert sum(history["loss"][-3:]) / 3 < sum(history["loss"][:3]) / 3 - 0.1


def test_checkpoint_round_trip_and_cache_key(tmp_path, monkeypatch, data):
    monkeypatch.setenv("VIDEOLLM_DATA", str(tmp_path))
    frames, records = data
    model, processor = mini_model.build_model(SMALL)
    history = mini_train.train(model, processor, mini_data.fixed_batches(frames[:4], records[:4], 4), steps=2)
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
        mini_train.train(model, processor, mini_data.fixed_batches(frames.float(), records, 4), steps=1)
    with pytest.raises(ValueError, match="batch_size"):
        next(mini_data.fixed_batches(frames, records, 13))
    with pytest.raises(ValueError, match="videos for"):
        mini_eval.predict(model, processor, frames[:2], records[:3])
    with pytest.raises(ValueError, match="heads"):
        mini_model.build_model(dataclasses.replace(SMALL, hidden=30, heads=4))


def test_results_table_reports_both_modes_with_bootstrap_intervals_and_baselines(small):
    model, processor = small
    rows, markdown = mini_eval.results_table(model, processor, "val", suites=("perception", "mlvu"), n_boot=400)
    headline = {r["suite"]: r for r in rows if r["task"] == "all"}
    assert set(headline) == {"perception", "mlvu"} and headline["mlvu"]["metric"] == "m_avg"
    for suite, row in headline.items():
        for mode in mini_eval.MODES:
            records = mini_eval.evaluate(model, processor, suite, "val", mode=mode)
            assert row[mode] == pytest.approx(mini_eval.suite_metric(records)[1]) and row["n"] == len(records)
        assert row["random"] == pytest.approx(mini_eval.random_metric(records))
        assert row["random"] < row["oracle"] <= 100  # 8 frames answer some questions, never more than all
        gap = row["oracle"] - row["random"]
        assert row["closed"] == pytest.approx(100 * (row["scores"] - row["random"]) / gap)
    for row in rows:
        low, high = row["scores_ci"]
        assert low <= row["scores"] <= high, row
        assert row["generate_ci"][0] <= row["generate"] <= row["generate_ci"][1], row
        p = row["scores"] / 100
        if row["task"] != "all" and 0 < p < 1:  # a binomial proportion's 95% interval: about +-1.96 standard errors
            width = 2 * 1.96 * 100 * (p * (1 - p) / row["n"]) ** 0.5
            assert 0.6 * width < high - low < 1.5 * width, row
    mlvu_tasks = [r for r in rows if r["suite"] == "mlvu" and r["task"] != "all"]
    assert len(mlvu_tasks) == 4  # M-Avg averages four independent task accuracies: a narrower interval than theirs
    widths = [r["scores_ci"][1] - r["scores_ci"][0] for r in mlvu_tasks]
    assert headline["mlvu"]["scores_ci"][1] - headline["mlvu"]["scores_ci"][0] <= sum(widths) / len(widths)
    lines = markdown.splitlines()
    assert "option scores" in lines[0] and "generated" in lines[0] and "oracle (8 frames)" in lines[0]
    assert len(lines) == 2 + len(rows)
    with pytest.raises(ValueError, match="mode"):
        mini_eval.results_table(model, processor, "val", suites=("perception",), modes=("vote",))


def test_generated_answers_go_through_the_lmms_eval_parsers(small, data, monkeypatch):
    """The model writes a reply to the lettered prompt; the reply, not a letter chosen for it, is what
    ``videollm.eval`` parses and scores."""
    model, processor = small
    frames, records = data
    side = processor.tokenizer.padding_side
    processor.tokenizer.padding_side = "right"
    try:
        replies = mini_eval.generate(model, processor, frames[:3], records[:3], max_new_tokens=3)
        assert processor.tokenizer.padding_side == "right"  # generation pads on the left, then restores it
    finally:
        processor.tokenizer.padding_side = side
    assert [r["id"] for r in replies] == [r["id"] for r in records[:3]]
    assert all(isinstance(r["response"], str) and "prediction" not in r for r in replies)
    prompt = mini_batches.letter_prompt(processor, records[0])
    assert "A. " + records[0]["options"][0] in prompt and "letter" in prompt
    # evaluate(mode="generate") scores the *text* of the replies through the lmms-eval parser.
    def canned(model, processor, frames, records, **kwargs):
        return [{"id": r["id"], "response": f"The answer is ({r['answer']})."} for r in records]

    monkeypatch.setattr(mini_eval, "generate", canned)
    scored = mini_eval.evaluate(model, processor, "perception", "val", config=SMALL, mode="generate")
    assert len(scored) == 60 and all(r["correct"] for r in scored)
    monkeypatch.setattr(mini_eval, "generate", lambda m, p, f, records, **k: [
        {"id": r["id"], "response": "I cannot tell."} for r in records])
    scored = mini_eval.evaluate(model, processor, "perception", "val", config=SMALL, mode="generate")
    assert not any(r["correct"] for r in scored) and all(r["parsed"] == "" for r in scored)


def test_the_committed_weights_are_the_current_configs_and_load():
    """``data/weights/mini_vlm-<hash>`` must be retrained and committed whenever the config, the data version or
    the tokenizer change (``python -m videollm.vlm.mini build && python -m videollm.vlm.mini commit``): lecture 05
    and ``make data`` rely on it instead of training for minutes."""
    from videollm.cache import COMMITTED_WEIGHTS, committed_dir
    from videollm.vlm import inference as vlm

    config = mini_model.MiniVLMConfig()
    folder = committed_dir(mini_train.CHECKPOINT_NAME, mini_model.spec(config))
    others = sorted(p.name for p in COMMITTED_WEIGHTS.glob("mini_vlm-*") if p != folder)
    assert (folder / "meta.json").exists(), (
        f"no committed weights for the current config ({folder.name}); stale ones: {others}")
    assert not others, f"remove stale committed weights: {others}"
    size = sum(f.stat().st_size for f in folder.iterdir())
    assert size < 5e6, f"committed weights should stay a few MB; {folder} holds {size / 1e6:.1f} MB"
    model, processor = vlm.load_model("qwen2_vl", checkpoint=folder)
    fresh, _ = mini_model.build_model(config)
    assert model.state_dict().keys() == fresh.state_dict().keys()
    assert any(not torch.equal(model.state_dict()[k], fresh.state_dict()[k]) for k in fresh.state_dict())


def test_evaluate_reads_clips_as_a_users_video(small, tmp_path, monkeypatch):
    """source="video": each clip is rendered, encoded and decoded by videollm.io; the answers mostly agree with
    the drawn frames' (the codec changes pixels, not content)."""
    monkeypatch.setenv("VIDEOLLM_DATA", str(tmp_path))
    model, processor = small
    drawn = mini_eval.evaluate(model, processor, "perception", "val", tasks=["physics"], config=SMALL)
    short = [r["id"] for r in sorted(drawn, key=lambda r: r["id"])][:4]
    monkeypatch.setattr(mini_eval, "load_questions", lambda suite, split: [
        q for q in load_questions(suite, split) if q["id"] in short])
    video = mini_eval.evaluate(model, processor, "perception", "val", tasks=["physics"], config=SMALL, source="video")
    assert [r["id"] for r in video] == short
    assert len(list((tmp_path / "benchmarks" / "perception").glob("*.mp4"))) == 4
    by_id = {r["id"]: r for r in drawn}
    assert sum(r["parsed"] == by_id[r["id"]]["parsed"] for r in video) >= 3
    with pytest.raises(ValueError, match="source"):
        mini_eval.evaluate(model, processor, "perception", "val", source="camera")
    with pytest.raises(ValueError, match="no task"):
        mini_eval.evaluate(model, processor, "perception", "val", tasks=["countng"], source="video")
    with pytest.raises(ValueError, match="num_frames"):
        mini_eval.evaluate(model, processor, "perception", "val", num_frames=0)
    with pytest.raises(ValueError, match="modes"):
        mini_eval.results_table(model, processor, "val", suites=("perception",), modes=())


def test_commit_copies_the_checkpoint_and_replaces_only_older_mini_vlm_weights(tmp_path, monkeypatch, capsys):
    from videollm import cache
    from videollm.vlm.mini import __main__ as cli

    monkeypatch.setenv("VIDEOLLM_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "COMMITTED_WEIGHTS", tmp_path / "weights")
    config = mini_model.MiniVLMConfig()
    assert cli.main(["commit"]) == 1 and "build" in capsys.readouterr().err  # nothing trained yet: says what to do
    source = cache.checkpoint_dir(mini_train.CHECKPOINT_NAME, mini_model.spec(config))
    source.mkdir(parents=True)
    (source / "meta.json").write_text("{}")  # a folder whose meta is not this config's: refused
    assert cli.main(["commit"]) == 1 and "build" in capsys.readouterr().err
    (source / "meta.json").write_text(json.dumps({"hash": cache.spec_hash(mini_model.spec(config))}))
    (source / "model.safetensors").write_bytes(b"weights")
    old = tmp_path / "weights" / "mini_vlm-0000000000000000"
    old.mkdir(parents=True)
    other = tmp_path / "weights" / "vqvae-0000000000000000"
    other.mkdir()
    assert cli.main(["commit"]) == 0
    target = cache.committed_dir(mini_train.CHECKPOINT_NAME, mini_model.spec(config))
    assert (target / "model.safetensors").read_bytes() == b"weights"
    assert not old.exists() and other.exists()
    assert sorted(p.name for p in (tmp_path / "weights").iterdir()) == sorted([target.name, other.name])
