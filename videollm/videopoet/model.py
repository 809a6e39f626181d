"""Unit 08 — the course's VideoPoet: one ``transformers`` Llama over special, visual and audio ids, with frozen text
embeddings projected into their slots.

VideoPoet is a decoder-only LM (300M to 8B parameters) that reads ``[conditioning | outputs]`` as a prefix LM. The
course keeps every part and shrinks the sizes:

- the decoder is ``transformers``' ``LlamaForCausalLM`` in a tiny configuration (:class:`LMConfig`), its vocabulary
  the paper's layout (:class:`videollm.videopoet.tokens.Vocabulary`: 256 special ids, then ``2^bits`` visual codes,
  then 4 levels of audio codes);
- text enters as a frozen encoder's per-token embeddings (VideoPoet: T5-XL; here unit 07's trained text encoder,
  :func:`text_embeddings`) through one linear layer (``text_projection``) into the ``<text>`` slots that
  :func:`videollm.videopoet.sequence.build` reserved;
- attention and loss follow :mod:`videollm.videopoet.prefix_lm`: the prefix both ways, the outputs causally, the
  loss on the outputs only;
- :meth:`VideoPoetLM.generate` writes a prompt's outputs with the KV cache, drawing visual positions from the
  visual codes only and each audio level from its own codes.

Shapes: batches from :func:`videollm.videopoet.sequence.collate` (``input_ids``, ``text``, ``attention_mask``
``(B, S)``, ``prefix`` ``(B,)``); ``text_embeds`` ``(M, D_text)``, the text embeddings of all ``<text>`` slots of
the batch in row-major order (``M = text.sum()``).

Lecture: `lectures/08_videopoet.ipynb` §4.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from videollm.anyany import bind
from videollm.videopoet.prefix_lm import output_labels, prefix_lm_mask, sample
from videollm.videopoet.tokens import Vocabulary


@dataclass(frozen=True)
class LMConfig:
    """The decoder's size and the vocabulary it models (tiny: the paper's models have 300M, 1B and 8B parameters)."""

    hidden: int = 128
    layers: int = 4
    heads: int = 4
    intermediate: int = 384
    max_positions: int = 256
    text_width: int = 64
    visual_codes: int = 1024
    audio_levels: int = 4
    audio_codes: int = 64

    @property
    def vocab(self) -> Vocabulary:
        return Vocabulary(visual=self.visual_codes, audio_levels=self.audio_levels, audio_codes=self.audio_codes)


class VideoPoetLM(nn.Module):
    """A tiny ``LlamaForCausalLM`` (``self.lm``) and the text projection ``(D_text -> hidden)``."""

    def __init__(self, config: LMConfig = LMConfig()):
        super().__init__()
        from transformers import LlamaConfig, LlamaForCausalLM

        self.config = config
        self.vocab = config.vocab
        self.lm = LlamaForCausalLM(LlamaConfig(
            vocab_size=self.vocab.size, hidden_size=config.hidden, intermediate_size=config.intermediate,
            num_hidden_layers=config.layers, num_attention_heads=config.heads, num_key_value_heads=config.heads,
            max_position_embeddings=config.max_positions, pad_token_id=0, bos_token_id=1, eos_token_id=None,
            tie_word_embeddings=False, attn_implementation="sdpa"))
        self.text_projection = nn.Linear(config.text_width, config.hidden)

    @property
    def device(self) -> torch.device:
        return self.text_projection.weight.device

    def embed(self, input_ids: torch.Tensor, text: torch.Tensor, text_embeds: torch.Tensor | None) -> torch.Tensor:
        """``(B, S, hidden)``: each id's embedding, and the projected text embeddings in the ``<text>`` slots."""
        embeds = self.lm.get_input_embeddings()(input_ids)
        slots = int(text.sum())
        if slots == 0:
            return embeds
        if text_embeds is None or text_embeds.shape != (slots, self.config.text_width):
            got = None if text_embeds is None else tuple(text_embeds.shape)
            raise ValueError(f"the batch has {slots} <text> slots: text_embeds must be ({slots}, "
                             f"{self.config.text_width}); got {got}")
        projected = self.text_projection(text_embeds.to(embeds.dtype))
        return embeds.masked_scatter(text[..., None], projected)

    def forward(self, batch: dict[str, torch.Tensor], text_embeds: torch.Tensor | None = None) -> dict:
        """Logits ``(B, S, V)`` and the mean next-token cross-entropy over the outputs (``loss``)."""
        embeds = self.embed(batch["input_ids"], batch["text"], text_embeds)
        mask = prefix_lm_mask(batch["prefix"], batch["attention_mask"], embeds.dtype)
        logits = self.lm(inputs_embeds=embeds, attention_mask=mask).logits
        labels = output_labels(batch["input_ids"], batch["prefix"], batch["attention_mask"])
        loss = F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels[:, 1:].flatten(), ignore_index=-100)
        return {"logits": logits, "loss": loss}

    def output_ranges(self, modality: str, count: int) -> list[tuple[int, int]]:
        """The id range each of ``count`` output positions is drawn from: the visual codes, or (audio,
        level-major) level ``p // (count / levels)``'s codes at position ``p``."""
        v = self.vocab
        if modality == "video":
            return [(v.visual_offset, v.audio_offset)] * count
        if modality != "audio" or count % v.audio_levels:
            raise ValueError(f"outputs are 'video' or 'audio' (a multiple of {v.audio_levels} tokens); got "
                             f"{modality!r}, {count}")
        frames = count // v.audio_levels
        return [(v.audio_offset + (p // frames) * v.audio_codes, v.audio_offset + (p // frames + 1) * v.audio_codes)
                for p in range(count)]

    @torch.no_grad()
    def generate(self, prompt: dict[str, torch.Tensor], modality: str, count: int,
                 text_embeds: torch.Tensor | None = None, use_cache: bool = True, temperature: float = 0.0,
                 seed: int = 0) -> torch.Tensor:
        """``(B, count)`` output ids after a batch of prompts (sequences built without outputs, all one length).

        Raises:
            ValueError: a batch with padding, or a sequence whose prefix is not all of it (outputs included)."""
        if not bool(prompt["attention_mask"].bool().all()):
            raise ValueError("generate takes prompts of one length (one task per batch): no padding")
        length = prompt["input_ids"].shape[1]
        if bool((prompt["prefix"] != length).any()):
            raise ValueError(f"a prompt is all prefix, but these sequences of {length} tokens have prefixes "
                             f"{prompt['prefix'].tolist()}: build the prompt without outputs (sequence.build with "
                             f"no video_out or audio_out)")
        embeds = self.embed(prompt["input_ids"], prompt["text"], text_embeds)
        return sample(self.lm, prompt["input_ids"], count, use_cache=use_cache, temperature=temperature,
                      vocab=self.output_ranges(modality, count), seed=seed, prefix_embeds=embeds)


def text_embeddings(captions: list[str], encoder=None, device=None) -> tuple[torch.Tensor, list[int]]:
    """Frozen per-token text embeddings of ``captions`` (VideoPoet: T5-XL's encoder; here the ``CLIPTextModel`` of
    unit 07's trained binding, :func:`videollm.anyany.bind.pretrained`): ``(M, width)`` for all tokens of all
    captions in order (end-of-text token included), and each caption's token count."""
    if encoder is None:
        encoder = bind.pretrained(progress=False).text
    batch = encoder.tokenize(captions)
    with torch.no_grad():
        hidden = encoder.clip(**batch).last_hidden_state                    # (B, L, width)
    keep = batch["attention_mask"].bool()
    return hidden[keep].to(device), keep.sum(1).tolist()


__all__ = ["LMConfig", "VideoPoetLM", "text_embeddings"]
