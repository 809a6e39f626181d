"""Unit 05 — the mini video LLM's configuration and model: a tiny ``Qwen2VLForConditionalGeneration`` built in code.

Lecture: `lectures/05_llava_ov_qwen2_vl.ipynb` §12.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from videollm.vlm import inference as vlm
from videollm.world import text_tokenizer as tt
from videollm.world.qa_frames import data_version
from videollm.world.text_tokenizer import course_tokenizer


#: Bump when the model, the data or the training loop change what a config trains to.
MODEL_VERSION = 2


SUITE_NAMES = ("videomme", "perception", "mlvu")


@dataclass(frozen=True)
class MiniVLMConfig:
    """Everything that decides the trained weights (hashed into the checkpoint key).

    Attributes:
        suites: training scenes and questions come from these suites' generators.
        fresh: instruction-tune on a fresh batch of new scenes at every step (:mod:`videollm.vlm.mini.data`);
            False: on the suites' 828 fixed training questions instead (the ablation).
        sight_steps, sight_batch, sight_lr: stage 1, pre-training the vision tower on the world's per-patch
            labels (:mod:`videollm.vlm.mini.sight`); 0 steps skips it.
        align_steps, align_batch, align_lr: stage 2, alignment on detailed captions
            (:mod:`videollm.vlm.mini.align`): merger and language model trained, vision tower frozen; 0 skips it.
        num_frames, size: frames per video (stages 1 and 2, and evaluation by default) and their ``(height,
            width)`` (``videollm.world.qa_frames``).
        train_frames: stage 3 draws each batch's number of frames from these (variable length through M-RoPE,
            so that the model can be fed longer or shorter clips than it usually sees).
        hidden, layers, heads, mlp: the Qwen2 text decoder (head_dim = hidden / heads; M-RoPE sections split
            head_dim / 2 into t, h, w).
        vision_dim, vision_depth, vision_heads, patch_size, merge: the Qwen2-VL vision tower (patches of
            ``patch_size`` pixels, 2 frames per temporal patch, ``merge x merge`` patches merged into one LLM
            token: a 56x56 frame pair is 8x8 patches of 7 pixels and (8/2)^2 = 16 tokens, 8 frames 64 tokens;
            ``merge=4`` gives 16 tokens a clip, and learned the topic task in some runs only).
        steps, batch_size, lr, weight_decay, warmup: stage 3, instruction tuning: AdamW with linear warm-up and
            cosine decay; a batch is ``batch_size`` questions (all their options).
        vision_lr: in stage 3 the vision tower learns at ``vision_lr * lr``.
        lm_weight: weight of the language-modelling loss on the right option's tokens (mean NLL per token),
            added to the cross-entropy over option scores.
        letter_weight: weight of the loss of answering with the right letter to the lettered prompt (what
            answering by generation needs; 0: option scoring only).
        seed: weights and batch order.
    """

    suites: tuple[str, ...] = SUITE_NAMES
    fresh: bool = True
    sight_steps: int = 150
    sight_batch: int = 16
    sight_lr: float = 3e-3
    align_steps: int = 300
    align_batch: int = 16
    align_lr: float = 3e-3
    num_frames: int = 8
    train_frames: tuple[int, ...] = (4, 8, 16)
    size: tuple[int, int] = (56, 56)
    hidden: int = 96
    layers: int = 2
    heads: int = 4
    mlp: int = 192
    vision_dim: int = 48
    vision_depth: int = 2
    vision_heads: int = 2
    patch_size: int = 7
    merge: int = 2
    steps: int = 400
    batch_size: int = 16
    lr: float = 3e-3
    weight_decay: float = 0.01
    warmup: int = 20
    vision_lr: float = 0.1
    lm_weight: float = 0.0
    letter_weight: float = 1.0
    seed: int = 0


def _mrope_section(head_dim: int) -> list[int]:
    half = head_dim // 2
    t = half // 3
    h = (half - t) // 2
    return [t, h, half - t - h]


def spec(config: MiniVLMConfig = MiniVLMConfig()) -> dict:
    """What decides the trained weights: the config, :data:`MODEL_VERSION`, the tokenizer's corpus and the version
    of the data (:func:`videollm.world.qa_frames.data_version`); its hash keys the checkpoint."""
    return {"version": MODEL_VERSION, "config": config, "data": data_version(),
            "tokenizer": tt.corpus_hash(tt.corpus())}


def build_model(config: MiniVLMConfig = MiniVLMConfig(), device="cpu"):
    """``(model, processor)``: an untrained tiny ``Qwen2VLForConditionalGeneration`` for ``config`` (weights from
    ``torch.manual_seed(config.seed)``, the caller's random state untouched) and its processor."""
    if config.hidden % config.heads or (config.hidden // config.heads) % 2:
        raise ValueError(f"hidden ({config.hidden}) must split into {config.heads} heads of even size")
    tok = course_tokenizer()
    text = dict(hidden_size=config.hidden, num_hidden_layers=config.layers, num_attention_heads=config.heads,
                num_key_value_heads=config.heads, intermediate_size=config.mlp,
                rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                 "mrope_section": _mrope_section(config.hidden // config.heads)})
    vision = dict(embed_dim=config.vision_dim, depth=config.vision_depth, num_heads=config.vision_heads,
                  hidden_size=config.hidden, patch_size=config.patch_size, mlp_ratio=2,
                  spatial_merge_size=config.merge)
    model_config = vlm.tiny_config("qwen2_vl", tokenizer=tok, text_config=text, vision_config=vision)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = vlm._model_class("qwen2_vl")(model_config)
    processor = vlm.tiny_processor("qwen2_vl", model_config, tokenizer=tok)
    return model.to(device), processor
