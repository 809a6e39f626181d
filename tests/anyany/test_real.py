"""The real-checkpoint path of unit 07's decoders, offline: tiny Stable Diffusion, AudioLDM and ZeroScope pipelines
saved to folders go through the same ``from_pretrained`` as NExT-GPT's checkpoints would, and a NExT-GPT built for
their conditioning trains against it and feeds them."""

import copy
import json

import numpy as np
import pytest
import torch

from videollm.anyany import nextgpt as ng
from videollm.anyany.real import PIPELINES, load_decoder, load_llm
from videollm.world.text_tokenizer import course_tokenizer

TOKENS = 16                                    # NExT-GPT's decoders read 77 tokens
SHAPES = {"image": (TOKENS, 32), "audio": (1, 8), "video": (TOKENS, 24)}   # theirs: 77 x 768, 1 x 512, 77 x 1024
DRAWN = {"image": (3, 16, 16), "audio": (1600,), "video": (2, 3, 16, 24)}  # one sample's shape, as drawn below
DRAW = {"image": {}, "audio": {"seconds": 0.1}, "video": {"frames": 2, "height": 16, "width": 24}}


def _tokenizer():
    tokenizer = copy.deepcopy(course_tokenizer())
    tokenizer.model_max_length = TOKENS
    return tokenizer


def _clip_text(tokenizer, width):
    from transformers import CLIPTextConfig, CLIPTextModel

    return CLIPTextModel(CLIPTextConfig(vocab_size=len(tokenizer), hidden_size=width, intermediate_size=37,
                                        num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=TOKENS,
                                        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
                                        pad_token_id=tokenizer.pad_token_id))


def _vae(in_channels=3):
    from diffusers import AutoencoderKL

    return AutoencoderKL(in_channels=in_channels, out_channels=in_channels, block_out_channels=(8, 16),
                         norm_num_groups=4, down_block_types=("DownEncoderBlock2D",) * 2,
                         up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4, sample_size=16)


def tiny_image_pipeline():
    """Stable Diffusion's classes (the course's tokenizer, CLIPTextModel, UNet2DConditionModel, VAE), tiny."""
    from diffusers import DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel

    tokenizer = _tokenizer()
    unet = UNet2DConditionModel(sample_size=8, layers_per_block=1, block_out_channels=(32, 64),
                                down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
                                cross_attention_dim=SHAPES["image"][1], attention_head_dim=8)
    return StableDiffusionPipeline(vae=_vae(), text_encoder=_clip_text(tokenizer, SHAPES["image"][1]),
                                   tokenizer=tokenizer, unet=unet, scheduler=DDIMScheduler(clip_sample=False),
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)


def tiny_audio_pipeline():
    """AudioLDM's classes: a CLAP text model whose pooled projection is the UNet's class embedding, a one-channel
    VAE over the mel spectrogram, a HiFi-GAN vocoder."""
    from diffusers import AudioLDMPipeline, DDIMScheduler, UNet2DConditionModel
    from transformers import ClapTextConfig, ClapTextModelWithProjection, SpeechT5HifiGan, SpeechT5HifiGanConfig

    tokenizer, width = _tokenizer(), SHAPES["audio"][1]
    unet = UNet2DConditionModel(sample_size=32, layers_per_block=1, block_out_channels=(8, 16), norm_num_groups=8,
                                down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=(8, 16),
                                class_embed_type="simple_projection", projection_class_embeddings_input_dim=width,
                                class_embeddings_concat=True)
    text = ClapTextModelWithProjection(ClapTextConfig(
        vocab_size=len(tokenizer), hidden_size=8, intermediate_size=37, num_attention_heads=1, num_hidden_layers=1,
        pad_token_id=tokenizer.pad_token_id, projection_dim=width,
        max_position_embeddings=tokenizer.pad_token_id + TOKENS + 2))   # RoBERTa's positions start after the pad id
    vocoder = SpeechT5HifiGan(SpeechT5HifiGanConfig(
        model_in_dim=8, sampling_rate=16000, upsample_initial_channel=16, upsample_rates=[2, 2],
        upsample_kernel_sizes=[4, 4], resblock_kernel_sizes=[3, 7], resblock_dilation_sizes=[[1, 3, 5], [1, 3, 5]],
        normalize_before=False))
    return AudioLDMPipeline(vae=_vae(in_channels=1), text_encoder=text, tokenizer=tokenizer, unet=unet,
                            scheduler=DDIMScheduler(clip_sample=False), vocoder=vocoder)


