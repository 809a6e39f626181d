"""Unit 02 — a small convolutional VQ-VAE for video frames: frames in, a grid of discrete tokens, frames out.

    frames (B, 3, H, W) --Encoder--> z (B, D, H/f, W/f) --quantiser--> q (B, D, H/f, W/f) --Decoder--> (B, 3, H, W)
                                                         \\-> indices (B, H/f, W/f): the frame's tokens

``f = 2 ** num_down`` (4 by default: a 32x32 frame becomes 8x8 = 64 tokens). The layers follow the VQ-VAE paper's
image model, scaled down: stride-2 4x4 convolutions, then residual blocks ``x + conv1x1(relu(conv3x3(relu(x))))``,
and the mirror image with transposed convolutions in the decoder.

The quantiser is pluggable: any module that maps channels-last latents ``(..., D)`` to the dict of
:func:`videollm.vq.quantize.quantize` (at least ``quantized``, ``indices`` and ``loss``) and has ``num_codes``:

- :class:`VectorQuantizer`: a learned codebook trained by the codebook loss (``l2=True`` for the l2-normalised
  lookup of ViT-VQGAN; ``quantize=`` swaps in another implementation of :func:`videollm.vq.quantize.quantize`, e.g. a lab's);
- :class:`videollm.vq.codebook.EMACodebook`: codes that follow moving averages of their latents;
- :class:`FSQQuantizer` and :class:`LFQQuantizer`: no codebook at all.

Training, the cached checkpoint and the ``python -m videollm.vq.train build`` command live in
:mod:`videollm.vq.train` (which imports this module, never the other way).
This module also makes the frames to train on (:func:`split_frames`) and measures reconstructions (:func:`psnr`,
:func:`evaluate`).

There is no upstream checkpoint for a model this small, so there is no "real checkpoint" switch: the course's
model is trained here (under a minute on a 2-core CPU) and cached, see :func:`videollm.vq.train.pretrained`.

Lecture: `lectures/02_vq_tokenization.ipynb` §2, §4, §6.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from videollm.cache import data_dir
from videollm.io import load_video
from videollm.vq import quantize as vq, scalar_quant
from videollm.world import clips

#: Backgrounds the frames cycle through: flat, smooth and textured (photographs bundled with scikit-image). The
#: square astronaut photo is left out: at these frame sizes its "seeded crop" is always the whole photo, so every
#: split would show the same background and a model could memorise it.
FRAME_BACKGROUNDS = ("plain", "gradient", "photo:coffee", "photo:chelsea", "photo:rocket")
#: First seed of each split; clip ``i`` of a split uses seed ``SPLIT_SEEDS[split] + i``, so splits never share a clip.
SPLIT_SEEDS = {"train": 10_000, "heldout": 20_000}


# ----------------------------------------------------------------------------------------------------------------
# Data


def clip_file(split: str, index: int, num_frames: int, size: int) -> Path:
    """The ``.mp4`` of clip ``index`` of ``split`` (``num_frames`` frames of ``size x size``), written to the data
    cache (``<data cache>/vq_clips/``) the first time: the world's clip, H.264-encoded like any video file."""
    params = {"seed": SPLIT_SEEDS[split] + index, "num_frames": num_frames, "height": size, "width": size,
              "num_objects": 3, "background": FRAME_BACKGROUNDS[index % len(FRAME_BACKGROUNDS)]}
    name = f"{split}-{params['seed']}-{num_frames}x{size}"
    return clips.cached_clip_file(data_dir() / "vq_clips", name, params)[0]


def split_frames(split: str = "train", num_clips: int = 24, frames_per_clip: int = 8, size: int = 32,
                 device="cpu", dtype=torch.float32) -> torch.Tensor:
    """Deterministic frames of the world's clips, read as video: ``(num_clips * frames_per_clip, 3, size, size)``.

    Each clip (:func:`clip_file`: 3 moving shapes over a background from :data:`FRAME_BACKGROUNDS`, clip ``i`` using
    ``FRAME_BACKGROUNDS[i % 5]``) is rendered at ``2 * size`` pixels, encoded to H.264 and decoded again with
    :func:`videollm.io.load_video`, as a user's video would be, then box-filtered down by 2 (anti-aliased edges);
    every third frame is kept, so consecutive frames differ. ``split`` is ``"train"`` or ``"heldout"``: the held-out
    clips use other seeds (:data:`SPLIT_SEEDS`), hence other objects, motions and background colours, and other
    crops of the same three photographs. Values are in ``[0, 1]``.
    """
    if split not in SPLIT_SEEDS:
        raise ValueError(f"split must be one of {sorted(SPLIT_SEEDS)}; got {split!r}")
    if num_clips < 1 or frames_per_clip < 1:
        raise ValueError(f"need at least one clip and one frame per clip; got {num_clips} x {frames_per_clip}")
    if size < 8 or size % 2:
        raise ValueError(f"size must be an even number of pixels >= 8; got {size}")
    kept = [load_video(clip_file(split, i, 3 * frames_per_clip, 2 * size))[0][::3] for i in range(num_clips)]
    frames = torch.from_numpy(np.concatenate(kept)).permute(0, 3, 1, 2).to(torch.float32) / 255  # (N, 3, 2s, 2s)
    return F.avg_pool2d(frames, 2).to(device=device, dtype=dtype)


