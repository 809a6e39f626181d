"""Tests for videollm.motion.tokenizer: token arithmetic, shapes, the straight-through path, training, the cache."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch

from videollm.cache import spec_hash
from videollm.motion import tokenizer as mt

#: A quick recipe for tests (the course's default trains ~600 steps on 96 clips).
QUICK = dataclasses.replace(mt.TokenizerConfig(), steps=150, train_clips=32)


def test_tokens_per_clip_of_video_lavit_and_the_course():
    # Video-LaVIT: T 24 -> 24 -> 12 -> 6 -> 3, H 20 -> 10 -> 10 -> 10 -> 5, W 36 -> 18 -> 18 -> 18 -> 9.
    assert mt.tokens_per_clip(24, (20, 36), mt.LAVIT_STRIDES) == (3, 5, 9)
    assert math.prod(mt.tokens_per_clip(24, (20, 36), mt.LAVIT_STRIDES)) == 135
    config = mt.TokenizerConfig()
    assert config.latent_grid == (3, 4, 5) and config.num_tokens == 60  # 12 x 8 x 10 cells
    # Sizes a stride does not divide round up (kernel-3, padding-1 convolutions): 5 -> 3, 7 -> 4 -> 2.
    assert mt.tokens_per_clip(5, (7, 9), [(2, 2, 2), (1, 2, 1)]) == (3, 2, 5)
    assert mt.tokens_per_clip(8, (4, 4), []) == (8, 4, 4)
    with pytest.raises(ValueError, match="three positive ints"):
        mt.tokens_per_clip(24, (20, 36), [(2, 2)])
    with pytest.raises(ValueError, match="positive"):
        mt.tokens_per_clip(0, (20, 36), mt.LAVIT_STRIDES)


def test_shapes_tokens_and_detokenize():
    torch.manual_seed(0)
    model = mt.MotionTokenizer().eval()
    x = torch.randn(3, 2, 12, 8, 10)
    out = model(x)
    assert out["recon"].shape == x.shape and out["indices"].shape == (3, 3, 4, 5)
    tokens = model.tokenize(x)
    assert tokens.shape == (3, 60) and tokens.dtype == torch.long
    assert 0 <= int(tokens.min()) and int(tokens.max()) < model.config.num_codes
    assert torch.equal(tokens, out["indices"].reshape(3, -1)), "time-major, then row-major"
    assert torch.allclose(model.detokenize(tokens), out["recon"], atol=1e-5)


def test_a_lavit_sized_tokenizer_gives_135_tokens():
    config = mt.TokenizerConfig(num_frames=24, grid=(20, 36), strides=mt.LAVIT_STRIDES, width=8, num_codes=16,
                                code_dim=4)
    model = mt.MotionTokenizer(config).eval()
    tokens = model.tokenize(torch.randn(1, 2, 24, 20, 36))
    assert tokens.shape == (1, 135)
    assert model.detokenize(tokens).shape == (1, 2, 24, 20, 36), "odd sizes are cropped back on the way up"


def test_gradients_reach_the_encoder_through_the_quantiser():
    torch.manual_seed(0)
    model = mt.MotionTokenizer().train()
    x = torch.randn(2, 2, 12, 8, 10)
    out = model(x)
    (out["recon"] - x).square().mean().backward()
    assert model.stem.weight.grad is not None and model.stem.weight.grad.abs().sum() > 0, "straight-through"
    assert model.to_code.weight.grad.abs().sum() > 0
    assert not model.quantizer.embed.requires_grad, "the codes follow moving averages, not gradients"


def test_training_beats_an_untrained_model_on_held_out_fields():
    held_out = mt.motion_fields(mt.HELD_OUT_SEEDS[:8], QUICK)
    assert held_out.shape == (8, 2, 12, 8, 10) and held_out.abs().max() <= 1
    assert (held_out.norm(dim=1) > 0).float().mean() > 0.03, "the fields contain motion"
    torch.manual_seed(QUICK.seed)
    untrained = mt.reconstruction_error(mt.MotionTokenizer(QUICK), held_out)
    model, info = mt.train_config(QUICK)
    trained = mt.reconstruction_error(model, held_out)
    assert trained < 0.5 * untrained, (trained, untrained)
    assert info["epe"] < 1.5 * info["epe_zero"] and info["perplexity"] > 4
    assert torch.get_num_threads() >= 1


def test_cache_round_trip(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VIDEOLLM_DATA", str(tmp_path))
    tiny = dataclasses.replace(QUICK, steps=3, train_clips=8)
    other = dataclasses.replace(tiny, seed=1)
    assert spec_hash(mt.spec(other)) != spec_hash(mt.spec(tiny)), "the hash covers the recipe"
    model = mt.pretrained(tiny)
    folder = Path(model.meta["path"])
    assert not model.meta["cached"] and folder.parent == tmp_path / "checkpoints" and (folder / "model.pt").exists()
    again = mt.pretrained(tiny)
    assert again.meta["cached"] and again.meta["epe"] == model.meta["epe"]
    x = mt.motion_fields([5], tiny)
    assert torch.equal(model.tokenize(x), again.tokenize(x))
    (folder / "model.pt").write_bytes(b"not a checkpoint")
    assert not mt.pretrained(tiny).meta["cached"] and "ignoring unreadable checkpoint" in capsys.readouterr().err


def test_clear_errors():
    model = mt.MotionTokenizer()
    with pytest.raises(ValueError, match=r"\(B, 2, 12, 8, 10\)"):
        model(torch.zeros(1, 12, 8, 10, 2))
    with pytest.raises(RuntimeError, match="eval"):
        model.train().tokenize(torch.zeros(1, 2, 12, 8, 10))
    with pytest.raises(ValueError, match=r"\(B, 60\)"):
        model.eval().detokenize(torch.zeros(1, 59, dtype=torch.long))


def test_cli_info(capsys):
    assert mt.main(["info"]) == 0
    text = capsys.readouterr().out
    assert "135 tokens" in text and "60 tokens" in text
