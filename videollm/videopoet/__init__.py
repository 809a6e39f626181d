"""Unit 08 — VideoPoet and MAGVIT-v2: one language model over video and audio tokens.

VideoPoet (Kondratyuk et al., ICML 2024) turns text, video and audio into one sequence of discrete tokens and
generates with a single decoder-only prefix LM. Its video tokens come from MAGVIT-v2's causal tokenizer: causal 3D
convolutions, so that the first frame is encoded alone (an image and a video share one tokenizer), and lookup-free
quantisation (:mod:`videollm.vq.scalar_quant`).

- :mod:`~videollm.videopoet.data`: the clips, sounding world clips of VideoPoet's 17 frames at 8 fps, at 32 x 32,
  with their sound tracks and captions;
- :mod:`~videollm.videopoet.causal`: the causal 3D convolution (past-only temporal padding; checked against
  ``magvit2-pytorch``'s) and the latent-frame arithmetic, 1 + 4k frames -> 1 + k latent frames;
- :mod:`~videollm.videopoet.tokens`: the token counts of clips, pictures and sound tracks, level-major audio ids, and
  the one vocabulary's layout;
- :mod:`~videollm.videopoet.tokenizer`: the MAGVIT-v2-style causal video tokenizer, causal in time in its encoder and
  decoder, LFQ with 1,024 codes: 17 x 32 x 32 frames -> 5 x 4 x 4 = 80 tokens, a picture -> the first 16
  (committed checkpoint, ``python -m videollm.videopoet.tokenizer build``);
- :mod:`~videollm.videopoet.prefix_lm`: the prefix LM's attention mask (the conditioning both ways, the outputs
  causally), its output-only labels, and sampling with and without the KV cache on a ``transformers`` decoder;
- :mod:`~videollm.videopoet.audio`: the audio tokens, a clip's sound track as fixed log-frequency spectra at the
  video's 8 Hz through ``vector_quantize_pytorch``'s residual VQ of 4 levels x 128 codes, written level-major
  (17 x 4 = 68 tokens; committed checkpoint, ``python -m videollm.videopoet.audio build``).

- :mod:`~videollm.videopoet.sequence`: the sequence builder, every task in the paper's Table 4 layout (absent
  modalities dropped with their boundary tokens, the prefix through the first output's begin token);
- :mod:`~videollm.videopoet.model`: the course's VideoPoet, a tiny ``transformers`` Llama over the one vocabulary
  with frozen text embeddings projected into their slots;
- :mod:`~videollm.videopoet.mixture`: tokenising the world's clips once and training the LM on a mixture of eight
  tasks, one task per batch (committed checkpoint, ``python -m videollm.videopoet.mixture build``);
- :mod:`~videollm.videopoet.benchmark`: continuation against the world's ground truth, decoding speed with and
  without the KV cache, and the token arithmetic (``python -m videollm.videopoet.benchmark``);
- :mod:`~videollm.videopoet.plots`: the lecture's figures.

Facts: ``../shared/reference/08-videopoet.md``. Lecture: ``lectures/08_videopoet.ipynb``; lab: ``lab08_videopoet``.
"""
