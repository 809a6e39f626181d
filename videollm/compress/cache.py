"""Unit 06 — a KV cache that can be scored by a question and evicted, on transformers' real Qwen2-VL classes.

:class:`GuidedCache` is a ``DynamicCache``. While a chunk is prefilled with the question appended
(:meth:`GuidedCache.guided`), each layer

1. attends as usual (past, chunk and question keys all visible);
2. then stores only the chunk's keys and values: the question was there to look, not to be remembered;
3. records the question's attention to the chunk's keys (:func:`videollm.compress.layers.question_scores`),
   from the question's queries that :func:`watching` catches on their way into the layer's attention.

After the forward, :meth:`GuidedCache.evict` keeps the chosen tokens of the chunk in every layer. The cache
remembers which tokens of the uncompressed input each layer holds (``token_index``), so a test or a plot can
ask which ones survived.

Layers that keep different numbers of tokens leave caches of different lengths, which transformers' one
attention mask for all layers cannot describe. :func:`watching` therefore also switches the text model to
:func:`lower_right_attention` (unless it already runs FlashAttention, which aligns the same way): causal
attention aligned at the last key, so the new tokens see every cached token and the earlier new ones, as the
official code gets from FlashAttention. transformers builds no mask for it, so an attention mask passed to the
model is not applied: inputs must be unpadded, or padded on the right only (a causal model's real tokens never
look at the pads after them). Sliding-window layers are refused (they trim the cache themselves).

A compressed cache must be read inside :func:`watching` too; outside it, a forward over it is a clear error.

Lecture: `lectures/06_adaretake.ipynb` §6.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.attention.bias import causal_lower_right
from transformers import AttentionInterface
from transformers.cache_utils import DynamicCache

from videollm.compress.evict import evict_chunk
from videollm.compress.layers import question_scores

#: The name :func:`lower_right_attention` is registered under (transformers' ``AttentionInterface``).
ATTENTION = "videollm_lower_right"


def lower_right_attention(module, query: Tensor, key: Tensor, value: Tensor, attention_mask, dropout: float = 0.0,
                          scaling: float | None = None, **kwargs):
    """Scaled dot-product attention, causal aligned at the last key: query ``i`` of ``q`` sees keys ``j <= k - q +
    i``. ``query`` ``(B, Hq, q, Dh)``, ``key``/``value`` ``(B, Hkv, k, Dh)`` (grouped heads). The mask
    transformers passes (none, for this implementation) is ignored. Returns ``((B, q, Hq, Dh), None)``.

    PyTorch's own lower-right causal bias (no dense mask), so the fused kernels stay available on a GPU."""
    q, k = query.shape[2], key.shape[2]
    bias = {"is_causal": True} if q == k else {"attn_mask": causal_lower_right(q, k)}
    out = F.scaled_dot_product_attention(query, key, value, dropout_p=dropout, scale=scaling,
                                         enable_gqa=query.shape[1] != key.shape[1], **bias)
    return out.transpose(1, 2).contiguous(), None


AttentionInterface.register(ATTENTION, lower_right_attention)


