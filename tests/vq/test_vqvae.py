"""Tests for videollm.vq.vqvae and videollm.vq.train: shapes, straight-through gradients, short training, the
frame sets, determinism, the checkpoint cache and its hash, and the errors a student meets first."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from videollm import io
from videollm.vq import codebook as cb, quantize as vq, train as vt, vqvae
from videollm.world import clips

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
#: A model small enough to train in seconds.
TINY = vt.VQVAEConfig(hidden=16, latent_dim=4, num_codes=32, steps=5, batch_size=8, train_clips=2,
                      frames_per_clip=4, restart_every=2)


def quantizers(dim=4):
    return {
        "codebook": vqvae.VectorQuantizer(32, dim),
        "l2": vqvae.VectorQuantizer(32, dim, l2=True),
        "ema": cb.EMACodebook(32, dim),
        "fsq": vqvae.FSQQuantizer((5, 5, 3, 3)[:dim]),
        "lfq": vqvae.LFQQuantizer(dim),
    }


@pytest.fixture(scope="module")
def frames():
    return vqvae.split_frames("train", num_clips=6, frames_per_clip=4, size=32)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", ["codebook", "l2", "ema", "fsq", "lfq"])
def test_shapes_and_token_round_trip(kind, device):
    torch.manual_seed(0)
    model = vqvae.VQVAE(quantizers()[kind], hidden=16, latent_dim=4).to(device).eval()
    x = torch.rand(2, 3, 32, 48, device=device)
    out = model(x)
    assert out["recon"].shape == (2, 3, 32, 48) and out["recon"].device == x.device
    assert out["latents"].shape == out["quantized"].shape == (2, 4, 8, 12)
    assert out["indices"].shape == (2, 8, 12) and out["indices"].dtype == torch.long
    assert 0 <= int(out["indices"].min()) and int(out["indices"].max()) < model.num_codes
    tokens = model.tokenize(x)
    assert torch.equal(tokens, out["indices"])
    assert torch.allclose(model.decode_indices(tokens), out["recon"], atol=1e-5), "ids alone must give the frames back"
    deeper = vqvae.VQVAE(vqvae.VectorQuantizer(32, 4), hidden=16, latent_dim=4, num_down=3).to(device)
    assert deeper(x).keys() >= {"recon"} and deeper.tokenize(x).shape == (2, 4, 6)


@pytest.mark.parametrize("kind", ["codebook", "l2", "ema", "fsq", "lfq"])
def test_reconstruction_gradients_reach_the_encoder_through_the_straight_through_path(kind):
    torch.manual_seed(1)
    model = vqvae.VQVAE(quantizers()[kind], hidden=16, latent_dim=4)
    x = torch.rand(4, 3, 16, 16)
    F.mse_loss(model(x)["recon"], x).backward()  # the reconstruction alone, no quantiser loss
    first = model.encoder.net[0].weight.grad
    assert first is not None and first.abs().sum() > 0, "the encoder must learn from the reconstruction"
    if kind in ("codebook", "l2"):
        assert model.quantizer.codebook.grad is None, "the reconstruction passes the codes straight through"


def test_without_the_straight_through_estimator_the_encoder_gets_nothing():
    """The check above can fail: quantise with the codes themselves and the encoder's gradient is gone."""
    def no_ste(z, codebook, beta=vq.BETA, l2=False):
        out = vq.quantize(z, codebook, beta=beta, l2=l2)
        return {**out, "quantized": codebook[out["indices"]]}

    torch.manual_seed(1)
    model = vqvae.VQVAE(vqvae.VectorQuantizer(32, 4, quantize=no_ste), hidden=16, latent_dim=4)
    x = torch.rand(4, 3, 16, 16)
    F.mse_loss(model(x)["recon"], x).backward()
    assert model.encoder.net[0].weight.grad is None


def test_codebook_loss_trains_the_codes_and_commitment_the_encoder():
    torch.manual_seed(2)
    model = vqvae.VQVAE(vqvae.VectorQuantizer(32, 4), hidden=16, latent_dim=4)
    out = model(torch.rand(2, 3, 16, 16))
    out["codebook_loss"].backward(retain_graph=True)
    assert model.encoder.net[0].weight.grad is None and model.quantizer.codebook.grad is not None
    model.zero_grad(set_to_none=True)
    out["commitment_loss"].backward()
    assert model.quantizer.codebook.grad is None and model.encoder.net[0].weight.grad is not None


