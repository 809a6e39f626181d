"""Unit 05 — video question answering with transformers' real VLM classes: Qwen2-VL, Qwen2.5-VL and LLaVA-OneVision.

Two ways to get a model, one code path after that:

- ``load_model(family)`` builds a *tiny* random model of the real class (``Qwen2VLForConditionalGeneration``,
  ``Qwen2_5_VLForConditionalGeneration``, ``LlavaOnevisionForConditionalGeneration``; about 0.25 M parameters)
  from :func:`tiny_config`, and its real processor assembled from parts: the family's image and video processors
  at small sizes, the course's offline tokenizer (:mod:`videollm.world.text_tokenizer`) and a chat template that puts
  the placeholders where the model expects them. Its answers are random; it shows every tensor and token the
  real model would see, on a CPU, offline.
- ``load_model(family, checkpoint="Qwen/Qwen2-VL-2B-Instruct")`` (a hub id, or a local folder written by
  ``save_pretrained``) loads real weights with ``from_pretrained``. The course keeps the hub offline
  (``HF_HUB_OFFLINE=1``), so a hub id works only when it is already in the Hugging Face cache; the error says
  how to get it.

Video goes in through :func:`videollm.io.load_video` with each family's own sampling rule
(:func:`prepare_video_inputs`): Qwen samples by rate (``smart_nframes``: 2 frames per second, even, clamped to
the video processor's ``min_frames``/``max_frames``; 16 at most for the tiny model, 768 for a real one) and
passes the sampled rate on (Qwen2.5-VL turns it into seconds per temporal patch for its absolute-time position
ids); LLaVA-OneVision samples 32 frames uniformly (8 for the tiny model).

Placeholders, as the processors expand them (transformers 5.23.0):

- Qwen2-VL / 2.5-VL: ``<|vision_start|>`` + ``<|video_pad|>`` x ``t*h*w/4`` + ``<|vision_end|>``, with
  ``video_grid_thw = (t, h, w)`` in 14-pixel patches (t = frames / 2) and a 2x2 merge;
- LLaVA-OneVision: ``<video>`` x ``frames * ceil(P/2)**2 + 1`` (P patches per side, bilinear 2x pooling, one
  newline token per video).

>>> model, processor = load_model("qwen2_vl")                                    # doctest: +SKIP
>>> generate_answer(model, processor, "clip.mp4", "What colour is the square?",  # doctest: +SKIP
...                 ["red", "blue", "green", "yellow"])
'B'

Lecture: `lectures/05_llava_ov_qwen2_vl.ipynb` §10.
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from videollm.choices import LETTERS
from videollm.io import load_video, probe_video
from videollm.offline import set_offline
from videollm.sampling import smart_nframes
from videollm.validate import positive_int
from videollm.world.text_tokenizer import course_tokenizer

set_offline()

FAMILIES = ("qwen2_vl", "qwen2_5_vl", "llava_onevision")
#: A real checkpoint of each family (small ones), for ``load_model(family, checkpoint=...)``.
EXAMPLE_CHECKPOINTS = {"qwen2_vl": "Qwen/Qwen2-VL-2B-Instruct", "qwen2_5_vl": "Qwen/Qwen2.5-VL-3B-Instruct",
                       "llava_onevision": "llava-hf/llava-onevision-qwen2-0.5b-ov-hf"}
#: The most options :func:`format_question` lays out (Video-MMMU has 10).
MAX_OPTIONS = 10
#: The instruction after the lettered options (the wording lmms-eval's Video-MME task uses).
ANSWER_INSTRUCTION = "Answer with the option's letter from the given choices directly."

#: Pixel budgets of the tiny Qwen processors (pixel counts): 56x56 .. 112x112 per frame or image.
TINY_QWEN_MIN_PIXELS = 56 * 56
TINY_QWEN_MAX_PIXELS = 112 * 112
#: Most frames the tiny Qwen samples (a real checkpoint's processor says 768).
TINY_QWEN_MAX_FRAMES = 16
#: The tiny LLaVA-OneVision's vision tower: 56x56 inputs in 8-pixel patches, so P = 7 patches per side,
#: ceil(7/2)**2 = 16 tokens per video frame; 8 frames per video (a real one: 384 / 14 = 27, 196 per frame, 32).
TINY_LLAVA_IMAGE_SIZE = 56
TINY_LLAVA_PATCH = 8
TINY_LLAVA_FRAMES = 8
TINY_LLAVA_PINPOINTS = [[56, 56], [56, 112], [112, 56], [112, 112], [56, 168], [168, 56]]

# ----------------------------------------------------------------------------------------------------------------
# Chat templates (written for the course; they produce the layouts of the released checkpoints' templates)

#: Qwen2-VL / Qwen2.5-VL: ChatML turns, a default system turn, each video as
#: ``<|vision_start|><|video_pad|><|vision_end|>`` (each image with ``<|image_pad|>``) where it sits in the
#: message, text as written.
QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}"
    "{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

#: LLaVA-OneVision (llava-hf layout): ``<|im_start|>`` and the role, then the message's images, then its videos, then
#: each text on a new line; no newline between turns.
LLAVA_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }} "
    "{% if message['content'] is string %}{{ '\n' + message['content'] }}"
    "{% else %}"
    "{% for part in message['content'] if part['type'] == 'image' %}<image>{% endfor %}"
    "{% for part in message['content'] if part['type'] == 'video' %}<video>{% endfor %}"
    "{% for part in message['content'] if part['type'] == 'text' %}{{ '\n' + part['text'] }}{% endfor %}"
    "{% endif %}"
    "<|im_end|>"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def check_family(family: object) -> str:
    """``family`` if it is one of :data:`FAMILIES`, else a ValueError naming them."""
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}; choose one of {', '.join(FAMILIES)}")
    return family  # type: ignore[return-value]


def family_of(model_or_config) -> str:
    """The family of a model or config (its ``model_type``), checked against :data:`FAMILIES`."""
    config = getattr(model_or_config, "config", model_or_config)
    model_type = getattr(config, "model_type", None)
    if model_type not in FAMILIES:
        raise ValueError(f"model type {model_type!r} is not one of the course's families ({', '.join(FAMILIES)})")
    return model_type


def _model_class(family: str):
    import transformers

    return {"qwen2_vl": transformers.Qwen2VLForConditionalGeneration,
            "qwen2_5_vl": transformers.Qwen2_5_VLForConditionalGeneration,
            "llava_onevision": transformers.LlavaOnevisionForConditionalGeneration}[family]


# ----------------------------------------------------------------------------------------------------------------
# Tiny configs and processors


def _merge(defaults: dict, overrides: dict | None) -> dict:
    out = dict(defaults)
    out.update(overrides or {})
    return out


def tiny_config(family: str, *, tokenizer=None, **overrides):
    """A tiny config of ``family``'s real transformers class (random init gives ~0.25 M parameters).

    Text model (all families): Qwen2 decoder, hidden 64, 2 layers, 4 heads of 16 (2 key/value heads), MLP 128,
    vocabulary = the tokenizer's. Vision: Qwen2-VL's ViT with 14-pixel patches, 2 frames per temporal patch and
    a 2x2 merge (depth 2, width 32; Qwen2.5-VL adds windowed attention, window 112 pixels, one full-attention
    block); LLaVA-OneVision's SigLIP on 56x56 inputs in 8-pixel patches (depth 2, width 32), full features.
    ``mrope_section`` = (2, 3, 3) (sums to head_dim / 2 = 8, as M-RoPE requires).

    Args:
        family: one of :data:`FAMILIES`.
        tokenizer: whose special-token ids and vocabulary size the config uses (default: the course tokenizer).
        **overrides: ``text_config={...}`` / ``vision_config={...}`` update those sub-configs; any other key is a
            top-level config argument (e.g. ``tie_word_embeddings=True``).

    Returns:
        ``Qwen2VLConfig``, ``Qwen2_5_VLConfig`` or ``LlavaOnevisionConfig``.
    """
    import transformers

    check_family(family)
    if tokenizer is None:
        tokenizer = course_tokenizer()
    tid = tokenizer.convert_tokens_to_ids
    text = dict(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                bos_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False)
    text_over = overrides.pop("text_config", None)
    vision_over = overrides.pop("vision_config", None)
    if family in ("qwen2_vl", "qwen2_5_vl"):
        text["rope_parameters"] = {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]}
        text = _merge(text, text_over)
        if family == "qwen2_vl":
            vision = dict(depth=2, embed_dim=32, hidden_size=text["hidden_size"], num_heads=2, mlp_ratio=2,
                          patch_size=14, spatial_merge_size=2, temporal_patch_size=2)
            cls = transformers.Qwen2VLConfig
        else:
            vision = dict(depth=2, hidden_size=32, out_hidden_size=text["hidden_size"], intermediate_size=64,
                          num_heads=2, patch_size=14, spatial_merge_size=2, temporal_patch_size=2,
                          window_size=112, fullatt_block_indexes=[1], tokens_per_second=2)
            cls = transformers.Qwen2_5_VLConfig
        top = dict(image_token_id=tid("<|image_pad|>"), video_token_id=tid("<|video_pad|>"),
                   vision_start_token_id=tid("<|vision_start|>"), vision_end_token_id=tid("<|vision_end|>"),
                   tie_word_embeddings=False)
        return cls(text_config=text, vision_config=_merge(vision, vision_over), **_merge(top, overrides))
    text = _merge(dict(model_type="qwen2", **text), text_over)
    vision = dict(model_type="siglip_vision_model", hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=2, image_size=TINY_LLAVA_IMAGE_SIZE, patch_size=TINY_LLAVA_PATCH)
    top = dict(image_token_index=tid("<image>"), video_token_index=tid("<video>"), vision_feature_layer=-1,
               vision_feature_select_strategy="full", image_grid_pinpoints=TINY_LLAVA_PINPOINTS,
               tie_word_embeddings=False)
    return transformers.LlavaOnevisionConfig(text_config=text, vision_config=_merge(vision, vision_over),
                                             **_merge(top, overrides))


def tiny_processor(family: str, config=None, *, tokenizer=None):
    """The real processor class of ``family`` assembled from parts for the tiny model.

    Qwen2-VL / 2.5-VL: ``Qwen2VLImageProcessor`` and ``Qwen2VLVideoProcessor`` with 56x56 .. 112x112 pixel
    budgets (a 96x128 frame becomes 84x140: a 6x10 patch grid, 15 tokens per 2 frames), at most 16 frames, the
    per-frame cap of qwen-vl-utils on. LLaVA-OneVision: its image processor (AnyRes over
    :data:`TINY_LLAVA_PINPOINTS`) and video processor at 56x56, 8 frames per video. Both get the course
    tokenizer and a chat template (:data:`QWEN_CHAT_TEMPLATE`, :data:`LLAVA_CHAT_TEMPLATE`).

    Args:
        family: one of :data:`FAMILIES`.
        config: the model's config (default :func:`tiny_config`); sizes are read from it so they always agree.
        tokenizer: default the course tokenizer.
    """
    import transformers

    check_family(family)
    if tokenizer is None:
        tokenizer = course_tokenizer()
    config = config if config is not None else tiny_config(family, tokenizer=tokenizer)
    if family in ("qwen2_vl", "qwen2_5_vl"):
        v = config.vision_config
        size = {"shortest_edge": TINY_QWEN_MIN_PIXELS, "longest_edge": TINY_QWEN_MAX_PIXELS}
        common = dict(size=size, patch_size=v.patch_size, temporal_patch_size=v.temporal_patch_size,
                      merge_size=v.spatial_merge_size)
        image = transformers.Qwen2VLImageProcessor(**common)
        video = transformers.Qwen2VLVideoProcessor(**common, min_frames=4, max_frames=TINY_QWEN_MAX_FRAMES,
                                                   cap_pixels_per_frame=True)
        cls = transformers.Qwen2VLProcessor if family == "qwen2_vl" else transformers.Qwen2_5_VLProcessor
        return cls(image_processor=image, tokenizer=tokenizer, video_processor=video,
                   chat_template=QWEN_CHAT_TEMPLATE)
    v = config.vision_config
    size = {"height": v.image_size, "width": v.image_size}
    image = transformers.LlavaOnevisionImageProcessor(size=size, image_grid_pinpoints=config.image_grid_pinpoints)
    video = transformers.LlavaOnevisionVideoProcessor(size=size, num_frames=TINY_LLAVA_FRAMES)
    return transformers.LlavaOnevisionProcessor(
        image_processor=image, tokenizer=tokenizer, video_processor=video,
        num_image_tokens=(v.image_size // v.patch_size) ** 2,
        vision_feature_select_strategy=config.vision_feature_select_strategy,
        vision_aspect_ratio=config.vision_aspect_ratio, chat_template=LLAVA_CHAT_TEMPLATE)


def build_tiny(family: str = "qwen2_vl", seed: int = 0, *, tokenizer=None, **overrides):
    """``(model, processor)``: a tiny random model of ``family`` (weights from ``torch.manual_seed(seed)``,
    without disturbing the caller's random state) and its processor; the model in eval mode on the CPU."""
    check_family(family)
    if tokenizer is None:
        tokenizer = course_tokenizer()
    config = tiny_config(family, tokenizer=tokenizer, **overrides)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _model_class(family)(config)
    return model.eval(), tiny_processor(family, config, tokenizer=tokenizer)


# ----------------------------------------------------------------------------------------------------------------
# Loading


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes") or \
        os.environ.get("TRANSFORMERS_OFFLINE", "0").lower() in ("1", "true", "yes")


def _not_found(checkpoint: str, family: str, error: BaseException, is_path: bool) -> OSError:
    reason = f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})"
    if is_path:
        return OSError(f"checkpoint {checkpoint!r} ({family}): no such model folder, or it lacks the files "
                       f"save_pretrained writes (config.json, weights, processor files): save both the model and "
                       f"the processor there, or pass a hub id such as {EXAMPLE_CHECKPOINTS[family]}. {reason}")
    if _offline():
        how = (f"the course runs with HF_HUB_OFFLINE=1 (set by videollm.offline), so a hub id loads only from the "
               f"local Hugging Face cache. Download it once where the network is reachable: "
               f"`HF_HUB_OFFLINE=0 hf download {checkpoint}` (or `huggingface-cli download {checkpoint}`), "
               f"or pass a local folder written by save_pretrained")
    else:
        how = "check the hub id, your network and HF_TOKEN, or pass a local folder written by save_pretrained"
    return OSError(f"checkpoint {checkpoint!r} ({family}): not a local folder and not in the Hugging Face cache; "
                   f"{how}. Example for this family: {EXAMPLE_CHECKPOINTS[family]}. {reason}")


