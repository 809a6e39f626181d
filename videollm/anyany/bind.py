"""Unit 07 — binding at small scale: ImageBind's emergent audio-text retrieval, rebuilt on the course's world.

ImageBind never trains on (audio, text) pairs. Its image and text encoders come from CLIP, frozen; its audio
encoder is trained only to match the *image* embedding of the video a sound came from. Because images are already
aligned with text, audio lands near the text that describes what it sounds like: audio-to-text retrieval *emerges*.

The course runs the same three steps on sounding clips (:mod:`videollm.world.voices`), from three disjoint sets of
seeds, so no clip is ever seen twice and no audio is ever paired with a caption in training:

1. **the "CLIP" stage**: a video encoder and a text encoder trained together on (video, caption) pairs of the
   ``pairs`` split, symmetric InfoNCE with a learnable temperature from 0.07 (CLIP; ImageBind's frozen OpenCLIP);
2. **the binding stage**: both frozen; an audio encoder trained on (audio, video) pairs of the ``sounds`` split,
   InfoNCE against the frozen video embeddings with ImageBind's fixed ``tau = 0.05``;
3. **evaluation** on the ``test`` split: each clip's audio retrieves its caption among the distinct captions of
   the test set (Recall@1 and @5, :mod:`videollm.anyany.retrieval`).

Two more audio encoders, trained the same way, make the comparison of ImageBind's Tables 3 and 5a:
``learnable`` (the temperature learned from 0.07 instead of fixed) and ``supervised`` (trained on (audio, caption)
pairs against the frozen text encoder: the upper bound that uses the pairs emergence does without).

Command line (weights committed in ``data/weights/``; ``build`` retrains only if the config changed)::

    $ python -m videollm.anyany build [--force] [--device cuda]
    $ python -m videollm.anyany benchmark        # the retrieval table (README, docs/experiments/07_binding.md)
    $ python -m videollm.anyany commit

Lecture: `lectures/07_next_gpt.ipynb` §3–4.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from tqdm.auto import tqdm

from videollm.anyany.encoders import AudioEncoder, EncoderConfig, TextEncoder, VisionEncoder, log_mel
from videollm.anyany.infonce import AUDIO_TAU, TEXT_TAU_INIT, LogitScale, similarity_logits, symmetric_infonce
from videollm.anyany.retrieval import chance_recall, recall_at_k
from videollm.cache import load_or_train, load_weights, save_weights
from videollm.world import text_tokenizer as tt
from videollm.world.shapes import WORLD_VERSION
from videollm.world.voices import caption, sounding_clip

#: Bump when the data, the models or the training loop change what a config trains to.
MODEL_VERSION = 1
CHECKPOINT_NAME = "binding"
#: First seed of each split (disjoint ranges: no clip is in two splits).
SPLIT_SEEDS = {"pairs": 0, "sounds": 1_000_000, "test": 2_000_000}
#: The audio encoders trained: what each is trained against, and its temperature.
AUDIO_VARIANTS = {
    "emergent": {"against": "video", "tau": AUDIO_TAU, "learnable": False},   # ImageBind
    "learnable": {"against": "video", "tau": TEXT_TAU_INIT, "learnable": True},  # Table 5a's alternative
    "supervised": {"against": "text", "tau": AUDIO_TAU, "learnable": False},  # uses (audio, caption) pairs
}


@dataclass(frozen=True)
class BindConfig:
    """Everything that decides the trained binding models (its hash keys the checkpoint)."""

    encoders: EncoderConfig = field(default_factory=EncoderConfig)
    frames: tuple[int, ...] = (0, 1, 12, 13)   # two two-frame clips of each 24-frame clip
    pair_clips: int = 3000
    sound_clips: int = 3000
    vision_text_steps: int = 800
    audio_steps: int = 600
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0


@dataclass
class BindingData:
    """``N`` sounding clips as tensors: ``video (N, T, 3, H, W)`` uint8, ``mel (N, 204, 128)`` float32 (or None),
    ``captions`` (as the world wrote them, any template) and ``labels`` (the same objects in template 0: one string
    per set of objects, what retrieval galleries hold)."""

    video: torch.Tensor
    mel: torch.Tensor | None
    captions: list[str]
    labels: list[str]
    objects: list[list] = field(default_factory=list)  # each clip's ShapeSpecs


def binding_data(split: str, n: int, frames=BindConfig.frames, audio: bool = True) -> BindingData:
    """The first ``n`` sounding clips of ``split`` (``"pairs"``, ``"sounds"`` or ``"test"``), their frames
    ``frames`` and, if ``audio``, their log-mel spectrograms."""
    if split not in SPLIT_SEEDS:
        raise ValueError(f"unknown split {split!r}; choose one of {tuple(SPLIT_SEEDS)}")
    clips = [sounding_clip(SPLIT_SEEDS[split] + i) for i in range(n)]
    video = torch.from_numpy(np.stack([c.frames[list(frames)] for c in clips])).permute(0, 1, 4, 2, 3).contiguous()
    mel = log_mel(np.stack([c.audio for c in clips])) if audio else None
    return BindingData(video=video, mel=mel, captions=[c.caption for c in clips],
                       labels=[caption(c.objects) for c in clips], objects=[c.objects for c in clips])


class Binding(nn.Module):
    """The trained models: ``vision`` and ``text`` (the CLIP stage), their learnable ``text_scale``, and one
    audio encoder with its :class:`LogitScale` per :data:`AUDIO_VARIANTS` entry."""

    def __init__(self, config: BindConfig = BindConfig()):
        super().__init__()
        self.config = config
        self.vision = VisionEncoder(config.encoders)
        self.text = TextEncoder(config.encoders)
        self.text_scale = LogitScale(TEXT_TAU_INIT, learnable=True)
        self.audio = nn.ModuleDict({name: AudioEncoder(config.encoders) for name in AUDIO_VARIANTS})
        self.audio_scale = nn.ModuleDict({name: LogitScale(v["tau"], v["learnable"])
                                          for name, v in AUDIO_VARIANTS.items()})

    @property
    def device(self) -> torch.device:
        return self.text_scale.log_scale.device


def _video(x: torch.Tensor, device) -> torch.Tensor:
    return x.to(device).float() / 255


@torch.no_grad()
def embed(module: nn.Module, inputs, device, batch_size: int = 256, video: bool = False) -> torch.Tensor:
    """``(N, D)`` embeddings of ``inputs`` (a tensor, or a list of texts) in batches, in eval mode."""
    was = module.training
    module.eval()
    out = []
    for i in range(0, len(inputs), batch_size):
        chunk = inputs[i:i + batch_size]
        if isinstance(chunk, torch.Tensor):
            chunk = _video(chunk, device) if video else chunk.to(device)
        out.append(module(chunk))
    module.train(was)
    return torch.cat(out)


def _batches(n: int, batch_size: int, steps: int, generator: torch.Generator):
    """``steps`` index batches from shuffled epochs. A batch that straddles two epochs can hold an item twice (34
    repeats in 600 batches of 128 from 3,000 items: a false negative identical to its positive, rare enough)."""
    order = torch.empty(0, dtype=torch.long)
    for _ in range(steps):
        if len(order) < batch_size:
            order = torch.cat([order, torch.randperm(n, generator=generator)])
        yield order[:batch_size]
        order = order[batch_size:]


def train_vision_text(model: Binding, data: BindingData, steps: int, batch_size: int, lr: float, seed: int = 0,
                      progress: bool = False) -> list[float]:
    """The CLIP stage: vision, text and the text scale on (video, caption) pairs. Returns the loss per step."""
    device = model.device
    params = [*model.vision.parameters(), *model.text.parameters(), *model.text_scale.parameters()]
    optimiser = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    tokens = model.text.tokenize(data.captions)
    generator = torch.Generator().manual_seed(seed)
    history = []
    for idx in tqdm(_batches(len(data.video), batch_size, steps, generator), total=steps, disable=not progress,
                    desc="vision-text"):
        v = model.vision(_video(data.video[idx], device))
        t = model.text.encode_tokens({k: x[idx.to(x.device)] for k, x in tokens.items()})
        loss = symmetric_infonce(v, t, model.text_scale.scale)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        history.append(loss.item())
    return history


def train_audio(encoder: AudioEncoder, scale: LogitScale, mel: torch.Tensor, targets: torch.Tensor, steps: int,
                batch_size: int, lr: float, seed: int = 0, progress: bool = False) -> list[float]:
    """The binding stage: ``encoder`` (and ``scale`` if learnable) against frozen ``targets`` ``(N, D)`` (video or
    text embeddings of the same clips). Returns the loss per step."""
    device = scale.log_scale.device
    optimiser = torch.optim.AdamW([*encoder.parameters(), *scale.parameters()], lr=lr, weight_decay=0.01)
    generator = torch.Generator().manual_seed(seed)
    history = []
    for idx in tqdm(_batches(len(mel), batch_size, steps, generator), total=steps, disable=not progress,
                    desc="audio"):
        loss = symmetric_infonce(encoder(mel[idx].to(device)), targets[idx.to(targets.device)], scale.scale)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        history.append(loss.item())
    return history


def build_model(config: BindConfig = BindConfig(), device="cpu") -> Binding:
    """An untrained :class:`Binding`, initialised from ``config.seed`` (the caller's RNG untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = Binding(config)
    return model.to(device)


def train(model: Binding, pairs: BindingData, sounds: BindingData, vision_text_steps: int, audio_steps: int,
          batch_size: int = 128, lr: float = 1e-3, seed: int = 0, progress: bool = False) -> dict:
    """Train ``model`` in place: the CLIP stage on ``pairs`` (video, caption), then, with vision and text frozen,
    each audio variant on ``sounds`` (audio against video; ``supervised`` against caption). Returns the losses per
    step and the final temperatures."""
    device = model.device
    info = {"vision_text_loss": train_vision_text(model, pairs, vision_text_steps, batch_size, lr, seed, progress)}
    for module in (model.vision, model.text, model.text_scale):
        module.requires_grad_(False)
    frozen = {"video": embed(model.vision, sounds.video, device, video=True),
              "text": embed(model.text, sounds.captions, device)}
    for name, variant in AUDIO_VARIANTS.items():
        info[f"audio_loss_{name}"] = train_audio(model.audio[name], model.audio_scale[name], sounds.mel,
                                                 frozen[variant["against"]], audio_steps, batch_size, lr, seed,
                                                 progress)
    info["taus"] = {name: 1 / s.scale.item() for name, s in model.audio_scale.items()}
    info["text_tau"] = 1 / model.text_scale.scale.item()
    return info


def train_config(config: BindConfig = BindConfig(), device="cpu", progress: bool = False) -> tuple[Binding, dict]:
    """Build :class:`Binding` for ``config``, make its data and :func:`train` it: ``(model, info)``."""
    model = build_model(config, device)
    pairs = binding_data("pairs", config.pair_clips, config.frames, audio=False)
    sounds = binding_data("sounds", config.sound_clips, config.frames)
    info = train(model, pairs, sounds, config.vision_text_steps, config.audio_steps, config.batch_size, config.lr,
                 config.seed, progress)
    return model.eval(), info


def spec(config: BindConfig = BindConfig()) -> dict:
    """What decides the trained weights (its hash keys the checkpoint): the config, this code's version, the world's,
    and the course tokenizer's corpus (a new benchmark question may change its vocabulary)."""
    return {"config": config, "model_version": MODEL_VERSION, "world_version": WORLD_VERSION,
            "tokenizer": tt.corpus_hash(tt.corpus())}


def pretrained(config: BindConfig = BindConfig(), device="cpu", retrain: bool = False,
               progress: bool = True) -> Binding:
    """The course's binding models: the committed or cached checkpoint of ``config``, else trained (about 6 minutes
    on a 2-core CPU) and cached. In eval mode, frozen, with ``model.meta`` (losses, final temperatures, ``path``)."""
    def fit():
        return train_config(config, device, progress)

    def load(folder: Path) -> Binding:
        return load_weights(build_model(config, "cpu"), folder, device)

    model, meta = load_or_train(CHECKPOINT_NAME, spec(config), fit, save_weights, load, retrain=retrain)
    model.meta = meta
    return model.eval().requires_grad_(False)


def gallery(labels: list[str]) -> tuple[list[str], torch.Tensor]:
    """The distinct ``labels`` (first-seen order) and, for each item, the index of its label: ``(G texts,
    (N,) targets)``."""
    distinct = list(dict.fromkeys(labels))
    index = {label: i for i, label in enumerate(distinct)}
    return distinct, torch.tensor([index[label] for label in labels])


#: Held-out clips of the retrieval benchmark.
TEST_CLIPS = 500


@torch.no_grad()
def evaluate(model: Binding, test: BindingData | None = None, ks=(1, 5)) -> list[dict]:
    """Rows of the retrieval benchmark on ``test`` (default: the first :data:`TEST_CLIPS` of the test split):
    video-to-text (the CLIP stage), audio-to-text for each audio variant, and chance; each ``{"row", "trained on",
    "R@1", "R@5", "gallery"}``, recalls in percent."""
    test = test if test is not None else binding_data("test", TEST_CLIPS, model.config.frames)
    device = model.device
    texts, target = gallery(test.labels)
    text = embed(model.text, texts, device)
    rows = []
    video = embed(model.vision, test.video, device, video=True)
    recall = recall_at_k(similarity_logits(video, text, 1.0), target, ks)
    rows.append({"row": "video -> text (CLIP stage)", "trained on": "video-caption pairs",
                 **{f"R@{k}": 100 * r for k, r in recall.items()}})
    trained_on = {"emergent": "audio-video pairs only (tau 0.05 fixed)",
                  "learnable": "audio-video pairs only (tau learned from 0.07)",
                  "supervised": "audio-caption pairs (tau 0.05 fixed)"}
    for name in AUDIO_VARIANTS:
        audio = embed(model.audio[name], test.mel, device)
        recall = recall_at_k(similarity_logits(audio, text, 1.0), target, ks)
        rows.append({"row": f"audio -> text, {name}", "trained on": trained_on[name],
                     **{f"R@{k}": 100 * r for k, r in recall.items()}})
    rows.append({"row": "chance", "trained on": "-", **{f"R@{k}": 100 * chance_recall(len(texts), k) for k in ks}})
    for row in rows:
        row["gallery"] = len(texts)
    return rows


__all__ = ["AUDIO_VARIANTS", "BindConfig", "Binding", "BindingData", "CHECKPOINT_NAME", "MODEL_VERSION",
           "TEST_CLIPS", "binding_data", "build_model", "embed", "evaluate", "gallery", "pretrained", "spec", "train",
           "train_audio", "train_config", "train_vision_text"]
