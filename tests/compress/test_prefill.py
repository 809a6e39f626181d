"""AdaReTaKe's prefill on transformers' real Qwen2-VL and Qwen2.5-VL classes (tiny, random weights)."""

import copy

import numpy as np
import pytest
import torch

from videollm.compress import baselines
from videollm.compress.cache import ATTENTION, GuidedCache, lower_right_attention, text_layers, watching
from videollm.compress.evict import keep_indices
from videollm.compress.layers import question_scores
from videollm.compress import evict, layers, simplex, temporal
from videollm.compress.prefill import (METHODS, Budget, Steps, budget_ratio, continue_logits, embed_video_input,
                                       prefill)
from videollm.vlm import inference as vlm

FAMILIES = ("qwen2_vl", "qwen2_5_vl")


@pytest.fixture(scope="module", params=FAMILIES)
def setup(request):
    family = request.param
    torch.manual_seed(0)
    model, processor = vlm.build_tiny(family)
    model.eval()
    frames = np.random.default_rng(1).integers(0, 255, (16, 56, 56, 3), dtype=np.uint8)
    prompt = vlm.chat_prompt(processor, "What colour is the triangle?", ["red", "blue"], video=True)
    inputs = vlm.prepare_video_inputs(processor, frames, prompt, family)
    with torch.no_grad():
        full = model(**inputs, use_cache=True)
    video = embed_video_input(model, inputs["input_ids"], inputs["pixel_values_videos"], inputs["video_grid_thw"])
    return model, inputs, full, video


def test_the_embedded_input_is_the_one_the_model_reads(setup):
    model, inputs, full, video = setup
    assert video.grid == (8, 2, 2) and video.end - video.start == 32
    assert video.video_tokens.shape == (8, 4, model.config.text_config.hidden_size)
    with torch.no_grad():
        out = model.model.language_model(inputs_embeds=video.embeds, position_ids=video.positions)
    assert torch.allclose(model.lm_head(out.last_hidden_state), full.logits, atol=1e-5)


@pytest.mark.parametrize("per_chunk", [1, 2, 3, 8])
def test_no_compression_is_exactly_the_plain_forward(setup, per_chunk):
    model, _, full, video = setup
    done = prefill(model, video, Budget(ratio=1.0, patches_per_chunk=per_chunk))
    logits = continue_logits(model, done, video)
    assert torch.allclose(logits, full.logits[:, video.end:], atol=1e-5)
    L = video.embeds.shape[1]
    assert all(held.tolist() == list(range(L)) for held in done.cache.token_index)


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("ratio", [0.5, 0.25, 0.05])
def test_each_layer_holds_the_text_and_what_it_kept(setup, method, ratio):
    model, _, _, video = setup
    done = prefill(model, video, Budget(ratio=ratio, **METHODS[method]))
    cache = done.cache
    for layer, held in enumerate(cache.token_index):
        kept = sum(chunk[layer] for chunk in done.kept)
        assert cache.layers[layer].keys.shape[2] == video.start + kept == len(held)
        assert held[:video.start].tolist() == list(range(video.start))  # text before the video: all of it
        assert (held.diff() > 0).all() and int(held.max()) < video.end  # temporal order; the question is gone
    assert 0 < done.kept_tokens <= ratio * 32 * len(cache.layers) + len(done.chunks) * len(cache.layers)
    logits = continue_logits(model, done, video)
    assert torch.isfinite(logits).all()