def _looks_like_path(checkpoint) -> bool:
    text = str(checkpoint)
    return isinstance(checkpoint, os.PathLike) or text.startswith((".", "/", "~", "\\")) or text.count("/") > 1 \
        or Path(text).expanduser().exists()


def load_model(family: str = "qwen2_vl", checkpoint: str | os.PathLike | None = None, device="cpu", dtype=None):
    """``(model, processor)`` of ``family``: tiny and random (``checkpoint=None``), or real weights.

    Args:
        family: one of :data:`FAMILIES`.
        checkpoint: None for the tiny offline model (:func:`build_tiny`, seed 0); else a hub id
            (e.g. :data:`EXAMPLE_CHECKPOINTS`) or a local folder holding ``save_pretrained`` output of the model
            and processor. Both go through ``from_pretrained``; the checkpoint's ``model_type`` must be
            ``family``.
        device: where the model goes (``"cpu"``, ``"cuda"``, ...).
        dtype: a torch dtype (e.g. ``torch.bfloat16``), or None for the checkpoint's own (float32 when tiny).

    Returns:
        the model (eval mode) and its processor.

    Raises:
        ValueError: unknown family, or a checkpoint of another family.
        OSError: the checkpoint cannot be found (offline: says HF_HUB_OFFLINE and how to download it).
    """
    check_family(family)
    if checkpoint is None:
        model, processor = build_tiny(family)
        return model.to(device=device, dtype=dtype).eval(), processor
    import transformers

    is_path = _looks_like_path(checkpoint)
    source = str(Path(str(checkpoint)).expanduser()) if is_path else str(checkpoint)
    if is_path and not Path(source).is_dir():
        raise _not_found(str(checkpoint), family, FileNotFoundError(f"{source} is not a directory"), True)
    try:
        config = transformers.AutoConfig.from_pretrained(source)
    except (OSError, ValueError) as error:
        raise _not_found(str(checkpoint), family, error, is_path) from None
    if getattr(config, "model_type", None) != family:
        raise ValueError(f"checkpoint {checkpoint!r} is a {getattr(config, 'model_type', '?')!r} model, not "
                         f"{family!r}: pass family={getattr(config, 'model_type', '?')!r} (one of "
                         f"{', '.join(FAMILIES)})")
    try:
        model = _model_class(family).from_pretrained(source, dtype=dtype if dtype is not None else "auto")
        processor = transformers.AutoProcessor.from_pretrained(source)
    except OSError as error:
        raise _not_found(str(checkpoint), family, error, is_path) from None
    return model.to(device).eval(), processor


