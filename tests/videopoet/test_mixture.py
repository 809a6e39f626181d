"""The task mixture: each task's example from one clip's tokens, one task per batch, and a loss that falls."""

import torch

from videollm.videopoet import mixture
from videollm.videopoet.model import LMConfig, VideoPoetLM
from videollm.videopoet.sequence import SPECIAL

CONFIG = LMConfig(hidden=32, layers=2, heads=2, intermediate=64, max_positions=256, text_width=8, visual_codes=16,
                  audio_codes=8)


def tokens(n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return mixture.TokenData(
        video=torch.randint(0, 16, (n, 5, 4, 4), generator=g), inpaint=torch.randint(0, 16, (n, 5, 4, 4), generator=g),
        outpaint=torch.randint(0, 16, (n, 5, 4, 4), generator=g), audio=torch.randint(0, 8, (n, 17, 4), generator=g),
        text=[torch.randn(3 + i % 3, 8, generator=g) for i in range(n)])


def segment(seq, begin, end):
    ids = seq.ids.tolist()
    return seq.ids[ids.index(SPECIAL[begin]) + 1:ids.index(SPECIAL[end])]


def test_each_task_reads_and_writes_the_clips_tokens():
    data, vocab = tokens(), CONFIG.vocab
    video = data.video[2].reshape(-1) + vocab.visual_offset
    t2v, text = mixture.example("text_to_video", data, 2, vocab)
    assert torch.equal(segment(t2v, "<bov_o>", "<eov_o>"), video) and text is data.text[2]
    assert int(t2v.text.sum()) == len(data.text[2])
    cont, none = mixture.example("continuation", data, 2, vocab)
    assert none is None and torch.equal(segment(cont, "<bov_i>", "<eov_i>"), video[:48]), "9 frames = 3 latents"
    assert torch.equal(segment(cont, "<bov_o>", "<eov_o>"), video[48:])
    i2v, _ = mixture.example("image_to_video", data, 2, vocab)
    assert torch.equal(segment(i2v, "<bov_i>", "<eov_i>"), video[:16])
    inpaint, _ = mixture.example("inpainting", data, 2, vocab)
    assert torch.equal(segment(inpaint, "<bov_i>", "<eov_i>"), data.inpaint[2].reshape(-1) + vocab.visual_offset)
    v2a, _ = mixture.example("video_to_audio", data, 2, vocab)
    assert len(segment(v2a, "<boa_o>", "<eoa_o>")) == 17 * 4
    image, _ = mixture.example("text_to_image", data, 2, vocab)
    assert image.ids[-1] == video[15], "a picture's 16 tokens, left open"


def test_a_batch_is_one_task_with_its_text_embeddings_in_slot_order():
    data = tokens()
    inputs, text = mixture.batch("text_to_video", data, [4, 0, 4], CONFIG.vocab)
    assert text.shape == (len(data.text[4]) * 2 + len(data.text[0]), 8)
    assert torch.equal(text[: len(data.text[4])], data.text[4]) and int(inputs["text"].sum()) == len(text)
    assert mixture.batch("continuation", data, [1, 2], CONFIG.vocab)[1] is None


def test_training_lowers_the_loss_of_every_task_it_sees():
    data = tokens(4)
    torch.manual_seed(0)
    model = VideoPoetLM(CONFIG)
    before = mixture.evaluate(model, data)
    history = mixture.train(model, data, steps=4 * len(mixture.TASKS), batch_size=4, lr=3e-3, warmup=1)
    after = mixture.evaluate(model, data)
    assert history["task"][: len(mixture.TASKS)] == list(mixture.TASKS), "one task per step, in turn"
    assert all(after[t] < before[t] for t in mixture.TASKS), (before, after)


def test_blanking_keeps_or_greys_the_centre():
    video = torch.rand(1, 2, 3, 32, 32)
    inside, outside = mixture.blank(video, True), mixture.blank(video, False)
    assert bool((inside[..., 8:24, 8:24] == mixture.GREY).all()) and torch.equal(inside[..., :8, :], video[..., :8, :])
    assert torch.equal(outside[..., 8:24, 8:24], video[..., 8:24, 8:24])
    assert bool((outside[..., :8, :] == mixture.GREY).all())