def test_frames_are_read_from_video_files_like_a_users(monkeypatch):
    # The model trains on what a decoder gives back (codec artifacts included), not on rendered pixels.
    read = []
    monkeypatch.setattr(vqvae, "load_video", lambda path: read.append(path) or io.load_video(path))
    frames = vqvae.split_frames("train", num_clips=2, frames_per_clip=3, size=16)
    assert [p.suffix for p in read] == [".mp4", ".mp4"] and all(p.exists() for p in read)
    decoded = io.load_video(read[0])[0][::3]  # (3, 32, 32, 3) uint8
    pooled = torch.from_numpy(decoded).permute(0, 3, 1, 2).float().div(255).unflatten(2, (16, 2)).unflatten(4, (16, 2))
    torch.testing.assert_close(frames[:3], pooled.mean(dim=(3, 5)))
    rendered = clips.make_clip(vqvae.SPLIT_SEEDS["train"], num_frames=9, height=32, width=32, num_objects=3,
                               background=vqvae.FRAME_BACKGROUNDS[0]).frames[::3]
    assert not np.array_equal(decoded, rendered), "an H.264 round trip is lossy"
    assert np.abs(decoded.astype(int) - rendered).mean() < 8, "but close to what was rendered"


def test_frame_sets_are_deterministic_and_the_splits_differ():
    a = vqvae.split_frames("train", num_clips=2, frames_per_clip=3, size=16)
    b = vqvae.split_frames("train", num_clips=2, frames_per_clip=3, size=16)
    held = vqvae.split_frames("heldout", num_clips=2, frames_per_clip=3, size=16)
    assert a.shape == (6, 3, 16, 16) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert 0 <= float(a.min()) and float(a.max()) <= 1
    assert not torch.equal(a, held), "held-out frames must come from other clips"
    assert (a[1:] - a[:-1]).abs().amax(dim=(1, 2, 3)).min() > 0, "no two consecutive frames are identical"


def test_psnr():
    target = torch.zeros(3, 3, 8, 8)
    assert vqvae.psnr(target + 0.1, target) == pytest.approx(10 * torch.log10(torch.tensor(1 / 0.01)).item())
    assert vqvae.psnr(target, target) == pytest.approx(100.0)
    assert vqvae.psnr(target - 5, target) == pytest.approx(100.0), "recon is clipped to [0, 1] like a displayed image"
    mixed = torch.stack([target[0], target[0] + 0.1])
    assert vqvae.psnr(mixed, torch.zeros_like(mixed)) == pytest.approx(60.0), "per image, then averaged"


def test_short_training_beats_a_floor_the_untrained_model_and_the_mean_frame(frames):
    held = vqvae.split_frames("heldout", num_clips=6, frames_per_clip=2, size=32)
    config = vt.VQVAEConfig(hidden=32, latent_dim=8, num_codes=64, seed=0)
    model = vt.build_model(config)
    before = vqvae.evaluate(model, held)
    history = vt.train(model, frames, steps=150, batch_size=16, seed=0, kmeans_init=True, restart_every=25)
    after = vqvae.evaluate(model, held)
    mean_frame = vqvae.psnr(frames.mean(0, keepdim=True).expand_as(held), held)
    print(f"held-out PSNR: untrained {before['psnr']:.2f}, mean frame {mean_frame:.2f}, trained {after['psnr']:.2f}")
    assert len(history["psnr"]) == 150 and history["loss"][-1] < history["loss"][0]
    # Margins with room: 150 steps of training are not bit-identical across CPUs (on an AVX-512 machine this gave
    # 15.84 dB against 12.93 untrained, where an earlier 3 dB margin failed; it had passed on other machines).
    assert after["psnr"] > 14.0 and after["psnr"] > before["psnr"] + 2 and after["psnr"] > mean_frame + 2
    assert after["perplexity"] > 8 and after["usage"] > 0.5, "k-means and restarts keep many codes alive"


def test_training_is_deterministic_with_a_seed(frames):
    def run(seed):
        model = vt.build_model(dataclasses.replace(TINY, seed=seed))
        history = vt.train(model, frames, steps=6, batch_size=8, seed=seed, kmeans_init=True, restart_every=3)
        return history, model.state_dict()

    (h1, s1), (h2, s2), (h3, _) = run(0), run(0), run(1)
    assert h1 == h2 and all(torch.equal(s1[k], s2[k]) for k in s1)
    assert h1["loss"] != h3["loss"]