# ----------------------------------------------------------------------------------------------------------------
# Prompts


def format_question(question: str, options: Sequence[str] | None = None,
                    instruction: str | None = ANSWER_INSTRUCTION) -> str:
    """The question text: ``question``, then one line per option ``"A. ..."``, then ``instruction``.

    >>> print(format_question("What colour?", ["red", "blue"]))
    What colour?
    A. red
    B. blue
    Answer with the option's letter from the given choices directly.
    """
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"question must be a non-empty string; got {question!r}")
    if options is None:
        return question
    if isinstance(options, str) or not all(isinstance(o, str) for o in options):
        raise TypeError(f"options must be a list of strings (the option texts, no letters); got {options!r}")
    if not 2 <= len(options) <= MAX_OPTIONS:
        raise ValueError(f"need 2 to {MAX_OPTIONS} options; got {len(options)}")
    lines = [question] + [f"{LETTERS[i]}. {o}" for i, o in enumerate(options)]
    if instruction:
        lines.append(instruction)
    return "\n".join(lines)


def chat_prompt(processor, question: str, options: Sequence[str] | None = None, video: bool = True,
                instruction: str | None = ANSWER_INSTRUCTION) -> str:
    """The prompt text through the processor's own chat template: one user turn holding the video (when
    ``video``) *before* the question and its lettered options, then the assistant's turn opened.

    The placeholder stays unexpanded here (one ``<|video_pad|>`` / ``<video>``); the processor repeats it to
    the video's token count in :func:`prepare_video_inputs`.

    Returns:
        str, e.g. for the tiny Qwen2-VL ``"<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n
        <|im_start|>user\\n<|vision_start|><|video_pad|><|vision_end|>What colour?\\nA. red\\n...<|im_end|>\\n
        <|im_start|>assistant\\n"``.
    """
    if getattr(processor, "chat_template", None) is None:
        raise ValueError("the processor has no chat template; build it with load_model/tiny_processor or set "
                         "processor.chat_template")
    content: list[dict[str, Any]] = [{"type": "video"}] if video else []
    content.append({"type": "text", "text": format_question(question, options, instruction)})
    return processor.apply_chat_template([{"role": "user", "content": content}], tokenize=False,
                                         add_generation_prompt=True)


