"""Unit 04 — keyframe patches of the synthetic world, and a quick stand-in objective to train the token selector.

LaVIT trains its selector and merger with a decoder that reconstructs the frozen ViT's 256 patch features from the
kept tokens. The decoder in ``jy0205/LaVIT`` (``LaVIT/models/modeling_decoder.py``) calls itself "the vqkd decoder
to reconstruct the image semantics", and its output width is the ViT's, 1408. The repository has no training code,
so its loss and any keep-ratio term are not shown here. The course has no ViT worth reconstructing. Instead it trains
:class:`videollm.motion.selector.TokenSelector` on generated frames with a stand-in that has the same two forces:

- **information lost by dropping**: dropping patch ``i`` costs ``f_i``, the fraction of its pixels where the frame
  differs from its background (covered by a shape, from the world's segmentation). A background patch is
  "predictable" and costs nothing. That is the part a reconstruction loss would not miss;
- **a budget**: ``weight * (mean(M) - target_ratio)^2`` pulls the batch's keep ratio towards a target.

``loss = mean_i (1 - M_i) f_i + weight * (mean(M) - target_ratio)^2``, on the hard straight-through mask ``M``. The
budget is on the batch mean, so each image keeps as many patches as its content asks for.

Lecture: `lectures/04_lavit_motion.ipynb` §6.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from videollm.motion.selector import TokenSelector
from videollm.validate import positive_int
from videollm.vit.patches import patchify
from videollm.world import clips

#: Backgrounds of the training frames. ``chelsea`` (the lecture's ``motion_mpeg4``) is held out.
TRAIN_BACKGROUNDS = ("plain", "gradient", "photo:astronaut", "photo:coffee", "photo:rocket")
#: Seeds of the training frames start here, so that no course clip's objects (manifest seeds 0-4) are trained on.
TRAIN_SEED_OFFSET = 1_000


def patch_features(frames, patch: int = 8, device=None) -> Tensor:
    """Raw pixel patches as token features: ``(B, H, W, 3)`` uint8 frames -> ``(B, N, 3 * patch^2)`` float32.

    Values are scaled to ``[-0.5, 0.5]``. Patches are listed row-major (:func:`videollm.vit.patches.patchify`), so
    ``N = (H / patch) * (W / patch)``: 320 for the course's 128 x 160 frames with 8 x 8 patches.
    """
    patch = positive_int(patch, "patch", "patch size in pixels")
    frames = torch.as_tensor(np.asarray(frames), device=device)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (B, H, W, 3); got {tuple(frames.shape)}. Add a batch axis with [None].")
    images = frames.permute(0, 3, 1, 2).to(torch.float32) / 255.0 - 0.5
    return patchify(images, patch)


def foreground_fraction(segmentation, patch: int = 8, device=None) -> Tensor:
    """``f_i``: the fraction of each patch's pixels covered by an object, ``(B, H, W)`` int -> ``(B, N)`` float32.

    ``segmentation`` holds -1 for background (:func:`videollm.world.clips.make_clip`), so the world's frame differs
    from its background exactly where it is ``>= 0``.
    """
    patch = positive_int(patch, "patch", "patch size in pixels")
    seg = torch.as_tensor(np.asarray(segmentation), device=device)
    if seg.ndim != 3:
        raise ValueError(f"segmentation must be (B, H, W); got {tuple(seg.shape)}")
    covered = (seg >= 0).to(torch.float32)[:, None]                  # (B, 1, H, W)
    return F.avg_pool2d(covered, patch).flatten(1)                   # row-major, like patchify


def stand_in_loss(mask: Tensor, foreground: Tensor, target_ratio: float = 0.1, weight: float = 1.0) -> Tensor:
    """``mean_i (1 - M_i) f_i + weight * (mean(M) - target_ratio)^2`` (a scalar). ``mask, foreground``: ``(B, N)``."""
    if mask.shape != foreground.shape:
        raise ValueError(f"mask {tuple(mask.shape)} and foreground {tuple(foreground.shape)} must both be (B, N)")
    if not 0.0 <= target_ratio <= 1.0:
        raise ValueError(f"target_ratio is a fraction of patches in [0, 1]; got {target_ratio!r}")
    lost = ((1.0 - mask) * foreground).mean()
    return lost + weight * (mask.mean() - target_ratio) ** 2


def training_frames(num_frames: int, seed: int = 0, patch: int = 8, device=None) -> tuple[Tensor, Tensor]:
    """Generated frames (never downloaded): features ``(F, N, 3 * patch^2)`` and foreground ``(F, N)``.

    One frame per seed, cycling through :data:`TRAIN_BACKGROUNDS`, with 1 to 4 random shapes.
    """
    num_frames = positive_int(num_frames, "num_frames")
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 5, size=num_frames)                   # shapes per frame
    first = TRAIN_SEED_OFFSET + int(seed) * 100_000                  # far from the manifest's seeds (0-4)
    made = [clips.make_clip(first + i, num_frames=1, background=TRAIN_BACKGROUNDS[i % len(TRAIN_BACKGROUNDS)],
                            num_objects=int(counts[i])) for i in range(num_frames)]
    frames = np.concatenate([c.frames for c in made])
    seg = np.concatenate([c.segmentation for c in made])
    return patch_features(frames, patch, device), foreground_fraction(seg, patch, device)


def train_selector(steps: int = 400, num_frames: int = 512, batch_size: int = 32, hidden: int = 64, lr: float = 1e-2,
                   tau: float = 1.0, target_ratio: float = 0.1, weight: float = 0.3, patch: int = 8, seed: int = 0,
                   device=None) -> tuple[TokenSelector, dict]:
    """Train a :class:`TokenSelector` on :func:`stand_in_loss` with Adam (about 20 s on one CPU thread).

    Returns the selector in eval mode and ``{"loss": [...], "keep_ratio": [...], "seconds": s}``, one entry per step.
    """
    steps, batch_size = positive_int(steps, "steps"), positive_int(batch_size, "batch_size")
    torch.manual_seed(seed)
    features, foreground = training_frames(num_frames, seed, patch, device)
    # Pixels, not ViT features: no LayerNorm on the input, or every flat-coloured patch would look the same.
    selector = TokenSelector(features.shape[-1], hidden, normalize_input=False, device=device).train()
    optimiser = torch.optim.Adam(selector.parameters(), lr=lr)
    history: dict = {"loss": [], "keep_ratio": []}
    start = time.perf_counter()
    for _ in range(steps):
        batch = torch.randint(0, len(features), (batch_size,), device=features.device)
        mask = selector(features[batch], tau=tau, hard=True)     # (b, N), exactly 0/1, straight-through gradients
        loss = stand_in_loss(mask, foreground[batch], target_ratio, weight)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        history["loss"].append(loss.item())
        history["keep_ratio"].append(mask.mean().item())
    history["seconds"] = time.perf_counter() - start
    return selector.eval(), history
