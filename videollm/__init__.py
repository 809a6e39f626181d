"""Reference implementations for the course *Video Understanding with Multimodal LLMs*.

Lectures, labs and tests all import from here. The layers import downwards only (``tests/test_layout.py``):

core        ``io`` (decode and encode video, with timestamps), ``sampling`` (uniform and FPS-based frame choice,
            Qwen's ``smart_nframes``), ``cache`` (where generated and trained artifacts live; ``load_or_train``),
            ``choices`` (option letters), ``arrays``, ``checks`` (``compare`` for labs), ``record`` (the verdicts
            of lab checks), ``offline`` (the hub libraries switched offline), ``plotting`` (frames and sampling
            figures), ``units`` (the unit registry: each unit's lecture, lab, package and tests)
world       unit 00: the one synthetic world, its clips and the benchmark suites made from it
eval        unit 09: answer parsing as lmms-eval does it, metrics, open-ended scoring, oracles, baselines, CLI
vit         unit 01: patching, patch and tubelet embedding, position-embedding resampling, token counts
vq          unit 02: vector quantisation, codebooks, FSQ/LFQ, a small VQ-VAE and its training
fusion      unit 03: early fusion, continuous features vs VQ codes in one small decoder LM
motion      unit 04: block matching, codec motion vectors, Video-LaVIT's motion input, a motion tokenizer
vlm         unit 05: LLaVA-OneVision and Qwen2-VL token layouts, inference on the real classes, the mini video LLM

Each package's ``__init__`` lists its modules.
"""

__version__ = "0.1.0"
