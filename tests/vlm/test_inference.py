"""Tests for videollm.vlm.inference: tiny real transformers VLMs (transformers 5.23.0), their processors, video inputs."""

import math

import numpy as np
import pytest
import torch

from videollm.sampling import smart_nframes, uniform_indices
from videollm.vlm import inference as vlm
from videollm.world.data import clip_path

QUESTION = "What colour is the square?"
OPTIONS = ["red", "blue", "green", "yellow"]


@pytest.fixture(scope="module")
def models():
    return {family: vlm.load_model(family) for family in vlm.FAMILIES}


@pytest.fixture(scope="module")
def clip():
    return clip_path("bouncing_shapes")  # 48 frames at 12 fps, 128x160


def _frames(t, h=96, w=128, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (t, h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("family", vlm.FAMILIES)
def test_forward_and_generate_on_a_course_clip(models, clip, family):
    model, processor = models[family]
    assert type(model).__name__ == {"qwen2_vl": "Qwen2VLForConditionalGeneration",
                                    "qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration",
                                    "llava_onevision": "LlavaOnevisionForConditionalGeneration"}[family]
    assert 1e5 < sum(p.numel() for p in model.parameters()) < 1e6
    prompt = vlm.chat_prompt(processor, QUESTION, OPTIONS)
    batch = vlm.prepare_video_inputs(processor, clip, prompt, family)
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (1, batch["input_ids"].shape[1], len(processor.tokenizer))
    assert torch.isfinite(logits).all()
    answer = vlm.generate_answer(model, processor, clip, QUESTION, OPTIONS, max_new_tokens=3)
    tok = processor.tokenizer
    out = model.generate(**batch, max_new_tokens=3, do_sample=False, pad_token_id=tok.pad_token_id)
    new = out[0, batch["input_ids"].shape[1]:]
    assert 1 <= len(new) <= 3 and torch.equal(out[0, :batch["input_ids"].shape[1]], batch["input_ids"][0])
    assert answer == tok.decode(new, skip_special_tokens=True).strip()  # greedy: the same reply


@pytest.mark.parametrize("family", ["qwen2_vl", "qwen2_5_vl"])
def test_qwen_placeholders_equal_the_grid(models, family):
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    model, processor = models[family]
    prompt = vlm.chat_prompt(processor, QUESTION, OPTIONS)
    batch = vlm.prepare_video_inputs(processor, _frames(8), prompt, family, fps=1.0)
    # upstream smart_resize with the processor's pixel budget: 96x128 -> 84x140 = 6x10 patches of 14
    h, w = smart_resize(96, 128, factor=28, min_pixels=vlm.TINY_QWEN_MIN_PIXELS, max_pixels=vlm.TINY_QWEN_MAX_PIXELS)
    assert (h, w) == (84, 140)
    assert batch["video_grid_thw"].tolist() == [[8 // 2, h // 14, w // 14]]
    ids = batch["input_ids"][0]
    pads = ids == processor.video_token_id
    assert int(pads.sum()) == 4 * 6 * 10 // 4 == vlm.expected_video_tokens(family, model.config, batch)
    where = pads.nonzero().flatten()
    assert torch.equal(where, torch.arange(where[0], where[-1] + 1))  # one contiguous run
    assert ids[where[0] - 1] == model.config.vision_start_token_id
    assert ids[where[-1] + 1] == model.config.vision_end_token_id
    assert torch.equal(batch["mm_token_type_ids"][0] == 2, pads)  # 2 = video, exactly at the placeholders
    if family == "qwen2_5_vl":  # seconds per temporal patch = temporal_patch_size / sampled fps
        assert batch["second_per_grid_ts"].tolist() == [2.0]


def test_llava_placeholders_frames_times_pooled_grid_plus_newline(models):
    model, processor = models["llava_onevision"]
    prompt = vlm.chat_prompt(processor, QUESTION, OPTIONS)
    v = model.config.vision_config
    P = v.image_size // v.patch_size
    assert P == 7  # odd: ceil(7 / 2) = 4, as the 27-patch SigLIP gives ceil(27 / 2) = 14
    for t in (1, 5):
        batch = vlm.prepare_video_inputs(processor, _frames(t), prompt, "llava_onevision")
        assert vlm.num_video_tokens(processor, batch) == t * math.ceil(P / 2) ** 2 + 1 == t * 16 + 1
        assert batch["pixel_values_videos"].shape == (1, t, 3, 56, 56)
        with torch.no_grad():  # the model itself checks that features and placeholders agree
            model(**batch)


def test_each_family_samples_by_its_own_rule(models, clip):
    _, qwen = models["qwen2_vl"]
    frames, meta = vlm.sample_video(qwen, clip, "qwen2_vl")  # 4 s at 2 fps
    assert len(frames) == smart_nframes(48, 12.0, fps=2.0) == 8
    assert meta.frames_indices == uniform_indices(48, 8).tolist() and meta.sampled_fps == pytest.approx(2.0)
    frames, _ = vlm.sample_video(qwen, clip, "qwen2_vl", fps=12.0)  # capped at the tiny processor's 16
    assert len(frames) == vlm.TINY_QWEN_MAX_FRAMES
    _, llava = models["llava_onevision"]
    frames, meta = vlm.sample_video(llava, clip, "llava_onevision")
    assert len(frames) == vlm.TINY_LLAVA_FRAMES and meta.frames_indices == uniform_indices(48, 8).tolist()
    frames, _ = vlm.sample_video(llava, clip, "llava_onevision", num_frames=100)  # never more than the video has
    assert len(frames) == 48


@pytest.mark.parametrize("family", vlm.FAMILIES)
def test_save_pretrained_round_trip_gives_identical_logits(models, tmp_path, family):
    model, processor = models[family]
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    loaded, loaded_processor = vlm.load_model(family, checkpoint=tmp_path)
    assert type(loaded) is type(model) and type(loaded_processor) is type(processor)
    prompt = vlm.chat_prompt(loaded_processor, QUESTION, OPTIONS)
    assert prompt == vlm.chat_prompt(processor, QUESTION, OPTIONS)
    frames = _frames(4)
    a = vlm.prepare_video_inputs(processor, frames, prompt, family)
    b = vlm.prepare_video_inputs(loaded_processor, frames, prompt, family)
    assert torch.equal(a["input_ids"], b["input_ids"])
    with torch.no_grad():
        assert torch.equal(model(**a).logits, loaded(**b).logits)
    with pytest.raises(ValueError, match="pass family="):
        vlm.load_model("qwen2_vl" if family == "llava_onevision" else "llava_onevision", checkpoint=tmp_path)


def test_chat_templates_put_the_video_before_the_question(models):
    for family, (_, processor) in models.items():
        prompt = vlm.chat_prompt(processor, QUESTION, OPTIONS)
        assert prompt.count(processor.video_token) == 1
        assert prompt.index(processor.video_token) < prompt.index(QUESTION) < prompt.index("D. yellow")
        assert prompt.endswith("<|im_start|>assistant\n")
        assert processor.video_token not in vlm.chat_prompt(processor, QUESTION, OPTIONS, video=False)
    _, qwen = models["qwen2_vl"]
    assert vlm.chat_prompt(qwen, QUESTION, ["red", "blue"]) == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
        "<|vision_start|><|video_pad|><|vision_end|>What colour is the square?\nA. red\nB. blue\n"
        "Answer with the option's letter from the given choices directly.<|im_end|>\n<|im_start|>assistant\n")
    _, llava = models["llava_onevision"]
    assert vlm.chat_prompt(llava, QUESTION, None) == (
        "<|im_start|>user <video>\nWhat colour is the square?<|im_end|><|im_start|>assistant\n")


def test_bad_inputs_raise_clear_errors(models, tmp_path):
    model, processor = models["qwen2_vl"]
    prompt = vlm.chat_prompt(processor, QUESTION, OPTIONS)
    with pytest.raises(ValueError, match="unknown model family"):
        vlm.load_model("gpt-4v")
    with pytest.raises(ValueError, match="unknown model family"):
        vlm.tiny_config("llava")
    with pytest.raises(ValueError, match="exactly one video placeholder"):
        vlm.prepare_video_inputs(processor, _frames(2), "no placeholder", "qwen2_vl")
    with pytest.raises(ValueError, match="exactly one video placeholder"):
        vlm.prepare_video_inputs(processor, _frames(2), prompt + prompt, "qwen2_vl")
    with pytest.raises(ValueError, match="does not match the processor"):
        vlm.prepare_video_inputs(processor, _frames(2), prompt, "llava_onevision")
    with pytest.raises(TypeError, match="uint8"):
        vlm.prepare_video_inputs(processor, _frames(2).astype(np.float32), prompt, "qwen2_vl")
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        vlm.prepare_video_inputs(processor, _frames(2)[0], prompt, "qwen2_vl")
    with pytest.raises(FileNotFoundError):
        vlm.prepare_video_inputs(processor, tmp_path / "missing.mp4", prompt, "qwen2_vl")
    with pytest.raises(ValueError, match="options"):
        vlm.chat_prompt(processor, QUESTION, ["only one"])
    with pytest.raises(TypeError, match="options"):
        vlm.chat_prompt(processor, QUESTION, "A or B")
    with pytest.raises(OSError, match="HF_HUB_OFFLINE"):
        vlm.load_model("qwen2_vl", checkpoint="nobody-here/not-a-model")
    with pytest.raises(OSError, match="no such model folder"):
        vlm.load_model("qwen2_vl", checkpoint=tmp_path / "nothing")
    with pytest.raises(ValueError, match="max_new_tokens"):
        vlm.generate_answer(model, processor, _frames(2), QUESTION, OPTIONS, max_new_tokens=0)
