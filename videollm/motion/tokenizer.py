"""Unit 04 — a small motion tokenizer in the shape of Video-LaVIT's: motion fields -> discrete tokens -> motion fields.

Video-LaVIT gives the language model a clip as one keyframe plus *motion tokens*. Its motion tokenizer reads the
``(2, T=24, 20, 36)`` motion input (:func:`videollm.motion.lavit.lavit_motion_input`), runs a spatio-temporal
encoder with four down-sampling stages of strides ``(t, h, w)`` = (1,2,2), (2,1,1), (2,1,1), (2,2,2), and
quantises every cell of the ``3 x 5 x 9`` latent grid against an l2-normalised codebook of 1024 x 32: **135 tokens
per 24-frame clip**, against 24 x 20 x 36 = 17,280 motion cells (:func:`tokens_per_clip`).

The course's tokenizer keeps that structure at toy size so it trains on a laptop CPU in about half a minute:

- input: ``(B, 2, T, h, w)`` block motion of the synthetic world (:mod:`videollm.world.clips`) at its native 16x16 grid
  (``T = 12`` frames, one GOP, on an 8 x 10 grid for 128 x 160 clips), divided by the clips' top speed;
- encoder: each stage merges a ``(t, h, w)``-stride neighbourhood into one cell and mixes it with a linear layer
  (a 3-D convolution whose kernel equals its stride; far edges are zero-padded, so a size ``n`` becomes
  ``ceil(n / s)`` as with Video-LaVIT's kernel-3 convolutions), then a 3x3x3 convolution lets neighbouring latent
  cells see each other; strides (1,2,2), (2,1,1), (2,1,1) give a 3 x 4 x 5 grid: **60 tokens per 12 frames**;
- quantiser: :class:`videollm.vq.codebook.EMACodebook` with ``l2=True`` (LaVIT's l2-normalised lookup), started
  from k-means of the first batch, dead codes restarted from a batch every 50 steps;
- decoder: the mirror image; loss = MSE + 0.1 * end-point error (the EPE term keeps still cells at zero) +
  the codebook's commitment term.

Gradients reach the encoder through the straight-through estimator of :mod:`videollm.vq.quantize`.

Training data are generated, never downloaded, so a checkpoint is a cache: :func:`pretrained` loads the checkpoint
of this exact configuration if it is cached (:func:`videollm.cache.load_or_train`) and otherwise trains and caches
it. ``python -m videollm.motion.tokenizer build`` does that ahead of time (``make data``).

Lecture: `lectures/04_lavit_motion.ipynb` §5.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from videollm.cache import cached_meta, checkpoint_dir, commit_command, load_or_train, load_weights, save_weights
from videollm.motion.estimate import block_ground_truth
from videollm.vq.codebook import EMACodebook, kmeans, restart_dead_codes
from videollm.vq.quantize import perplexity
from videollm.world import clips
from videollm.world.shapes import WORLD_VERSION

#: Bump when the architecture or the training recipe changes: old checkpoints are then retrained, not loaded.
TOKENIZER_VERSION = 1
#: The checkpoint's folder name, before its config hash (data/cache/checkpoints/, data/weights/).
CHECKPOINT_NAME = "motion_tokenizer"
#: Video-LaVIT's motion tokenizer: clip length, input grid (H x W), stage strides (t, h, w), codebook K x D.
LAVIT_STRIDES = ((1, 2, 2), (2, 1, 1), (2, 1, 1), (2, 2, 2))


def tokens_per_clip(num_frames: int, grid: Sequence[int], strides: Sequence[Sequence[int]]) -> tuple[int, int, int]:
    """The latent grid ``(t, h, w)`` after down-sampling stages with the given ``(t, h, w)`` strides.

    Each stage is a kernel-3, padding-1 convolution, which maps a size ``n`` to ``ceil(n / s)``; the number of
    tokens is ``t * h * w``. Video-LaVIT: ``tokens_per_clip(24, (20, 36), LAVIT_STRIDES) == (3, 5, 9)``, 135 tokens.
    """
    size = [int(num_frames), int(grid[0]), int(grid[1])]
    if min(size) < 1:
        raise ValueError(f"frames and grid must be positive; got T={num_frames}, grid={tuple(grid)}")
    for stride in strides:
        if len(stride) != 3 or min(stride) < 1:
            raise ValueError(f"every stride must be three positive ints (t, h, w); got {tuple(stride)}")
        size = [-(-n // s) for n, s in zip(size, stride)]
    return tuple(size)


@dataclass(frozen=True)
class TokenizerConfig:
    """Architecture and training recipe; its hash names the checkpoint."""

    num_frames: int = 12                 # one GOP of the course's clips (12 fps, keyframe every 12 frames)
    grid: tuple[int, int] = (8, 10)      # 128 x 160 frames in 16 x 16 blocks
    strides: tuple[tuple[int, int, int], ...] = ((1, 2, 2), (2, 1, 1), (2, 1, 1))
    width: int = 64                      # channels of every layer
    num_codes: int = 128
    code_dim: int = 16
    max_speed: int = 4                   # the clips' top speed (pixels per frame): inputs are divided by it
    # training
    steps: int = 600
    batch_size: int = 16
    lr: float = 3e-3
    epe_weight: float = 0.1              # loss = MSE + epe_weight * EPE + commitment
    train_clips: int = 96
    seed: int = 0

    @property
    def latent_grid(self) -> tuple[int, int, int]:
        return tokens_per_clip(self.num_frames, self.grid, self.strides)

    @property
    def num_tokens(self) -> int:
        return math.prod(self.latent_grid)



def _stage_sizes(config: TokenizerConfig) -> list[tuple[int, int, int]]:
    """``(T, h, w)`` at the input of every stage, then the latent grid."""
    sizes = [(config.num_frames, *config.grid)]
    for stride in config.strides:
        t, h, w = sizes[-1]
        sizes.append(tokens_per_clip(t, (h, w), [stride]))
    return sizes


def _merge(x: torch.Tensor, stride: Sequence[int]) -> torch.Tensor:
    """``(B, T, h, w, C)`` -> ``(B, ceil(T/st), ceil(h/sh), ceil(w/sw), st*sh*sw*C)``: concatenate each
    ``st x sh x sw`` neighbourhood (zero-padding the far edges), which a convolution with kernel = stride sees."""
    B, T, H, W, C = x.shape
    st, sh, sw = stride
    x = F.pad(x, (0, 0, 0, -W % sw, 0, -H % sh, 0, -T % st))
    T2, H2, W2 = x.shape[1] // st, x.shape[2] // sh, x.shape[3] // sw
    x = x.reshape(B, T2, st, H2, sh, W2, sw, C).permute(0, 1, 3, 5, 2, 4, 6, 7)
    return x.reshape(B, T2, H2, W2, st * sh * sw * C)


def _split(x: torch.Tensor, stride: Sequence[int], size: Sequence[int]) -> torch.Tensor:
    """Inverse of :func:`_merge`: ``(B, t, h, w, st*sh*sw*C)`` -> ``(B, T, H, W, C)`` cropped to ``size``."""
    B, t, h, w, D = x.shape
    st, sh, sw = stride
    C = D // (st * sh * sw)
    x = x.reshape(B, t, h, w, st, sh, sw, C).permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(B, t * st, h * sh, w * sw, C)
    return x[:, :size[0], :size[1], :size[2]]


class MotionTokenizer(nn.Module):
    """Encoder -> l2-normalised VQ -> decoder over ``(B, 2, T, h, w)`` motion fields (see the module docstring).

    Each encoder stage merges an ``(st, sh, sw)`` neighbourhood into one cell and mixes it with a linear layer
    (a 3-D convolution whose kernel equals its stride: a tubelet embedding, unit 01); a 3x3x3 convolution on the
    latent grid lets neighbouring tokens see each other. The decoder undoes the stages in reverse order.
    """

    def __init__(self, config: TokenizerConfig = TokenizerConfig(), device=None):
        super().__init__()
        self.config = config
        C = config.width
        self.sizes = _stage_sizes(config)
        self.stem = nn.Linear(2, C)
        self.down = nn.ModuleList(nn.Linear(math.prod(s) * C, C) for s in config.strides)
        self.mix_in = nn.Conv3d(C, C, 3, padding=1)
        self.to_code = nn.Linear(C, config.code_dim)
        self.quantizer = EMACodebook(config.num_codes, config.code_dim, l2=True)
        self.from_code = nn.Linear(config.code_dim, C)
        self.mix_out = nn.Conv3d(C, C, 3, padding=1)
        self.up = nn.ModuleList(nn.Linear(C, math.prod(s) * C) for s in reversed(config.strides))
        self.head = nn.Linear(C, 2)
        self.to(device)

    def _check(self, x: torch.Tensor) -> None:
        want = (2, *self.sizes[0])
        if x.ndim != 5 or tuple(x.shape[1:]) != want:
            raise ValueError(f"motion fields must be (B, {', '.join(map(str, want))}) = (batch, (dx, dy), T, h, w); "
                             f"got {tuple(x.shape)}. Build them with motion_fields() or permute (B, T, h, w, 2)")

    @staticmethod
    def _mix(conv: nn.Conv3d, h: torch.Tensor) -> torch.Tensor:
        """Residual 3x3x3 convolution on a channels-last ``(B, t, h, w, C)`` grid."""
        return h + F.gelu(conv(h.permute(0, 4, 1, 2, 3))).permute(0, 2, 3, 4, 1)

    def encode_latents(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 2, T, h, w)`` -> continuous latents ``(B, t, h', w', D)`` before quantisation."""
        self._check(x)
        h = F.gelu(self.stem(x.permute(0, 2, 3, 4, 1)))                  # channels last: (B, T, h, w, C)
        for stride, layer in zip(self.config.strides, self.down):
            h = F.gelu(layer(_merge(h, stride)))
        return self.to_code(self._mix(self.mix_in, h))

    def decode_latents(self, q: torch.Tensor) -> torch.Tensor:
        """Quantised latents ``(B, t, h', w', D)`` -> motion fields ``(B, 2, T, h, w)``."""
        h = self._mix(self.mix_out, F.gelu(self.from_code(q)))
        for stride, size, layer in zip(reversed(self.config.strides), reversed(self.sizes[:-1]), self.up):
            h = F.gelu(_split(layer(h), stride, size))
        return self.head(h).permute(0, 4, 1, 2, 3)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Returns ``recon`` (like ``x``), ``indices`` ``(B, t, h', w')``, ``latents`` and the ``commitment_loss``."""
        z = self.encode_latents(x)
        vq = self.quantizer(z)
        return {"recon": self.decode_latents(vq["quantized"]), "indices": vq["indices"], "latents": z,
                "commitment_loss": vq["loss"]}

    @torch.no_grad()
    def tokenize(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 2, T, h, w)`` -> token ids ``(B, t * h' * w')``, time-major then row-major (as an LLM reads them)."""
        if self.training:
            raise RuntimeError("call .eval() first: in training mode the quantiser updates its codes")
        return self.quantizer(self.encode_latents(x))["indices"].reshape(x.shape[0], -1)

    @torch.no_grad()
    def detokenize(self, tokens: torch.Tensor) -> torch.Tensor:
        """Token ids ``(B, t * h' * w')`` -> motion fields ``(B, 2, T, h, w)``."""
        t, h, w = self.sizes[-1]
        if tokens.ndim != 2 or tokens.shape[1] != t * h * w:
            raise ValueError(f"tokens must be (B, {t * h * w}); got {tuple(tokens.shape)}")
        codes = F.normalize(self.quantizer.embed, dim=-1)[tokens.reshape(-1, t, h, w)]
        return self.decode_latents(codes)


