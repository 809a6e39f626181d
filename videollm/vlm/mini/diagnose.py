"""Unit 05 — where the mini video LLM fails: its eyes or its language model?

The mini video LLM answers at chance whenever a question is about one object. Either the video tokens do not
carry the object (the eyes), or the language model does not learn to find, among all the video tokens, the one
that does (the lookup). A controlled test tells the two apart on the easiest clips the world can make, one object
in front of a background (:func:`one_object_batch`). A language model trained from scratch learns to write their
captions ("In front of a cat: the red triangle.") by the alignment stage (:func:`videollm.vlm.mini.align.align`),
and :func:`colour_readout` asks which colour it writes. The alignment runs twice (:func:`lookup`):

- ``eyes="truth"``: the merger's output replaced by tokens made from the renderer's labels (:class:`TruthEyes`:
  each token holds the word embeddings of the colours it shows, weighted by their share of its pixels, plus one
  fixed vector per background) — perfect, frozen eyes;
- ``eyes="tower"``: the real vision tower after stage 1 (:func:`videollm.vlm.mini.sight.pretrain_vision`),
  frozen, its merger trained with the language model, as in stage 2.

If the language model learns the colours with perfect eyes and not with the tower's, the eyes are what is missing.

Lecture: `lectures/05_llava_ov_qwen2_vl.ipynb` §12.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import replace

import numpy as np
import torch

from videollm.vlm.mini.align import align, caption_batch
from videollm.vlm.mini.batches import video_pixels
from videollm.vlm.mini.data import Batch, scene_example
from videollm.vlm.mini.model import MiniVLMConfig, build_model
from videollm.vlm.mini.sight import targets, token_shares, vision_stage, word_ids
from videollm.world.scenarios import SCENE_BACKGROUNDS
from videollm.world.scenes import TEXTURES, TOPICS, SceneBuilder
from videollm.world.shapes import COLOR_NAMES, SHAPES

#: How strongly a ground-truth token holds its colour words, against its background vector.
SCALE = 3.0
EYES = ("truth", "tower")


def one_object_scene(rng: np.random.Generator, num_frames: int = 32):
    """A scene of ``num_frames`` frames (4 fps, 96x128) with one object bouncing in front of one of the suites'
    backgrounds: a random shape, colour and texture, 14-20 pixels, as the suites' objects are."""
    b = SceneBuilder(num_frames, 4.0, 96, 128, str(rng.choice(SCENE_BACKGROUNDS)), rng)
    size = int(rng.integers(14, 21))
    margin = size // 2 + 1
    velocity = rng.integers(-2, 3, size=2)
    b.add_object(str(rng.choice(SHAPES)), str(rng.choice(COLOR_NAMES)), size,
                 (int(rng.integers(margin, 128 - margin)), int(rng.integers(margin + 10, 96 - margin))),
                 (int(velocity[0]), int(velocity[1])), texture=str(rng.choice(TEXTURES, p=[0.5, 0.25, 0.25])))
    return b.build()


def one_object_batch(config: MiniVLMConfig, batch_size: int, seed) -> Batch:
    """``batch_size`` one-object clips of ``config.num_frames`` frames (:func:`one_object_scene`), with their labels
    and captions (:class:`~videollm.vlm.mini.data.Batch`, no question records); all from
    ``np.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    parts = [scene_example(one_object_scene(rng), config.num_frames, config.size, config.patch_size)
             for _ in range(batch_size)]
    frames, color, shape, background, captions = zip(*parts)
    return Batch(torch.stack(frames), torch.stack(color), torch.stack(shape), torch.stack(background), [],
                 list(captions))


def object_colours(batch: Batch) -> list[str]:
    """The colour name of each clip's object (the colour that covers the most pixels over its frames)."""
    return [COLOR_NAMES[int(i)] for i in batch.color[..., 1:].sum((1, 2, 3)).argmax(-1)]


def background_vectors(model, processor) -> torch.Tensor:
    """``(backgrounds, hidden)``: per background the mean word embedding of its phrase ("a cup of coffee")."""
    tok, embed = processor.tokenizer, model.get_input_embeddings().weight.detach()
    return torch.stack([embed[tok(" " + TOPICS[k], add_special_tokens=False).input_ids].mean(0) for k in TOPICS])


def truth_tokens(batch: Batch, merge: int, colour_words: torch.Tensor, backgrounds: torch.Tensor,
                 scale: float = SCALE) -> torch.Tensor:
    """``(B * T/2 * gh/merge * gw/merge, hidden)``, in the merger's output order: per merged token, ``scale`` times
    the share of its pixels of each colour times that colour word's embedding (``colour_words`` ``(colours,
    hidden)``), plus the vector of its background (``backgrounds`` ``(backgrounds, hidden)``)."""
    target = targets(batch, merge)
    shares = token_shares(target["color"], merge)[:, 1:].to(colour_words)  # (N, colours)
    background = target["background"].view(-1, merge * merge, 2)[:, 0, 0]
    return scale * shares @ colour_words + backgrounds[background]


