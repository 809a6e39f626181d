"""Unit 01 — ViT patching (lecture ``01_vit_patching``, lab ``lab01_vit_patching``).

- ``patches``    an image as patch tokens: patchify / unpatchify, the linear and the Conv2d patch embedding
- ``tubelets``   ViViT's tubelet embedding and the inflation of 2-D kernels to 3-D
- ``pos_embed``  position-embedding resampling to a new patch grid (timm-exact)
- ``tokens``     token counts per scheme (per frame, tubelet, Qwen2-VL) and Qwen2-VL's patch flattening
- ``contrastive`` CLIP's and SigLIP's image-text losses, the zero-shot classifier from label text
- ``shapes``     argument checks the modules above share
- ``plots``      patch grids, token budgets

Conventions: images are ``(B, C, H, W)``; videos are ``(B, T, C, H, W)`` (frames before channels); token
sequences are ``(B, N, D)``. Patch grids are flattened row-major (row outer, column inner), and space-time grids
time-major (time, then row, then column). Nothing here loops over patches, frames or tokens in Python, and
everything runs on the device and in the dtype of its inputs.
"""
