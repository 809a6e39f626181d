"""Unit 07 — any-to-any: ImageBind's one embedding space and NExT-GPT's pipeline through it, at the world's scale.

ImageBind (Girdhar et al., CVPR 2023) shows that images alone can bind the modalities: train each new encoder to
match the image embedding of the video it came with, and the new modality lines up with text it never saw.
NExT-GPT (Wu et al., ICML 2024) reads text, images, audio and video through ImageBind, writes with an LLM, and
speaks to diffusion decoders through signal tokens.

- :mod:`~videollm.anyany.infonce`: symmetric InfoNCE on unit vectors, and ImageBind's fixed and learnable
  temperatures (checked against open_clip's ``ClipLoss``);
- :mod:`~videollm.anyany.retrieval`: Recall@K with ties counted against the model;
- :mod:`~videollm.anyany.encoders`: the video (timm ViT over two-frame tubelets), text (``CLIPTextModel``) and
  audio (``ASTModel`` on a 128-bin log-mel) encoders;
- :mod:`~videollm.anyany.bind`: the emergent audio-to-text experiment on the world's sounding clips
  (:mod:`videollm.world.voices`), with the supervised upper bound and the temperature ablation;
- :mod:`~videollm.anyany.emergent`: the same experiment in seconds, with a small head (lab 07);
- :mod:`~videollm.anyany.signals`, :mod:`~videollm.anyany.projectors`, :mod:`~videollm.anyany.nextgpt`,
  :mod:`~videollm.anyany.decoders`: NExT-GPT's pipeline at the world's scale; :mod:`~videollm.anyany.real`: its
  real decoders (Stable Diffusion, AudioLDM, ZeroScope) and LLM (Vicuna) behind the same interfaces.

Facts and the paper/code differences: ``../shared/reference/07-nextgpt.md``. Lecture: `lectures/07_next_gpt.ipynb`.
"""
