"""Unit 07 — NExT-GPT's decoders at the world's size: a text-conditioned diffusion model that draws a picture, a
judge that says what a picture shows, and a retrieval stand-in for the sound decoder.

NExT-GPT does not train its decoders. Stable Diffusion, AudioLDM and Zeroscope stay frozen, and the LLM learns to
produce what their *text encoders* would have produced for the caption. The decoder is conditioned on that sequence
of hidden states (SD-v1.5: ``77 x 768`` from CLIP's text encoder). The course's decoders do the same:

- :class:`ImageDecoder`: a ``diffusers`` ``UNet2DConditionModel`` that cross-attends to the caption's hidden states
  from the binding stage's frozen :class:`~videollm.anyany.encoders.TextEncoder` (``24 x 64``), trained here with
  the DDPM noise-prediction loss on the world's one-object pictures. Classifier-free guidance: 10 % of training
  captions are replaced by the empty caption, and sampling mixes both predictions (DDIM, 25 steps, guidance 2).
  Its scheduler is ``diffusers``' ``DDPMScheduler`` (cosine betas).
- :class:`PictureJudge`: a small CNN trained on the world's pictures to name an object's colour and shape. It scores
  whether a generated picture shows what was asked, which the world's ground truth allows.
- :class:`SoundLibrary`: **a stand-in, not a generator.** Training an audio diffusion model does not fit a CPU
  budget. Sound is "decoded" by retrieval instead. The conditioning (one ``64``-d joint-space vector, as AudioLDM
  takes one CLAP text embedding of ``1 x 512``) picks, from a library of the world's one-object sounds, the one whose
  *emergent* audio embedding is nearest. It can only return sounds it has; a real decoder could make new ones.

Lecture: `lectures/07_next_gpt.ipynb` §6.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from videollm.anyany import bind
from videollm.anyany.encoders import TextEncoder, log_mel
from videollm.anyany.infonce import normalise
from videollm.cache import load_or_train, load_weights, save_weights
from videollm.world.clips import ShapeSpec, make_clip
from videollm.world.shapes import COLOR_NAMES, PALETTE, SHAPES
from videollm.world.voices import caption, sounding_clip

#: Split seeds of the pictures (disjoint from each other and from the binding splits' ranges).
PICTURE_SEEDS = {"train": 3_000_000, "judge": 4_000_000, "test": 5_000_000}


@dataclass(frozen=True)
class DecoderConfig:
    """Everything that decides the trained image decoder and judge."""

    image_size: int = 24
    channels: tuple[int, ...] = (32, 64)
    train_pictures: int = 4096
    steps: int = 3000
    batch_size: int = 32
    lr: float = 1e-3
    drop_caption: float = 0.1       # classifier-free guidance: share of training captions made empty
    judge_pictures: int = 2048
    judge_steps: int = 300
    seed: int = 0


@dataclass
class Pictures:
    """``N`` one-object pictures: ``images (N, 3, S, S)`` uint8, their ``captions`` ("a red circle"), and the
    object's ``color`` and ``shape`` indices ``(N,)`` (into :data:`COLOR_NAMES`, :data:`SHAPES`)."""

    images: torch.Tensor
    captions: list[str]
    color: torch.Tensor
    shape: torch.Tensor