def test_each_step_can_be_replaced_and_is_used(setup):
    """Steps that wrap the course's own give the same cache, and every one of them is called (a lab's answers run
    in the real model through them)."""
    model, _, _, video = setup
    calls = []

    def counted(name, fn):
        def wrapper(*args, **kwargs):
            calls.append(name)
            return fn(*args, **kwargs)
        return wrapper

    steps = Steps(chunk_distances=counted("distances", temporal.chunk_distances),
                  project=counted("project", simplex.exact_capped_simplex),
                  layer_ratios=counted("layers", layers.layer_ratios), keep_count=counted("count", evict.keep_count),
                  evict_chunk=counted("evict", evict.evict_chunk))
    ours, theirs = prefill(model, video, Budget(ratio=0.25), steps=steps), prefill(model, video, Budget(ratio=0.25))
    assert set(calls) == {"distances", "project", "layers", "count", "evict"}
    assert ours.kept == theirs.kept
    for a, b in zip(ours.cache.layers, theirs.cache.layers):
        assert torch.equal(a.keys, b.keys) and torch.equal(a.values, b.values)


def test_chunk_shares_keep_the_budget(setup):
    model, _, _, video = setup
    done = prefill(model, video, Budget(ratio=0.3, patches_per_chunk=2))
    assert np.mean(done.chunk_ratios) == pytest.approx(0.3, abs=1e-4)
    assert [e - s for s, e in done.chunks] == [8, 8, 8, 8]


def test_layer_zero_keeps_the_keys_the_full_forward_computed(setup):
    # layer 0 reads the embeddings alone, so a kept token's key there is the uncompressed one, exactly
    model, _, full, video = setup
    done = prefill(model, video, Budget(ratio=0.25))
    held = done.cache.token_index[0]
    assert torch.allclose(done.cache.layers[0].keys, full.past_key_values.layers[0].keys[:, :, held], atol=1e-5)


def test_scores_are_the_questions_attention_and_the_best_are_kept(setup):
    model, _, _, video = setup
    budget = Budget(ratio=0.5, patches_per_chunk=2)
    done = prefill(model, video, budget)
    cache, (s, e) = done.cache, done.chunks[-1]
    # recompute layer 0's scores for the last chunk by hand: the question placed after the chunk
    q0, q1 = video.end, video.embeds.shape[1]
    shift = video.positions[0, 0, q0] - video.positions[0, 0, e - 1] - 1
    embeds = torch.cat([video.embeds[:, s:e], video.embeds[:, q0:q1]], 1)
    positions = torch.cat([video.positions[..., s:e], video.positions[..., q0:q1] - shift], -1)
    text = model.model.language_model
    attention = text_layers(model)[0].self_attn
    with torch.no_grad():
        hidden = text_layers(model)[0].input_layernorm(embeds)
        cos, sin = text.rotary_emb(hidden, positions)
        dh = attention.head_dim
        q = attention.q_proj(hidden).view(1, -1, attention.config.num_attention_heads, dh).transpose(1, 2)
        k = attention.k_proj(hidden).view(1, -1, attention.config.num_key_value_heads, dh).transpose(1, 2)
        rotate = __import__(type(attention).__module__, fromlist=["x"]).apply_rotary_pos_emb
        q, k = rotate(q, k, cos, sin)
    n = e - s
    want = question_scores(q[0, :, n:], k[0, :, :n])
    assert torch.allclose(cache.scores[0], want, atol=1e-5)
    for layer in range(len(cache.layers)):
        kept = done.kept[-1][layer]
        assert cache.token_index[layer][-kept:].tolist() == (s + keep_indices(cache.scores[layer], kept)).tolist()


def test_random_eviction_depends_on_its_seed_only(setup):
    model, _, _, video = setup
    runs = [prefill(model, video, Budget(ratio=0.25, seed=seed, **METHODS["random eviction"])) for seed in (0, 0, 1)]
    held = [torch.cat(r.cache.token_index) for r in runs]
    assert torch.equal(held[0], held[1]) and not torch.equal(held[0], held[2])