# ----------------------------------------------------------------------------------------------------------------
# Video inputs


def _check_frames(frames) -> np.ndarray:
    """(T, H, W, 3) uint8 numpy from a numpy array or a torch tensor (T, H, W, 3) or (T, 3, H, W)."""
    if isinstance(frames, torch.Tensor):
        frames = frames.detach().cpu()
        if frames.ndim == 4 and frames.shape[1] == 3 and frames.shape[-1] != 3:
            frames = frames.permute(0, 2, 3, 1)
        frames = frames.numpy()
    if not isinstance(frames, np.ndarray):
        raise TypeError(f"video must be a path or frames (T, H, W, 3) uint8; got {type(frames).__name__}")
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3) (or a (T, 3, H, W) tensor); got shape {frames.shape}")
    if frames.dtype != np.uint8:
        raise TypeError(f"frames must be uint8 RGB (0..255); got {frames.dtype} (convert with "
                        f"(x * 255).round().clamp(0, 255).to(torch.uint8) for floats in [0, 1])")
    if frames.shape[0] < 1:
        raise ValueError("frames is empty (T = 0)")
    return np.ascontiguousarray(frames)


def sample_video(processor, path: str | os.PathLike, family: str, fps: float | None = None,
                 num_frames: int | None = None):
    """Decode ``path`` with the family's own sampling rule: ``(frames (T, H, W, 3) uint8, VideoMetadata)``.

    Qwen: ``videollm.io.load_video(path, fps=fps or 2.0)`` (``smart_nframes``, clamped to the video
    processor's ``min_frames``/``max_frames``); LLaVA-OneVision: ``num_frames`` uniformly (default: the video
    processor's ``num_frames``, else 32), at most the video's frame count. ``num_frames`` overrides the rate for
    Qwen too (rounded to even). The metadata records the kept frame indices, so ``sampled_fps`` is the
    effective rate.
    """
    from transformers.video_utils import VideoMetadata

    check_family(family)
    info = probe_video(path)
    vp = processor.video_processor
    if family in ("qwen2_vl", "qwen2_5_vl"):
        if num_frames is not None:
            n = smart_nframes(info.num_frames, info.fps, nframes=num_frames)
            frames, times = load_video(path, num_frames=n)
        else:
            rate = fps if fps is not None else (getattr(vp, "fps", None) or 2.0)
            frames, times = load_video(path, fps=rate, min_frames=getattr(vp, "min_frames", None) or 4,
                                       max_frames=getattr(vp, "max_frames", None) or 768)
    else:
        n = num_frames or getattr(vp, "num_frames", None) or 32
        frames, times = load_video(path, num_frames=min(int(n), info.num_frames))
    indices = np.rint(np.asarray(times) * info.fps).astype(int).tolist()
    meta = VideoMetadata(total_num_frames=info.num_frames, fps=info.fps, width=info.width, height=info.height,
                         duration=info.duration, video_backend="videollm.io", frames_indices=indices)
    return frames, meta