def motion_fields(seeds: Sequence[int], config: TokenizerConfig = TokenizerConfig(), device=None) -> torch.Tensor:
    """Training/evaluation data: block ground-truth motion of synthetic clips, one clip per seed.

    Each clip has ``T + 1`` frames of random shapes (2-6, bouncing or leaving the frame) over a plain background;
    the field is the block median of its exact motion for frames ``1 .. T``, divided by ``max_speed``.

    Returns:
        ``(N, 2, T, h, w)`` float32 on ``device``.
    """
    h, w = config.grid
    fields = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        clip = clips.make_clip(int(seed), num_frames=config.num_frames + 1, height=16 * h, width=16 * w,
                               num_objects=int(rng.integers(2, 7)), max_speed=config.max_speed,
                               dynamics=("bounce", "linear")[int(rng.integers(2))])
        fields.append(block_ground_truth(clip.motion[1:], 16))             # (T, h, w, 2)
    x = torch.stack(fields).permute(0, 4, 1, 2, 3) / config.max_speed
    return x.nan_to_num(0.0).to(device)


#: Seeds of the held-out fields (disjoint from training seeds ``seed * 10_000 + 0 .. train_clips - 1``).
HELD_OUT_SEEDS = tuple(range(900_000, 900_016))


def _epe_loss(recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean end-point error, smoothed at zero so its gradient exists there. Like L1 (and unlike MSE) it does not
    reward smearing a little motion over the many still cells."""
    return ((recon - target).square().sum(dim=1) + 1e-6).sqrt().mean()


def _eval_forward(model: MotionTokenizer, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """``model(x)`` in eval mode without gradients; the model's mode is restored afterwards."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = model(x)
    model.train(was_training)
    return out


def _epe_pixels(recon: torch.Tensor, x: torch.Tensor, max_speed: float) -> float:
    """Mean end-point error in pixels per frame of ``recon`` against ``x`` (both ``(B, 2, T, h, w)``, normalised)."""
    return float((recon - x).norm(dim=1).mean()) * max_speed


def reconstruction_error(model: MotionTokenizer, x: torch.Tensor) -> float:
    """Mean end-point error (pixels per frame) of the reconstruction of ``x`` ``(B, 2, T, h, w)``, in eval mode."""
    return _epe_pixels(_eval_forward(model, x)["recon"], x, model.config.max_speed)


def evaluate(model: MotionTokenizer, fields: torch.Tensor) -> dict[str, float]:
    """How well ``model`` tokenizes ``fields`` ``(B, 2, T, h, w)``: reconstruction ``epe`` and ``epe_zero`` (of
    predicting no motion), both in pixels per frame, and the codes' ``perplexity``; one forward pass."""
    out = _eval_forward(model, fields)
    speed = model.config.max_speed
    return {"epe": _epe_pixels(out["recon"], fields, speed),
            "epe_zero": _epe_pixels(torch.zeros_like(fields), fields, speed),
            "perplexity": perplexity(out["indices"], model.config.num_codes)}


def train(model: MotionTokenizer, fields: torch.Tensor, steps: int = 600, batch_size: int = 16, lr: float = 3e-3,
          seed: int = 0, progress: bool = False) -> dict[str, list[float]]:
    """Train ``model`` in place on motion fields ``(N, 2, T, h, w)`` (on the model's device): Adam on MSE +
    ``config.epe_weight`` x end-point error + the commitment term, the codebook started from k-means of 64 fields
    and dead codes restarted every 50 steps. Returns the history ``{"loss": [...]}``; ``progress`` prints a line
    every 50 steps."""
    threads = torch.get_num_threads()
    if fields.device.type == "cpu":
        torch.set_num_threads(1)  # tiny matrices: extra threads cost more in synchronisation than they save
    try:
        return _train(model, fields, steps, batch_size, lr, seed, progress)
    finally:
        torch.set_num_threads(threads)


def _train(model: MotionTokenizer, data: torch.Tensor, steps: int, batch_size: int, lr: float, seed: int,
           progress: bool) -> dict[str, list[float]]:
    generator = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    history: dict[str, list[float]] = {"loss": []}
    for step in range(steps):
        batch = data[torch.randint(len(data), (batch_size,), generator=generator).to(data.device)]
        if step == 0:  # start the codebook where the (normalised) latents are
            with torch.no_grad():
                z = F.normalize(model.encode_latents(data[:64]), dim=-1)
                model.quantizer.embed.copy_(F.normalize(kmeans(z, model.config.num_codes, generator=generator),
                                                        dim=-1))
        out = model(batch)
        recon = out["recon"]
        loss = F.mse_loss(recon, batch) + model.config.epe_weight * _epe_loss(recon, batch) + out["commitment_loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        history["loss"].append(loss.item())
        if step % 50 == 49:  # codes nobody used lately get a latent of this batch
            with torch.no_grad():
                new, n = restart_dead_codes(model.quantizer.embed, model.quantizer.cluster_size(),
                                            F.normalize(out["latents"], dim=-1), threshold=0.05, generator=generator)
                model.quantizer.embed.copy_(F.normalize(new, dim=-1))
            if progress:
                print(f"step {step + 1:4d}/{steps}  loss {loss.item():.4f}  restarted {n} codes", flush=True)
    model.eval()
    return history


def train_config(config: TokenizerConfig = TokenizerConfig(), device="cpu",
                 progress: bool = False) -> tuple[MotionTokenizer, dict]:
    """Build and train the tokenizer of ``config`` on its generated motion fields: ``(model, figures)``, the
    figures being ``history``, ``seconds``, ``final_loss`` and, on the held-out fields, :func:`evaluate`'s."""
    start = time.perf_counter()
    data = motion_fields(range(config.seed * 10_000, config.seed * 10_000 + config.train_clips), config, device)
    torch.manual_seed(config.seed)
    model = MotionTokenizer(config, device=device)
    history = train(model, data, config.steps, config.batch_size, config.lr, config.seed, progress)
    figures = evaluate(model, motion_fields(HELD_OUT_SEEDS, config, device))
    return model, {"history": history, "seconds": time.perf_counter() - start, "final_loss": history["loss"][-1],
                   **figures, "device": str(device)}


def spec(config: TokenizerConfig = TokenizerConfig()) -> dict:
    """What decides the trained weights: the config, :data:`TOKENIZER_VERSION` and the synthetic world's version
    (its hash keys the checkpoint)."""
    return {"config": config, "tokenizer": TOKENIZER_VERSION, "world": WORLD_VERSION}


def pretrained(config: TokenizerConfig = TokenizerConfig(), device="cpu", retrain: bool = False,
               progress: bool = True) -> MotionTokenizer:
    """The course's motion tokenizer: loaded from the cache if there is a checkpoint of ``config``, else trained
    and cached (:func:`videollm.cache.load_or_train`).

    Returns the model (eval mode, on ``device``) with ``model.meta``: its training figures (see
    :func:`train_config`) plus ``path`` and ``cached`` (whether it was loaded).
    """
    def load(folder: Path) -> MotionTokenizer:
        return load_weights(MotionTokenizer(config), folder, device)

    model, model.meta = load_or_train(CHECKPOINT_NAME, spec(config), lambda: train_config(config, device, progress),
                                      save_weights, load, retrain=retrain)
    return model.eval()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m videollm.motion.tokenizer",
                                     description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="train the course's motion tokenizer into the cache (skips a current one)")
    build.add_argument("--force", action="store_true", help="train again even if cached")
    build.add_argument("--device", default="cpu", help="torch device to train on (default: cpu)")
    commands.add_parser("info", help="print the tokenizer's token arithmetic and where its checkpoint goes")
    commands.add_parser("commit", help="copy the cached checkpoint to data/weights/ (to commit with the course)")
    args = parser.parse_args(argv)
    config = TokenizerConfig()
    if args.command == "commit":
        return commit_command(CHECKPOINT_NAME, spec(config), "python -m videollm.motion.tokenizer build")
    if args.command == "info":
        lavit = tokens_per_clip(24, (20, 36), LAVIT_STRIDES)
        print(f"Video-LaVIT: 24 frames x 20x36 -> {lavit} = {math.prod(lavit)} tokens")
        print(f"course:      {config.num_frames} frames x {config.grid[0]}x{config.grid[1]} -> {config.latent_grid} "
              f"= {config.num_tokens} tokens")
        found = cached_meta(CHECKPOINT_NAME, spec(config))
        print(f"checkpoint:  {checkpoint_dir(CHECKPOINT_NAME, spec(config))} ({'cached' if found else 'absent'})")
        return 0
    try:
        info = pretrained(config, device=args.device, retrain=args.force).meta
    except (RuntimeError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    state = "cached" if info["cached"] else f"trained in {info['seconds']:.1f} s"
    print(f"motion tokenizer {state}: held-out EPE {info['epe']:.3f} px/frame (no motion: {info['epe_zero']:.3f}), "
          f"perplexity {info['perplexity']:.1f} -> {info['path']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