def test_a_bfloat16_model_compresses(setup):
    model, inputs, _, _ = setup
    model = copy.deepcopy(model).to(torch.bfloat16)  # a copy: casting back would round the shared weights
    video = embed_video_input(model, inputs["input_ids"], inputs["pixel_values_videos"], inputs["video_grid_thw"])
    done = prefill(model, video, Budget(ratio=0.25))
    logits = continue_logits(model, done, video)
    assert logits.dtype == torch.bfloat16 and torch.isfinite(logits.float()).all()
    assert done.cache.layers[0].keys.dtype == torch.bfloat16
    reference = prefill(copy.deepcopy(setup[0]), embed_video_input(setup[0], inputs["input_ids"],
                        inputs["pixel_values_videos"], inputs["video_grid_thw"]), Budget(ratio=0.25))
    # the question's scores agree to bfloat16's precision (the random model's near-ties may still flip choices)
    for got, want in zip(done.cache.scores, reference.cache.scores):
        assert got.dtype == torch.float32 and torch.allclose(got, want, rtol=5e-2, atol=1e-2)


def test_watching_switches_attention_and_undoes_it(setup):
    model = setup[0]
    attention = text_layers(model)[0].self_attn
    before = attention.config._attn_implementation
    hooks = len(attention._forward_pre_hooks)
    with watching(model):
        assert all(layer.self_attn.config._attn_implementation == ATTENTION for layer in text_layers(model))
        assert len(attention._forward_pre_hooks) == hooks + 1
    assert attention.config._attn_implementation == before and len(attention._forward_pre_hooks) == hooks


def test_a_guided_forward_outside_watching_is_an_error(setup):
    model, _, _, video = setup
    cache = GuidedCache(model.config.text_config)
    with pytest.raises(RuntimeError, match="watching"), cache.guided(3), torch.no_grad():
        model.model.language_model(inputs_embeds=video.embeds[:, :10], position_ids=video.positions[..., :10],
                                   past_key_values=cache, use_cache=True)


def test_subset_prefill_all_tokens_is_the_plain_forward_and_fewer_hold_fewer(setup):
    model, _, full, video = setup
    n = video.end - video.start
    done = baselines.prefill_subset(model, video, torch.arange(n))
    assert torch.allclose(continue_logits(model, done, video), full.logits[:, video.end:], atol=1e-5)
    keep = baselines.patch_tokens(baselines.uniform_patches(8, 0.25), 4)
    done = baselines.prefill_subset(model, video, keep)
    assert done.cache.layers[1].keys.shape[2] == video.start + 8
    assert done.cache.token_index[1][video.start:].tolist() == (video.start + keep).tolist()
    with pytest.raises(ValueError, match="ascending"):
        baselines.prefill_subset(model, video, torch.tensor([3, 1]))


def test_budget_and_input_errors(setup):
    model, inputs, _, video = setup
    with pytest.raises(ValueError, match="ratio"):
        Budget(ratio=0.0)
    with pytest.raises(ValueError, match="temporal"):
        Budget(temporal="both")
    with pytest.raises(ValueError, match="layers=None"):
        Budget(score="random")
    with pytest.raises(ValueError, match="score"):
        Budget(score="loudest", layers=None)
    with pytest.raises(ValueError, match="question"):
        prefill(model, video, Budget(), question=(0, 3))
    with pytest.raises(ValueError, match="one row"):
        embed_video_input(model, inputs["input_ids"].repeat(2, 1), inputs["pixel_values_videos"],
                          inputs["video_grid_thw"])
    text_only = inputs["input_ids"][:, :5]
    with pytest.raises(ValueError, match="no video"):
        embed_video_input(model, text_only, inputs["pixel_values_videos"], inputs["video_grid_thw"])


def test_budget_ratio_is_the_global_rule():
    assert budget_ratio(12_000, 16_000) == 1.0
    assert budget_ratio(16_000, 16_000) == 1.0
    assert budget_ratio(64_000, 16_000) == 0.25
    with pytest.raises(ValueError, match="max_context"):
        budget_ratio(100, 0)


