"""Unit 06 — answering from a compressed cache: each option's log-likelihood after the question.

The course scores multiple-choice answers by option likelihood (:mod:`videollm.vlm.mini.batches`): the summed
log-probability of each option's tokens as the reply. With a compressed prefill the video is already in the
cache, so only the text after the video runs, once per option, in one batch: the cache is repeated along the
batch, the rows are right-padded (harmless under causal attention: no real token sees a pad), and each row's text
continues at the uncompressed positions.

Lecture: `lectures/06_adaretake.ipynb` §8.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor
from transformers.cache_utils import DynamicCache

from videollm.compress.cache import watching
from videollm.compress.prefill import Prefilled, VideoInput


def repeat_cache(cache: DynamicCache, rows: int, config) -> DynamicCache:
    """A new ``DynamicCache`` holding ``rows`` copies of ``cache``'s one row, layer by layer (layers may differ in
    length)."""
    out = DynamicCache(config=config)
    for index, layer in enumerate(cache.layers):
        out.update(layer.keys.expand(rows, -1, -1, -1), layer.values.expand(rows, -1, -1, -1), index)
    return out


@torch.no_grad()
def option_log_likelihoods(model, prefilled: Prefilled, video: VideoInput, options: Sequence[Sequence[int]]) -> Tensor:
    """``(k,)`` float32 summed log-probability of each of ``options`` (token ids, e.g. the option's text and
    ``<|im_end|>``) as the reply to ``video``'s input, whose tokens up to ``video.end`` are in ``prefilled``'s
    cache (left unchanged). The text after the video runs once per option, batched.

    Raises:
        ValueError: no options, or an empty one.
    """
    if not len(options) or any(len(o) == 0 for o in options):
        raise ValueError("options must be one or more non-empty token-id lists")
    held = [int(index.max()) for index in prefilled.cache.token_index if len(index)]
    if held and max(held) >= video.end:
        raise ValueError("the cache already holds text after the video (continue_logits grows it): score the "
                         "options on a fresh prefill, before any continuation")
    k, device = len(options), video.embeds.device
    suffix = video.embeds[:, video.end:]  # (1, s, D): the question and the assistant's turn
    s = suffix.shape[1]
    width = max(map(len, options))
    ids = torch.zeros(k, width, dtype=torch.long, device=device)
    for row, option in enumerate(options):
        ids[row, :len(option)] = torch.as_tensor(option, device=device)
    embeds = torch.cat([suffix.expand(k, -1, -1), model.get_input_embeddings()(ids)], 1)  # (k, s + width, D)
    last = video.positions[..., -1:]  # text positions: one more per token on all three axes
    after = last + torch.arange(1, width + 1, device=device)
    positions = torch.cat([video.positions[..., video.end:], after], -1).expand(3, k, -1)
    cache = repeat_cache(prefilled.cache, k, model.config.text_config)
    with watching(model):
        hidden = model.model.language_model(inputs_embeds=embeds, position_ids=positions, past_key_values=cache,
                                            use_cache=True).last_hidden_state
    # the logits at position s - 1 + j predict option token j
    logp = model.lm_head(hidden[:, s - 1:s - 1 + width]).float().log_softmax(-1)
    token = logp.gather(-1, ids[..., None])[..., 0]  # (k, width)
    lengths = torch.tensor([len(o) for o in options], device=device)
    mask = torch.arange(width, device=device)[None] < lengths[:, None]
    return (token * mask).sum(1)
