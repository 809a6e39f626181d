"""Tests for videollm.motion.selector (LaVIT's token selector and merger) and videollm.motion.keyframe (its stand-in
training). References: torch's own ``F.gumbel_softmax(hard=True)`` (upstream LaVIT's call) and
``F.scaled_dot_product_attention`` with a boolean mask (torch 2.x), hand-worked cases, and invariants of the merger.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from videollm.motion import keyframe as kf
from videollm.motion import selector as sel

D = 16


def _features(B=3, N=10, seed=0):
    return torch.randn(B, N, D, generator=torch.Generator().manual_seed(seed))


def _mask(rows):
    return torch.tensor(rows, dtype=torch.float32)


# ---------------------------------------------------------------------------------------------------- selector


def test_keep_is_column_zero_as_upstream():
    assert (sel.KEEP, sel.DROP) == (0, 1)


def test_log_probs_shape_and_normalisation():
    selector = sel.TokenSelector(D, hidden=8)
    pi = selector.log_probs(_features())
    assert pi.shape == (3, 10, 2)
    torch.testing.assert_close(pi.exp().sum(-1), torch.ones(3, 10))


def test_layer_norm_on_the_input_cannot_tell_flat_colours_apart():
    # LayerNorm maps every constant vector to the same output (its bias), so with it all flat-coloured patches of an
    # image get the same pi; raw pixels therefore go in with normalize_input=False.
    flat = torch.linspace(-0.5, 0.5, 6)[None, :, None].expand(1, 6, D).contiguous()   # 6 flat "patches"
    torch.manual_seed(0)
    with torch.no_grad():
        normed = sel.TokenSelector(D, hidden=8).log_probs(flat)
        raw = sel.TokenSelector(D, hidden=8, normalize_input=False).log_probs(flat)
    torch.testing.assert_close(normed, normed[:, :1].expand_as(normed))
    assert not torch.allclose(raw, raw[:, :1].expand_as(raw))


def test_training_mask_is_exactly_binary_and_matches_torchs_hard_gumbel_softmax():
    torch.manual_seed(0)
    selector = sel.TokenSelector(D, hidden=8).train()
    x = _features(4, 50)
    weights = torch.randn(4, 50)

    torch.manual_seed(1)
    mask = selector(x, tau=0.7)
    assert mask.shape == (4, 50) and mask.dtype == x.dtype
    assert bool(((mask == 0) | (mask == 1)).all()), "the forward value must be exactly 0 or 1"
    assert 0 < int(mask.sum()) < mask.numel(), "a random selector keeps some and drops some"
    (mask * weights).sum().backward()
    ours = {n: p.grad.clone() for n, p in selector.named_parameters()}

    # Upstream LaVIT's call: F.gumbel_softmax(pi, hard=True)[..., 0], with the same noise.
    selector.zero_grad()
    torch.manual_seed(1)
    reference = F.gumbel_softmax(selector.log_probs(x), tau=0.7, hard=True)[..., sel.KEEP]
    assert torch.equal(mask.detach(), reference.detach())
    (reference * weights).sum().backward()
    for name, p in selector.named_parameters():
        torch.testing.assert_close(ours[name], p.grad, msg=f"straight-through gradient of {name}")
    assert all(g.abs().sum() > 0 for g in ours.values()), "every parameter of the selector gets a gradient"


def test_soft_sample_in_training_is_the_relaxed_keep_probability():
    selector = sel.TokenSelector(D, hidden=8).train()
    x = _features()
    torch.manual_seed(3)
    soft = selector(x, tau=2.0, hard=False)
    torch.manual_seed(3)
    hard = selector(x, tau=2.0, hard=True)
    assert bool(((soft > 0) & (soft < 1)).all())
    assert torch.equal(hard, (soft >= 0.5).float()), "the hard sample is the argmax of the soft one"


def test_eval_is_deterministic_and_thresholds_the_keep_probability():
    torch.manual_seed(0)
    selector = sel.TokenSelector(D, hidden=8).eval()
    x = _features(2, 200)
    with torch.no_grad():
        first, second = selector(x), selector(x)
        pi = selector.log_probs(x)
        p_keep = selector(x, hard=False)
        strict = selector(x, threshold=0.9)
    assert torch.equal(first, second)
    torch.testing.assert_close(p_keep, pi.softmax(-1)[..., sel.KEEP])
    assert torch.equal(first, (pi.argmax(-1) == sel.KEEP).float()), "threshold 0.5 is the argmax of pi"
    assert bool((strict <= first).all()), "a higher threshold keeps a subset"


@pytest.mark.parametrize("bad, match", [
    (torch.randn(10, D), r"\(B, N, D\)"),
    (torch.randn(2, 10, D + 1), "width D = 16"),
    (torch.randn(2, 0, D), "at least one patch"),
])
def test_selector_rejects_wrong_shapes(bad, match):
    with pytest.raises(ValueError, match=match):
        sel.TokenSelector(D)(bad)


def test_selector_rejects_bad_arguments():
    with pytest.raises(ValueError, match="tau"):
        sel.TokenSelector(D)(_features(), tau=0.0)
    with pytest.raises(ValueError, match="threshold"):
        sel.TokenSelector(D).eval()(_features(), threshold=1.0)
    with pytest.raises(ValueError, match="even"):
        sel.TokenSelector(D, hidden=7)
    with pytest.raises(ValueError, match="dim"):
        sel.TokenSelector(0)


# ---------------------------------------------------------------------------------------------------- helpers


def test_kept_positions_counts_and_split():
    mask = _mask([[0, 1, 0, 1, 1], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1]])
    assert sel.kept_counts(mask) == [3, 0, 5]
    positions, padding = sel.kept_positions(mask)
    assert positions.shape == (3, 5)
    assert positions[0, :3].tolist() == [1, 3, 4] and positions[2].tolist() == [0, 1, 2, 3, 4]
    assert padding.tolist() == [[False] * 3 + [True] * 2, [True] * 5, [False] * 5]
    tokens = torch.arange(3 * 5 * 2, dtype=torch.float32).reshape(3, 5, 2)
    parts = sel.split_tokens(tokens, padding)
    assert [len(p) for p in parts] == [3, 0, 5]
    assert torch.equal(parts[0], tokens[0, :3])
    with pytest.raises(ValueError, match=r"\(B, N\)"):
        sel.kept_counts(torch.ones(5))


# ---------------------------------------------------------------------------------------------------- merger


def _merger(depth=2, seed=0):
    torch.manual_seed(seed)
    return sel.TokenMerger(D, heads=4, depth=depth).eval()


def test_merger_outputs_only_the_kept_tokens_and_zero_padding():
    merger = _merger()
    x = _features(3, 6)
    mask = _mask([[1, 0, 0, 1, 0, 1], [0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1]])
    with torch.no_grad():
        tokens, padding = merger(x, mask)
    assert tokens.shape == (3, 6, D)                            # K_max = 6 (the third image keeps all)
    assert (~padding).sum(1).tolist() == sel.kept_counts(mask) == [3, 0, 6]
    assert bool((tokens[padding] == 0).all()), "padding rows are zeros"
    assert bool((tokens[~padding].abs().sum(-1) > 0).all())
    assert [len(t) for t in sel.split_tokens(tokens, padding)] == [3, 0, 6]


def test_merger_with_nothing_kept_anywhere():
    tokens, padding = _merger()(_features(2, 4), torch.zeros(2, 4))
    assert tokens.shape == (2, 0, D) and padding.shape == (2, 0)


def test_all_kept_causal_merger_is_prefix_invariant():
    # With every patch kept, no key is left for cross-attention (it adds 0), and causal self-attention lets token i
    # see tokens <= i only: the first n outputs of an image equal the outputs of its first n patches alone.
    merger = _merger(depth=3)
    x = _features(2, 9)
    with torch.no_grad():
        full, _ = merger(x, torch.ones(2, 9))
        for n in (1, 4, 9):
            prefix, _ = merger(x[:, :n], torch.ones(2, n))
            torch.testing.assert_close(full[:, :n], prefix, atol=1e-5, rtol=1e-5)


def test_first_token_attends_only_to_itself_when_all_kept():
    # Token 0 of an all-kept image: its self-attention has one key (itself, weight 1) and cross-attention none,
    # so one block is t + out(v(LN(t))) followed by the MLP: a per-token map we can write out by hand.
    merger = _merger(depth=1)
    x = _features(2, 5)
    with torch.no_grad():
        tokens, _ = merger(x, torch.ones(2, 5))
        block = merger.blocks[0]
        t = x[:, 0]
        t = t + block.self_attn.out(block.self_attn.v(block.norm_self(t)))
        t = t + block.mlp(block.norm_mlp(t))
        expected = merger.norm_out(t)
    torch.testing.assert_close(tokens[:, 0], expected, atol=1e-5, rtol=1e-5)


def test_dropped_patches_flow_in_and_their_order_does_not_matter():
    merger = _merger()
    x = _features(1, 8)
    mask = _mask([[1, 0, 1, 0, 0, 1, 0, 1]])
    with torch.no_grad():
        base, _ = merger(x, mask)
        shuffled = x.clone()
        shuffled[0, [1, 3, 4, 6]] = x[0, [6, 1, 3, 4]]            # permute the dropped patches among themselves
        torch.testing.assert_close(merger(shuffled, mask)[0], base, atol=1e-5, rtol=1e-5)
        changed = x.clone()
        kick = torch.randn(D, generator=torch.Generator().manual_seed(9))   # not a constant: LayerNorm removes those
        changed[0, 4] += kick                                    # a dropped patch: every kept token may change
        assert not torch.allclose(merger(changed, mask)[0], base)
        later = x.clone()
        later[0, 5] += kick                                      # the 3rd kept token: the first two cannot see it
        out, _ = merger(later, mask)
        torch.testing.assert_close(out[:, :2], base[:, :2], atol=1e-6, rtol=1e-6)
        assert not torch.allclose(out[:, 2:], base[:, 2:])


def test_masked_attention_matches_scaled_dot_product_attention():
    torch.manual_seed(0)
    attention = sel._Attention(D, heads=4).eval()
    queries, keys = torch.randn(2, 3, D), torch.randn(2, 7, D)
    allowed = torch.rand(2, 3, 7) > 0.4
    allowed[..., 0] = True                                       # every row has a key (SDPA gives NaN otherwise)
    with torch.no_grad():
        ours = attention(queries, keys, allowed.float())
        split = lambda t: t.reshape(2, -1, 4, D // 4).transpose(1, 2)  # noqa: E731
        q, k, v = split(attention.q(queries)), split(attention.k(keys)), split(attention.v(keys))
        ref = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed[:, None])
        ref = attention.out(ref.transpose(1, 2).reshape(2, 3, D))
        torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)
        # a query without any allowed key gets nothing at all (not even the output layer's bias)
        empty = attention(queries, keys, torch.zeros(2, 3, 7))
        assert bool((empty == 0).all())


def test_gradients_reach_the_selector_through_the_merger():
    torch.manual_seed(0)
    selector, merger = sel.TokenSelector(D, hidden=8).train(), sel.TokenMerger(D, heads=4, depth=1)
    x = _features(2, 12)
    for seed in range(20):                                       # a sample that keeps some and drops some per image
        torch.manual_seed(seed)
        mask = selector(x)
        if all(0 < k < 12 for k in sel.kept_counts(mask)):
            break
    tokens, _ = merger(x, mask)
    (tokens * torch.randn_like(tokens)).sum().backward()
    grads = [p.grad for p in selector.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0, "the mask's straight-through gradient reaches pi"


@pytest.mark.parametrize("mask, match", [
    (torch.ones(2, 5), r"\(B, N\)"),
    (torch.full((2, 6), 0.5), "only 0 and 1"),
])
def test_merger_rejects_bad_masks(mask, match):
    with pytest.raises(ValueError, match=match):
        _merger()(_features(2, 6), mask)


def test_merger_rejects_bad_features_and_heads():
    with pytest.raises(ValueError, match=r"\(B, N, D\)"):
        _merger()(torch.randn(6, D), torch.ones(1, 6))
    with pytest.raises(ValueError, match="divisible"):
        sel.TokenMerger(D, heads=3)


# ---------------------------------------------------------------------------------------------------- keyframe


def test_patch_features_of_a_course_frame():
    frames = np.zeros((2, 128, 160, 3), dtype=np.uint8)
    frames[0, :8, 8:16] = 255                                     # patch 1 of image 0 is white
    x = kf.patch_features(frames, 8)
    assert x.shape == (2, 320, 192) and x.dtype == torch.float32
    assert bool((x[0, 1] == 0.5).all()) and bool((x[0, 0] == -0.5).all())
    with pytest.raises(ValueError, match=r"\(B, H, W, 3\)"):
        kf.patch_features(frames[0], 8)


def test_foreground_fraction_by_hand():
    seg = np.full((1, 16, 16), -1, dtype=np.int8)
    seg[0, 0:8, 0:8] = 0                                          # patch 0 fully covered
    seg[0, 0:4, 8:16] = 2                                         # patch 1 half covered
    seg[0, 8, 8] = 1                                              # patch 3: one pixel of 64
    f = kf.foreground_fraction(seg, 8)
    torch.testing.assert_close(f, torch.tensor([[1.0, 0.5, 0.0, 1 / 64]]))


def test_stand_in_loss_by_hand():
    mask = _mask([[1, 0, 0, 1]])
    fg = _mask([[1.0, 0.5, 0.0, 0.0]])
    # lost = (0 + 0.5 + 0 + 0) / 4 = 0.125; keep ratio 0.5, target 0.25: 2 * 0.25^2 = 0.125
    torch.testing.assert_close(kf.stand_in_loss(mask, fg, target_ratio=0.25, weight=2.0), torch.tensor(0.25))
    with pytest.raises(ValueError, match="target_ratio"):
        kf.stand_in_loss(mask, fg, target_ratio=1.5)


def test_train_selector_runs_and_returns_an_eval_selector():
    selector, history = kf.train_selector(steps=5, num_frames=10, batch_size=4, hidden=8)
    assert not selector.training
    assert len(history["loss"]) == len(history["keep_ratio"]) == 5 and history["seconds"] > 0
    features, foreground = kf.training_frames(3)
    assert features.shape == (3, 320, 192) and foreground.shape == (3, 320)
    with torch.no_grad():
        mask = selector(features)
    assert bool(((mask == 0) | (mask == 1)).all())