def test_ema_restart_sticks():
    """A restarted EMA code is the latent it was restarted from, and stays there when that latent comes again."""
    layer = cb.EMACodebook(2, 2, codebook=torch.tensor([[0.0, 0.0], [9.0, 9.0]]))
    z = torch.tensor([[0.1, 0.0], [-0.1, 0.0]])
    for _ in range(3):
        layer(z)  # code 1 is never used and decays towards zero
    new = torch.tensor([[5.0, -5.0]])
    layer.set_codes(new, torch.tensor([False, True]))
    assert torch.equal(layer.embed[1], new[0])
    layer(torch.cat([z, new]))
    assert torch.allclose(layer.embed[1], new[0], atol=1e-4)


def test_checkpoint_cache_round_trip_and_another_config(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VIDEOLLM_DATA", str(tmp_path))
    calls = []
    real = vt.train_config
    monkeypatch.setattr(vt, "train_config", lambda *a, **k: calls.append(1) or real(*a, **k))
    x = vqvae.split_frames("heldout", num_clips=1, frames_per_clip=2, size=32)
    first = vt.pretrained(TINY, progress=False)
    folder = Path(first.meta["path"])
    assert calls == [1] and not first.meta["cached"] and len(first.meta["history"]["loss"]) == TINY.steps
    assert folder.parent == tmp_path / "checkpoints" and folder.name.startswith("vqvae-")
    again = vt.pretrained(TINY, progress=False)
    assert calls == [1] and again.meta["cached"], "a matching checkpoint is loaded, not retrained"
    with torch.no_grad():
        assert torch.equal(first(x)["recon"], again(x)["recon"])
    assert again.meta["history"] == first.meta["history"] and not again.training
    other = vt.pretrained(dataclasses.replace(TINY, steps=TINY.steps + 1), progress=False)
    assert calls == [1, 1] and Path(other.meta["path"]) != folder, "another config is another checkpoint"
    assert vt.pretrained(TINY, progress=False).meta["cached"] and calls == [1, 1], "and overwrites nothing"
    (folder / "model.pt").write_bytes(b"not a checkpoint")
    vt.pretrained(TINY, progress=False)
    assert calls == [1, 1, 1], "an unreadable file is retrained, not a crash"
    assert "ignoring unreadable checkpoint" in capsys.readouterr().err


def test_info_says_whether_the_checkpoint_is_cached(tmp_path, monkeypatch, capsys):
    from videollm import cache

    monkeypatch.setenv("VIDEOLLM_DATA", str(tmp_path))
    monkeypatch.setattr(cache, "COMMITTED_WEIGHTS", tmp_path / "weights")  # no committed copy either
    assert vt.main(["info"]) == 0
    out = capsys.readouterr().out
    assert "absent" in out and str(tmp_path / "checkpoints" / "vqvae-") in out


def test_bad_input_says_what_is_wrong():
    model = vqvae.VQVAE(vqvae.VectorQuantizer(8, 4), hidden=8, latent_dim=4)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\).*batch axis"):
        model(torch.rand(3, 32, 32))
    with pytest.raises(ValueError, match="channels-last"):
        model(torch.rand(2, 32, 32, 3))
    with pytest.raises(ValueError, match="3 channels"):
        model(torch.rand(2, 4, 32, 32))
    with pytest.raises(ValueError, match="multiple of the downsampling factor 4"):
        model(torch.rand(2, 3, 30, 32))
    with pytest.raises(TypeError, match="255"):
        model(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="split"):
        vqvae.split_frames("test")
    with pytest.raises(ValueError, match="same shape"):
        vqvae.psnr(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 4))
    with pytest.raises(ValueError, match="need a codebook"):
        vt.train(vqvae.VQVAE(vqvae.FSQQuantizer((3, 3, 3, 3)), hidden=8, latent_dim=4), torch.rand(4, 3, 16, 16),
                 steps=1, kmeans_init=True)
    with pytest.raises(ValueError, match="len\\(levels\\)"):
        vt.build_model(vt.VQVAEConfig(quantizer="fsq", latent_dim=8, levels=(8, 5, 5, 5)))
    with pytest.raises(ValueError, match="unknown quantizer"):
        vt.build_model(vt.VQVAEConfig(quantizer="kmeans"))
    with pytest.raises(ValueError, match=r"\(8, 4\)"):
        vqvae.VectorQuantizer(8, 4, codebook=torch.zeros(8, 5))
