"""Unit 08 — VideoPoet and MAGVIT-v2: one language model over video and audio tokens (in progress).

VideoPoet (Kondratyuk et al., ICML 2024) turns text, video and audio into one sequence of discrete tokens and
generates with a single decoder-only prefix LM. Its video tokens come from MAGVIT-v2's causal tokenizer: causal 3D
convolutions, so that the first frame is encoded alone (an image and a video share one tokenizer), and lookup-free
quantisation (:mod:`videollm.vq.scalar_quant`).

- :mod:`~videollm.videopoet.causal`: the causal 3D convolution (past-only temporal padding; checked against
  ``magvit2-pytorch``'s) and the latent-frame arithmetic, 1 + 4k frames -> 1 + k latent frames;
- :mod:`~videollm.videopoet.tokens`: the token counts of clips, pictures and sound tracks, level-major audio ids, and
  the one vocabulary's layout;
- :mod:`~videollm.videopoet.prefix_lm`: the prefix LM's attention mask (the conditioning both ways, the outputs
  causally), its output-only labels, and sampling with and without the KV cache on a ``transformers`` decoder.

Facts: ``../shared/reference/08-videopoet.md``. The lecture, the lab and the rest of the reference code are to come
(issue 16).
"""
