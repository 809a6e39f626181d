"""The course's VideoPoet LM: text embeddings in their slots, the loss on outputs only, generation in each modality's
ids, cached equal to uncached."""

import pytest
import torch

from videollm.videopoet.model import LMConfig, VideoPoetLM
from videollm.videopoet.sequence import build, collate

CONFIG = LMConfig(hidden=32, layers=2, heads=2, intermediate=64, max_positions=64, text_width=8, visual_codes=16,
                  audio_codes=8)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return VideoPoetLM(CONFIG).eval()


def batch_of(model, text=3):
    seqs = [build("text_to_video", model.vocab, text=text, video_out=torch.arange(8)),
            build("unconditional", model.vocab, video_out=torch.arange(8, 16))]
    return collate(seqs), torch.randn(text, CONFIG.text_width, generator=torch.Generator().manual_seed(1))


def test_text_embeddings_are_projected_into_their_slots(model):
    batch, text = batch_of(model)
    embeds = model.embed(batch["input_ids"], batch["text"], text)
    torch.testing.assert_close(embeds[0, 3:6], model.text_projection(text))
    torch.testing.assert_close(embeds[1], model.lm.get_input_embeddings()(batch["input_ids"][1]))
    other = model(batch, text + 1)["logits"]
    assert not torch.allclose(other[0], model(batch, text)["logits"][0]), "the text conditions row 0"
    torch.testing.assert_close(other[1], model(batch, text)["logits"][1])


def test_the_loss_is_the_mean_cross_entropy_over_output_tokens_only(model):
    batch, text = batch_of(model)
    out = model(batch, text)
    logits, ids = out["logits"], batch["input_ids"]
    terms = []
    for row in range(2):
        length = int(batch["attention_mask"][row].sum())
        for position in range(int(batch["prefix"][row]), length):      # each output token, predicted one step back
            terms.append(-torch.log_softmax(logits[row, position - 1], -1)[ids[row, position]])
    torch.testing.assert_close(out["loss"], torch.stack(terms).mean())


def test_generation_draws_visual_then_level_major_audio_ids_and_the_cache_changes_nothing(model):
    prompt = collate([build("text_to_video", model.vocab, text=3)] * 2)
    _, text = batch_of(model)
    text = torch.cat([text, text + 0.5])
    video = model.generate(prompt, "video", 10, text, temperature=1.0, seed=2)
    v = model.vocab
    assert video.shape == (2, 10) and bool(((video >= v.visual_offset) & (video < v.audio_offset)).all())
    assert torch.equal(video, model.generate(prompt, "video", 10, text, use_cache=False, temperature=1.0, seed=2))
    prompt = collate([build("video_to_audio", model.vocab, video_in=torch.arange(8))])
    audio = model.generate(prompt, "audio", 12, temperature=1.0, seed=3)[0] - v.audio_offset
    assert (audio // v.audio_codes).tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3], "3 frames of each level"


def test_errors_name_the_fix(model):
    batch, text = batch_of(model)
    with pytest.raises(ValueError, match="3 <text> slots: text_embeds must be \\(3, 8\\)"):
        model(batch, text[:2])
    with pytest.raises(ValueError, match="no padding"):
        model.generate(batch, "video", 2, text)
    prompt = collate([build("unconditional", model.vocab)])
    with pytest.raises(ValueError, match="a multiple of 4"):
        model.generate(prompt, "audio", 6)


def test_generate_refuses_a_sequence_that_already_holds_outputs(model):
    # one length, no padding, but the outputs are there: generating after them would continue past <eos>
    full = collate([build("unconditional", model.vocab, video_out=torch.arange(8))] * 2)
    assert bool(full["attention_mask"].bool().all()) and int(full["prefix"][0]) == 3 < full["input_ids"].shape[1]
    with pytest.raises(ValueError, match="build the prompt without outputs"):
        model.generate(full, "video", 2)
    prompt = collate([build("unconditional", model.vocab)] * 2)        # the same rows as prompts: accepted
    assert model.generate(prompt, "video", 2).shape == (2, 2)
