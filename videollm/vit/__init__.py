"""Unit 01 — ViT patching (lecture ``01_vit_patching``, lab ``lab01_vit_patching``).

- ``patching``  patchify, patch and tubelet embedding, position-embedding resampling, token counts
- ``plots``     patch grids, token budgets
"""