def picture(seed: int, size: int = 24) -> tuple[np.ndarray, ShapeSpec]:
    """One object of random colour and shape, a third to two thirds of the picture wide, anywhere inside it, on
    a plain background: ``((S, S, 3) uint8, its spec)``."""
    rng = np.random.default_rng([77, int(seed)])
    side = int(rng.integers(size // 3, 2 * size // 3 + 1))
    spec = ShapeSpec(shape=SHAPES[int(rng.integers(len(SHAPES)))], color=PALETTE[int(rng.integers(len(PALETTE)))],
                     size=side, position=(int(rng.integers(0, size - side + 1)), int(rng.integers(0, size - side + 1))),
                     velocity=(0, 0))
    return make_clip(int(seed), num_frames=1, height=size, width=size, objects=[spec]).frames[0], spec


def pictures(split: str, n: int, size: int = 24) -> Pictures:
    """The first ``n`` pictures of ``split`` (``"train"``, ``"judge"``, ``"test"``)."""
    if split not in PICTURE_SEEDS:
        raise ValueError(f"unknown split {split!r}; choose one of {tuple(PICTURE_SEEDS)}")
    made = [picture(PICTURE_SEEDS[split] + i, size) for i in range(n)]
    images = torch.from_numpy(np.stack([m[0] for m in made])).permute(0, 3, 1, 2).contiguous()
    return Pictures(images=images, captions=[caption([m[1]]) for m in made],
                    color=torch.tensor([PALETTE.index(m[1].color) for m in made]),
                    shape=torch.tensor([SHAPES.index(m[1].shape) for m in made]))


def conditioning(text: TextEncoder, captions: list[str]) -> torch.Tensor:
    """``(B, max_text_tokens, width)``: the frozen text encoder's last hidden states of each caption, padded to a
    fixed length (as Stable Diffusion conditions on all 77 of CLIP's), the decoders' and the output projectors'
    target. The empty caption is its end token and padding."""
    batch = text.tokenize(captions)
    pad = text.config.max_text_tokens - batch["input_ids"].shape[1]
    batch = {"input_ids": F.pad(batch["input_ids"], (0, pad), value=text.tokenizer.pad_token_id),
             "attention_mask": F.pad(batch["attention_mask"], (0, pad), value=0)}
    with torch.no_grad():
        return text.clip(**batch).last_hidden_state


class ImageDecoder(nn.Module):
    """A tiny text-conditioned pixel-space diffusion model (module docstring). ``sample(cond)`` draws pictures."""

    def __init__(self, config: DecoderConfig = DecoderConfig(), cross_dim: int = 64):
        super().__init__()
        from diffusers import DDPMScheduler, UNet2DConditionModel

        self.config = config
        n = len(config.channels)
        self.unet = UNet2DConditionModel(
            sample_size=config.image_size, in_channels=3, out_channels=3, layers_per_block=1,
            block_out_channels=config.channels, down_block_types=("DownBlock2D",) + ("CrossAttnDownBlock2D",) * (n - 1),
            up_block_types=("CrossAttnUpBlock2D",) * (n - 1) + ("UpBlock2D",), cross_attention_dim=cross_dim,
            attention_head_dim=8, norm_num_groups=8)
        self.scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2")

    @property
    def device(self) -> torch.device:
        return self.unet.conv_in.weight.device

    def loss(self, images: torch.Tensor, cond: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The DDPM loss: MSE between the noise added at a random step and the UNet's prediction of it. ``images``
        ``(B, 3, S, S)`` in [-1, 1], ``cond`` ``(B, L, width)``."""
        noise = torch.randn(images.shape, generator=generator, device=images.device)
        t = torch.randint(0, self.scheduler.config.num_train_timesteps, (len(images),), generator=generator,
                          device=images.device)
        noisy = self.scheduler.add_noise(images, noise, t)
        return F.mse_loss(self.unet(noisy, t, encoder_hidden_states=cond).sample, noise)

    @torch.no_grad()
    def sample(self, cond: torch.Tensor, empty: torch.Tensor, guidance: float = 2.0, steps: int = 25,
               seed: int = 0) -> torch.Tensor:
        """``(B, 3, S, S)`` uint8 pictures for conditioning ``cond`` ``(B, L, width)``, by DDIM in ``steps`` steps
        with classifier-free guidance ``eps = eps(empty) + guidance * (eps(cond) - eps(empty))``; ``empty`` is the
        empty caption's conditioning ``(1, L, width)``."""
        from diffusers import DDIMScheduler

        ddim = DDIMScheduler.from_config(self.scheduler.config)
        ddim.set_timesteps(steps)
        b, s = len(cond), self.config.image_size
        generator = torch.Generator().manual_seed(seed)
        x = torch.randn((b, 3, s, s), generator=generator).to(self.device)
        cond = torch.cat([empty.expand(b, -1, -1), cond]).to(self.device)
        for t in ddim.timesteps:
            eps_empty, eps_cond = self.unet(torch.cat([x, x]), t, encoder_hidden_states=cond).sample.chunk(2)
            x = ddim.step(eps_empty + guidance * (eps_cond - eps_empty), t, x).prev_sample
        return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


class PictureJudge(nn.Module):
    """A small CNN that names the colour and the shape of a picture's object: ``forward(images (B, 3, S, S)
    uint8)`` gives ``(colour logits (B, 8), shape logits (B, 4))``."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveMaxPool2d(1), nn.Flatten())
        self.color = nn.Linear(64, len(COLOR_NAMES))
        self.shape = nn.Linear(64, len(SHAPES))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(images.to(self.color.weight.device).float() / 127.5 - 1)
        return self.color(h), self.shape(h)

    @torch.no_grad()
    def read(self, images: torch.Tensor) -> list[str]:
        """``"a red circle"``-style names of what each picture shows (the judge's best guess)."""
        color, shape = self(images)
        return [caption([ShapeSpec(SHAPES[s], PALETTE[c], 4, (0, 0), (0, 0))])
                for c, s in zip(color.argmax(1).tolist(), shape.argmax(1).tolist())]


def train_decoder(decoder: ImageDecoder, data: Pictures, cond: torch.Tensor, empty: torch.Tensor, steps: int,
                  batch_size: int, lr: float, drop_caption: float, seed: int = 0,
                  progress: bool = False) -> list[float]:
    """Train ``decoder`` on ``data`` with conditioning ``cond`` ``(N, L, width)``; a ``drop_caption`` share of each
    batch is conditioned on ``empty`` instead. Returns the loss per step."""
    device = decoder.device
    optimiser = torch.optim.AdamW(decoder.parameters(), lr=lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=steps, pct_start=0.05)
    generator = torch.Generator().manual_seed(seed)
    images = data.images.float() / 127.5 - 1
    history = []
    for _ in tqdm(range(steps), disable=not progress, desc="image decoder"):
        idx = torch.randint(0, len(images), (batch_size,), generator=generator)
        c = cond[idx].clone()
        c[torch.rand(batch_size, generator=generator) < drop_caption] = empty[0]
        loss = decoder.loss(images[idx].to(device), c.to(device), generator=None)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        history.append(loss.item())
    return history


def train_judge(judge: PictureJudge, data: Pictures, steps: int, batch_size: int = 64, seed: int = 0) -> list[float]:
    """Train the judge on ``data``'s colour and shape labels (cross-entropy on both). Returns the loss per step."""
    optimiser = torch.optim.AdamW(judge.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(seed)
    history = []
    for _ in range(steps):
        idx = torch.randint(0, len(data.images), (batch_size,), generator=generator)
        color, shape = judge(data.images[idx])
        device = color.device
        loss = F.cross_entropy(color, data.color[idx].to(device)) + F.cross_entropy(shape, data.shape[idx].to(device))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        history.append(loss.item())
    return history


class SoundLibrary:
    """The sound decoder's stand-in: one sound per object kind (8 colours x 4 shapes), each a 2 s sounding clip of
    that object alone, indexed by its emergent audio embedding. ``decode(cond (B, D))`` returns the nearest
    sounds ``(B, N)`` float32 and their captions."""

    def __init__(self, binding, device="cpu"):
        sounds = kind_sounds()
        self.captions = list(sounds)
        self.audio = torch.from_numpy(np.stack(list(sounds.values())))  # (32, N)
        with torch.no_grad():
            self.keys = binding.audio["emergent"].eval()(log_mel(self.audio).to(device))  # (32, D) unit vectors

    def decode(self, cond: torch.Tensor) -> tuple[torch.Tensor, list[str]]:
        """The library's sound nearest (cosine) to each row of ``cond`` ``(B, D)`` (or ``(B, 1, D)``, as an audio
        output projector gives it), and its caption."""
        if cond.ndim == 3 and cond.shape[1] == 1:
            cond = cond[:, 0]
        if cond.ndim != 2 or cond.shape[1] != self.keys.shape[1]:
            raise ValueError(f"cond must be (B, {self.keys.shape[1]}) or (B, 1, {self.keys.shape[1]}); "
                             f"got {tuple(cond.shape)}")
        best = (normalise(cond.to(self.keys.device)) @ self.keys.T).argmax(1).cpu()
        return self.audio[best], [self.captions[i] for i in best.tolist()]


def kind_sounds(first_seed: int = 6_000_000) -> dict[str, np.ndarray]:
    """One sound per object kind, ``{"a red circle": (N,) float32, ...}`` in palette, then shape, order: the first
    one-object sounding clip of each kind from ``first_seed`` on (deterministic), so the library's sounds have the
    world's rhythm of notes."""
    wanted = [caption([ShapeSpec(shape, color, 4, (0, 0), (1, 1))]) for color in PALETTE for shape in SHAPES]
    found: dict[str, np.ndarray] = {}
    for seed in range(first_seed, first_seed + 100_000):
        clip = sounding_clip(seed, max_objects=1)
        found.setdefault(caption(clip.objects), clip.audio)
        if all(w in found for w in wanted):
            return {w: found[w] for w in wanted}
    raise RuntimeError("not every object kind sounded in the searched seeds")


#: Bump when the data, the models or the training change what a config trains to.
MODEL_VERSION = 1
CHECKPOINT_NAME = "decoders"


class Decoders(nn.Module):
    """The trained image decoder and picture judge, and the empty caption's conditioning (for guidance)."""

    def __init__(self, config: DecoderConfig = DecoderConfig(), cross_dim: int = 64, tokens: int = 24):
        super().__init__()
        self.config = config
        self.image = ImageDecoder(config, cross_dim)
        self.judge = PictureJudge()
        self.register_buffer("empty", torch.zeros(1, tokens, cross_dim))


def spec(config: DecoderConfig = DecoderConfig()) -> dict:
    """What decides the weights: the config, this code's version and the binding models' (whose text encoder makes
    the conditioning)."""
    return {"config": config, "model_version": MODEL_VERSION, "binding": bind.spec()}


def train_config(config: DecoderConfig = DecoderConfig(), device="cpu", progress: bool = False):
    """Train the judge, then the image decoder on the binding text encoder's conditioning: ``(model, info)``."""
    text = bind.pretrained(device=device, progress=progress).text
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = Decoders(config, text.config.width, text.config.max_text_tokens).to(device)
    judge_data = pictures("judge", config.judge_pictures, config.image_size)
    info = {"judge_loss": train_judge(model.judge, judge_data, config.judge_steps, seed=config.seed)}
    data = pictures("train", config.train_pictures, config.image_size)
    cond = torch.cat([conditioning(text, data.captions[i:i + 512]) for i in range(0, len(data.captions), 512)])
    model.empty.copy_(conditioning(text, [""]))
    info["decoder_loss"] = train_decoder(model.image, data, cond.cpu(), model.empty.cpu(), config.steps,
                                         config.batch_size, config.lr, config.drop_caption, config.seed, progress)
    return model.eval(), info


def pretrained(config: DecoderConfig = DecoderConfig(), device="cpu", retrain: bool = False, progress: bool = True):
    """The committed or cached decoders of ``config``, else trained (62 minutes on 2 busy CPU cores) and cached."""
    def load(folder: Path) -> Decoders:
        return load_weights(Decoders(config), folder, device)

    model, meta = load_or_train(CHECKPOINT_NAME, spec(config), lambda: train_config(config, device, progress),
                                save_weights, load, retrain=retrain)
    model.meta = meta
    return model.eval().requires_grad_(False)


__all__ = ["CHECKPOINT_NAME", "DecoderConfig", "Decoders", "ImageDecoder", "MODEL_VERSION", "PICTURE_SEEDS",
           "PictureJudge", "Pictures", "SoundLibrary", "conditioning", "kind_sounds", "picture", "pictures",
           "pretrained", "spec", "train_config", "train_decoder", "train_judge"]