def test_baseline_choices():
    assert baselines.uniform_patches(8, 0.25).tolist() == [0, 7]
    assert baselines.uniform_patches(8, 1.0).tolist() == list(range(8))
    assert baselines.uniform_patches(3, 0.01).tolist() == [0]
    assert baselines.uniform_tokens(32, 0.25).tolist() == [2, 6, 10, 14, 18, 22, 26, 30]
    # DPSelect: patches 0-2 alike, 3 a cut, 4-5 alike, 6 a cut. The first patch counts as new (distance 1).
    a, b, c = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]), torch.tensor([1.0, 1.0])
    tokens = torch.stack([a, a, a, b, b, b, c]).view(7, 1, 2).expand(7, 3, 2)
    assert baselines.dpselect_patches(tokens, 3 / 7).tolist() == [0, 3, 6]
    assert baselines.patch_tokens(torch.tensor([0, 2]), 3).tolist() == [0, 1, 2, 6, 7, 8]
    with pytest.raises(ValueError, match="ratio"):
        baselines.uniform_tokens(10, 1.5)


def test_every_layers_scores_are_the_questions_renormalised_attention(setup):
    # an independent reading for all layers: eager attention's weights over [text, chunk, question] (the whole video
    # one chunk), the question's rows restricted to the chunk's columns and renormalised, summed, averaged over heads
    model, _, _, video = setup
    done = prefill(model, video, Budget(ratio=0.5, patches_per_chunk=8, temporal=None))
    q0, q1 = video.end, video.embeds.shape[1]
    shift = video.positions[0, 0, q0] - video.positions[0, 0, video.end - 1] - 1
    embeds = torch.cat([video.embeds[:, :video.end], video.embeds[:, q0:q1]], 1)
    positions = torch.cat([video.positions[..., :video.end], video.positions[..., q0:q1] - shift], -1)
    eager = copy.deepcopy(model)
    eager.set_attn_implementation("eager")
    with torch.no_grad():
        out = eager.model.language_model(inputs_embeds=embeds, position_ids=positions, output_attentions=True)
    for layer, weights in enumerate(out.attentions):  # (1, heads, L, L)
        rows = weights[0, :, video.end:, video.start:video.end]
        want = (rows / rows.sum(-1, keepdim=True)).sum(1).mean(0)
        assert torch.allclose(done.cache.scores[layer], want, atol=1e-5), layer


def test_lower_right_attention_is_causal_attention_aligned_at_the_last_key():
    g = torch.Generator().manual_seed(0)
    query, key, value = (torch.randn(2, 4, 3, 8, generator=g), torch.randn(2, 2, 7, 8, generator=g),
                         torch.randn(2, 2, 7, 8, generator=g))
    out, _ = lower_right_attention(None, query, key, value, None, scaling=0.5)
    logits = query @ key.repeat_interleave(2, 1).transpose(-1, -2) * 0.5  # (2, 4, 3, 7)
    allowed = torch.arange(7)[None] <= torch.arange(3)[:, None] + 4  # query i sees keys up to 7 - 3 + i
    want = logits.masked_fill(~allowed, float("-inf")).softmax(-1) @ value.repeat_interleave(2, 1)
    assert out.shape == (2, 3, 4, 8) and torch.allclose(out, want.transpose(1, 2), atol=1e-6)
    square, _ = lower_right_attention(None, query, key[:, :, :3], value[:, :, :3], None)
    logits = query @ key[:, :, :3].repeat_interleave(2, 1).transpose(-1, -2) / 8 ** 0.5
    want = logits.masked_fill(~torch.ones(3, 3, dtype=torch.bool).tril(), float("-inf")).softmax(-1)
    assert torch.allclose(square, (want @ value[:, :, :3].repeat_interleave(2, 1)).transpose(1, 2), atol=1e-6)