def tiny_video_pipeline():
    """ZeroScope's classes: Stable Diffusion's text encoder and VAE around a UNet3DConditionModel."""
    from diffusers import DDIMScheduler, TextToVideoSDPipeline, UNet3DConditionModel

    tokenizer = _tokenizer()
    unet = UNet3DConditionModel(sample_size=8, layers_per_block=1, block_out_channels=(8, 16), norm_num_groups=4,
                                down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
                                up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
                                cross_attention_dim=SHAPES["video"][1], attention_head_dim=4)
    return TextToVideoSDPipeline(vae=_vae(), text_encoder=_clip_text(tokenizer, SHAPES["video"][1]),
                                 tokenizer=tokenizer, unet=unet, scheduler=DDIMScheduler(clip_sample=False))


TINY_PIPELINES = {"image": tiny_image_pipeline, "audio": tiny_audio_pipeline, "video": tiny_video_pipeline}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """``{modality: (folder, pipeline)}``: each tiny pipeline, seeded, saved with ``save_pretrained``."""
    out = {}
    for modality, make in TINY_PIPELINES.items():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            pipeline = make()
        folder = tmp_path_factory.mktemp(f"tiny-{modality}")
        pipeline.save_pretrained(folder)
        out[modality] = folder, pipeline
    return out


@pytest.fixture(scope="module")
def decoders(saved):
    return {modality: load_decoder(modality, folder) for modality, (folder, _) in saved.items()}


CAPTIONS = ["a red circle", "a blue square and a green triangle"]


@pytest.mark.parametrize("modality", ["image", "audio", "video"])
def test_a_loaded_decoder_is_the_saved_pipeline_and_draws_from_a_conditioning(modality, saved, decoders):
    decoder, original = decoders[modality], saved[modality][1]
    cond = decoder.conditioning(CAPTIONS)
    assert cond.shape == (2, *SHAPES[modality]) and decoder.empty.shape == (1, *SHAPES[modality])
    if modality == "audio":     # CLAP's pooled projection, l2-normalised, as AudioLDM's pipeline feeds its UNet
        inputs = original.tokenizer(CAPTIONS, padding="max_length", max_length=TOKENS, truncation=True,
                                    return_tensors="pt")
        expected = original.text_encoder.eval()(inputs.input_ids, attention_mask=inputs.attention_mask).text_embeds
        expected = torch.nn.functional.normalize(expected, dim=-1)[:, None]
    else:
        expected = original.encode_prompt(CAPTIONS, "cpu", 1, False)[0]
    torch.testing.assert_close(cond, expected)
    drawn = decoder.sample(cond, steps=2, **DRAW[modality])
    assert drawn.shape == (2, *DRAWN[modality])
    assert drawn.dtype == (torch.float32 if modality == "audio" else torch.uint8)
    assert torch.equal(drawn, decoder.sample(cond, steps=2, **DRAW[modality])), "seeded: the same draw twice"
    assert not torch.equal(drawn, decoder.sample(cond, steps=2, seed=1, **DRAW[modality]))


def test_nextgpt_sizes_its_projectors_from_real_decoders_and_trains_against_their_conditioning(decoders):
    """NExT-GPT's stage 2 against real decoders: each output projector's shape is its decoder's conditioning, its
    L2 target ``conditioning(caption)``; what it makes of signal-token states is what ``sample`` draws from."""
    config = ng.NextConfig(hidden=32, layers=1, heads=2, clips=8, steps=(1, 1, 1, 1), batch_size=3)
    model = ng.build_model(config, decoders=decoders)
    for modality, (tokens, width) in SHAPES.items():
        assert model.out_proj[modality](torch.zeros(1, 4, 32), torch.zeros(1, 4, 32)).shape[1:] == (tokens, width)
        torch.testing.assert_close(model.targets(modality, CAPTIONS), decoders[modality].conditioning(CAPTIONS))
    clips = ng.world_clips("sounds", 8)
    texts, spans, outputs = ng.stage_batch(2, clips[:6], np.random.default_rng(0))  # rows 0, 2, 4 ask for outputs
    media = model.media_embeddings(video=torch.stack([c.video for c in clips[:6]]))
    _, parts = model.loss(texts, spans, media, outputs)
    assert {"l2_image", "l2_audio", "l2_video"} <= set(parts) and all(torch.isfinite(v) for v in parts.values())
    before = {k: v.clone() for k, v in model.out_proj.state_dict().items()}
    ng.train_stage(model, 2, clips, steps=1, lr=1e-2, batch_size=6)
    assert any(not torch.equal(v, model.out_proj.state_dict()[k]) for k, v in before.items())
    hidden, embedded = torch.randn(2, 4, 32), torch.randn(2, 4, 32)     # stand-ins for two replies' [IMG0..3] states
    image = model.out_proj["image"].eval()(hidden, embedded)
    assert decoders["image"].sample(image.detach(), steps=1).shape == (2, *DRAWN["image"])


