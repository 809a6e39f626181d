"""Unit 08 — a MAGVIT-v2-style causal video tokenizer: a 17 x 32 x 32 clip -> 5 x 4 x 4 = 80 LFQ tokens -> frames.

VideoPoet's language model reads and writes video as MAGVIT-v2 tokens; this is that tokenizer at the world's size,
trained here and committed to ``data/weights/``:

    video (B, T, 3, H, W) --encoder--> z (B, t, H/8, W/8, bits) --LFQ--> indices (B, t, H/8, W/8) in [0, 2^bits)
    indices --codes, +-1 per bit--> (B, t, H/8, W/8, bits) --decoder--> video (B, T, 3, H, W)

``T = 1 + 4k`` frames make ``t = 1 + k`` latent frames (17 -> 5, 9 -> 3, 5 -> 2, 1 -> 1): 80 tokens per 17 x 32 x
32 clip and 16 per picture (:func:`videollm.videopoet.tokens.video_token_grid`), each one of 2^10 = 1,024 codes
(VideoPoet: 2^18). Frames are float in [0, 1].

**Why causal.** Every layer that mixes frames reads only the present and the past
(:class:`~videollm.videopoet.causal.CausalConv3d`), in the encoder *and* in the decoder. So the tokens of the first
``1 + 4a`` frames are the first ``1 + a`` latent frames of the whole clip's, and a picture's 16 tokens are the first
latent frame of any clip that starts with it: images and videos share one tokenizer and one vocabulary. And
decoding the first latent frames never depends on later ones, so a continued clip's decoded prefix stays put.

**Layers.** As in ``magvit2-pytorch``'s encoder, 3 zero frames go before the first frame, so latent frame ``m``
covers padded frames ``4m .. 4m + 3`` (clip frames ``4m - 3 .. 4m``). Time is halved twice by ``CausalConv3d(kernel
3, stride 2)``, which reads frames ``2j - 1 .. 2j + 1``. (``magvit2-pytorch``'s ``TimeDownsample2x`` pads 2 frames
and reads ``2j - 2 .. 2j``: stacked twice after its 3 zero frames, its latent 0 reads a padding frame only and the
clip's last 3 frames are never read, as the tests show.) Space shrinks by per-frame patch merging (4 x 4, then 2 x
2). Residual blocks are (2+1)-D: a per-frame ``(1, 3, 3)`` convolution, then a causal ``(3, 1, 1)`` one. At 4 x 4,
attention among the 16 positions of each frame lets every token see the whole picture (its background colour).
Normalisation is over each position's channels (an RMS norm, as ``magvit2-pytorch``'s): a GroupNorm would average
over time and leak the future into the past. The decoder mirrors it with depth-to-time and depth-to-space and
drops the 3 padding frames. The bottleneck is :class:`videollm.vq.vqvae.LFQQuantizer`; dimension 0 is the index's
least significant bit, as in the paper and Open-MAGVIT2.

**Loss.** ``MSE(recon, video) + LFQ loss``. The MSE is a mean over pixel values and the LFQ terms are means over
latent values, with 65 pixel values per latent value (17 x 3 x 32 x 32 / (5 x 4 x 4 x 10)): at the open
implementations' weights the quantiser's terms drown the reconstruction, hence 0.001 and 0.01. (Both weight the
entropy term 0.1; the commitment term weighs 0.25 in Open-MAGVIT2's tokenizer configs, ``commit_weight``, and 1.0 in
``magvit2-pytorch``'s ``VideoTokenizer``, ``lfq_commitment_loss_weight``.) No perceptual or adversarial loss (too
slow on a CPU).

Command line (``make data`` runs the first; CI loads the committed checkpoint and never trains)::

    $ python -m videollm.videopoet.tokenizer build [--force] [--device cuda]   # about 5 min on one CPU thread
    $ python -m videollm.videopoet.tokenizer commit    # copy it to data/weights/, committed with the course
    $ python -m videollm.videopoet.tokenizer info      # token arithmetic, held-out PSNR against baselines, codes

Facts: ``../shared/reference/08-videopoet.md`` §2, §5, §7.

Lecture: `lectures/08_videopoet.ipynb` §2.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from videollm.cache import cached_meta, checkpoint_dir, commit_command, load_or_train, load_weights, save_weights
from videollm.videopoet.causal import CausalConv3d, latent_frames
from videollm.videopoet.data import FRAMES, HEIGHT, WIDTH, clips, videos
from videollm.videopoet.tokens import video_token_grid
from videollm.vq.quantize import perplexity
from videollm.vq.scalar_quant import lfq
from videollm.vq.vqvae import LFQQuantizer, psnr
from videollm.world.shapes import WORLD_VERSION

#: Temporal and spatial compression of the tokenizer (VideoPoet's MAGVIT-v2: 4x and 8x).
TEMPORAL, SPATIAL = 4, 8
#: Bump when the model, the data or the training loop change what a config trains to.
MODEL_VERSION = 1
CHECKPOINT_NAME = "video_tokenizer"
#: Held-out clips the checkpoint's figures are measured on (clips 0 .. 63 of the held-out split).
HELDOUT_CLIPS = 64


@dataclass(frozen=True)
class TokenizerConfig:
    """The architecture and its training recipe (:func:`train`); its hash, with :data:`MODEL_VERSION` and the
    world's version, names the checkpoint."""

    bits: int = 10                                  # LFQ dimensions: 2^bits codes
    channels: tuple[int, int, int] = (32, 48, 64)   # widths at 16 x 16 (decoder only), 8 x 8 and 4 x 4
    entropy_weight: float = 0.001                   # per latent value (module docstring, "Loss")
    commitment_weight: float = 0.01
    # training
    steps: int = 1800
    lr: float = 3e-3                                # Adam; 50 warm-up steps, then cosine down to a tenth
    clip_frames: tuple[int, ...] = (5, 9, 17)       # steps cycle through these clip lengths (random starts) ...
    batch_frames: int = 128                         # ... each with as many clips as fit in this many padded frames
    train_clips: int = 2048
    seed: int = 0