def prepare_video_inputs(processor, frames_or_path, prompt: str, family: str, fps: float | None = None,
                         device="cpu", *, num_frames: int | None = None):
    """Model inputs for one prompt and one video.

    Args:
        processor: the family's processor (from :func:`load_model`).
        frames_or_path: a video file (sampled by the family's rule, :func:`sample_video`), or frames already
            chosen: ``(T, H, W, 3)`` uint8 numpy / torch, or a ``(T, 3, H, W)`` uint8 tensor, used as given.
        prompt: text with exactly one video placeholder (:func:`chat_prompt`).
        family: one of :data:`FAMILIES` (must match the processor).
        fps: Qwen: the sampling rate for a path (default 2.0); for frames, the rate they were taken at (default
            2.0), which Qwen2.5-VL turns into ``second_per_grid_ts = 2 / fps``. Ignored by LLaVA-OneVision.
        device: where the tensors go.
        num_frames: a frame count instead of the rate (paths only).

    Returns:
        ``BatchFeature``: ``input_ids``/``attention_mask`` (1, L) with the placeholder expanded, and
        Qwen: ``pixel_values_videos`` (t*h*w, 3*2*14*14) float32, ``video_grid_thw`` (1, 3), ``mm_token_type_ids``
        (1, L) (0 text, 2 video), Qwen2.5-VL also ``second_per_grid_ts``; LLaVA-OneVision: ``pixel_values_videos``
        (1, T, 3, S, S) float32.

    Raises:
        ValueError / TypeError: unknown family, a processor of another family, no or several placeholders,
        malformed frames. FileNotFoundError / VideoDecodeError: from :func:`videollm.io.load_video`.
    """
    from transformers.video_utils import VideoMetadata

    check_family(family)
    expected = "llavaonevision" if family == "llava_onevision" else "qwen"
    if not type(processor).__name__.lower().startswith(expected):
        raise ValueError(f"family {family!r} does not match the processor {type(processor).__name__}; pass the "
                         f"processor that load_model({family!r}) returned")
    if family in ("qwen2_vl", "qwen2_5_vl") and fps is not None:
        if isinstance(fps, bool) or not isinstance(fps, numbers.Real) or not fps > 0:
            raise ValueError(f"fps must be a positive number; got {fps!r}")
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a string; got {type(prompt).__name__}")
    token = processor.video_token
    count = prompt.count(token)
    if count != 1:
        raise ValueError(f"the prompt must hold exactly one video placeholder {token!r}; it has {count}. Build it "
                         f"with chat_prompt(processor, question, options, video=True)")
    if isinstance(frames_or_path, (str, os.PathLike)):
        frames, meta = sample_video(processor, frames_or_path, family, fps=fps, num_frames=num_frames)
    else:
        frames = _check_frames(frames_or_path)
        rate = float(fps) if fps is not None else 2.0
        meta = VideoMetadata(total_num_frames=len(frames), fps=rate, width=frames.shape[2], height=frames.shape[1],
                             duration=len(frames) / rate, frames_indices=list(range(len(frames))))
    batch = processor(text=[prompt], videos=[frames], video_metadata=[meta], return_tensors="pt",
                      do_sample_frames=False)
    return batch.to(device)


