"""The three tiny encoders: shapes, unit vectors, ImageBind's tubelet and image rules, EOS pooling, the log-mel."""

import numpy as np
import pytest
import torch

from videollm.anyany.encoders import (MEL_BINS, MEL_FRAMES, AudioEncoder, EncoderConfig, TextEncoder, VisionEncoder,
                                      log_mel)
from videollm.world.audio import tone_track


@pytest.fixture(scope="module")
def encoders():
    torch.manual_seed(0)
    return VisionEncoder().eval(), TextEncoder().eval(), AudioEncoder().eval()


def test_every_encoder_gives_unit_vectors_in_the_joint_space(encoders):
    vision, text, audio = encoders
    d = EncoderConfig().embed_dim
    with torch.no_grad():
        outs = [vision(torch.rand(3, 4, 3, 48, 48)), text(["a red circle", "there is a blue square", "x"]),
                audio(torch.randn(3, MEL_FRAMES, MEL_BINS))]
    for out in outs:
        assert out.shape == (3, d)
        torch.testing.assert_close(out.norm(dim=1), torch.ones(3))


def test_a_two_frame_tubelet_is_a_3d_convolution_over_two_frames(encoders):
    """ImageBind's patch embedding is Conv3d with kernel (2, p, p); the ViT's 6-channel Conv2d is the same layer."""
    vision = encoders[0]
    conv2d = vision.vit.patch_embed.proj  # (width, 6, p, p): frame 0's RGB, then frame 1's
    w = conv2d.weight.detach()
    conv3d = torch.nn.Conv3d(3, w.shape[0], kernel_size=(2, 8, 8), stride=(2, 8, 8))
    with torch.no_grad():
        conv3d.weight.copy_(w.reshape(w.shape[0], 2, 3, 8, 8).transpose(1, 2))  # (out, C, T, p, p)
        conv3d.bias.copy_(conv2d.bias)
    clip = torch.randn(1, 2, 3, 48, 48)  # (B, T, C, H, W)
    ours = conv2d(clip.reshape(1, 6, 48, 48))
    theirs = conv3d(clip.transpose(1, 2))[:, :, 0]  # (B, out, 1, h, w) -> one time step
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)


def test_an_image_is_its_frame_twice_and_a_video_averages_its_clips(encoders):
    vision = encoders[0]
    frames = torch.rand(2, 4, 3, 48, 48)
    with torch.no_grad():
        image = vision(frames[:, 0])
        assert torch.allclose(image, vision(frames[:, [0, 0]]), atol=1e-6)
        clips = torch.stack([vision(frames[:, :2]), vision(frames[:, 2:])], 1)  # (B, 2, D) unit vectors
        both = clips.mean(1)
        torch.testing.assert_close(vision(frames), both / both.norm(dim=1, keepdim=True))
    with pytest.raises(ValueError, match="T even"):
        vision(torch.rand(1, 3, 3, 48, 48))


def test_text_is_pooled_at_its_end_token_whatever_the_padding(encoders):
    text = encoders[1]
    batch = text.tokenize(["a red circle", "there is an orange diamond bouncing around"])
    eos = text.tokenizer.eos_token_id
    lengths = batch["attention_mask"].sum(1)
    assert (batch["input_ids"][torch.arange(2), lengths - 1] == eos).all()
    assert batch["input_ids"][0, lengths[0]:].eq(text.tokenizer.pad_token_id).all()
    with torch.no_grad():
        together = text(["a red circle", "there is an orange diamond bouncing around"])
        alone = text(["a red circle"])
    torch.testing.assert_close(together[:1], alone, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="at most"):
        text(["a red circle " * 20])
    with pytest.raises(ValueError, match="list of strings"):
        text("a red circle")


def test_log_mel_puts_a_tone_in_its_mel_bin():
    """Two tones, a low and a high one: each lights up the mel bins around its own frequency, at its own time."""
    low = tone_track([(0.2, 0.5, 300.0)], 2.0)
    high = tone_track([(1.0, 0.5, 3000.0)], 2.0)
    mel = log_mel(np.stack([low, high]))
    assert mel.shape == (2, MEL_FRAMES, MEL_BINS) and mel.dtype == torch.float32
    low_bin, high_bin = mel[0, 30:60].mean(0).argmax(), mel[1, 110:140].mean(0).argmax()
    assert low_bin < high_bin
    # Kaldi's mel scale, 1127 ln(1 + f / 700), with 128 filters between 20 Hz and 8 kHz: filter m is centred on edge
    # m + 1. The peak filter's centre lies within one FFT bin (16000 / 512 Hz) plus one filter spacing of the tone.
    mel_of = lambda f: 1127 * np.log(1 + f / 700)  # noqa: E731
    hz_of = lambda m: 700 * (np.exp(m / 1127) - 1)  # noqa: E731
    edges = np.linspace(mel_of(20), mel_of(8000), MEL_BINS + 2)
    for peak, f in ((low_bin, 300.0), (high_bin, 3000.0)):
        spacing = hz_of(mel_of(f) + edges[1] - edges[0]) - f
        assert abs(hz_of(edges[int(peak) + 1]) - f) <= 16000 / 512 + spacing, (int(peak), f)
    assert mel[0, 30:60].max() > mel[0, 100:190].max() + 1  # it sounds at 0.2-0.7 s and is silent at 1-1.9 s
    with pytest.raises(ValueError, match="16000 Hz"):
        log_mel(np.zeros((1, 8000)), 8000)
    with pytest.raises(ValueError, match=r"\(B, N\)"):
        log_mel(np.zeros(32000))


def test_audio_encoder_refuses_a_wrong_spectrogram(encoders):
    with pytest.raises(ValueError, match="log_mel"):
        encoders[2](torch.randn(1, 100, MEL_BINS))
