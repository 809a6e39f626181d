"""The decoders: the world's pictures and their labels, a tiny UNet's loss and sampler, the committed decoder drawing
what it is asked (read back by the judge), and the sound library (a retrieval stand-in)."""

import pytest
import torch

from videollm.anyany import bind
from videollm.anyany import decoders as dec
from videollm.world.shapes import COLOR_NAMES, SHAPES


def test_pictures_are_deterministic_and_labelled_by_their_ground_truth():
    a, b = dec.pictures("test", 12), dec.pictures("test", 12)
    assert torch.equal(a.images, b.images) and a.captions == b.captions
    assert a.images.shape == (12, 3, 24, 24) and a.images.dtype == torch.uint8
    for text, color, shape in zip(a.captions, a.color.tolist(), a.shape.tolist()):
        assert text.split()[-2:] == [COLOR_NAMES[color], SHAPES[shape]]
    assert not torch.equal(dec.pictures("train", 12).images, a.images)
    with pytest.raises(ValueError, match="unknown split"):
        dec.pictures("valid", 2)


def test_conditioning_is_the_text_encoders_padded_hidden_states():
    text = bind.pretrained(progress=False).text
    cond = dec.conditioning(text, ["a red circle", "there is an orange diamond bouncing around", ""])
    assert cond.shape == (3, text.config.max_text_tokens, text.config.width)
    alone = dec.conditioning(text, ["a red circle"])
    torch.testing.assert_close(cond[:1], alone)  # padding to a fixed length changes nothing before it (causal)


def test_a_tiny_decoder_trains_and_samples_on_any_seed():
    torch.manual_seed(0)
    tiny = dec.ImageDecoder(dec.DecoderConfig(image_size=8, channels=(8, 16)), cross_dim=4)
    images, cond = torch.rand(2, 3, 8, 8) * 2 - 1, torch.randn(2, 5, 4)
    loss = tiny.loss(images, cond)
    loss.backward()
    assert torch.isfinite(loss) and tiny.unet.conv_in.weight.grad.abs().sum() > 0
    out = tiny.sample(cond, torch.zeros(1, 5, 4), steps=3, seed=1)
    assert out.shape == (2, 3, 8, 8) and out.dtype == torch.uint8
    assert torch.equal(out, tiny.sample(cond, torch.zeros(1, 5, 4), steps=3, seed=1))


def test_the_committed_decoder_draws_what_the_caption_asks():
    decs = dec.pretrained(progress=False)
    text = bind.pretrained(progress=False).text
    real = dec.pictures("test", 64)
    assert sum(a == b for a, b in zip(decs.judge.read(real.images), real.captions)) >= 61  # measured 99%
    asked = real.captions[:24]
    drawn = decs.image.sample(dec.conditioning(text, asked), decs.empty)
    right = sum(a == b for a, b in zip(decs.judge.read(drawn), asked))
    assert right >= 6, f"{right}/24 pictures show what was asked (measured 58% on 128; chance 3%)"


def test_the_sound_library_has_every_kind_and_finds_them_from_text():
    binding = bind.pretrained(progress=False)
    library = dec.SoundLibrary(binding)
    assert len(library.captions) == len(COLOR_NAMES) * len(SHAPES) == len(set(library.captions))
    sounds, names = library.decode(binding.text(library.captions))
    assert sounds.shape == (32, 32000)
    assert sum(a == b for a, b in zip(names, library.captions)) >= 20  # measured 26 of 32, through emergence
