"""Redundancy over layers: the question's attention scores and the layer shares; eviction counts and order."""

import math

import pytest
import torch

from videollm.compress.evict import evict_chunk, keep_count, keep_indices
from videollm.compress.layers import layer_hits, layer_ratios, question_scores


def upstream_scores(queries, keys):
    """The official code's steps (StandardVidLangKVCache.update), written out: repeat the key heads, softmax over
    the chunk's keys, sum over question tokens, mean over each key head's query heads, then over key heads."""
    hq, q, dh = queries.shape
    hkv, k, _ = keys.shape
    repeated = keys[:, None].expand(hkv, hq // hkv, k, dh).reshape(hq, k, dh)
    weights = (queries.double() @ repeated.double().transpose(1, 2) / math.sqrt(dh)).softmax(-1)
    return weights.sum(1).reshape(hkv, -1, k).mean(1).mean(0)


@pytest.mark.parametrize("hq, hkv, q, k", [(4, 2, 3, 7), (4, 4, 1, 5), (8, 1, 5, 1), (6, 3, 2, 12)])
def test_question_scores_follow_the_official_steps(hq, hkv, q, k):
    g = torch.Generator().manual_seed(hq * 100 + k)
    queries, keys = torch.randn(hq, q, 16, generator=g), torch.randn(hkv, k, 16, generator=g)
    got = question_scores(queries, keys)
    assert got.dtype == torch.float32 and got.shape == (k,)
    assert torch.allclose(got.double(), upstream_scores(queries, keys), atol=1e-5)
    assert float(got.sum()) == pytest.approx(q, rel=1e-5)  # each question token's attention sums to 1


def test_question_scores_read_each_query_heads_own_key_head():
    # two key heads; query heads 0-1 read key head 0, 2-3 key head 1. Key head 1 singles out token 2.
    keys = torch.zeros(2, 3, 4)
    keys[1, 2, 0] = 50.0
    queries = torch.zeros(4, 1, 4)
    queries[2:, 0, 0] = 1.0
    got = question_scores(queries, keys)
    # heads 0, 1, (and 2, 3 on key head 0's zeros) would be uniform; heads 2, 3 put ~all on token 2
    assert int(got.argmax()) == 2 and float(got[2]) > 0.6


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_question_scores_in_half_precision(dtype):
    queries, keys = torch.randn(4, 2, 8), torch.randn(2, 6, 8)
    got = question_scores(queries.to(dtype), keys.to(dtype))
    assert got.dtype == torch.float32
    assert torch.allclose(got, question_scores(queries, keys), atol=3e-2)


def test_question_scores_errors():
    with pytest.raises(ValueError, match="multiple"):
        question_scores(torch.randn(3, 1, 4), torch.randn(2, 5, 4))
    with pytest.raises(ValueError, match="share Dh"):
        question_scores(torch.randn(2, 1, 4), torch.randn(2, 5, 8))


def concentrated(L=4, k=10):
    """Layer 0's scores are all above every other layer's."""
    scores = torch.rand(L, k, generator=torch.Generator().manual_seed(0)) * 0.1
    scores[0] += 1.0
    return scores


def test_hits_count_the_global_top_budget():
    # budget int(max(1, 0.1 * 10) * 4) = 4, all in layer 0
    assert layer_hits(concentrated(), 0.1).tolist() == [4, 0, 0, 0]
    # budget 20: layer 0's ten, then the next ten of the others
    assert int(layer_hits(concentrated(), 0.5).sum()) == 20 and int(layer_hits(concentrated(), 0.5)[0]) == 10


def test_code_rule_by_hand():
    # hits (4, 0, 0, 0) + 1 smoothing -> 4 * 0.1 * (5, 1, 1, 1) / 8
    got = layer_ratios(concentrated(), 0.1, smoothing=1)
    assert torch.allclose(got, torch.tensor([0.25, 0.05, 0.05, 0.05]), atol=1e-5)


def test_paper_rule_by_hand_the_floor_is_paid_from_the_other_layers():
    # hits (4, 0, 0, 0) -> (0.4, 0, 0, 0); the floor 0.01 lifts the three, layer 0 pays: (0.37, 0.01, 0.01, 0.01)
    got = layer_ratios(concentrated(), 0.1, smoothing=0)
    assert torch.allclose(got, torch.tensor([0.37, 0.01, 0.01, 0.01]), atol=1e-5)


def test_paper_rule_a_layer_never_keeps_more_than_its_chunk():
    scores = torch.tensor([[3.0, 2.0, 1.0], [0.0, 0.0, 0.0]])
    got = layer_ratios(scores, 0.5, smoothing=0)  # hits (3, 0) -> (1.0, 0.0) -> floor
    assert torch.allclose(got, torch.tensor([0.99, 0.01]), atol=1e-5)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("smoothing", [0, 1])
def test_shares_keep_the_mean_and_the_bounds(seed, smoothing):
    g = torch.Generator().manual_seed(seed)
    scores = torch.rand(6, 20, generator=g) ** 4
    for r in (0.02, 0.1, 0.5, 0.9, 1.0):
        got = layer_ratios(scores, r, smoothing)
        assert got.dtype == torch.float32 and got.shape == (6,)
        assert float(got.mean()) == pytest.approx(r, abs=1e-5)
        assert float(got.min()) >= min(0.01, r) - 1e-6 and float(got.max()) <= 1 + 1e-6


def test_a_ratio_below_the_floor_is_kept_evenly():
    assert torch.allclose(layer_ratios(concentrated(), 0.005), torch.full((4,), 0.005), atol=1e-6)


def test_one_layer_keeps_the_ratio():
    assert torch.allclose(layer_ratios(torch.rand(1, 9), 0.3), torch.tensor([0.3]), atol=1e-5)


def test_layer_ratio_errors():
    with pytest.raises(ValueError, match=r"\(L, k\)"):
        layer_ratios(torch.rand(5), 0.5)
    with pytest.raises(ValueError, match="ratio"):
        layer_ratios(torch.rand(2, 5), 0.0)
    with pytest.raises(ValueError, match="smoothing"):
        layer_ratios(torch.rand(2, 5), 0.5, smoothing=-1)


def test_keep_count_is_the_codes_rule():
    assert keep_count(0.25, 10) == 2  # int(2.5)
    assert keep_count(0.001, 50) == 1  # the 0.01 floor, then at least one
    assert keep_count(0.005, 1000) == 10
    assert keep_count(1.3, 7) == 7
    with pytest.raises(ValueError, match="length"):
        keep_count(0.5, 0)


def test_keep_indices_are_the_best_in_temporal_order_ties_to_the_earlier():
    scores = torch.tensor([0.1, 0.9, 0.3, 0.9, 0.5, 0.2])
    assert keep_indices(scores, 3).tolist() == [1, 3, 4]
    assert keep_indices(scores, 1).tolist() == [1]  # the tie between 1 and 3 goes to 1
    assert keep_indices(torch.ones(5), 2).tolist() == [0, 1]
    assert keep_indices(scores.half(), 6).tolist() == list(range(6))
    with pytest.raises(ValueError, match="keep"):
        keep_indices(scores, 0)
    with pytest.raises(ValueError, match="1-D"):
        keep_indices(scores[None], 2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_evict_chunk_cuts_only_the_chunk_and_keeps_keys_with_their_values(dtype):
    g = torch.Generator().manual_seed(3)
    keys = torch.randn(2, 3, 10, 4, generator=g).to(dtype)  # 4 tokens before the chunk, a chunk of 6
    values = torch.randn(2, 3, 10, 5, generator=g).to(dtype)  # values may be wider than keys
    scores = torch.tensor([0.1, 0.9, 0.3, 0.9, 0.5, 0.2])
    k2, v2, index = evict_chunk(keys, values, scores, 3)
    assert index.tolist() == [1, 3, 4] and index.dtype == torch.int64
    assert k2.shape == (2, 3, 7, 4) and v2.shape == (2, 3, 7, 5) and k2.dtype == v2.dtype == dtype
    assert torch.equal(k2[:, :, :4], keys[:, :, :4]) and torch.equal(v2[:, :, :4], values[:, :, :4])
    assert torch.equal(k2[:, :, 4:], keys[:, :, [5, 7, 8]]) and torch.equal(v2[:, :, 4:], values[:, :, [5, 7, 8]])
    whole, _, all_of_it = evict_chunk(keys, values, torch.rand(10, generator=g), 10)
    assert torch.equal(whole, keys) and all_of_it.tolist() == list(range(10))


def test_evict_chunk_errors():
    keys = torch.zeros(1, 2, 5, 4)
    with pytest.raises(ValueError, match="longer than the cache"):
        evict_chunk(keys, keys, torch.rand(6), 2)
    with pytest.raises(ValueError, match="same B, H, n"):
        evict_chunk(keys, torch.zeros(1, 2, 4, 4), torch.rand(3), 2)
    with pytest.raises(ValueError, match="keep"):
        evict_chunk(keys, keys, torch.rand(3), 4)


def official_adakv(scores, ratio):
    """The official 'adakv' allocation (StandardVidLangKVCache.budget_allocation @ 39223a6), step for step."""
    L, k = scores.shape
    budget = int(max(1, ratio * k) * L)
    counts = torch.ones(L)
    for index in scores.reshape(-1).topk(budget).indices.tolist():
        counts[index // k] += 1
    return L * ratio * counts / counts.sum()


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("ratio", [0.05, 0.25, 0.5])
def test_code_rule_matches_the_official_allocation(seed, ratio):
    scores = torch.rand(6, 40, generator=torch.Generator().manual_seed(seed)) ** 3
    scores[seed % 6] *= 3  # one layer looks harder
    assert torch.allclose(layer_ratios(scores, ratio, smoothing=1), official_adakv(scores, ratio), atol=1e-6)
