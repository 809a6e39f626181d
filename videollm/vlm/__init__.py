"""Unit 05 — LLaVA-OneVision and Qwen2-VL (lecture ``05_llava_ov_qwen2_vl``, lab ``lab05_llava_ov_qwen2_vl``).

- ``llava_ov``   AnyRes-Max-9 tiling, unpadding, newlines, frame pooling, token budgets
- ``qwen_vl``    ``smart_resize``, video budgets and M-RoPE position ids (+ Qwen2.5-VL absolute time)
- ``inference``  inference on transformers' real Qwen2-VL / Qwen2.5-VL / LLaVA-OneVision classes
- ``any_resolution`` VideoLLaMA3's any-resolution token counts and its Differential Frame Pruner (DiffFP)
- ``mini/``      the mini video LLM, a tiny Qwen2-VL trained here (``python -m videollm.vlm.mini``)
- ``plots``      AnyRes tiles, token budgets, M-RoPE ids
"""
