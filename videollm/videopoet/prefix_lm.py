"""Unit 08 — VideoPoet's prefix LM: one decoder that reads its conditioning both ways and writes its output left to
right, and the KV cache that makes writing fast.

A sequence is ``[conditioning prefix | outputs]``. In the attention mask (``allowed[i, j]``: may query ``i`` read
key ``j``?) every prefix token reads the whole prefix, and every output token reads the whole prefix and the
outputs before it::

    allowed[i, j] = j <= i  or  j < prefix_length

The loss is on the outputs only (:func:`output_labels`). Any ``transformers`` decoder takes the mask as a 4-D
*additive* float mask, ``(B, 1, L, L)`` of 0 (read) and the dtype's minimum (do not read): a boolean 4-D mask is
read correctly by the ``sdpa`` attention but not by ``eager`` (transformers 5.23), so the course always passes floats.

Generation (:func:`sample`) runs the prefix once through the model (bidirectional, filling the KV cache), then one
token per step that reads the cache. Without the cache every step reruns the whole sequence under the prefix-LM
mask; both give the same tokens (the tests check it), the cached one in a fraction of the time (measured side by
side: ``python -m videollm.videopoet.benchmark speed``).

Shapes: ids ``(B, L)``; ``prefix`` ``(B,)`` conditioning lengths; ``attention_mask`` ``(B, L)``, 1 for tokens, 0
for right padding.

Lecture: `lectures/08_videopoet.ipynb` §4.
"""

from __future__ import annotations

import torch

from videollm.fusion.model import IGNORE_INDEX


def _check(prefix: torch.Tensor, attention_mask: torch.Tensor) -> None:
    if attention_mask.ndim != 2 or prefix.shape != attention_mask.shape[:1]:
        raise ValueError(f"prefix must be (B,) and attention_mask (B, L); got {tuple(prefix.shape)} and "
                         f"{tuple(attention_mask.shape)}")
    attention_mask = attention_mask.long()                                    # a bool mask's diff would be a XOR
    lengths = attention_mask.sum(1)
    if bool((attention_mask.diff(dim=1) > 0).any()):
        raise ValueError("attention_mask must pad on the right only (1s, then 0s)")
    if bool(((prefix < 1) | (prefix > lengths)).any()):
        raise ValueError(f"each prefix length must lie in [1, that row's length]; got {prefix.tolist()} for lengths "
                         f"{lengths.tolist()}")


def prefix_lm_mask(prefix: torch.Tensor, attention_mask: torch.Tensor, dtype: torch.dtype = torch.float32
                   ) -> torch.Tensor:
    """``(B, 1, L, L)`` additive mask: 0 where query ``i`` may read key ``j`` (the prefix both ways, the outputs
    causally, never a padding key), the dtype's minimum elsewhere."""
    _check(prefix, attention_mask)
    length = attention_mask.shape[1]
    position = torch.arange(length, device=attention_mask.device)
    allowed = (position[None, :] <= position[:, None])[None] | (position[None, None, :] < prefix[:, None, None])
    allowed = allowed & attention_mask.bool()[:, None, :]                     # (B, L, L)
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(
        ~allowed, torch.finfo(dtype).min)[:, None]


def output_labels(ids: torch.Tensor, prefix: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """``(B, L)`` labels for the next-token loss: the ids of the outputs, ``IGNORE_INDEX`` (-100) on the prefix and
    the padding (the model shifts them, so the last prefix token is the one that predicts the first output)."""
    _check(prefix, attention_mask)
    if ids.shape != attention_mask.shape:
        raise ValueError(f"ids {tuple(ids.shape)} and attention_mask {tuple(attention_mask.shape)} must match")
    position = torch.arange(ids.shape[1], device=ids.device)
    keep = (position[None] >= prefix[:, None]) & attention_mask.bool()
    return ids.masked_fill(~keep, IGNORE_INDEX)


def _pick(logits: torch.Tensor, temperature: float, vocab: tuple[int, int] | None,
          generator: torch.Generator | None) -> torch.Tensor:
    """One token per row from the last logits ``(B, V)``: greedy at temperature 0, else sampled; only ids in
    ``vocab = (start, stop)`` when given (VideoPoet samples visual tokens only from the visual codes)."""
    if vocab is not None:
        start, stop = vocab
        blocked = torch.ones(logits.shape[-1], dtype=torch.bool, device=logits.device)
        blocked[start:stop] = False
        logits = logits.masked_fill(blocked, float("-inf"))
    if temperature == 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits.float() / temperature, -1)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