class ChannelNorm(nn.Module):
    """RMS normalisation over the channels of each position of ``(B, C, T, H, W)``, with a learned gain (as
    ``magvit2-pytorch``'s ``RMSNorm``): it reads no other frame, so it stays causal."""

    def __init__(self, channels: int):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(channels, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=1) * (x.shape[1] ** 0.5) * self.gain


class ResBlock(nn.Module):
    """``x + conv_t(silu(norm(conv_s(silu(norm(x))))))``: a per-frame ``(1, 3, 3)`` convolution, then a causal
    ``(3, 1, 1)`` one (a (2+1)-D block, a third of the cost of a ``3 x 3 x 3`` one)."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm1, self.norm2 = ChannelNorm(channels), ChannelNorm(channels)
        self.space = CausalConv3d(channels, channels, (1, 3, 3))
        self.time = CausalConv3d(channels, channels, (3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.time(F.silu(self.norm2(self.space(F.silu(self.norm1(x))))))


class SpaceAttention(nn.Module):
    """``x + attention(norm(x))`` among the ``H x W`` positions of each frame on its own (``magvit2-pytorch``'s
    ``attend_space``): every token sees the whole picture and no other frame."""

    def __init__(self, channels: int, heads: int = 4):
        super().__init__()
        self.norm = ChannelNorm(channels)
        self.attention = nn.MultiheadAttention(channels, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, T, H, W = x.shape
        seq = self.norm(x).permute(0, 2, 3, 4, 1).reshape(B * T, H * W, C)
        out = self.attention(seq, seq, seq, need_weights=False)[0]
        return x + out.reshape(B, T, H, W, C).permute(0, 4, 1, 2, 3)


def _patches(c_in: int, c_out: int, size: int) -> nn.Module:
    """Per-frame ``size x size`` patch merging: ``(B, C, T, H, W)`` -> ``(B, C_out, T, H / size, W / size)``."""
    return nn.Conv3d(c_in, c_out, (1, size, size), stride=(1, size, size))


class Upsample(nn.Module):
    """Depth to time (``time`` x) and depth to space (``space`` x): a per-frame convolution (``kernel`` x
    ``kernel``) makes every new position's channels, so latent frame ``m`` becomes frames ``2m, 2m + 1`` and
    nothing reads the future. ``(B, C, T, H, W)`` -> ``(B, C_out, time * T, space * H, space * W)``."""

    def __init__(self, c_in: int, c_out: int, time: int, space: int, kernel: int = 1):
        super().__init__()
        self.time, self.space = time, space
        self.conv = CausalConv3d(c_in, c_out * time * space * space, (1, kernel, kernel))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, _, T, H, W = x.shape
        t, s = self.time, self.space
        y = self.conv(x).reshape(B, -1, t, s, s, T, H, W)                   # (B, C, pt, ph, pw, T, H, W)
        y = y.permute(0, 1, 5, 2, 6, 3, 7, 4)                               # (B, C, T, pt, H, ph, W, pw)
        return y.reshape(B, -1, T * t, H * s, W * s)


class Encoder(nn.Module):
    """``(B, 3, 3 + T, 32, 32)`` (three padding frames first, values in [-1, 1]) -> ``(B, bits, t, 4, 4)``."""

    def __init__(self, config: TokenizerConfig):
        super().__init__()
        _, c2, c3 = config.channels
        self.net = nn.Sequential(
            _patches(3, c2, 4), ResBlock(c2),                                      # (c2, 4t, 8, 8)
            CausalConv3d(c2, c2, (3, 1, 1), stride=2), ResBlock(c2),                # (c2, 2t, 8, 8)
            _patches(c2, c3, 2), CausalConv3d(c3, c3, (3, 1, 1), stride=2),
            ResBlock(c3), SpaceAttention(c3), ResBlock(c3),                         # (c3, t, 4, 4)
            nn.SiLU(), CausalConv3d(c3, config.bits, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Decoder(nn.Module):
    """``(B, bits, t, 4, 4)`` codes -> ``(B, 3, 4t, 32, 32)`` (three padding frames first; about [-1, 1])."""

    def __init__(self, config: TokenizerConfig):
        super().__init__()
        c1, c2, c3 = config.channels
        self.net = nn.Sequential(
            CausalConv3d(config.bits, c3, 3), ResBlock(c3), SpaceAttention(c3), ResBlock(c3),  # (c3, t, 4, 4)
            Upsample(c3, c2, time=2, space=2), ResBlock(c2),                        # (c2, 2t, 8, 8)
            Upsample(c2, c2, time=2, space=1), ResBlock(c2),                        # (c2, 4t, 8, 8)
            nn.SiLU(), Upsample(c2, c1, time=1, space=2), nn.SiLU(),                # (c1, 4t, 16, 16)
            Upsample(c1, 3, time=1, space=2, kernel=3))                             # (3, 4t, 32, 32)

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        return self.net(q)


class CausalVideoTokenizer(nn.Module):
    """Causal encoder -> LFQ -> causal decoder (module docstring). Every method takes tensors on any device and
    returns them on the model's.

    ``encode(video)`` ``(B, T, 3, H, W)`` float in [0, 1], ``T = 1 + 4k``, ``H, W`` multiples of 8 -> indices
    ``(B, 1 + k, H / 8, W / 8)`` int64 in ``[0, 2^bits)``; ``decode(indices)`` -> ``(B, 1 + 4k, 3, H, W)`` in [0, 1];
    ``forward(video)`` -> dict of ``recon`` (unclamped), ``indices``, ``latents`` ``(B, t, h, w, bits)`` and the
    quantiser's ``loss``, ``entropy_loss``, ``commitment_loss``.
    """

    def __init__(self, config: TokenizerConfig = TokenizerConfig()):
        super().__init__()
        if not 1 <= config.bits <= 16:
            raise ValueError(f"bits must be 1..16 (the entropy loss lists all 2^bits codes); got {config.bits}")
        self.config = config
        self.encoder = Encoder(config)
        self.quantizer = LFQQuantizer(config.bits, config.entropy_weight, config.commitment_weight)
        self.decoder = Decoder(config)
        self._init_weights()

    @torch.no_grad()
    def _init_weights(self) -> None:
        """He-normal convolutions with zero biases, and every residual branch's last layer at zero, so each block
        starts as the identity and signals keep their scale through the stack (after 90 s of training, about 2 dB
        more than with PyTorch's default initialisation); the output layer starts near zero (grey frames)."""
        for module in self.modules():
            if isinstance(module, nn.Conv3d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)
        for module in self.modules():
            if isinstance(module, ResBlock):
                nn.init.zeros_(module.time.conv.weight)
            elif isinstance(module, SpaceAttention):
                nn.init.zeros_(module.attention.out_proj.weight)
        nn.init.normal_(self.decoder.net[-1].conv.conv.weight, std=0.01)

    @property
    def num_codes(self) -> int:
        """``2^bits``, the size of the visual vocabulary."""
        return self.quantizer.num_codes

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    def _check_video(self, video: torch.Tensor) -> torch.Tensor:
        if not isinstance(video, torch.Tensor):
            raise TypeError(f"video must be a torch tensor (B, T, 3, H, W); got {type(video).__name__}")
        if video.ndim != 5:
            hint = " (one clip? add a batch axis with video[None])" if video.ndim == 4 else ""
            raise ValueError(f"video must be (B, T, 3, H, W); got shape {tuple(video.shape)}{hint}")
        B, T, C, H, W = video.shape
        if C != 3:
            hint = " — it looks (B, C, T, H, W): use video.transpose(1, 2)" if T == 3 else ""
            hint = " — it looks channels-last (B, T, H, W, 3): use video.permute(0, 1, 4, 2, 3)" if W == 3 else hint
            raise ValueError(f"video must have 3 channels in axis 2, (B, T, 3, H, W); got shape "
                             f"{tuple(video.shape)}{hint}")
        if not video.dtype.is_floating_point:
            raise ValueError(f"video must be float in [0, 1]; got {video.dtype} (uint8 frames? divide by 255: "
                             "video.float() / 255)")
        try:
            latent_frames(T, TEMPORAL)
        except ValueError as error:
            raise ValueError(f"video has {T} frames: {error}") from None
        if H % SPATIAL or W % SPATIAL or H == 0 or W == 0:
            raise ValueError(f"frames of {H} x {W} do not divide by the tokenizer's {SPATIAL}x: resize or crop to "
                             f"a multiple of {SPATIAL} (e.g. {max(SPATIAL, H - H % SPATIAL)} x "
                             f"{max(SPATIAL, W - W % SPATIAL)})")
        return video.to(self.device, self.dtype)

    def encode_latents(self, video: torch.Tensor) -> torch.Tensor:
        """Continuous latents before quantisation: ``(B, T, 3, H, W)`` -> ``(B, t, H / 8, W / 8, bits)``."""
        x = self._check_video(video).transpose(1, 2) * 2 - 1                  # (B, 3, T, H, W) in [-1, 1]
        x = F.pad(x, (0, 0, 0, 0, TEMPORAL - 1, 0))                            # magvit2's padding frames
        return self.encoder(x).permute(0, 2, 3, 4, 1)

    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """``(B, t, h, w, bits)`` codes (or latents) -> video ``(B, 1 + 4(t - 1), 3, 8h, 8w)``, unclamped."""
        x = self.decoder(codes.permute(0, 4, 1, 2, 3))[:, :, TEMPORAL - 1:]   # drop the padding frames
        return (x.transpose(1, 2) + 1) / 2

    def forward(self, video: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.encode_latents(video)
        out = self.quantizer(z)
        out["latents"] = z
        out["recon"] = self.decode_codes(out["quantized"])
        return out

    @torch.no_grad()
    def encode(self, video: torch.Tensor) -> torch.Tensor:
        """Video ``(B, 1 + 4k, 3, H, W)`` float in [0, 1] -> token indices ``(B, 1 + k, H / 8, W / 8)`` int64 (the
        latents' signs as bits; no losses computed)."""
        return lfq(self.encode_latents(video))[1]

    @torch.no_grad()
    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """Token indices ``(B, t, h, w)`` int in ``[0, 2^bits)`` -> video ``(B, 1 + 4(t - 1), 3, 8h, 8w)`` in [0, 1]."""
        if not isinstance(indices, torch.Tensor) or indices.dtype.is_floating_point or indices.dtype == torch.bool:
            kind = indices.dtype if isinstance(indices, torch.Tensor) else type(indices).__name__
            raise ValueError(f"indices must be an integer tensor (B, t, h, w); got {kind} (from encode(), or "
                             ".long() them)")
        if indices.ndim != 4:
            hint = " (one clip? add a batch axis with indices[None])" if indices.ndim == 3 else ""
            raise ValueError(f"indices must be (B, t, h, w); got shape {tuple(indices.shape)}{hint}")
        if 0 in indices.shape[1:]:
            raise ValueError(f"indices must have at least one latent frame, row and column; got shape "
                             f"{tuple(indices.shape)}")
        if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= self.num_codes):
            raise ValueError(f"indices must lie in [0, {self.num_codes}) (2^{self.config.bits} codes); got "
                             f"{int(indices.min())}..{int(indices.max())}")
        codes = self.quantizer.codes().to(self.device, self.dtype)[indices.to(self.device, torch.int64)]
        return self.decode_codes(codes).clamp(0, 1)


# ----------------------------------------------------------------------------------------------------------------
# Training, measuring, and the course's checkpoint


def clip_videos(split: str, count: int, start: int = 0, chunk: int = 256) -> torch.Tensor:
    """Clips ``start .. start + count - 1`` of ``split`` as uint8 ``(count, 17, 3, 32, 32)``: the frames of
    :func:`videollm.videopoet.data.videos` times 255, exactly (a quarter of float32's memory)."""
    parts = [(videos(clips(split, min(chunk, count - i), start + i)) * 255).round().to(torch.uint8)
             for i in range(0, count, chunk)]
    return torch.cat(parts)


def _as_float(video: torch.Tensor) -> torch.Tensor:
    return video.float() / 255 if video.dtype == torch.uint8 else video.float()


def train(model: CausalVideoTokenizer, data: torch.Tensor, steps: int = 1800, lr: float = 3e-3,
          clip_frames: tuple[int, ...] = (5, 9, 17), batch_frames: int = 128, seed: int = 0,
          progress: bool = False) -> dict[str, list[float]]:
    """Train ``model`` in place on clips ``data`` ``(N, T, 3, H, W)`` (uint8, or float in [0, 1]; they may stay on
    the CPU while the model is elsewhere) and return the history.

    Step ``s`` takes clips of ``clip_frames[s % len(clip_frames)]`` frames (each ``1 + 4k``, at most ``T``) from a
    random start, ``batch_frames // (frames + 3)`` of them (the encoder adds three padding frames): 16, 10 and 6
    clips of 5, 9 and 17 frames by default. Short clips are cheap, so a step sees more clips (and backgrounds); the
    17-frame ones teach the latent frames only long clips have (trained on 5-frame clips alone, the later latent
    frames of a 17-frame clip came out 3-4 dB worse than the first). The first frame of every clip is encoded
    alone, so pictures are learnt with videos, as in MAGVIT-v2. Adam on ``MSE(recon, clip) + LFQ loss``, the
    learning rate warmed up over 50 steps, then cosine down to a tenth. ``seed`` draws the batches: the same model,
    data and seed give the same history on the same machine (on the CPU it trains on one thread).

    Returns:
        ``{"loss", "recon_loss", "psnr"}``, one value per step (PSNR in dB on the step's batch).
    """
    if data.ndim != 5 or data.shape[2] != 3:
        raise ValueError(f"data must be clips (N, T, 3, H, W); got shape {tuple(data.shape)}")
    for frames in clip_frames:
        if (frames - 1) % TEMPORAL or not 1 <= frames <= data.shape[1]:
            raise ValueError(f"clip_frames must be 1 + {TEMPORAL}k and at most the clips' {data.shape[1]} frames; got "
                             f"{frames}")
    threads = torch.get_num_threads()
    if model.device.type == "cpu":
        torch.set_num_threads(1)  # the recipe's budget: one thread (and the same result on every run)
    try:
        return _train(model, data, steps, lr, clip_frames, batch_frames, seed, progress)
    finally:
        torch.set_num_threads(threads)


def _train(model, data, steps, lr, clip_frames, batch_frames, seed, progress) -> dict[str, list[float]]:
    generator = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    warmup = min(50, max(1, steps // 10))
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup) * (
        0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, s / max(1, steps))))))
    history: dict[str, list[float]] = {"loss": [], "recon_loss": [], "psnr": []}
    model.train()
    for step in tqdm(range(steps), disable=not progress, desc="training the video tokenizer", leave=False):
        frames = clip_frames[step % len(clip_frames)]
        pick = torch.randint(len(data), (max(1, batch_frames // (frames + TEMPORAL - 1)),), generator=generator)
        start = int(torch.randint(data.shape[1] - frames + 1, (1,), generator=generator))
        video = _as_float(data[pick, start:start + frames].to(model.device))
        out = model(video)
        recon_loss = F.mse_loss(out["recon"], video)
        loss = recon_loss + out["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        schedule.step()
        history["loss"].append(round(float(loss.detach()), 5))
        history["recon_loss"].append(round(float(recon_loss.detach()), 5))
        history["psnr"].append(round(psnr(out["recon"], video), 3))
    model.eval()
    return history


@torch.no_grad()
def evaluate(model: CausalVideoTokenizer, data: torch.Tensor, batch_size: int = 32) -> dict[str, float]:
    """Reconstruct clips ``data`` ``(N, T, 3, H, W)`` (uint8 or float in [0, 1]) through their tokens.

    Returns ``psnr`` (dB, per clip then averaged, :func:`videollm.vq.vqvae.psnr`); the baselines ``psnr_mean_frame``
    (every frame replaced by the clip's mean frame) and ``psnr_first_frame`` (the first frame repeated);
    ``psnr_first_latent`` (the first frame decoded from the first latent frame alone, as a picture); and the codes'
    ``codes_used`` (distinct codes seen), ``usage`` (``codes_used / 2^bits``) and ``perplexity`` (the effective
    number of codes, :func:`videollm.vq.quantize.perplexity`).
    """
    recon, first, indices = [], [], []
    for start in range(0, len(data), batch_size):
        ids = model.encode(_as_float(data[start:start + batch_size]))
        recon.append(model.decode(ids).cpu())
        first.append(model.decode(ids[:, :1]).cpu())
        indices.append(ids.cpu())
    target = _as_float(data.cpu())
    recon, first, indices = torch.cat(recon), torch.cat(first), torch.cat(indices)
    used = int(torch.unique(indices).numel())
    return {"psnr": psnr(recon, target),
            "psnr_mean_frame": psnr(target.mean(1, keepdim=True).expand_as(target), target),
            "psnr_first_frame": psnr(target[:, :1].expand_as(target), target),
            "psnr_first_latent": psnr(first, target[:, :1]),
            "codes_used": used, "usage": used / model.num_codes, "perplexity": perplexity(indices, model.num_codes)}


# ----------------------------------------------------------------------------------------------------------------
# The course's checkpoint


def spec(config: TokenizerConfig = TokenizerConfig()) -> dict:
    """What decides the trained weights: the config, :data:`MODEL_VERSION` and the synthetic world's version (its
    hash keys the checkpoint)."""
    return {"config": config, "model_version": MODEL_VERSION, "world_version": WORLD_VERSION}


def build_model(config: TokenizerConfig = TokenizerConfig(), device="cpu") -> CausalVideoTokenizer:
    """An untrained tokenizer for ``config``, its weights drawn from ``torch.manual_seed(config.seed)`` (without
    disturbing the caller's global random state)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = CausalVideoTokenizer(config)
    return model.to(device)


def train_config(config: TokenizerConfig = TokenizerConfig(), device="cpu",
                 progress: bool = False) -> tuple[CausalVideoTokenizer, dict]:
    """Build and train the tokenizer of ``config`` on its train-split clips: ``(model, figures)``, the figures
    being the ``history`` and :func:`evaluate`'s on the first :data:`HELDOUT_CLIPS` held-out clips (``heldout``)."""
    data = clip_videos("train", config.train_clips)
    model = build_model(config, device)
    history = train(model, data, config.steps, config.lr, config.clip_frames, config.batch_frames, config.seed,
                    progress)
    return model, {"history": history, "heldout": evaluate(model, clip_videos("heldout", HELDOUT_CLIPS)),
                   "device": str(device)}


def pretrained(config: TokenizerConfig = TokenizerConfig(), device="cpu", retrain: bool = False,
               progress: bool = True) -> CausalVideoTokenizer:
    """The course's trained video tokenizer: the committed (or cached) checkpoint of ``config``, else trained and
    cached (:func:`videollm.cache.load_or_train`).

    Returns the model in eval mode on ``device``, with ``model.meta``: ``heldout`` (:func:`evaluate` on the first
    :data:`HELDOUT_CLIPS` held-out clips), ``history``, ``seconds`` (training time), ``path`` and ``cached``
    (whether it was loaded rather than trained now).
    """
    def load(folder: Path) -> CausalVideoTokenizer:
        return load_weights(build_model(config, "cpu"), folder, device)

    model, model.meta = load_or_train(CHECKPOINT_NAME, spec(config), lambda: train_config(config, device, progress),
                                      save_weights, load, retrain=retrain)
    return model.eval()


def _figures(heldout: dict, num_codes: int) -> str:
    return (f"held-out PSNR {heldout['psnr']:.2f} dB (baselines: mean frame {heldout['psnr_mean_frame']:.2f}, first "
            f"frame repeated {heldout['psnr_first_frame']:.2f}; a picture from its 16 tokens "
            f"{heldout['psnr_first_latent']:.2f}), {heldout['codes_used']} of {num_codes} codes used, perplexity "
            f"{heldout['perplexity']:.0f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m videollm.videopoet.tokenizer",
                                     description="The course's causal video tokenizer checkpoint (unit 08).")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="train and cache the checkpoint unless a matching one exists")
    build.add_argument("--force", action="store_true", help="train again even if the checkpoint matches")
    build.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default cpu)")
    sub.add_parser("info", help="token arithmetic, where the checkpoint is, and its held-out figures")
    sub.add_parser("commit", help="copy the cached checkpoint to data/weights/ (to commit with the course)")
    args = parser.parse_args(argv)
    config = TokenizerConfig()
    if args.command == "commit":
        return commit_command(CHECKPOINT_NAME, spec(config), "python -m videollm.videopoet.tokenizer build")
    num_codes = 2 ** config.bits
    if args.command == "info":
        clip, picture = video_token_grid(FRAMES, HEIGHT, WIDTH), video_token_grid(1, HEIGHT, WIDTH)
        print(f"tokens:     {FRAMES} x {HEIGHT} x {WIDTH} -> {clip} = {math.prod(clip)}; a picture -> {picture} = "
              f"{math.prod(picture)}; {num_codes} codes ({config.bits} LFQ bits)")
        meta = cached_meta(CHECKPOINT_NAME, spec(config))
        print(f"checkpoint: {checkpoint_dir(CHECKPOINT_NAME, spec(config)).name} "
              f"({'trained in %.0f s' % meta['seconds'] if meta else 'absent: run build'})")
        if meta:
            print(_figures(meta["heldout"], num_codes))
        return 0
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: no CUDA device is available here; use --device cpu")
    model = pretrained(config, device=args.device, retrain=args.force, progress=True)
    state = "cached" if model.meta["cached"] else f"trained in {model.meta['seconds']:.0f} s"
    print(f"{model.meta['path']} ({state}): {_figures(model.meta['heldout'], num_codes)}")
    return 0


__all__ = ["CHECKPOINT_NAME", "CausalVideoTokenizer", "HELDOUT_CLIPS", "MODEL_VERSION", "SPATIAL", "TEMPORAL",
           "TokenizerConfig", "build_model", "clip_videos", "evaluate", "main", "pretrained", "spec", "train",
           "train_config"]


if __name__ == "__main__":
    sys.exit(main())
