"""The real-checkpoint path of unit 07's image decoder, offline: a tiny Stable Diffusion pipeline saved to a folder
goes through the same ``from_pretrained`` as ``runwayml/stable-diffusion-v1-5`` would, and an output projector
built for its conditioning feeds it."""

import copy
import json

import pytest
import torch

from videollm.anyany.projectors import OutputProjector, l2_alignment_loss
from videollm.anyany.real import load_image_decoder
from videollm.world.text_tokenizer import course_tokenizer

TOKENS, WIDTH = 16, 32     # Stable Diffusion v1.5: 77 x 768


@pytest.fixture(scope="module")
def saved_pipeline(tmp_path_factory):
    """A tiny, random StableDiffusionPipeline (the course's tokenizer, CLIPTextModel, UNet, VAE), saved."""
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer = copy.deepcopy(course_tokenizer())
    tokenizer.model_max_length = TOKENS
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        unet = UNet2DConditionModel(sample_size=8, layers_per_block=1, block_out_channels=(32, 64),
                                    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                    up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=WIDTH,
                                    attention_head_dim=8)
        vae = AutoencoderKL(block_out_channels=(32, 64), down_block_types=("DownEncoderBlock2D",) * 2,
                            up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4, sample_size=16)
        text = CLIPTextModel(CLIPTextConfig(vocab_size=len(tokenizer), hidden_size=WIDTH, intermediate_size=37,
                                            num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=TOKENS,
                                            eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id))
    pipeline = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet,
                                       scheduler=DDIMScheduler(clip_sample=False), safety_checker=None,
                                       feature_extractor=None, requires_safety_checker=False)
    folder = tmp_path_factory.mktemp("tiny-sd")
    pipeline.save_pretrained(folder)
    return folder, pipeline


def test_the_loaded_decoder_is_the_saved_pipeline_and_draws_pictures_from_a_conditioning(saved_pipeline):
    folder, original = saved_pipeline
    decoder = load_image_decoder(folder)
    captions = ["a red circle", "a blue square and a green triangle"]
    cond = decoder.conditioning(captions)
    expected, _ = original.encode_prompt(captions, "cpu", 1, False)
    assert cond.shape == (2, TOKENS, WIDTH) and decoder.empty.shape == (1, TOKENS, WIDTH)
    torch.testing.assert_close(cond, expected)
    pictures = decoder.sample(cond, steps=2)
    assert pictures.shape == (2, 3, 16, 16) and pictures.dtype == torch.uint8
    assert torch.equal(pictures, decoder.sample(cond, steps=2)), "seeded: the same pictures twice"
    assert not torch.equal(pictures, decoder.sample(cond, steps=2, seed=1))


def test_an_output_projector_built_for_the_real_conditioning_feeds_the_decoder(saved_pipeline):
    """NExT-GPT's stage 2 for a real decoder: the projector's out shape is the decoder's conditioning, its loss the
    L2 distance to ``conditioning(captions)``, and what it outputs is what ``sample`` draws from."""
    decoder = load_image_decoder(saved_pipeline[0])
    projector = OutputProjector(d_llm=24, out_tokens=TOKENS, out_dim=WIDTH)
    signal_states, signal_embeddings = torch.randn(2, 4, 24), torch.randn(2, 4, 24)    # the [IMG0..3] of two replies
    pred = projector(signal_states, signal_embeddings)
    loss = l2_alignment_loss(pred, decoder.conditioning(["a red circle", "a blue square"]))
    loss.backward()
    assert torch.isfinite(loss) and projector.queries.grad is not None
    assert decoder.sample(pred.detach(), steps=1).shape == (2, 3, 16, 16)
    with pytest.raises(ValueError, match="output projector"):
        decoder.sample(torch.randn(2, 24, 64), steps=1)     # the course decoder's conditioning, not this one's


def test_a_missing_or_foreign_checkpoint_gets_a_clear_error(saved_pipeline, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="not a folder"):
        load_image_decoder(tmp_path / "nothing-here")
    with pytest.raises(FileNotFoundError, match="not a folder"):
        load_image_decoder("models/sd15/v1")                   # a relative path, not an owner/name hub id
    with pytest.raises(FileNotFoundError, match="no model_index.json"):
        load_image_decoder(tmp_path)
    with pytest.raises(FileNotFoundError, match="Nothing downloads at run time"):
        load_image_decoder("nobody-here/not-a-pipeline")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    index = json.loads((saved_pipeline[0] / "model_index.json").read_text())
    (foreign / "model_index.json").write_text(json.dumps({**index, "_class_name": "AudioLDMPipeline"}))
    with pytest.raises(ValueError, match="not a StableDiffusionPipeline"):
        load_image_decoder(foreign)
    decoder = load_image_decoder(saved_pipeline[0])
    with pytest.raises(ValueError, match="non-empty list"):
        decoder.conditioning("a red circle")
    with pytest.raises(ValueError, match="one per picture"):
        decoder.sample(decoder.conditioning(["a", "b", "c"]), empty=decoder.conditioning(["", ""]), steps=1)
