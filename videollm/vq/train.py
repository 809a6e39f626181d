"""Unit 02 — training the unit-02 VQ-VAE, and the course's cached checkpoint ("load if present, else train").

- :func:`train` fits a :class:`videollm.vq.vqvae.VQVAE` to frames with Adam on ``MSE(recon, x) + quantiser loss``,
  optionally starting the codes with k-means on the first encoder outputs and restarting dead codes every few
  steps, and returns a per-step history (loss, PSNR, perplexity, code usage).
- :class:`VQVAEConfig` names everything that decides the trained weights; :func:`spec` adds the code and data
  versions, whose hash keys the checkpoint.
- :func:`pretrained` loads the checkpoint of a config through :func:`videollm.cache.load_or_train`, or trains the
  model (under a minute on a 2-core CPU) and caches it.

There is no upstream checkpoint of this tiny model to download instead; the cache is the course's own.

Command line (``make data`` runs the first)::

    $ python -m videollm.vq.train build [--force] [--device cuda]
    $ python -m videollm.vq.train commit      # copy it to data/weights/, committed with the course
    $ python -m videollm.vq.train info

Lecture: `lectures/02_vq_tokenization.ipynb` §2, §7.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from videollm.cache import cached_meta, checkpoint_dir, commit_command, load_or_train, load_weights, save_weights
from videollm.vq import codebook as cb, quantize as vq
from videollm.vq.vqvae import FSQQuantizer, LFQQuantizer, VQVAE, VectorQuantizer, evaluate, psnr, split_frames
from videollm.world.shapes import WORLD_VERSION

#: Bump when the model, the data or the training loop change what a config trains to.
MODEL_VERSION = 3  # 3: the frames are decoded from H.264 clips (split_frames)
CHECKPOINT_NAME = "vqvae"
QUANTIZERS = ("codebook", "l2", "ema", "fsq", "lfq")


def _channels_last(z: torch.Tensor) -> torch.Tensor:
    return z.detach().permute(0, 2, 3, 1).reshape(-1, z.shape[1])  # (B, D, h, w) -> (B*h*w, D)


# ----------------------------------------------------------------------------------------------------------------
# Training


def train(model: VQVAE, frames: torch.Tensor, steps: int = 300, batch_size: int = 32, lr: float = 4e-3,
          device=None, seed: int = 0, kmeans_init: bool = False, restart_every: int = 0,
          restart_threshold: float = 1.0, progress: bool = False) -> dict[str, list]:
    """Train ``model`` in place on ``frames`` ``(N, C, H, W)`` in [0, 1]; return the history.

    Args:
        steps, batch_size, lr: Adam on ``MSE(recon, x) + quantiser loss`` (codebook + beta * commitment for a
            learned codebook, beta * commitment for EMA, 0 for FSQ, entropy + commitment for LFQ).
        device: where to train (default: where the model is); ``frames`` may stay on the CPU.
        seed: seeds the batch order, k-means and restarts (the weights' initialisation is the caller's, e.g.
            :func:`build_model`); the same model, frames and seed give the same history on the same machine.
        kmeans_init: before the first step, set the codes to k-means centres of the encoder's outputs on up to 256
            frames (codes start where the data are).
        restart_every: every that many steps, replace each code used fewer than ``restart_threshold`` times in
            those steps by a random latent of the current batch (0: never).

    Returns:
        dict of equal-length lists, one entry per step: ``step``, ``loss``, ``recon_loss``, ``psnr`` (dB, on the
        training batch), ``perplexity`` and ``usage`` (share of codes used in the batch), ``restarted`` (codes
        restarted at that step).
    """
    if frames.ndim != 4:
        raise ValueError(f"frames must be (N, C, H, W); got shape {tuple(frames.shape)}")
    if steps < 0 or batch_size < 1:
        raise ValueError(f"steps must be >= 0 and batch_size >= 1; got {steps}, {batch_size}")
    device = torch.device(device) if device is not None else model.device
    model.to(device).train()
    if (kmeans_init or restart_every) and not hasattr(model.quantizer, "set_codes"):
        raise ValueError(f"k-means initialisation and dead-code restarts need a codebook; "
                         f"{type(model.quantizer).__name__} has none")
    g = torch.Generator().manual_seed(seed)
    K = model.num_codes
    if kmeans_init:
        with torch.no_grad():
            pick = torch.randperm(frames.shape[0], generator=g)[:256]
            z = _channels_last(model.encode(frames[pick.to(frames.device)].to(device)))
            model.quantizer.set_codes(cb.kmeans(z, K, iters=10, generator=g))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    history: dict[str, list] = {k: [] for k in ("step", "loss", "recon_loss", "psnr", "perplexity", "usage",
                                                "restarted")}
    counts = torch.zeros(K, device=device)
    for step in tqdm(range(1, steps + 1), disable=not progress, desc="training VQ-VAE", leave=False):
        pick = torch.randint(frames.shape[0], (batch_size,), generator=g)
        x = frames[pick.to(frames.device)].to(device)
        out = model(x)
        recon_loss = F.mse_loss(out["recon"], x)
        loss = recon_loss + out["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        used = torch.bincount(out["indices"].reshape(-1), minlength=K)
        counts += used
        restarted = 0
        if restart_every and step % restart_every == 0:
            latents = _channels_last(out["latents"])
            dead = counts < restart_threshold
            restarted = int(dead.sum())
            if restarted:
                pick = torch.randint(latents.shape[0], (restarted,), generator=g).to(device)
                model.quantizer.set_codes(latents[pick], dead)
            counts.zero_()
        history["step"].append(step)
        history["loss"].append(float(loss.detach()))
        history["recon_loss"].append(float(recon_loss.detach()))
        history["psnr"].append(psnr(out["recon"], x))
        history["perplexity"].append(vq.perplexity(out["indices"], K))
        history["usage"].append(float((used > 0).float().mean()))
        history["restarted"].append(restarted)
    model.eval()
    return history


# ----------------------------------------------------------------------------------------------------------------
# The course's checkpoint


@dataclass(frozen=True)
class VQVAEConfig:
    """Everything that decides the trained weights of the course's VQ-VAE (hashed by :func:`config_hash`)."""

    image_size: int = 32
    hidden: int = 64
    latent_dim: int = 8
    num_down: int = 2
    num_res: int = 1
    quantizer: str = "ema"          # one of QUANTIZERS
    num_codes: int = 256            # codebook size (fsq: prod(levels); lfq: 2^latent_dim)
    beta: float = vq.BETA
    decay: float = 0.99             # EMA decay
    levels: tuple[int, ...] = (8, 5, 5, 5)  # FSQ levels (latent_dim must equal their number)
    kmeans_init: bool = True
    restart_every: int = 50
    steps: int = 1500
    batch_size: int = 32
    lr: float = 4e-3
    seed: int = 0
    train_clips: int = 48
    frames_per_clip: int = 8


