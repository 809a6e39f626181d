"""The causal video tokenizer: shapes, causality of the encoder and of the decoder, a picture as the first latent
frame, which frames each latent frame reads (and magvit2-pytorch 0.5.1's, for contrast), training, the errors, and
the committed checkpoint against baselines computed here from the world's clips."""

import pytest
import torch

from videollm.cache import committed_dir
from videollm.videopoet import data
from videollm.videopoet import tokenizer as tok
from videollm.videopoet.tokenizer import CausalVideoTokenizer, TokenizerConfig
from videollm.vq.vqvae import psnr

#: A tiny randomly initialised tokenizer: 2^6 codes, a few channels (the layers and their causality are the same).
TINY = TokenizerConfig(bits=6, channels=(8, 16, 16))


@pytest.fixture(scope="module")
def tiny():
    return tok.build_model(TINY).eval()


def random_video(n: int = 2, frames: int = 17, height: int = 32, width: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, frames, 3, height, width, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("frames", [17, 9, 5, 1])
def test_shapes_dtypes_and_ranges(tiny, frames):
    video = random_video(frames=frames)
    ids = tiny.encode(video)
    latent = 1 + (frames - 1) // 4
    assert ids.shape == (2, latent, 4, 4) and ids.dtype == torch.int64
    assert int(ids.min()) >= 0 and int(ids.max()) < 2 ** 6 == tiny.num_codes
    recon = tiny.decode(ids)
    assert recon.shape == video.shape and recon.dtype == torch.float32
    assert float(recon.min()) >= 0 and float(recon.max()) <= 1
    out = tiny(video)
    assert out["recon"].shape == video.shape and torch.equal(out["indices"], ids)
    assert out["latents"].shape == (2, latent, 4, 4, 6)
    for name in ("loss", "entropy_loss", "commitment_loss"):
        assert out[name].shape == () and torch.isfinite(out[name])


def test_other_frame_sizes_divide_by_eight(tiny):
    ids = tiny.encode(random_video(1, 9, 16, 40))
    assert ids.shape == (1, 3, 2, 5)
    assert tiny.decode(ids).shape == (1, 9, 3, 16, 40)


@pytest.mark.parametrize("a", [0, 1, 2, 3])
def test_the_encoder_is_causal(tiny, a):
    # rewriting the frames after 1 + 4a leaves the first 1 + a latent frames as they were, and changes the others
    video = random_video()
    changed = video.clone()
    changed[:, 1 + 4 * a:] = random_video(seed=1)[:, 1 + 4 * a:]
    z, z_changed = tiny.encode_latents(video), tiny.encode_latents(changed)
    torch.testing.assert_close(z_changed[:, :1 + a], z[:, :1 + a], rtol=0, atol=1e-5)
    assert not torch.allclose(z_changed[:, 1 + a:], z[:, 1 + a:], atol=1e-3)
    assert torch.equal(tiny.encode(changed)[:, :1 + a], tiny.encode(video)[:, :1 + a])
    # and the first 1 + 4a frames alone give the same tokens
    assert torch.equal(tiny.encode(video[:, :1 + 4 * a]), tiny.encode(video)[:, :1 + a])


def test_a_picture_is_the_first_latent_frame_of_any_clip_that_starts_with_it(tiny):
    clips = random_video(4)
    for frames in (5, 9, 17):
        assert torch.equal(tiny.encode(clips[:, :1]), tiny.encode(clips[:, :frames])[:, :1])
    other = random_video(4, seed=2)
    other[:, 0] = clips[:, 0]                            # another clip starting with the same picture
    assert torch.equal(tiny.encode(other)[:, :1], tiny.encode(clips[:, :1]))


@pytest.mark.parametrize("a", [0, 1, 2, 3])
def test_the_decoder_is_causal(tiny, a):
    ids = tiny.encode(random_video())
    changed = ids.clone()
    changed[:, 1 + a:] = torch.randint(tiny.num_codes, changed[:, 1 + a:].shape, generator=torch.Generator()
                                       .manual_seed(a))
    frames, frames_changed = tiny.decode_codes(tiny.quantizer.codes()[ids]), \
        tiny.decode_codes(tiny.quantizer.codes()[changed])
    torch.testing.assert_close(frames_changed[:, :1 + 4 * a], frames[:, :1 + 4 * a], rtol=0, atol=1e-6)
    assert not torch.allclose(frames_changed[:, 1 + 4 * a:], frames[:, 1 + 4 * a:], atol=1e-4)
    # decoding the first 1 + a latent frames alone gives the first 1 + 4a frames
    torch.testing.assert_close(tiny.decode(ids[:, :1 + a]), tiny.decode(ids)[:, :1 + 4 * a], rtol=0, atol=1e-6)


def reads(latents_of, frames: int) -> list[list[int]]:
    """For each output latent frame, the input frames it depends on (non-zero gradient)."""
    x = torch.randn(1, frames, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    z = latents_of(x)
    out = []
    for m in range(z.shape[1]):
        (grad,) = torch.autograd.grad(z[:, m].sum(), x, retain_graph=True)
        out.append(grad[0].abs().sum((1, 2, 3)).nonzero().flatten().tolist())
    return out


def test_latent_frame_m_reads_frames_up_to_4m_and_magvit2_pytorch_does_not():
    model = tok.build_model(TINY).double()
    ours = reads(model.encode_latents, 17)
    assert [max(r) for r in ours] == [0, 4, 8, 12, 16]     # frame 4m, the last of latent m's four, and no later
    assert ours[0] == [0] and min(ours[1]) == 0             # latent 0 is the first frame; latent 1 also reads the past

    from magvit2_pytorch.magvit2_pytorch import TimeDownsample2x  # 0.5.1, its encoder's compress_time layer

    torch.manual_seed(0)
    first, second = TimeDownsample2x(3).double(), TimeDownsample2x(3).double()

    def magvit2(x):                                          # its encoder: 3 zero frames first, time halved twice
        x = torch.nn.functional.pad(x.transpose(1, 2), (0, 0, 0, 0, 3, 0))
        return second(first(x)).transpose(1, 2)

    theirs = reads(magvit2, 17)
    assert len(theirs) == 5 and theirs[0] == []             # latent 0 reads only a padding frame
    assert max(f for r in theirs for f in r) == 13          # frames 14, 15 and 16 are never read


def test_round_trip_and_input_dtypes(tiny):
    video = random_video(3)
    ids = tiny.encode(video)
    bits = (tiny.encode_latents(video) > 0).long()                  # (3, 5, 4, 4, 6): latent dimension k is bit k
    assert torch.equal(ids, (bits * 2 ** torch.arange(6)).sum(-1))   # the paper's order: dimension 0 is the LSB
    assert torch.equal(tiny.encode(video.double()), ids)    # other float dtypes are converted
    assert tiny.encode(video.half()).shape == ids.shape
    recon = tiny.decode(ids.int())                          # any integer dtype of ids
    assert recon.shape == video.shape and 0 <= float(recon.min()) <= float(recon.max()) <= 1


def test_the_reconstruction_loss_reaches_the_encoder_through_the_quantiser(tiny):
    model = tok.build_model(TINY)
    video = random_video(2, 5)
    torch.nn.functional.mse_loss(model(video)["recon"], video).backward()
    first_layer = model.encoder.net[0].weight.grad
    assert first_layer is not None and float(first_layer.abs().sum()) > 0     # straight-through


def test_build_model_is_seeded_and_leaves_the_global_generator_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a, b = tok.build_model(TINY), tok.build_model(TINY)
    assert torch.equal(torch.rand(3), expected)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name
    other = tok.build_model(TokenizerConfig(bits=6, channels=(8, 16, 16), seed=1))
    assert not torch.equal(other.encoder.net[0].weight, a.encoder.net[0].weight)


def test_training_is_reproducible_and_cycles_clip_lengths():
    clips = (random_video(6) * 255).round().to(torch.uint8)
    histories = []
    for _ in range(2):
        model = tok.build_model(TINY)
        histories.append(tok.train(model, clips, steps=3, clip_frames=(5, 9, 17), batch_frames=24))
        assert not model.training
    assert histories[0] == histories[1]
    assert len(histories[0]["loss"]) == 3 and all(v == v for v in histories[0]["psnr"])
    with pytest.raises(ValueError, match=r"1 \+ 4k"):
        tok.train(tok.build_model(TINY), clips, steps=1, clip_frames=(4,))


def test_errors_say_what_was_wrong_and_what_to_do(tiny):
    with pytest.raises(ValueError, match=r"16 frames.*1 \+ 4k.*drop 3 or pad to 17"):
        tiny.encode(random_video(1, 16))
    with pytest.raises(ValueError, match=r"30 x 32 do not divide by the tokenizer's 8x.*24 x 32"):
        tiny.encode(random_video(1, 17, 30, 32))
    with pytest.raises(ValueError, match="3 channels"):
        tiny.encode(torch.rand(1, 17, 4, 32, 32))
    with pytest.raises(ValueError, match=r"transpose\(1, 2\)"):
        tiny.encode(torch.rand(1, 3, 17, 32, 32))
    with pytest.raises(ValueError, match=r"permute\(0, 1, 4, 2, 3\)"):
        tiny.encode(torch.rand(1, 17, 32, 32, 3))
    with pytest.raises(ValueError, match=r"float in \[0, 1\].*divide by 255"):
        tiny.encode(torch.zeros(1, 17, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="add a batch axis"):
        tiny.encode(torch.rand(17, 3, 32, 32))
    with pytest.raises(TypeError, match="torch tensor"):
        tiny.encode([[0.5]])
    ids = tiny.encode(random_video(1))
    with pytest.raises(ValueError, match=r"\[0, 64\)"):
        tiny.decode(ids + 64)
    with pytest.raises(ValueError, match=r"\[0, 64\)"):
        tiny.decode(ids - 100)
    with pytest.raises(ValueError, match="integer"):
        tiny.decode(ids.float())
    with pytest.raises(ValueError, match="add a batch axis"):
        tiny.decode(ids[0])
    with pytest.raises(ValueError, match="bits must be 1..16"):
        CausalVideoTokenizer(TokenizerConfig(bits=20))


def test_the_committed_checkpoint_loads_without_training_and_beats_the_baselines(monkeypatch):
    assert (committed_dir(tok.CHECKPOINT_NAME, tok.spec()) / "model.pt").exists(), \
        "no committed checkpoint of the current config: python -m videollm.videopoet.tokenizer build, then commit"
    monkeypatch.setattr(tok, "train_config", lambda *args, **kwargs: pytest.fail("trained instead of loading"))
    model = tok.pretrained(progress=False)
    assert model.meta["cached"] and model.num_codes == 1024
    # held-out clips the checkpoint's own figures did not use (those are clips 0..63)
    clips = data.clips("heldout", 32, start=1000)
    video = data.videos(clips)
    recon = model.decode(model.encode(video))
    ours = psnr(recon, video)
    mean_frame = psnr(video.mean(1, keepdim=True).expand_as(video), video)
    first_frame = psnr(video[:, :1].expand_as(video), video)
    assert ours > mean_frame + 1.5 and ours > first_frame + 4, (ours, mean_frame, first_frame)
    # the objects are where they are: each object's centroid by colour, in the reconstruction against the truth
    found, error = object_errors(clips, recon)
    assert found > 0.7 and error < 2, (found, error)
    still = object_errors(clips, video[:, :1].expand_as(video))[1]    # the check sees motion: a still frame fails it
    assert still > 2 * error, (still, error)


def object_errors(clips, frames: torch.Tensor) -> tuple[float, float]:
    """The share of (clip, frame, object) with at least 4 visible pixels that ``frames`` ``(N, T, 3, H, W)`` show
    (pixels within 0.3 of the object's colour, RGB in [0, 1]), and the median distance in pixels between their
    centroid and the true one."""
    errors, missing = [], 0
    for clip, video in zip(clips, frames):
        truth = torch.from_numpy(clip.frames).float() / 255                                 # (T, H, W, 3)
        pixels = video.permute(0, 2, 3, 1)
        for obj in clip.objects:
            colour = torch.tensor(obj.color, dtype=torch.float32) / 255
            true_mask = (truth - colour).abs().amax(-1) < 1e-3
            shown = (pixels - colour).norm(dim=-1) < 0.3
            for t in range(len(truth)):
                if true_mask[t].sum() >= 4:
                    where = shown[t].nonzero().float()
                    if len(where):
                        errors.append(float((where.mean(0) - true_mask[t].nonzero().float().mean(0)).norm()))
                    else:
                        missing += 1
    return len(errors) / (len(errors) + missing), float(torch.tensor(errors).median())