def _ranges(vocab, steps: int, size: int) -> list[tuple[int, int] | None]:
    """``vocab`` as one range (or ``None``) per step; each ``(start, stop)`` within the model's ``size`` ids."""
    ranges = vocab if isinstance(vocab, list) else [vocab] * steps
    if len(ranges) != steps:
        raise ValueError(f"vocab as a list needs one (start, stop) per step: {steps}; got {len(ranges)}")
    for r in ranges:
        if r is not None and not (isinstance(r, tuple) and len(r) == 2 and 0 <= r[0] < r[1] <= size):
            raise ValueError(f"vocab must be (start, stop) with 0 <= start < stop <= {size}, the model's vocabulary; "
                             f"got {r!r}")
    return ranges


@torch.no_grad()
def sample(model, prefix_ids: torch.Tensor, steps: int, use_cache: bool = True, temperature: float = 0.0,
           vocab: tuple[int, int] | list[tuple[int, int]] | None = None, seed: int = 0,
           prefix_embeds: torch.Tensor | None = None) -> torch.Tensor:
    """``(B, steps)`` output tokens after ``prefix_ids`` ``(B, P)`` (every row the same prefix length, as in a batch
    of one task): the prefix read both ways, then one token a step, with or without the KV cache.

    Args:
        temperature: 0 picks the most likely token; above 0 samples from the softmax at that temperature (seeded by
            ``seed``, so cached and uncached runs draw the same tokens).
        vocab: ``(start, stop)``: only ids in that range; or a list of one range per step (level-major audio draws
            each level from its own codes).
        prefix_embeds: ``(B, P, hidden)``, the prefix's input embeddings when they are not just the ids' (text
            embeddings in their slots); the outputs are always embedded from their ids.
    """
    if prefix_ids.ndim != 2 or prefix_ids.shape[1] < 1 or steps < 1:
        raise ValueError(f"prefix_ids must be (B, P) with P >= 1 and steps >= 1; got {tuple(prefix_ids.shape)}, "
                         f"{steps}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0: greedy); got {temperature}")
    if prefix_embeds is not None and prefix_embeds.shape[:2] != prefix_ids.shape:
        raise ValueError(f"prefix_embeds must be (B, P, hidden) for prefix_ids {tuple(prefix_ids.shape)}; got "
                         f"{tuple(prefix_embeds.shape)}")
    ranges = _ranges(vocab, steps, model.get_output_embeddings().weight.shape[0])
    batch, length = prefix_ids.shape
    device = prefix_ids.device
    dtype = next(model.parameters()).dtype
    embed = model.get_input_embeddings()
    generator = torch.Generator(device).manual_seed(seed) if temperature > 0 else None
    prefix = torch.full((batch,), length, device=device)
    embeds = embed(prefix_ids) if prefix_embeds is None else prefix_embeds.to(dtype)
    new: list[torch.Tensor] = []
    if not use_cache:
        for step in range(steps):
            seen = length + step
            mask = prefix_lm_mask(prefix, torch.ones(batch, seen, dtype=torch.long, device=device), dtype)
            logits = model(inputs_embeds=embeds, attention_mask=mask, use_cache=False).logits[:, -1]
            new.append(_pick(logits, temperature, ranges[step], generator))
            embeds = torch.cat([embeds, embed(new[-1][:, None])], 1)
        return torch.stack(new, 1)
    from transformers import DynamicCache

    out = model(inputs_embeds=embeds, attention_mask=torch.zeros(batch, 1, length, length, dtype=dtype, device=device),
                past_key_values=DynamicCache(), use_cache=True)            # the prefix, both ways
    for step in range(steps):
        new.append(_pick(out.logits[:, -1], temperature, ranges[step], generator))
        if step + 1 == steps:
            break
        seen = length + step + 1                                            # keys in the cache after this token
        out = model(inputs_embeds=embed(new[-1][:, None]), past_key_values=out.past_key_values, use_cache=True,
                    attention_mask=torch.zeros(batch, 1, 1, seen, dtype=dtype, device=device))
    return torch.stack(new, 1)


__all__ = ["output_labels", "prefix_lm_mask", "sample"]