def spec(config: VQVAEConfig = VQVAEConfig()) -> dict:
    """What decides the trained weights: the config, the model/training version and the synthetic world's version
    (its hash keys the checkpoint)."""
    return {"config": config, "model_version": MODEL_VERSION, "world_version": WORLD_VERSION}


def build_quantizer(config: VQVAEConfig, device=None):
    """The quantiser a config asks for (initialised from the global RNG; :func:`build_model` seeds it)."""
    kind, K, D = config.quantizer, config.num_codes, config.latent_dim
    if kind == "codebook":
        return VectorQuantizer(K, D, beta=config.beta, device=device)
    if kind == "l2":
        return VectorQuantizer(K, D, beta=config.beta, l2=True, device=device)
    if kind == "ema":
        return cb.EMACodebook(K, D, decay=config.decay, beta=config.beta, device=device)
    if kind == "fsq":
        if len(config.levels) != D:
            raise ValueError(f"FSQ needs latent_dim == len(levels); got {D} and {list(config.levels)}")
        return FSQQuantizer(config.levels)
    if kind == "lfq":
        return LFQQuantizer(D, commitment_weight=config.beta)
    raise ValueError(f"unknown quantizer {kind!r}; choose one of {QUANTIZERS}")


def build_model(config: VQVAEConfig = VQVAEConfig(), device="cpu") -> VQVAE:
    """An untrained :class:`VQVAE` for ``config``, its weights drawn from ``torch.manual_seed(config.seed)``
    (without disturbing the caller's global random state)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        quantizer = build_quantizer(config)
        model = VQVAE(quantizer, hidden=config.hidden, latent_dim=config.latent_dim, num_down=config.num_down,
                      num_res=config.num_res)
    return model.to(device)


def train_config(config: VQVAEConfig = VQVAEConfig(), device="cpu", progress: bool = False) -> tuple[VQVAE, dict]:
    """Build and train the model of ``config`` on its training frames: ``(model, history)``."""
    frames = split_frames("train", config.train_clips, config.frames_per_clip, config.image_size)
    model = build_model(config, device)
    history = train(model, frames, steps=config.steps, batch_size=config.batch_size, lr=config.lr, device=device,
                    seed=config.seed, kmeans_init=config.kmeans_init, restart_every=config.restart_every,
                    progress=progress)
    return model, history


def pretrained(config: VQVAEConfig = VQVAEConfig(), device="cpu", retrain: bool = False,
               progress: bool = True) -> VQVAE:
    """The course's trained VQ-VAE: loaded from the cache if there is a checkpoint of ``config``, else trained and
    cached (:func:`videollm.cache.load_or_train`).

    Args:
        config: what to train (the default is the course's model: EMA codebook of 256 codes, D = 8, 32x32 frames
            -> 8x8 tokens, k-means initialisation, dead-code restarts, 1500 steps).
        device: where the returned model lives (and trains, if it must).
        retrain: train even if a checkpoint exists.

    Returns:
        the model in eval mode, with ``model.meta``: ``history`` (the training history), ``seconds`` (training
        time), ``path``, ``cached``.
    """
    def fit():
        model, history = train_config(config, device, progress=progress)
        return model, {"history": history, "device": str(device)}

    def load(folder: Path) -> VQVAE:
        return load_weights(build_model(config, "cpu"), folder, device)

    model, model.meta = load_or_train(CHECKPOINT_NAME, spec(config), fit, save_weights, load, retrain=retrain)
    return model.eval()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m videollm.vq.train",
                                     description="The course's tiny VQ-VAE checkpoint (unit 02).")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="train and cache the checkpoint unless a matching one exists")
    build.add_argument("--force", action="store_true", help="train again even if the checkpoint matches")
    build.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default cpu)")
    sub.add_parser("info", help="where the checkpoint of the current config is and whether it is cached")
    sub.add_parser("commit", help="copy the cached checkpoint to data/weights/ (to commit with the course)")
    args = parser.parse_args(argv)
    config = VQVAEConfig()
    if args.command == "commit":
        return commit_command(CHECKPOINT_NAME, spec(config), "python -m videollm.vq.train build")
    if args.command == "info":
        found = cached_meta(CHECKPOINT_NAME, spec(config))
        print(f"{checkpoint_dir(CHECKPOINT_NAME, spec(config))}: {'cached' if found else 'absent'}")
        return 0
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: no CUDA device is available here; use --device cpu")
    model = pretrained(config, device=args.device, retrain=args.force, progress=True)
    held = evaluate(model, split_frames("heldout", 12, 8, config.image_size).to(args.device))
    trained = "cached" if model.meta["cached"] else f"trained in {model.meta['seconds']:.0f} s"
    print(f"{model.meta['path']} ({trained}): held-out PSNR {held['psnr']:.2f} dB, perplexity {held['perplexity']:.1f} "
          f"of {model.num_codes} codes, usage {held['usage']:.0%}")
    return 0


__all__ = ["MODEL_VERSION", "QUANTIZERS", "VQVAEConfig", "build_model", "build_quantizer", "main", "pretrained",
           "spec", "train", "train_config"]


if __name__ == "__main__":
    sys.exit(main())
