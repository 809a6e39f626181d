"""Unit 06 — AdaReTaKe: fit a long video into a fixed context by dropping the KV entries the question needs least.

Long videos repeat themselves over time (a chunk much like its neighbours adds little) and over layers (some
layers' attention piles onto a few tokens). AdaReTaKe (Wang et al., ACL 2025) spends a fixed budget of kept
tokens where each is needed, with no retraining:

- :mod:`~videollm.compress.simplex`: share a budget in ratios between a floor and a ceiling (the capped simplex),
  by bisection as the official code, and exactly as the check;
- :mod:`~videollm.compress.temporal`: how unlike its neighbours each chunk is (the paper's rule and the code's),
  and each chunk's share;
- :mod:`~videollm.compress.layers`: the question's attention to a chunk's tokens, and each layer's share;
- :mod:`~videollm.compress.evict`: which tokens a layer keeps (the best-scored, in temporal order);
- :mod:`~videollm.compress.cache`: a ``DynamicCache`` scored by the question and evicted, inside transformers'
  real Qwen2-VL and Qwen2.5-VL models (a cache subclass, one hook per attention layer, and a registered
  attention function that allows layers of different lengths);
- :mod:`~videollm.compress.prefill`: the chunked, question-guided prefill that puts it together, and the
  global budget rule;
- :mod:`~videollm.compress.baselines`: uniform frames, uniform tokens, ReTaKe's DPSelect keyframes, random
  eviction and attention top-k with even allocation;
- :mod:`~videollm.compress.score`: each option's log-likelihood from a compressed cache (options batched);
- :mod:`~videollm.compress.benchmark`: accuracy and faithfulness against the kept-token budget, more frames at
  one budget, and the cost;
- :mod:`~videollm.compress.reader`: the needle reader, the model the benchmark needs; :mod:`~videollm.compress.plots`.

Checked against the paper and the official code (iLearn-Lab/ACL25-AdaReTaKe @ 39223a6); where they differ, each
module says which it follows. The benchmark's model is :mod:`~videollm.compress.reader` (the needle reader);
``python -m videollm.compress benchmark`` prints the README's tables. Lecture: `lectures/06_adaretake.ipynb`;
lab: ``lab06_adaretake``.
"""

from videollm.compress.baselines import dpselect_patches, prefill_subset, uniform_patches, uniform_tokens
from videollm.compress.cache import GuidedCache, lower_right_attention, watching
from videollm.compress.evict import evict_chunk, keep_count, keep_indices
from videollm.compress.layers import layer_hits, layer_ratios, question_scores
from videollm.compress.prefill import (METHODS, Budget, Prefilled, Steps, VideoInput, budget_ratio, continue_logits,
                                       embed_video_input, prefill)
from videollm.compress.simplex import exact_capped_simplex, project_capped_simplex
from videollm.compress.temporal import chunk_bounds, chunk_distances, chunk_ratios

__all__ = ["METHODS", "Budget", "GuidedCache", "Prefilled", "Steps", "VideoInput", "budget_ratio", "chunk_bounds",
           "chunk_distances", "chunk_ratios", "continue_logits", "dpselect_patches", "embed_video_input", "evict_chunk",
           "exact_capped_simplex", "keep_count", "keep_indices", "layer_hits", "layer_ratios", "lower_right_attention",
           "prefill", "prefill_subset", "project_capped_simplex", "question_scores", "uniform_patches",
           "uniform_tokens", "watching"]