@torch.no_grad()
def generate_answer(model, processor, video, question: str, options: Sequence[str] | None = None,
                    max_new_tokens: int = 8, device="cpu", **video_kwargs) -> str:
    """Ask ``model`` one question about ``video`` (a path or frames); return its reply text (greedy decoding,
    special tokens dropped, stripped).

    ``video_kwargs`` (``fps``, ``num_frames``) go to :func:`prepare_video_inputs`.
    """
    family = family_of(model)
    positive_int(max_new_tokens, "max_new_tokens")
    prompt = chat_prompt(processor, question, options, video=True)
    inputs = prepare_video_inputs(processor, video, prompt, family, device=device, **video_kwargs)
    dtype = next(model.parameters()).dtype
    for key, value in inputs.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and key.startswith("pixel_values"):
            inputs[key] = value.to(dtype)
    tok = processor.tokenizer
    out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                         pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    return tok.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()


def num_video_tokens(processor, batch) -> int:
    """How many video placeholder tokens ``batch["input_ids"]`` holds (after the processor's expansion)."""
    return int((batch["input_ids"] == processor.video_token_id).sum())


def expected_video_tokens(family: str, model_config, batch) -> int:
    """The placeholder count each family's model expects for the video in ``batch``.

    Qwen: ``t * h * w / merge**2`` from ``video_grid_thw``; LLaVA-OneVision:
    ``frames * ceil(P / 2)**2 + 1`` with ``P = image_size // patch_size`` (bilinear 2x pooling, one newline).
    """
    check_family(family)
    if family in ("qwen2_vl", "qwen2_5_vl"):
        merge = model_config.vision_config.spatial_merge_size
        return int(batch["video_grid_thw"].prod(-1).sum()) // merge ** 2
    v = model_config.vision_config
    frames = batch["pixel_values_videos"].shape[1]
    return frames * math.ceil((v.image_size // v.patch_size) / 2) ** 2 + 1


__all__ = ["ANSWER_INSTRUCTION", "EXAMPLE_CHECKPOINTS", "FAMILIES", "LLAVA_CHAT_TEMPLATE", "QWEN_CHAT_TEMPLATE",
           "build_tiny", "chat_prompt", "check_family", "expected_video_tokens", "family_of", "format_question",
           "generate_answer", "load_model", "num_video_tokens", "prepare_video_inputs", "sample_video",
           "tiny_config", "tiny_processor"]
