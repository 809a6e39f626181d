"""Reference implementations for the course *Video Understanding with Multimodal LLMs*.

One module per idea; lectures, labs and tests all import from here.

- ``videollm.io``        decode and encode video (decord, PyAV), with frame timestamps
- ``videollm.sampling``  which frames to keep: uniform and FPS-based (Qwen's ``smart_nframes``)
- ``videollm.synth``     the course's deterministic synthetic video world, with ground truth
- ``videollm.data``      the clip manifest in ``data/`` and its on-demand cache
- ``videollm.world``     the event world: scripted scenes (actions, camera, signs, cut-ins, subtitles, tones)
- ``videollm.glyphs``    a built-in bitmap font for on-screen text
- ``videollm.subtitles`` SubRip files and the subtitle lines a model sees with its sampled frames
- ``videollm.audio``     tone tracks and a tone detector (the sound track of the event world)
- ``videollm.benchmarks`` unit 09: the course's Video-MME-, PerceptionTest- and MLVU-like suites, with baselines
- ``videollm.eval``      unit 09: answer parsing as lmms-eval does it, metrics, open-ended scoring, results CLI
- ``videollm.vit``       unit 01: patchify, patch/tubelet embedding, pos-embed resampling, token counts
- ``videollm.vq``        unit 02: nearest-code lookup (plain and l2), straight-through estimator, VQ-VAE losses
- ``videollm.codebook``  unit 02: EMA codebook updates, k-means initialisation, dead-code restarts
- ``videollm.scalar_quant`` unit 02: FSQ and LFQ (with the MAGVIT-v2 entropy loss)
- ``videollm.vqvae``     unit 02: a small VQ-VAE for video frames with pluggable quantisers, frame sets, PSNR
- ``videollm.vqvae_train`` unit 02: its training loop and the cached checkpoint the lecture loads
- ``videollm.motion``    unit 04: vectorised block matching, codec motion vectors, end-point error
- ``videollm.lavit_motion`` unit 04: codec motion-vector records -> Video-LaVIT's motion field and 20x36 input
- ``videollm.motion_tokenizer`` unit 04: a small l2-VQ motion tokenizer and its tokens-per-clip arithmetic
- ``videollm.qa_frames`` benchmark questions with their uniformly sampled frames (the training sets of units 03, 05)
- ``videollm.text_tokenizer`` the course's offline byte-level BPE with Qwen2-VL's and LLaVA's special tokens
- ``videollm.fusion``    unit 03: early fusion, continuous features vs VQ codes fed to one small decoder LM
- ``videollm.fusion_train`` unit 03: training and evaluating both fusion styles, cached checkpoints, CLI
- ``videollm.llava_ov``  unit 05: LLaVA-OneVision's AnyRes-Max-9 tiling, unpadding, newlines, frame pooling, budgets
- ``videollm.qwen_vl``   unit 05: Qwen2-VL's smart_resize, video budgets and M-RoPE position ids (+ Qwen2.5-VL time)
- ``videollm.vlm``       unit 05: inference on transformers' real Qwen2-VL / Qwen2.5-VL / LLaVA-OneVision classes
- ``videollm.mini_vlm``  unit 05: the mini video LLM, a tiny Qwen2-VL trained here on the suites' training split
- ``videollm.plots``     figures the lectures draw (frames and sampling; patches and token budgets; the event
  world; codebooks and reconstructions; motion fields; AnyRes tiles, token budgets and M-RoPE ids)
- ``videollm.arrays``    ``as_numpy``: a tensor on any device, or an array-like, as a NumPy array
- ``videollm.checks``    ``compare``: a one-line check of your tensor against a reference, for labs
"""

__version__ = "0.1.0"
