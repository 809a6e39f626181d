"""Redundancy over time: chunk distances by the code's rule and the paper's, and the chunk shares."""

import pytest
import torch
import torch.nn.functional as F

from videollm.compress.temporal import chunk_bounds, chunk_distances, chunk_ratios


def loop_distances(tokens, per_chunk, rule):
    """A plain loop over chunks, written from the module's description (the check for the vectorised one)."""
    bounds = [(s, min(s + per_chunk, len(tokens))) for s in range(0, len(tokens), per_chunk)]
    x = tokens.double()
    if rule == "code":
        means = [x[s:e].mean((0, 1)) for s, e in bounds]
        out = []
        for i, c in enumerate(means):
            left, right = means[max(i - 1, 0)], means[min(i + 1, len(means) - 1)]
            out.append(((1 - F.cosine_similarity(c, left, 0)) + (1 - F.cosine_similarity(c, right, 0))) / 2)
        return torch.stack(out)
    out = []
    for s, e in bounds:
        pairs = [(t, t + 1) for t in range(s, e - 1)] or ([(s - 1, s)] if s > 0 else [])
        d = [1 - F.cosine_similarity(x[a], x[b], -1).mean() for a, b in pairs]
        out.append(torch.stack(d).mean() if d else torch.tensor(0.0, dtype=torch.float64))
    return torch.stack(out)


def test_chunk_bounds_cover_the_video_with_a_shorter_last_chunk():
    assert chunk_bounds(7, 3) == [(0, 3), (3, 6), (6, 7)]
    assert chunk_bounds(4, 4) == [(0, 4)]
    assert chunk_bounds(2, 5) == [(0, 2)]
    with pytest.raises(ValueError, match="patches_per_chunk"):
        chunk_bounds(4, 0)


def test_code_rule_by_hand():
    # three one-patch chunks: east, north, east. The middle one differs from both neighbours.
    tokens = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]], [[1.0, 0.0]]])
    d = chunk_distances(tokens, 1, "code")
    assert torch.allclose(d, torch.tensor([0.5, 1.0, 0.5]))
    # shares at r = 0.3: 0.3 * d / mean(d), all inside [0.001, 1]
    assert torch.allclose(chunk_ratios(d, 0.3), torch.tensor([0.225, 0.45, 0.225]), atol=1e-5)


def test_paper_rule_by_hand_compares_adjacent_patches_inside_a_chunk():
    M0 = [[1.0, 0.0], [1.0, 0.0]]
    M1 = [[1.0, 0.0], [0.0, 1.0]]  # the second token turned: mean cosine 0.5
    M2 = M3 = [[0.0, 1.0], [0.0, 1.0]]
    tokens = torch.tensor([M0, M1, M2, M3])
    assert torch.allclose(chunk_distances(tokens, 2, "paper"), torch.tensor([0.5, 0.0]))
    # the code's rule sees the chunks' means instead: (0.75, 0.25) against (0, 1), both sides the same
    c0 = torch.tensor([0.75, 0.25])
    want = (1 - F.cosine_similarity(c0, torch.tensor([0.0, 1.0]), 0)) / 2
    assert torch.allclose(chunk_distances(tokens, 2, "code"), torch.stack([want, want]))


def test_paper_rule_a_one_patch_chunk_compares_with_the_patch_before():
    tokens = torch.tensor([[[1.0, 0.0]], [[1.0, 0.0]], [[0.0, 1.0]]])
    assert torch.allclose(chunk_distances(tokens, 2, "paper"), torch.tensor([0.0, 1.0]))
    assert torch.allclose(chunk_distances(tokens[:1], 2, "paper"), torch.zeros(1))


@pytest.mark.parametrize("rule", ["code", "paper"])
@pytest.mark.parametrize("T, per_chunk", [(8, 2), (9, 4), (5, 1), (1, 3), (16, 16)])
def test_vectorised_distances_match_the_loop(rule, T, per_chunk):
    tokens = torch.randn(T, 6, 10, generator=torch.Generator().manual_seed(T * 10 + per_chunk))
    got = chunk_distances(tokens, per_chunk, rule)
    assert got.dtype == torch.float32 and got.shape == (len(chunk_bounds(T, per_chunk)),)
    assert torch.allclose(got.double(), loop_distances(tokens, per_chunk, rule), atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_tokens_give_float32_distances(dtype):
    tokens = torch.randn(6, 4, 8)
    got = chunk_distances(tokens.to(dtype), 2)
    assert got.dtype == torch.float32
    assert torch.allclose(got, chunk_distances(tokens, 2), atol=2e-2)


def test_identical_chunks_all_keep_the_base_ratio():
    tokens = torch.ones(6, 4, 8)
    for rule in ("code", "paper"):
        d = chunk_distances(tokens, 2, rule)
        assert torch.allclose(d, torch.zeros(3), atol=1e-6)
        assert torch.allclose(chunk_ratios(d, 0.25), torch.full((3,), 0.25), atol=1e-5)


def test_shares_keep_the_mean_stay_in_bounds_and_follow_the_distances():
    d = torch.tensor([0.01, 0.2, 0.9, 0.05, 0.3])
    for r in (0.05, 0.25, 0.6, 1.0):
        p = chunk_ratios(d, r)
        assert float(p.mean()) == pytest.approx(r, abs=1e-5)
        assert float(p.min()) >= 1e-3 - 1e-7 and float(p.max()) <= 1 + 1e-7
        assert (p[d.argsort()].diff() >= -1e-6).all()  # a more novel chunk never keeps less
    assert torch.allclose(chunk_ratios(d, 1.0), torch.ones(5), atol=1e-5)


def test_one_chunk_keeps_the_ratio():
    assert torch.allclose(chunk_ratios(chunk_distances(torch.randn(2, 3, 4), 4), 0.3), torch.tensor([0.3]))


@pytest.mark.parametrize("call, match", [
    (lambda: chunk_distances(torch.randn(4, 3), 2), r"\(T, N, D\)"),
    (lambda: chunk_distances(torch.randint(0, 3, (4, 3, 2)), 2), "floating-point"),
    (lambda: chunk_distances(torch.randn(4, 3, 2), 2, "fast"), "rule"),
    (lambda: chunk_ratios(torch.tensor([0.1, -0.2]), 0.5), ">= 0"),
    (lambda: chunk_ratios(torch.tensor([]), 0.5), "non-empty"),
    (lambda: chunk_ratios(torch.tensor([0.1, 0.2]), 1.5), "ratio"),
    (lambda: chunk_ratios(torch.tensor([0.1, 0.2]), 0.0), "ratio"),
])
def test_bad_input_gets_a_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