class GuidedCache(DynamicCache):
    """A ``DynamicCache`` whose chunks can be scored by a question and evicted (module docstring).

    Attributes:
        token_index: per layer, ``(n,)`` int64 positions in the uncompressed input of the tokens it holds.
        scores: per layer, ``(k,)`` float32 question scores of the chunk being prefilled (empty otherwise).
    """

    def __init__(self, config):
        super().__init__(config=config)
        self.num_layers = config.num_hidden_layers
        self.token_index: list[Tensor] = [torch.zeros(0, dtype=torch.long) for _ in range(self.num_layers)]
        self.scores: list[Tensor | None] = [None] * self.num_layers
        self._question = 0  # question tokens at the end of the current forward (0: an ordinary forward)
        self._queries: list[Tensor | None] = [None] * self.num_layers
        self._watched = [False] * self.num_layers  # set by the hook of watching() before each layer's update
        self.evicted = False  # layers may now differ in length: only watching()'s attention can read them

    @contextmanager
    def guided(self, question_length: int):
        """Within: every forward ends with ``question_length`` question tokens that score the tokens before them
        and are then dropped from the cache."""
        if question_length < 1:
            raise ValueError(f"question_length must be >= 1; got {question_length}")
        self._question, self.scores = question_length, [None] * self.num_layers
        try:
            yield self
        finally:
            self._question, self._queries = 0, [None] * self.num_layers

    def add_tokens(self, index: Tensor) -> None:
        """Record that every layer now also holds the input's tokens ``index`` ``(n,)`` (called by the driver after
        each forward, before any eviction)."""
        self.token_index = [torch.cat([held, index.cpu()]) for held in self.token_index]

    def update(self, key_states: Tensor, value_states: Tensor, layer_idx: int, *args, **kwargs):
        watched, self._watched[layer_idx] = self._watched[layer_idx], False
        if (self.evicted or self._question) and not watched:
            raise RuntimeError("GuidedCache: this forward runs outside compress.cache.watching(model); a compressed "
                               "or guided cache must be read inside it (its layers differ in length)")
        if self._question and key_states.shape[0] != 1:
            raise ValueError(f"a guided chunk is scored for one input at a time; got a batch of {key_states.shape[0]}")
        keys, values = super().update(key_states, value_states, layer_idx, *args, **kwargs)
        if self._question:
            q = self._question
            queries = self._queries[layer_idx]
            if queries is None:
                raise RuntimeError("GuidedCache: no question queries were caught for layer "
                                   f"{layer_idx}; run the forward inside compress.cache.watching(model)")
            chunk = key_states.shape[2] - q
            self.scores[layer_idx] = question_scores(queries[0], key_states[0, :, :chunk])
            layer = self.layers[layer_idx]
            layer.keys, layer.values = layer.keys[:, :, :-q], layer.values[:, :, :-q]
            self._queries[layer_idx] = None
        return keys, values

    def evict(self, keep: list[int], scores: Tensor | list[Tensor] | None = None, evict_chunk=evict_chunk) -> None:
        """Keep, in layer ``l``, the ``keep[l]`` best-scored tokens of the chunk just prefilled (the last ``k``
        tokens of every layer), with their keys, values and ``token_index``, by ``evict_chunk(keys, values,
        scores, keep)`` (:func:`~videollm.compress.evict.evict_chunk`: in temporal order). ``scores`` ``(layers,
        k)``: by default the question's."""
        if len(keep) != self.num_layers:
            raise ValueError(f"keep needs one count per layer ({self.num_layers}); got {len(keep)}")
        scores = self.scores if scores is None else list(scores)
        if any(score is None for score in scores):
            raise RuntimeError("GuidedCache.evict: no scores for some layer; prefill a chunk under guided() first, "
                               "or pass scores")
        scores = torch.stack(list(scores)).float().cpu()  # one transfer per chunk; the choice is made on the host
        for layer_idx, (count, score) in enumerate(zip(keep, scores)):
            layer = self.layers[layer_idx]
            layer.keys, layer.values, index = evict_chunk(layer.keys, layer.values, score, count)
            held, k = self.token_index[layer_idx], len(score)
            self.token_index[layer_idx] = torch.cat([held[:-k], held[-k:][index.cpu()]])
        self.evicted = True

    def catch_queries(self, layer_idx: int, queries: Tensor | None) -> None:
        """Tell layer ``layer_idx`` that its next update runs under :func:`watching`, with the question's rotated
        queries ``(1, Hq, q, Dh)`` when a chunk is being scored."""
        self._watched[layer_idx] = True
        if queries is not None:
            self._queries[layer_idx] = queries

    @property
    def question_length(self) -> int:
        return self._question


def _rotate(attention) -> callable:
    """The rotary function of ``attention``'s own modeling module (Qwen2-VL and Qwen2.5-VL both define
    ``apply_rotary_pos_emb(q, k, cos, sin)``, M-RoPE already folded into ``cos``/``sin``)."""
    return sys.modules[type(attention).__module__].apply_rotary_pos_emb


def _catch(attention):
    rotate = _rotate(attention)

    def hook(module, args, kwargs):
        cache = kwargs.get("past_key_values")
        if not isinstance(cache, GuidedCache):
            return
        if not cache.question_length:
            cache.catch_queries(module.layer_idx, None)
            return
        hidden = kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]
        q = cache.question_length
        cos, sin = kwargs["position_embeddings"]
        B = hidden.shape[0]
        queries = module.q_proj(hidden[:, -q:]).view(B, q, -1, module.head_dim).transpose(1, 2)
        queries, _ = rotate(queries, queries, cos[:, -q:], sin[:, -q:])
        cache.catch_queries(module.layer_idx, queries.detach())

    return hook


def text_layers(model):
    """The decoder layers of a Qwen2-VL / Qwen2.5-VL model (``model.model.language_model.layers``)."""
    return model.model.language_model.layers


#: Attention implementations that already align causal attention at the last key (kept as they are).
LOWER_RIGHT = ("flash_attention_2", "flash_attention_3")


@contextmanager
def watching(model):
    """Within: every attention layer of ``model``'s language model hands a :class:`GuidedCache` its question
    queries (under ``guided()``) and leave to update, and attention is :func:`lower_right_attention` (FlashAttention
    is kept). Both are undone on exit, also after an error.

    Raises:
        ValueError: the language model has sliding-window layers (they trim the cache themselves, which the
            eviction's bookkeeping does not follow; the released Qwen2-VL checkpoints have none).
    """
    text_config = model.config.text_config
    sliding = [i for i, kind in enumerate(getattr(text_config, "layer_types", None) or []) if kind != "full_attention"]
    if sliding:
        raise ValueError(f"layers {sliding} use sliding-window attention; AdaReTaKe's cache supports full attention "
                         "only (set use_sliding_window=False, as the released checkpoints do)")
    before = text_config._attn_implementation
    handles = []
    try:
        handles = [layer.self_attn.register_forward_pre_hook(_catch(layer.self_attn), with_kwargs=True)
                   for layer in text_layers(model)]
        if before not in LOWER_RIGHT:
            text_config._attn_implementation = ATTENTION
        yield model
    finally:
        text_config._attn_implementation = before
        for handle in handles:
            handle.remove()
