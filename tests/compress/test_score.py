"""Answering from a compressed cache, and the budget benchmark's plumbing (tiny random Qwen2-VL)."""

import numpy as np
import pytest
import torch

from videollm.compress import benchmark
from videollm.compress.prefill import Budget, embed_video_input, prefill
from videollm.compress.score import option_log_likelihoods
from videollm.vlm import inference as vlm
from videollm.vlm.mini.batches import encode, video_pixels
from videollm.world.suites import load_questions


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model, processor = vlm.build_tiny("qwen2_vl")
    return model.eval(), processor


def direct_log_likelihoods(model, prefix, options, pixels, grid):
    """Each option appended to the prompt and run through the model's own forward, one at a time."""
    out = []
    for option in options:
        ids = torch.tensor([prefix + option])
        mm = (ids == model.config.video_token_id).long() * 2
        with torch.no_grad():
            logits = model(input_ids=ids, pixel_values_videos=pixels, video_grid_thw=grid, mm_token_type_ids=mm).logits
        logp = logits[0, len(prefix) - 1:-1].log_softmax(-1)
        out.append(float(logp.gather(-1, torch.tensor(option)[:, None]).sum()))
    return torch.tensor(out)


def test_option_scores_from_an_uncompressed_cache_are_the_models_own(tiny):
    model, processor = tiny
    record = load_questions("mlvu", "test")[0]
    frames = torch.from_numpy(np.random.default_rng(0).integers(0, 255, (1, 8, 3, 56, 56), dtype=np.uint8))
    pixels, grid = video_pixels(processor, frames)
    enc = encode(processor, [record], grid[0].tolist())
    video = embed_video_input(model, torch.tensor([enc.prefix[0]]), pixels, grid)
    got = option_log_likelihoods(model, prefill(model, video, Budget(ratio=1.0)), video, enc.options[0])
    want = direct_log_likelihoods(model, enc.prefix[0], enc.options[0], pixels, grid)
    assert got.shape == (len(record["options"]),) and torch.allclose(got, want, atol=1e-4)
    # compressed: still one finite score per option, and the cache is left as it was
    done = prefill(model, video, Budget(ratio=0.25))
    lengths = [layer.keys.shape[2] for layer in done.cache.layers]
    scores = option_log_likelihoods(model, done, video, enc.options[0])
    assert torch.isfinite(scores).all() and [layer.keys.shape[2] for layer in done.cache.layers] == lengths
    with pytest.raises(ValueError, match="options"):
        option_log_likelihoods(model, done, video, [[1, 2], []])
    from videollm.compress.prefill import continue_logits
    continue_logits(model, done, video)  # the cache now holds the question too: scoring on it would read it twice
    with pytest.raises(ValueError, match="fresh prefill"):
        option_log_likelihoods(model, done, video, enc.options[0])


def test_option_kl():
    assert benchmark.option_kl([-1.0, -2.0, -3.0], [-1.0, -2.0, -3.0]) == pytest.approx(0.0, abs=1e-12)
    assert benchmark.option_kl([-1.0, -2.0], [-11.0, -12.0]) == pytest.approx(0.0, abs=1e-12)  # a common shift
    assert benchmark.option_kl([0.0, -5.0], [-5.0, 0.0]) > 1.0


def test_the_budget_benchmark_on_a_few_questions(tiny):
    model, processor = tiny
    records = benchmark.long_questions(limit=1)
    assert {r["suite"] for r in records} == {"mlvu", "videomme"}
    assert {r["task"] for r in records if r["suite"] == "mlvu"} == {"needle", "count", "order"}
    assert all(r["duration"] == "long" for r in records)
    runs = benchmark.budget_predictions(model, processor, records, ratios=(1.0, 0.25), num_frames=16)
    assert set(runs) == {("full", 1.0)} | {(m, 0.25) for m in benchmark.ALL_METHODS}
    for (method, ratio), run in runs.items():
        assert [p["id"] for p in run["predictions"]] == [r["id"] for r in records]
        assert all(abs(k - ratio) < 0.1 for k in run["kept"]), (method, run["kept"])
    rows, table = benchmark.budget_table(records, runs, n_boot=50)
    full = [r for r in rows if r["method"] == "full"]
    assert all(r["agreement"] == 100.0 and r["kl"] == pytest.approx(0.0, abs=1e-9) for r in full)
    assert table.count("\n") == len(rows) + 1
    with pytest.raises(ValueError, match="unknown method"):
        benchmark.budget_predictions(model, processor, records, methods=("loudest",))


def test_paired_difference_resamples_questions_together():
    questions = [{"id": str(i), "answer": "A"} for i in range(40)]
    right = {"id": None, "prediction": "A"}
    runs = {("a", 0.5): {"predictions": [dict(right, id=str(i)) for i in range(40)]},
            ("b", 0.5): {"predictions": [dict(right, id=str(i), prediction="A" if i % 2 else "B") for i in range(40)]}}
    diff, low, high = benchmark.paired_difference(runs, ("a", 0.5), ("b", 0.5), questions, n_boot=500)
    assert diff == pytest.approx(50.0) and low < 50.0 < high and 30 < low and high < 70
    same = benchmark.paired_difference(runs, ("a", 0.5), ("a", 0.5), questions, n_boot=200)
    assert same == (0.0, 0.0, 0.0)  # a method against itself: no spread at all