class TruthEyes:
    """Perfect eyes: while entered, the vision tower's merger outputs the ground-truth tokens
    (:func:`truth_tokens`) of the batch last given to :meth:`show`, built from the word embeddings as they are
    when the eyes are made (frozen, so the language model cannot bend them its way)."""

    def __init__(self, model, processor, scale: float = SCALE):
        embed = model.get_input_embeddings().weight.detach().clone()
        self.model, self.scale = model, scale
        self.merge = model.model.visual.spatial_merge_size
        self.colour_words = embed[word_ids(processor)["color"]]
        self.backgrounds = background_vectors(model, processor)
        self.tokens: torch.Tensor | None = None
        self._handle = None

    def show(self, batch: Batch, repeat: int = 1) -> None:
        """The tokens of ``batch``'s clips, each clip's repeated ``repeat`` times in a row (clip 0 ``repeat``
        times, then clip 1, ...), as a batch of several texts about each clip lists its videos."""
        tokens = truth_tokens(batch, self.merge, self.colour_words, self.backgrounds, self.scale)
        self.tokens = tokens.view(len(batch.frames), -1, tokens.shape[-1]).repeat_interleave(repeat, 0).flatten(0, 1)

    def _hook(self, module, inputs, output):
        if self.tokens is None or self.tokens.shape != output.shape:
            raise ValueError(f"TruthEyes: the merger makes {tuple(output.shape)} tokens but the batch shown has "
                             f"{None if self.tokens is None else tuple(self.tokens.shape)}: show() the batch first")
        return self.tokens.to(output.device, output.dtype)

    def __enter__(self):
        self._handle = self.model.model.visual.merger.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc):
        self._handle.remove()


@torch.no_grad()
def colour_readout(model, processor, batch: Batch, eyes: TruthEyes | None = None) -> float:
    """The share (%) of ``batch``'s one-object clips whose caption the model finds likeliest with the object's true
    colour: each caption is scored (summed log-likelihood of its tokens) with every colour word in the object's
    colour's place. Chance is ``100 / len(COLOR_NAMES)``. With ``eyes``, the ground-truth tokens stand in for the
    tower's (``eyes`` must be entered)."""
    truth = object_colours(batch)
    k = len(COLOR_NAMES)
    texts = [text.replace(f"the {colour} ", f"the {c} ") for text, colour in zip(batch.captions, truth)
             for c in COLOR_NAMES]
    pixels, grid = video_pixels(processor, batch.frames)
    pixels = pixels.view(len(truth), -1, pixels.shape[-1]).repeat_interleave(k, 0).flatten(0, 1)
    inputs = caption_batch(processor, texts, pixels, grid.repeat_interleave(k, 0))
    labels = inputs.pop("labels").to(model.device)
    if eyes is not None:
        saved = eyes.tokens
        eyes.show(batch, repeat=k)
    try:
        logits = model(**{name: v.to(model.device) for name, v in inputs.items()}).logits[:, :-1]
    finally:
        if eyes is not None:
            eyes.tokens = saved
    target = labels[:, 1:]
    scored = target != -100
    logp = logits.log_softmax(-1).gather(-1, target.clamp_min(0)[..., None])[..., 0]
    best = (logp * scored).sum(1).view(len(truth), k).argmax(1)
    return 100 * float(np.mean([COLOR_NAMES[int(i)] == c for i, c in zip(best, truth)]))


def lookup(config: MiniVLMConfig = MiniVLMConfig(), eyes: str = "truth", steps: int = 600, every: int = 100,
           num_frames: int = 2, clips: int = 48, seed: int = 0, device="cpu", progress: bool = False) -> dict:
    """Train a new language model of ``config`` to caption one-object clips of ``num_frames`` frames by the
    alignment stage (``steps`` steps of ``config.align_batch`` clips at ``config.align_lr``), seeing them through
    ``eyes`` (``"truth"``: :class:`TruthEyes`; ``"tower"``: the vision tower after ``config.sight_steps`` steps of
    stage 1 on the suites' scenes), and read the colours it writes (:func:`colour_readout` on ``clips`` held-out
    clips) every ``every`` steps.

    Returns:
        ``{"step": [...], "readout": [...] (%), "loss": [...] (alignment loss per step)}``.
    """
    if eyes not in EYES:
        raise ValueError(f"eyes must be one of {EYES}; got {eyes!r}")
    if steps < 1 or every < 1:
        raise ValueError(f"steps and every must be >= 1; got {steps}, {every}")
    model, processor = build_model(config, device)
    if eyes == "tower" and config.sight_steps:
        vision_stage(model, processor, config, device=device)
    short = replace(config, num_frames=num_frames)
    held_out = one_object_batch(short, clips, [seed, 1])
    truth = TruthEyes(model, processor) if eyes == "truth" else None
    out: dict[str, list] = {"step": [], "readout": []}

    def read(step: int) -> None:
        was = model.training
        out["step"].append(step)
        out["readout"].append(colour_readout(model.eval(), processor, held_out, truth))
        model.train(was)

    def batches():
        for i in range(steps):
            if i % every == 0:
                read(i)
            batch = one_object_batch(short, config.align_batch, [seed, 0, i])
            if truth is not None:
                truth.show(batch)
            yield batch

    with truth if truth is not None else nullcontext():
        history = align(model, processor, batches(), steps, lr=config.align_lr, device=device, progress=progress)
        read(steps)
    out["loss"] = history["loss"]
    return out
