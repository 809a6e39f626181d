"""Tests for unit 03 (videollm.fusion.model, videollm.fusion.train): placeholder layout, interleaving, projector, masks.

Upstream agreement is checked against transformers 5.23.0 (LlavaOnevisionMultiModalProjector, Qwen2ForCausalLM's
loss, LLaVA-OneVision's placeholder mask + masked_scatter).
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from videollm.cache import spec_hash
from videollm.fusion import model as fu, train as ft


# ------------------------------------------------------------------------------------------------- placeholders
def test_expand_placeholders_hand_example():
    ids = torch.tensor([5, 7, 9, 7, 3])
    out = fu.expand_placeholders(ids, 7, 3)
    assert out.tolist() == [5, 7, 7, 7, 9, 7, 7, 7, 3]


def test_expand_placeholders_length_and_order():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(10, 50, (40,), generator=g)
    ids[[3, 17]] = 99
    out = fu.expand_placeholders(ids, 99, 16)
    assert len(out) == 40 - 2 + 2 * 16 and int((out == 99).sum()) == 32
    assert out[out != 99].tolist() == ids[ids != 99].tolist()       # text unchanged, in order


def test_expand_placeholders_errors():
    with pytest.raises(ValueError, match="no placeholder"):
        fu.expand_placeholders(torch.tensor([1, 2, 3]), 7, 4)
    with pytest.raises(ValueError, match="positive"):
        fu.expand_placeholders(torch.tensor([7]), 7, 0)
    with pytest.raises(TypeError):
        fu.expand_placeholders(torch.tensor([[7]]), 7, 2)


def test_vq_token_ids_offset_and_order():
    codes = torch.arange(2 * 2 * 3).reshape(2, 2, 3)               # (T, h, w)
    out = fu.vq_token_ids(codes, 1000, num_codes=256)
    # frame 0 row 0, frame 0 row 1, frame 1 row 0, ...: row-major inside frames, frame-major overall
    assert out.tolist() == [1000 + i for i in range(12)]
    assert int(out.min()) >= 1000                                    # never collides with a text id
    with pytest.raises(ValueError, match="codebook"):
        fu.vq_token_ids(torch.tensor([256]), 1000, num_codes=256)
    with pytest.raises(TypeError):
        fu.vq_token_ids(torch.tensor([0.5]), 1000)


def test_insert_visual_tokens():
    ids = torch.tensor([1, 2, 7, 3])
    out = fu.insert_visual_tokens(ids, 7, torch.tensor([100, 101, 102]))
    assert out.tolist() == [1, 2, 100, 101, 102, 3]
    with pytest.raises(ValueError, match="exactly one"):
        fu.insert_visual_tokens(torch.tensor([7, 7]), 7, torch.tensor([1]))
    with pytest.raises(ValueError, match="exactly one"):
        fu.insert_visual_tokens(torch.tensor([1, 2]), 7, torch.tensor([1]))


def test_prompt_layout_with_the_course_tokenizer():
    from videollm.world.text_tokenizer import course_tokenizer

    tok = course_tokenizer()
    text = fu.prompt_text("What colour is the circle?", ["red", "blue"])
    ids = torch.tensor(tok(text, add_special_tokens=False)["input_ids"])
    start, pad, end = (tok.convert_tokens_to_ids(t) for t in (fu.VISION_START, fu.PLACEHOLDER, fu.VISION_END))
    where = (ids == pad).nonzero().flatten().tolist()
    assert len(where) == 1 and ids[where[0] - 1] == start and ids[where[0] + 1] == end
    expanded = fu.expand_placeholders(ids, pad, 128)
    # Qwen2-VL's layout: <|vision_start|> <|video_pad|> x N <|vision_end|>, contiguous
    first = int((expanded == pad).nonzero()[0])
    assert expanded[first - 1] == start and expanded[first + 128] == end
    assert bool((expanded[first:first + 128] == pad).all())
    assert "Options: red, blue" in text and "Options" not in fu.prompt_text("What colour is the circle?")


# ------------------------------------------------------------------------------------------------- scatter
def test_flatten_frames_is_frame_major():
    x = torch.arange(2 * 3).float().reshape(1, 2, 3, 1)
    assert fu.flatten_frames(x)[0, :, 0].tolist() == [0, 1, 2, 3, 4, 5]


def test_scatter_visual_matches_llava_onevision_masking():
    g = torch.Generator().manual_seed(1)
    B, L, D, N, pad = 2, 12, 8, 5, 3
    ids = torch.randint(4, 20, (B, L), generator=g)
    ids[0, 2:7] = pad
    ids[1, [1, 3, 5, 7, 9]] = pad                                    # positions need not be contiguous
    embeds = torch.randn(B, L, D, generator=g)
    feats = torch.randn(B, N, D, generator=g)
    out = fu.scatter_visual(embeds, ids, feats, pad)
    # transformers 5.23.0 LlavaOnevisionModel: mask = input_ids == video_token_id, then masked_scatter on the
    # flattened features; written out row by row here
    for b in range(B):
        where = (ids[b] == pad).nonzero().flatten()
        assert torch.equal(out[b, where], feats[b])
        assert torch.equal(out[b, ids[b] != pad], embeds[b, ids[b] != pad])
    assert torch.equal(embeds, embeds.clone())                      # input not modified in place


def test_scatter_visual_count_mismatch():
    ids = torch.tensor([[1, 3, 3, 2]])
    with pytest.raises(ValueError, match="placeholders"):
        fu.scatter_visual(torch.zeros(1, 4, 2), ids, torch.zeros(1, 3, 2), 3)
    with pytest.raises(ValueError, match="features"):
        fu.scatter_visual(torch.zeros(1, 4, 2), ids, torch.zeros(1, 2, 5), 3)


# ------------------------------------------------------------------------------------------------- batches
def test_make_batch_masks():
    prompts = [torch.tensor([1, 2, 3]), torch.tensor([4, 5])]
    answers = [torch.tensor([8, 9]), torch.tensor([7])]
    b = fu.make_batch(prompts, answers, pad_id=0)
    assert b["input_ids"].tolist() == [[1, 2, 3, 8, 9], [4, 5, 7, 0, 0]]
    assert b["attention_mask"].tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]
    assert b["labels"].tolist() == [[-100, -100, -100, 8, 9], [-100, -100, 7, -100, -100]]


def test_labels_give_the_answer_only_loss_of_qwen2():
    lm = fu.tiny_lm(50, hidden=16, layers=1, heads=2, kv_heads=1, intermediate=32)
    b = fu.make_batch([torch.tensor([1, 2, 3, 4])], [torch.tensor([5, 6])], pad_id=0)
    out = lm(input_ids=b["input_ids"], attention_mask=b["attention_mask"], labels=b["labels"])
    logits = out.logits[0]
    # next-token prediction of the two answer tokens from positions 3 and 4 only
    manual = F.cross_entropy(logits[3:5], torch.tensor([5, 6]))
    assert torch.allclose(out.loss, manual, atol=1e-5)


# ------------------------------------------------------------------------------------------------- modules
def test_projector_matches_transformers_llava_onevision_projector():
    from transformers import LlavaOnevisionConfig
    from transformers.models.llava_onevision.modeling_llava_onevision import LlavaOnevisionMultiModalProjector

    config = LlavaOnevisionConfig(vision_config={"model_type": "siglip_vision_model", "hidden_size": 24},
                                  text_config={"model_type": "qwen2", "hidden_size": 16})
    theirs = LlavaOnevisionMultiModalProjector(config)
    ours = fu.Projector(24, 16)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(3, 7, 24)
    assert torch.allclose(ours(x), theirs(x), atol=1e-6)
    lin = fu.Projector(24, 16)
    lin.act = torch.nn.Identity()
    assert not torch.allclose(lin(x), ours(x))


def test_frame_encoder_tokens():
    enc = fu.FrameEncoder(32, 8, 16)
    assert enc(torch.rand(2, 3, 3, 32, 32)).shape == (2, 3, 16, 16) and enc.tokens_per_frame == 16
    pooled = fu.FrameEncoder(32, 8, 16, pool=2)
    assert pooled(torch.rand(1, 2, 3, 32, 32)).shape == (1, 2, 4, 16)
    with pytest.raises(ValueError):
        fu.FrameEncoder(30, 8, 16)
    with pytest.raises(ValueError, match="B, T, 3"):
        enc(torch.rand(2, 3, 32, 32))


def test_early_fusion_puts_projected_features_at_placeholders():
    lm = fu.tiny_lm(40, hidden=16, layers=1, heads=2, kv_heads=1, intermediate=32)
    model = fu.EarlyFusionLM(lm, "non_tokenised", 7, 40, fu.FrameEncoder(32, 8, 12, pool=2), fu.Projector(12, 16))
    ids = fu.expand_placeholders(torch.tensor([1, 2, 7, 3]), 7, 2 * 4).unsqueeze(0)
    clips = torch.rand(1, 2, 3, 32, 32)
    emb = model.inputs_embeds(ids, clips)
    assert torch.allclose(emb[0, 2:10], model.visual_features(clips)[0])
    assert torch.allclose(emb[0, [0, 1, 10]], lm.get_input_embeddings()(ids[0, [0, 1, 10]]))
    out = model(ids, torch.ones_like(ids), clips=clips, labels=ids)
    out.loss.backward()
    assert model.projector.linear_1.weight.grad.abs().sum() > 0
    assert model.encoder.patch_embed.proj.weight.grad.abs().sum() > 0


# ------------------------------------------------------------------------------------------------- training
def _toy_data(style: str, n: int = 4, text_vocab: int = 60) -> ft.FusionData:
    g = torch.Generator().manual_seed(0)
    clips = torch.rand(n, 2, 3, 32, 32, generator=g)
    codes = torch.randint(0, 256, (2, n, 2, 8, 8), generator=g)
    text = [torch.tensor([1, 2, 7, 3]) for _ in range(n)]
    options = [[torch.tensor([10 + k, 2]) for k in range(3)] for _ in range(n)]
    answers = torch.arange(n) % 3
    records = [{"id": f"q{i}", "task": "toy", "options": ["a", "b", "c"], "answer": "ABC"[int(answers[i])]}
               for i in range(n)]
    tokens = 2 * 64 if style == "tokenised" else 2 * 4
    return ft.FusionData(records, clips, text, options, answers, tokens, 7, text_vocab, codes)


@pytest.mark.parametrize("style", fu.STYLES)
def test_training_fits_a_toy_set(style):
    torch.manual_seed(0)
    config = ft.FusionConfig(style=style, num_frames=2, pool=2, feature_dim=16, hidden=32, intermediate=64,
                             steps=120, batch_size=8, lr=1e-2)
    lm = fu.tiny_lm(60, 32, 2, 4, 2, 64)
    encoder = projector = None
    if style == "tokenised":
        lm.resize_token_embeddings(60 + 256, mean_resizing=False)
    else:
        encoder, projector = fu.FrameEncoder(32, 8, 16, 2), fu.Projector(16, 32)
    model = fu.EarlyFusionLM(lm, style, 7, 60, encoder, projector)
    data = _toy_data(style)
    history = ft.train(model, data, dataclasses.replace(config, flip=False, shuffle_frames=False), pad_id=0)
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    result = ft.evaluate(model, data, pad_id=0)
    assert result["accuracy"] == 100.0 and result["random"] == pytest.approx(100 / 3)


def test_spec_and_checkpoint_roundtrip(tmp_path, monkeypatch):
    from videollm import cache

    monkeypatch.setenv("VIDEOLLM_DATA", str(tmp_path))
    monkeypatch.setattr(cache, "COMMITTED_WEIGHTS", tmp_path / "weights")  # the default config is committed
    a, b = ft.FusionConfig(), ft.FusionConfig(steps=1)
    assert spec_hash(ft.spec(a)) != spec_hash(ft.spec(b))
    assert spec_hash(ft.spec(a)) == spec_hash(ft.spec(ft.FusionConfig()))
    assert "vqvae" in ft.spec(ft.FusionConfig(style="tokenised")) and "vqvae" not in ft.spec(a)
    assert ft.tokens_per_clip(ft.FusionConfig(style="tokenised")) == 8 * 8 * 8
    assert ft.tokens_per_clip(ft.FusionConfig(style="non_tokenised")) == 8 * 16
    model = ft.build_model(a)
    monkeypatch.setattr(ft, "train", lambda *args, **kwargs: {"loss": [1.0]})  # the weights stay as built
    monkeypatch.setattr(ft, "build_model", lambda *args, **kwargs: copy.deepcopy(model))
    monkeypatch.setattr(ft, "prepare", lambda *args, **kwargs: None)
    trained = ft.pretrained(config=a, progress=False)
    loaded = ft.pretrained(config=a, progress=False)
    assert not trained.meta["cached"] and loaded.meta["cached"] and loaded.meta["history"] == {"loss": [1.0]}
    ids = torch.tensor([[1, 2, 3]])
    assert torch.equal(loaded.lm(input_ids=ids).logits, model.eval().lm(input_ids=ids).logits)
    assert loaded.config == a and Path(loaded.meta["path"]).name.startswith("fusion-non_tokenised-")
    with pytest.raises(ValueError, match="style"):
        ft.default_config("late")
