"""Unit 06 — AdaReTaKe's prefill: the video chunk by chunk, each chunk read with the question after it, then cut.

For one input ``[text before] [video] [text after]`` (the question is in the text after, as in every chat
prompt) on a Qwen2-VL / Qwen2.5-VL model:

1. the text before the video is prefilled as usual (text is never evicted);
2. the video's merged tokens are cut into chunks of ``patches_per_chunk`` temporal patches; each chunk's share
   ``r_i`` comes from how unlike its neighbours it is (:mod:`~videollm.compress.temporal`), or is ``r``;
3. each chunk is prefilled with the question appended, the question's positions moved to follow the chunk (as
   the official code does: from the chunk's last temporal position + 1); every layer scores the chunk by the
   question's attention and forgets the question (:class:`~videollm.compress.cache.GuidedCache`);
4. the chunk's share is split over layers (:mod:`~videollm.compress.layers`), or is ``r_i`` in every layer,
   and each layer keeps its best-scored tokens of the chunk (:mod:`~videollm.compress.evict`).

The returned cache holds the text before the video and what each layer kept of the video; the text after the
video (and an answer) then goes through the model as usual, at its uncompressed positions. Nothing is retrained
and nothing is evicted after the prefill. With ``ratio = 1`` every chunk is prefilled whole and the cache is the
one a plain forward makes (tested).

The global budget rule (:func:`budget_ratio`): compress only when the input is longer than the context budget,
to that budget.

Where this differs from the official code (``retake/qwen2_5_vl.py``, ``longvideo_cache.py``):

- no ``pos_embed_reforge`` (the official configs for Video-MME and LVBench squeeze the kept keys' temporal
  positions by the base ratio and re-rotate them) and no YaRN context extension (``scaling_factor`` 4): both
  matter for contexts far longer than the tiny models', and leave the positions the model was trained with;
- a chunk whose share reaches 1 is prefilled whole without the question (the official code leaves the question's
  keys and values in the cache in that case);
- the scores stay in float32 (the official code casts them to the model's dtype, which only changes ties).

Lecture: `lectures/06_adaretake.ipynb` §6.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor

from videollm.compress.cache import GuidedCache, watching
from videollm.compress.evict import evict_chunk, keep_count
from videollm.compress.layers import layer_ratios
from videollm.compress.simplex import project_capped_simplex
from videollm.compress.temporal import RULES, chunk_bounds, chunk_distances, chunk_ratios
from videollm.validate import positive_int


SCORES = ("question", "random")


@dataclass(frozen=True)
class Budget:
    """How a video is compressed during prefill.

    Attributes:
        ratio: the share of the video's tokens kept, on average over chunks and layers (1: no compression).
        patches_per_chunk: temporal patches per chunk (the official code: 16, i.e. 32 frames).
        temporal: ``"code"`` or ``"paper"``: chunk shares by redundancy (:func:`chunk_distances`); ``None``:
            every chunk keeps ``ratio``.
        layers: ``"code"`` (+1 smoothing) or ``"paper"`` (epsilon floor): layer shares by the question's
            attention (:func:`layer_ratios`); ``None``: every layer keeps the chunk's share.
        score: ``"question"``: each layer keeps the tokens the question attends to most; ``"random"``: random
            tokens (a baseline; the chunk is prefilled without the question, and ``layers`` must be None).
        seed: the random tokens' seed (chunk ``i`` draws from ``seed + i``).
    """

    ratio: float = 0.25
    patches_per_chunk: int = 2
    temporal: str | None = "code"
    layers: str | None = "code"
    score: str = "question"
    seed: int = 0

    def __post_init__(self):
        if not 0 < self.ratio <= 1:
            raise ValueError(f"ratio must lie in (0, 1] (the share of video tokens kept); got {self.ratio}")
        positive_int(self.patches_per_chunk, "patches_per_chunk", "temporal patches per chunk")
        for name in ("temporal", "layers"):
            if getattr(self, name) not in (None, *RULES):
                raise ValueError(f"{name} must be None, 'code' or 'paper'; got {getattr(self, name)!r}")
        if self.score not in SCORES:
            raise ValueError(f"score must be one of {SCORES}; got {self.score!r}")
        if self.score == "random" and self.layers is not None:
            raise ValueError("random scores say nothing about layers: use layers=None with score='random'")


@dataclass(frozen=True)
class Steps:
    """The computations the prefill is made of, each replaceable (lab 06 runs the prefill with a student's own).

    Attributes:
        chunk_distances: ``(tokens (T, N, D), patches_per_chunk, rule) -> (C,)`` (:func:`~videollm.compress.
            temporal.chunk_distances`).
        project: ``(x (n,), total, lo, hi) -> (n,)``, the capped-simplex projection of the chunk shares
            (:func:`~videollm.compress.simplex.project_capped_simplex`).
        layer_ratios: ``(scores (L, k), ratio, smoothing=) -> (L,)`` (:func:`~videollm.compress.layers.layer_ratios`).
        keep_count: ``(ratio, length) -> int`` (:func:`~videollm.compress.evict.keep_count`).
        evict_chunk: ``(keys, values, scores (k,), keep) -> (keys, values, index)`` for one layer
            (:func:`~videollm.compress.evict.evict_chunk`).
    """

    chunk_distances: Callable = chunk_distances
    project: Callable = project_capped_simplex
    layer_ratios: Callable = layer_ratios
    keep_count: Callable = keep_count
    evict_chunk: Callable = evict_chunk


#: AdaReTaKe as the official code runs it, its two ablations, and the two evictions without allocation.
METHODS = {"adaretake": dict(temporal="code", layers="code"), "temporal only": dict(temporal="code", layers=None),
           "layers only": dict(temporal=None, layers="code"), "attention top-k": dict(temporal=None, layers=None),
           "random eviction": dict(temporal=None, layers=None, score="random")}


def budget_ratio(input_length: int, max_context: int) -> float:
    """The official code's global rule: keep everything when the input fits ``max_context`` tokens, else the
    share ``max_context / input_length``."""
    input_length = positive_int(input_length, "input_length", "tokens in the input")
    max_context = positive_int(max_context, "max_context", "the context budget in tokens")
    return 1.0 if input_length <= max_context else max_context / input_length


@dataclass
class VideoInput:
    """One input, embedded: ``embeds`` ``(1, L, D)`` (text embeddings with the video's merged tokens in place),
    ``positions`` ``(3, 1, L)`` M-RoPE ids (the model's own ``get_rope_index``), the video's token span
    ``[start, end)`` and its grid ``(t, h, w)`` in merged tokens."""

    embeds: Tensor
    positions: Tensor
    start: int
    end: int
    grid: tuple[int, int, int]

    @property
    def video_tokens(self) -> Tensor:
        """``(t, h * w, D)`` the video's merged tokens by temporal patch."""
        t, h, w = self.grid
        return self.embeds[0, self.start:self.end].view(t, h * w, -1)


@torch.no_grad()
def embed_video_input(model, input_ids: Tensor, pixel_values_videos: Tensor, video_grid_thw: Tensor,
                      second_per_grid_ts: Tensor | None = None) -> VideoInput:
    """Embed one chat input with one video (``input_ids`` ``(1, L)`` from the model's processor) as the real
    forward does: the text embeddings, the vision tower's merged tokens at the video placeholders, and the
    model's M-RoPE position ids. Qwen2.5-VL times its video positions by ``second_per_grid_ts`` (the processor's
    output, ``2 / fps``; without it transformers assumes one second per temporal patch, i.e. 2 fps).

    Raises:
        ValueError: more than one row, no video, or video tokens that are not one contiguous block.
    """
    if input_ids.ndim != 2 or len(input_ids) != 1:
        raise ValueError(f"input_ids must be one row (1, L); got shape {tuple(input_ids.shape)}: compress one "
                         "input at a time")
    device = model.device
    input_ids = input_ids.to(device)
    video_id = model.config.video_token_id
    is_video = input_ids[0] == video_id
    where = is_video.nonzero()[:, 0]
    if len(where) == 0:
        raise ValueError("the input holds no video tokens; build it with the processor and a video")
    start, end = int(where[0]), int(where[-1]) + 1
    if len(where) != end - start or len(video_grid_thw) != 1:
        raise ValueError("the input must hold exactly one video, as one block of video tokens")
    embeds = model.get_input_embeddings()(input_ids)
    video = model.model.get_video_features(pixel_values_videos.to(device), video_grid_thw.to(device),
                                           return_dict=True).pooler_output
    video = torch.cat(list(video)) if isinstance(video, (list, tuple)) else video
    embeds[0, start:end] = video.to(embeds.dtype)
    mm_types = is_video.long()[None] * 2
    timing = {} if second_per_grid_ts is None else {"second_per_grid_ts": second_per_grid_ts.to(device)}
    positions, _ = model.model.get_rope_index(input_ids, mm_types, video_grid_thw=video_grid_thw.to(device),
                                              attention_mask=torch.ones_like(input_ids), **timing)
    merge = model.config.vision_config.spatial_merge_size
    t, h, w = (int(v) for v in video_grid_thw[0])
    return VideoInput(embeds, positions, start, end, (t, h // merge, w // merge))


@dataclass
class Prefilled:
    """What :func:`prefill` leaves: the ``cache``; per chunk its token span, share and per-layer kept counts."""

    cache: GuidedCache
    chunks: list[tuple[int, int]] = field(default_factory=list)
    chunk_ratios: list[float] = field(default_factory=list)
    kept: list[list[int]] = field(default_factory=list)

    @property
    def kept_tokens(self) -> int:
        """Video tokens kept, summed over chunks and layers."""
        return sum(map(sum, self.kept))


def language_forward(model, cache: GuidedCache, embeds: Tensor, positions: Tensor) -> Tensor:
    """The language model over ``embeds`` ``(1, n, D)`` at ``positions`` ``(3, 1, n)`` with ``cache``; the last
    hidden states ``(1, n, D)``."""
    return model.model.language_model(inputs_embeds=embeds, position_ids=positions, past_key_values=cache,
                                      use_cache=True).last_hidden_state


@torch.no_grad()
def prefill(model, video: VideoInput, budget: Budget, question: tuple[int, int] | None = None,
            steps: Steps = Steps()) -> Prefilled:
    """Prefill the text before the video and the compressed video of ``video`` (:func:`embed_video_input`) into
    a :class:`~videollm.compress.cache.GuidedCache`, as ``budget`` says (module docstring). The question that
    guides the scores is the input's tokens ``question = (start, end)``, by default all the text after the video
    (the official code's last text segment). ``steps``: the computations used (:class:`Steps`; the course's own by
    default).

    Returns:
        :class:`Prefilled`; continue with :func:`continue_logits` from ``video.end``.
    """
    cache = GuidedCache(model.config.text_config)
    out = Prefilled(cache)
    L = video.embeds.shape[1]
    q0, q1 = question if question is not None else (video.end, L)
    if not video.end <= q0 < q1 <= L:
        raise ValueError(f"question must be a non-empty span after the video ({video.end}..{L}); got {(q0, q1)}")
    t, h, w = video.grid
    bounds = chunk_bounds(t, budget.patches_per_chunk)
    if budget.ratio >= 1 or budget.temporal is None:
        shares = [float(budget.ratio)] * len(bounds)
    else:
        distances = steps.chunk_distances(video.video_tokens, budget.patches_per_chunk, budget.temporal)
        shares = chunk_ratios(distances, budget.ratio, project=steps.project).tolist()
    with watching(model):
        if video.start:
            language_forward(model, cache, video.embeds[:, :video.start], video.positions[..., :video.start])
            cache.add_tokens(torch.arange(video.start))
        for (p0, p1), share in zip(bounds, shares):
            s, e = video.start + p0 * h * w, video.start + p1 * h * w
            out.chunks.append((s, e))
            out.chunk_ratios.append(share)
            if share >= 1:
                language_forward(model, cache, video.embeds[:, s:e], video.positions[..., s:e])
                cache.add_tokens(torch.arange(s, e))
                out.kept.append([e - s] * cache.num_layers)
                continue
            if budget.score == "random":
                language_forward(model, cache, video.embeds[:, s:e], video.positions[..., s:e])
                draw = torch.Generator().manual_seed(budget.seed + len(out.chunks) - 1)
                scores = torch.rand(cache.num_layers, e - s, generator=draw)
            else:
                # the question follows the chunk: its first position is the chunk's last temporal position + 1
                shift = video.positions[0, 0, q0] - video.positions[0, 0, e - 1] - 1
                embeds = torch.cat([video.embeds[:, s:e], video.embeds[:, q0:q1]], 1)
                positions = torch.cat([video.positions[..., s:e], video.positions[..., q0:q1] - shift], -1)
                with cache.guided(q1 - q0):
                    language_forward(model, cache, embeds, positions)
                scores = torch.stack(cache.scores)  # (layers, chunk tokens)
            cache.add_tokens(torch.arange(s, e))
            if budget.layers is None:
                per_layer = [share] * cache.num_layers
            else:
                per_layer = steps.layer_ratios(scores, share, smoothing=1 if budget.layers == "code" else 0).tolist()
            keep = [steps.keep_count(r, e - s) for r in per_layer]
            cache.evict(keep, scores, evict_chunk=steps.evict_chunk)
            out.kept.append(keep)
    return out


@torch.no_grad()
def continue_logits(model, prefilled: Prefilled, video: VideoInput, start: int | None = None,
                    end: int | None = None) -> Tensor:
    """``(1, n, vocab)`` logits of the input's tokens ``[start, end)`` (default: all the text after the video)
    run on top of ``prefilled``'s cache at their uncompressed positions. The cache grows by them."""
    start = video.end if start is None else start
    end = video.embeds.shape[1] if end is None else end
    with watching(model):
        hidden = language_forward(model, prefilled.cache, video.embeds[:, start:end], video.positions[..., start:end])
    prefilled.cache.add_tokens(torch.arange(start, end))
    return model.lm_head(hidden)