def test_qwen25_positions_follow_the_frame_rate():
    # Qwen2.5-VL times its video positions by second_per_grid_ts = 2 / fps; at 0.5 fps they are 4x further apart
    torch.manual_seed(0)
    model, processor = vlm.build_tiny("qwen2_5_vl")
    model.eval()
    frames = np.random.default_rng(2).integers(0, 255, (8, 56, 56, 3), dtype=np.uint8)
    prompt = vlm.chat_prompt(processor, "What happens?", None, video=True)
    inputs = vlm.prepare_video_inputs(processor, frames, prompt, "qwen2_5_vl", fps=0.5)
    with torch.no_grad():
        full = model(**inputs).logits
    video = embed_video_input(model, inputs["input_ids"], inputs["pixel_values_videos"], inputs["video_grid_thw"],
                              inputs["second_per_grid_ts"])
    done = prefill(model, video, Budget(ratio=1.0))
    assert torch.allclose(continue_logits(model, done, video), full[:, video.end:], atol=1e-5)


def test_a_chunk_that_keeps_everything_is_prefilled_whole(setup):
    model, _, _, video = setup
    done = prefill(model, video, Budget(ratio=0.95, patches_per_chunk=1))
    whole = [i for i, share in enumerate(done.chunk_ratios) if share >= 1]
    assert whole, "expected some chunk's share to reach 1 at ratio 0.95"
    for i in whole:
        s, e = done.chunks[i]
        assert done.kept[i] == [e - s] * len(done.cache.layers)
        assert all(set(range(s, e)) <= set(held.tolist()) for held in done.cache.token_index)
    assert torch.isfinite(continue_logits(model, done, video)).all()


def test_chunks_that_do_not_divide_the_video(setup):
    model, _, _, video = setup
    done = prefill(model, video, Budget(ratio=0.5, patches_per_chunk=3))
    assert [e - s for s, e in done.chunks] == [12, 12, 8]
    assert all(len(held) == video.start + sum(c[i] for c in done.kept)
               for i, held in enumerate(done.cache.token_index))


def test_a_compressed_cache_read_outside_watching_is_a_clear_error(setup):
    model, _, _, video = setup
    done = prefill(model, video, Budget(ratio=0.25))
    with pytest.raises(RuntimeError, match="watching"), torch.no_grad():
        model.model.language_model(inputs_embeds=video.embeds[:, video.end:],
                                   position_ids=video.positions[..., video.end:], past_key_values=done.cache,
                                   use_cache=True)


def test_watching_is_undone_after_an_error(setup):
    model = setup[0]
    attention = text_layers(model)[0].self_attn
    before, hooks = attention.config._attn_implementation, len(attention._forward_pre_hooks)
    with pytest.raises(KeyError), watching(model):
        raise KeyError("inside")
    assert attention.config._attn_implementation == before and len(attention._forward_pre_hooks) == hooks


def test_sliding_window_layers_are_refused(setup):
    model = copy.deepcopy(setup[0])
    model.config.text_config.layer_types = ["sliding_attention", "full_attention"]
    with pytest.raises(ValueError, match="sliding"), watching(model):
        pass


def test_bfloat16_without_compression_matches_the_plain_bfloat16_forward(setup):
    model, inputs, _, _ = setup
    model = copy.deepcopy(model).to(torch.bfloat16)
    with torch.no_grad():
        full = model(**inputs).logits
    video = embed_video_input(model, inputs["input_ids"], inputs["pixel_values_videos"], inputs["video_grid_thw"])
    done = prefill(model, video, Budget(ratio=1.0))
    assert torch.allclose(continue_logits(model, done, video).float(), full[:, video.end:].float(), atol=2e-2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU here")
def test_on_a_gpu(setup):
    model, inputs, full, _ = setup
    model = copy.deepcopy(model).to("cuda")
    video = embed_video_input(model, inputs["input_ids"], inputs["pixel_values_videos"], inputs["video_grid_thw"])
    assert video.embeds.is_cuda
    done = prefill(model, video, Budget(ratio=1.0))
    assert torch.allclose(continue_logits(model, done, video).cpu(), full.logits[:, video.end:], atol=1e-4)
    done = prefill(model, video, Budget(ratio=0.25))
    assert done.cache.layers[0].keys.is_cuda and torch.isfinite(continue_logits(model, done, video)).all()