# ----------------------------------------------------------------------------------------------------------------
# Quantisers. Every one is an nn.Module with the same interface, which the VQ-VAE and its training rely on:
#   forward(z (..., D)) -> dict with "quantized" (..., D), "indices" (...) int64 and "loss" (a scalar)
#   num_codes -> K;  codes() -> the (K, D) code vectors (for decoding token ids)
# and, for those with a codebook to learn (VectorQuantizer, videollm.vq.codebook.EMACodebook),
#   set_codes(codes, which=None): overwrite codes (k-means initialisation, dead-code restarts).


class VectorQuantizer(nn.Module):
    """A codebook ``(K, D)`` learned by gradient descent on the codebook loss (the VQ-VAE paper's quantiser).

    Args:
        num_codes, dim: ``K`` and ``D``.
        beta: commitment weight (paper: 0.25).
        l2: l2-normalised lookup and outputs (ViT-VQGAN, LaVIT).
        quantize: the function doing the work, with :func:`videollm.vq.quantize.quantize`'s signature and result.
        codebook: optional ``(K, D)`` initial codes; default uniform in ``±sqrt(3 / D)`` (sonnet's variance
            scaling, the same as :class:`videollm.vq.codebook.EMACodebook`).

    ``forward(z)`` with ``z`` ``(..., D)`` returns ``quantize(z, self.codebook, beta=..., l2=...)``.
    """

    def __init__(self, num_codes: int, dim: int, beta: float = vq.BETA, l2: bool = False,
                 quantize: Callable[..., dict] = vq.quantize, codebook: torch.Tensor | None = None,
                 device=None, dtype=None):
        super().__init__()
        if num_codes < 1 or dim < 1:
            raise ValueError(f"need at least one code of at least one dimension; got K={num_codes}, D={dim}")
        if codebook is None:
            bound = math.sqrt(3.0 / dim)
            codebook = torch.empty(num_codes, dim, device=device, dtype=dtype).uniform_(-bound, bound)
        elif tuple(codebook.shape) != (num_codes, dim):
            raise ValueError(f"codebook must be ({num_codes}, {dim}); got {tuple(codebook.shape)}")
        self.codebook = nn.Parameter(codebook.detach().clone().to(device=device, dtype=dtype))
        self.beta, self.l2, self.quantize_fn = float(beta), bool(l2), quantize

    @property
    def num_codes(self) -> int:
        return self.codebook.shape[0]

    def codes(self) -> torch.Tensor:
        """The ``(K, D)`` codes as the decoder sees them (l2-normalised when ``l2``)."""
        return F.normalize(self.codebook, dim=-1) if self.l2 else self.codebook

    @torch.no_grad()
    def set_codes(self, codes: torch.Tensor, which: torch.Tensor | None = None) -> None:
        """Overwrite all codes, or the codes where the ``(K,)`` bool mask ``which`` is set, with ``codes`` rows."""
        if which is None:
            self.codebook.copy_(codes)
        else:
            self.codebook[which] = codes.to(self.codebook.dtype)

    def forward(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.quantize_fn(z, self.codebook, beta=self.beta, l2=self.l2)


class FSQQuantizer(nn.Module):
    """Finite scalar quantisation (:func:`videollm.vq.scalar_quant.fsq`) as a quantiser: ``D = len(levels)``, no loss."""

    def __init__(self, levels: Sequence[int] = (8, 5, 5, 5)):
        super().__init__()
        self.levels = tuple(int(l) for l in levels)

    @property
    def num_codes(self) -> int:
        return math.prod(self.levels)

    def codes(self) -> torch.Tensor:
        """All ``(K, D)`` codes, in index order (listed: FSQ has no codebook to learn)."""
        return scalar_quant.fsq_codes(torch.arange(self.num_codes), self.levels)

    def forward(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        codes, indices = scalar_quant.fsq(z, self.levels)
        return {"quantized": codes, "indices": indices, "loss": z.new_zeros(())}


class LFQQuantizer(nn.Module):
    """Lookup-free quantisation (:func:`videollm.vq.scalar_quant.lfq`): ``2^D`` codes, loss = entropy + commitment.

    ``loss = entropy_weight * lfq_entropy_loss(z) + commitment_weight * mean((z - sg[q])^2)`` (lucidrains' LFQ
    defaults to an entropy weight of 0.1; magvit2-pytorch uses a commitment weight of 1, Open-MAGVIT2 0.25).
    """

    def __init__(self, dim: int = 10, entropy_weight: float = 0.1, commitment_weight: float = vq.BETA,
                 temperature: float = 0.01):
        super().__init__()
        if not 1 <= dim <= 16:
            raise ValueError(f"LFQ dim must be 1..16 (the entropy loss lists all 2^dim codes); got {dim}")
        self.dim, self.entropy_weight, self.commitment_weight = int(dim), float(entropy_weight), float(commitment_weight)
        self.temperature = float(temperature)

    @property
    def num_codes(self) -> int:
        return 2 ** self.dim

    def codes(self) -> torch.Tensor:
        """All ``(K, D)`` codes, in index order (listed: LFQ has no codebook to learn)."""
        return scalar_quant.lfq_codebook(self.dim)

    def forward(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        codes, indices = scalar_quant.lfq(z)
        commitment = F.mse_loss(z, codes.detach())
        entropy = scalar_quant.lfq_entropy_loss(z, self.temperature)
        return {"quantized": codes, "indices": indices, "commitment_loss": commitment, "entropy_loss": entropy,
                "loss": self.entropy_weight * entropy + self.commitment_weight * commitment}


# ----------------------------------------------------------------------------------------------------------------
# The model


class ResBlock(nn.Module):
    """``x + conv1x1(relu(conv3x3(relu(x))))`` on ``(B, C, H, W)`` (the VQ-VAE paper's residual block)."""

    def __init__(self, channels: int, hidden: int | None = None):
        super().__init__()
        hidden = hidden or channels // 2
        self.body = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, hidden, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(hidden, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Encoder(nn.Module):
    """``(B, C, H, W)`` frames -> ``(B, D, H / 2^num_down, W / 2^num_down)`` latents."""

    def __init__(self, in_channels: int = 3, hidden: int = 64, latent_dim: int = 8, num_down: int = 2,
                 num_res: int = 1):
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for _ in range(num_down):  # each halves H and W
            layers += [nn.Conv2d(channels, hidden, 4, stride=2, padding=1), nn.ReLU()]
            channels = hidden
        layers += [nn.Conv2d(hidden, hidden, 3, padding=1)]
        layers += [ResBlock(hidden) for _ in range(num_res)]
        layers += [nn.ReLU(), nn.Conv2d(hidden, latent_dim, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Decoder(nn.Module):
    """``(B, D, h, w)`` quantised latents -> ``(B, C, h * 2^num_up, w * 2^num_up)`` frames (unbounded values)."""

    def __init__(self, out_channels: int = 3, hidden: int = 64, latent_dim: int = 8, num_up: int = 2,
                 num_res: int = 1):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(latent_dim, hidden, 3, padding=1)]
        layers += [ResBlock(hidden) for _ in range(num_res)]
        for i in range(num_up):
            last = i == num_up - 1
            layers += [nn.ReLU(), nn.ConvTranspose2d(hidden, out_channels if last else hidden, 4, stride=2, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        return self.net(q)


class VQVAE(nn.Module):
    """Encoder -> quantiser -> decoder.

    Args:
        quantizer: a module with the :func:`videollm.vq.quantize.quantize` dict interface on ``(..., latent_dim)`` inputs
            and a ``num_codes`` attribute; default a :class:`VectorQuantizer` with 128 codes.
        in_channels, hidden, latent_dim, num_down, num_res: the conv stack (``latent_dim`` = ``D``; the frame side
            must be a multiple of ``2 ** num_down``).

    ``forward(x)`` takes frames ``(B, C, H, W)`` in ``[0, 1]`` and returns a dict: ``recon`` ``(B, C, H, W)``,
    ``latents`` and ``quantized`` ``(B, D, h, w)``, ``indices`` ``(B, h, w)`` int64, and the quantiser's ``loss``
    (plus whatever else the quantiser returned).
    """

    def __init__(self, quantizer: nn.Module | None = None, in_channels: int = 3, hidden: int = 64,
                 latent_dim: int = 8, num_down: int = 2, num_res: int = 1):
        super().__init__()
        self.in_channels, self.latent_dim, self.factor = in_channels, latent_dim, 2 ** num_down
        self.encoder = Encoder(in_channels, hidden, latent_dim, num_down, num_res)
        self.quantizer = quantizer if quantizer is not None else VectorQuantizer(128, latent_dim)
        self.decoder = Decoder(in_channels, hidden, latent_dim, num_down, num_res)

    @property
    def num_codes(self) -> int:
        return self.quantizer.num_codes

    @property
    def device(self) -> torch.device:
        return next(self.encoder.parameters()).device

    def _check_frames(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"frames must be a torch tensor (B, {self.in_channels}, H, W); got {type(x).__name__}")
        if x.ndim != 4:
            hint = " (one frame? add a batch axis with x[None])" if x.ndim == 3 else ""
            raise ValueError(f"frames must be (B, {self.in_channels}, H, W); got shape {tuple(x.shape)}{hint}")
        if x.shape[1] != self.in_channels:
            hint = (" — they look channels-last (B, H, W, C): use x.permute(0, 3, 1, 2)"
                    if x.shape[-1] == self.in_channels else "")
            raise ValueError(f"frames must have {self.in_channels} channels in axis 1; got shape {tuple(x.shape)}{hint}")
        if x.shape[2] % self.factor or x.shape[3] % self.factor:
            raise ValueError(f"frame size {x.shape[2]}x{x.shape[3]} is not a multiple of the downsampling factor "
                             f"{self.factor}: resize or crop the frames")
        if not x.is_floating_point():
            raise TypeError(f"frames must be float in [0, 1]; got {x.dtype} (divide uint8 frames by 255)")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> latents ``(B, D, h, w)`` before quantisation."""
        self._check_frames(x)
        return self.encoder(x - 0.5)  # centred pixels: the first layers start unbiased

    def quantize(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """Quantise ``(B, D, h, w)`` latents; ``quantized`` comes back channels-first, ``indices`` ``(B, h, w)``."""
        out = dict(self.quantizer(z.permute(0, 2, 3, 1)))  # quantisers work on channels-last (..., D)
        out["quantized"] = out["quantized"].permute(0, 3, 1, 2)
        return out

    def decode(self, q: torch.Tensor) -> torch.Tensor:
        """Quantised latents ``(B, D, h, w)`` -> frames ``(B, C, H, W)``."""
        return self.decoder(q) + 0.5  # an untrained decoder already predicts mid-grey, not black

    @torch.no_grad()
    def tokenize(self, x: torch.Tensor) -> torch.Tensor:
        """Frames ``(B, C, H, W)`` -> token ids ``(B, h, w)`` int64."""
        return self.quantize(self.encode(x))["indices"]

    @torch.no_grad()
    def decode_indices(self, indices: torch.Tensor) -> torch.Tensor:
        """Token ids ``(B, h, w)`` -> frames ``(B, C, H, W)`` (looks the codes up, then decodes)."""
        codes = self.quantizer.codes().to(self.device)
        return self.decode(codes[indices.to(self.device)].permute(0, 3, 1, 2))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.encode(x)
        out = self.quantize(z)
        out["latents"] = z
        out["recon"] = self.decode(out["quantized"])
        return out


# ----------------------------------------------------------------------------------------------------------------
# Measuring


def psnr(recon: torch.Tensor, target: torch.Tensor, max_value: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(max^2 / MSE)``, per image then averaged over the batch.

    ``recon`` and ``target`` are ``(B, C, H, W)`` (or any equal shapes, axis 0 = images) in ``[0, max_value]``;
    ``recon`` is clipped to that range first, as it would be for display. A perfect image counts as 100 dB.
    """
    if recon.shape != target.shape:
        raise ValueError(f"recon {tuple(recon.shape)} and target {tuple(target.shape)} must have the same shape")
    diff = recon.detach().clamp(0, max_value).to(torch.float64) - target.detach().to(torch.float64)
    mse = diff.pow(2).reshape(diff.shape[0], -1).mean(1)
    values = 10 * torch.log10(max_value ** 2 / mse.clamp_min(1e-10))
    return float(values.mean())


@torch.no_grad()
def evaluate(model: VQVAE, frames: torch.Tensor, batch_size: int = 256) -> dict:
    """Reconstruct ``frames`` ``(N, C, H, W)`` in eval mode (no codebook updates) and measure the tokens.

    Returns ``psnr`` (dB), ``perplexity`` (effective number of codes, :func:`videollm.vq.quantize.perplexity`), ``usage``
    (share of the ``K`` codes used at least once), ``recon`` ``(N, C, H, W)`` (clipped to [0, 1], on the input's
    device) and ``indices`` ``(N, h, w)``.
    """
    was_training = model.training
    model.eval()
    try:
        recon, indices = [], []
        for start in range(0, frames.shape[0], batch_size):
            out = model(frames[start:start + batch_size].to(model.device))
            recon.append(out["recon"].clamp(0, 1).to(frames.device))
            indices.append(out["indices"].to(frames.device))
    finally:
        model.train(was_training)
    recon, indices = torch.cat(recon), torch.cat(indices)
    K = model.num_codes
    return {"psnr": psnr(recon, frames), "perplexity": vq.perplexity(indices, K),
            "usage": float((vq.code_usage(indices, K) > 0).float().mean()), "recon": recon, "indices": indices}