def test_a_projector_built_for_another_decoder_is_refused(decoders):
    with pytest.raises(ValueError, match="output projector"):
        decoders["image"].sample(torch.randn(2, 24, 64), steps=1)     # the course decoder's conditioning
    with pytest.raises(ValueError, match="output projector"):
        decoders["audio"].sample(decoders["video"].conditioning(CAPTIONS), steps=1, seconds=0.1)
    with pytest.raises(ValueError, match="one per row"):
        decoders["image"].sample(decoders["image"].conditioning(["a", "b", "c"]),
                                 empty=decoders["image"].conditioning(["", ""]), steps=1)
    with pytest.raises(ValueError, match="non-empty list"):
        decoders["audio"].conditioning("a red circle")
    with pytest.raises(ValueError, match="unknown modalities"):
        ng.NextGPT(ng.NextConfig(hidden=32, layers=1, heads=2), decoders={"smell": decoders["audio"]})


def test_a_missing_foreign_or_mistyped_checkpoint_gets_a_clear_error(saved, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError, match="modality must be one of"):
        load_decoder("images", saved["image"][0])
    with pytest.raises(FileNotFoundError, match="not a folder"):
        load_decoder("image", tmp_path / "nothing-here")
    with pytest.raises(FileNotFoundError, match="not a folder"):
        load_decoder("image", "models/sd15/v1")                    # a relative path, not an owner/name hub id
    with pytest.raises(FileNotFoundError, match="no model_index.json"):
        load_decoder("image", tmp_path)
    with pytest.raises(FileNotFoundError, match="Nothing downloads at run time"):
        load_decoder("video", "nobody-here/not-a-pipeline")
    for modality, other in (("image", "audio"), ("audio", "video"), ("video", "image")):
        with pytest.raises(ValueError, match=f"not a {PIPELINES[modality]}"):
            load_decoder(modality, saved[other][0])
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model_index.json").write_text("{ not json")
    with pytest.raises(ValueError, match="config cannot be read"):
        load_decoder("image", broken)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    index = json.loads((saved["image"][0] / "model_index.json").read_text())
    (foreign / "model_index.json").write_text(json.dumps({**index, "_class_name": "KandinskyPipeline"}))
    with pytest.raises(ValueError, match="holds a 'KandinskyPipeline'"):
        load_decoder("image", foreign)


@pytest.fixture(scope="module")
def saved_llm(tmp_path_factory):
    """A tiny LlamaForCausalLM with a Vicuna-like tokenizer (``<s>``, ``</s>``, ``<unk>``, no pad, no chat markers):
    a byte-level BPE trained here on the world's captions, both saved to one folder."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from videollm.world.voices import TEMPLATES

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    words = [t.format(f"a {c} {s}") for t in TEMPLATES for c in ("red", "blue") for s in ("circle", "square")]
    bpe.train_from_iterator(words + ["show me a picture of", "play the sound of"], trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=48, intermediate_size=96,
                                             num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=4,
                                             max_position_embeddings=512, tie_word_embeddings=False))
    folder = tmp_path_factory.mktemp("tiny-vicuna")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder, model


def test_nextgpt_runs_on_a_loaded_llm_with_its_own_tokenizer(saved_llm, decoders):
    """Vicuna's place: a loaded Llama and its tokenizer get the chat markers, placeholders and signal tokens as new
    tokens; the projectors take its width; a stage-2 loss, LoRA and a reply run through it."""
    folder, original = saved_llm
    tokenizer, llm = load_llm(folder)
    assert torch.equal(llm.lm_head.weight, original.lm_head.weight) and tokenizer.pad_token is None
    vocabulary = len(tokenizer)
    model = ng.build_model(ng.NextConfig(hidden=32, media_tokens=2), llm=(tokenizer, llm), decoders=decoders)
    assert model.hidden == 48 and model.in_proj(torch.zeros(1, 64)).shape == (1, 2, 48)
    added = len(model.tokenizer) - vocabulary
    assert added == 2 + 2 + sum(ng.SIGNAL_COUNTS.values()) and model.llm.get_input_embeddings().weight.shape[0] \
        == len(model.tokenizer), "chat markers, placeholders and signal tokens become new rows of the embedding"
    text, _ = ng.chat([("show me a picture of a red circle <video>", "here it is: [IMG]")])
    ids = model.encode([text])[0][0].tolist()
    assert model.end_id in ids and model.media_ids["video"] in ids and all(i in ids for i in model.signal_ids["image"])
    clips = ng.world_clips("sounds", 8)
    texts, spans, outputs = ng.stage_batch(2, clips[:6], np.random.default_rng(0))
    media = model.media_embeddings(video=torch.stack([c.video for c in clips[:6]]))
    _, parts = model.loss(texts, spans, media, outputs)
    assert {"ce", "l2_image", "l2_audio", "l2_video"} <= set(parts) and all(torch.isfinite(v) for v in parts.values())
    new_rows = model.tokenizer.convert_tokens_to_ids([*ng.CHAT_MARKERS, *ng.MEDIA.values()])
    assert set(new_rows) | {i for ids in model.signal_ids.values() for i in ids} == set(model.new_token_ids)
    before = model.llm.get_input_embeddings().weight.clone()
    ng.train_stage(model, 2, clips, steps=1, lr=1e-2, batch_size=6)
    changed = (before != model.llm.get_input_embeddings().weight).any(1).nonzero().flatten().tolist()
    assert model.end_id in changed and set(changed) <= set(model.new_token_ids), \
        "stage 2 trains the rows of the tokens new to the LLM (the reply's end marker among them), and only those"
    ng.add_lora(model)
    assert any("lora_" in name for name, _ in model.llm.named_parameters())
    reply = model.respond(["describe it <video>"], media={"video": media["video"][:1]}, max_new_tokens=4)[0]
    assert isinstance(reply["text"], str) and set(reply["signals"]) <= {"image", "audio", "video"}


def test_the_llm_reads_its_bos_first_and_is_not_trained_in_float16(saved_llm):
    tokenizer, llm = load_llm(saved_llm[0])
    model = ng.build_model(ng.NextConfig(hidden=32), llm=(tokenizer, llm))
    text, spans = ng.chat([("play a red circle", "here it is")])
    ids, mask, labels = model.encode([text], [spans])
    assert ids[0, 0] == tokenizer.bos_token_id and labels[0, 0] == -100, "Vicuna reads <s> first, never a label"
    assert model.tokenizer.decode(ids[0, 1:][labels[0, 1:] != -100]) == "here it is" + ng.END
    half = ng.build_model(ng.NextConfig(hidden=32), llm=load_llm(saved_llm[0], dtype=torch.float16))
    with pytest.raises(ValueError, match="bfloat16 or float32"):
        ng.train_stage(half, 2, ng.world_clips("sounds", 8), steps=1, lr=1e-2, batch_size=4)


def test_a_checkpoint_that_is_not_a_llama_gets_a_clear_error(saved_llm, saved, tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_llm(saved["image"][0])                    # a diffusers pipeline's folder
    untokenized = tmp_path / "no-tokenizer"
    untokenized.mkdir()
    (untokenized / "config.json").write_text((saved_llm[0] / "config.json").read_text())
    with pytest.raises(FileNotFoundError, match="no readable tokenizer"):
        load_llm(untokenized)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{ not json")
    with pytest.raises(ValueError, match="config cannot be read"):
        load_llm(broken)
    foreign = tmp_path / "gpt"
    foreign.mkdir()
    config = json.loads((saved_llm[0] / "config.json").read_text())
    (foreign / "config.json").write_text(json.dumps({**config, "model_type": "gpt2",
                                                     "architectures": ["GPT2LMHeadModel"]}))
    with pytest.raises(ValueError, match="not a Llama"):
        load_llm(foreign)
    with pytest.raises(FileNotFoundError, match="Nothing downloads at run time"):
        load_llm("nobody-here/not-a-model")
