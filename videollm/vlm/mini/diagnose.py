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

A caption of one object needs no more than *which* colour is in the clip. The suites' questions need the lookup
proper ("What colour is the triangle?" among several objects, a count, an order): :func:`perfect_eyes` trains
stages 2 and 3 of the recipe through perfect eyes that hold the shape words too (weighted by area or at full
strength, ``presence``) and scores the suites through them: what the recipe's language side can reach when the
eyes cannot fail.

Lecture: `lectures/05_llava_ov_qwen2_vl.ipynb` §12.
"""

from __future__ import annotations

import hashlib
from contextlib import nullcontext
from dataclasses import replace

import numpy as np
import torch

from videollm.vlm.mini.align import align, caption_batch
from videollm.vlm.mini.batches import shared_video_features, video_pixels
from videollm.vlm.mini.data import Batch, scenes_batch
from videollm.vlm.mini.evaluate import results_table
from videollm.vlm.mini.model import SUITE_NAMES, MiniVLMConfig, build_model
from videollm.vlm.mini.sight import targets, token_shares, vision_stage, word_ids
from videollm.vlm.mini.train import train_stages
from videollm.world.scenarios import Context, add_mover
from videollm.world.scenes import TOPICS
from videollm.world.shapes import COLOR_NAMES
from videollm.world.suites import load_questions, scene_for

#: How strongly a ground-truth token holds its colour words, against its background vector.
SCALE = 3.0
EYES = ("truth", "tower")


def one_object_scene(rng: np.random.Generator, num_frames: int = 32):
    """A scene of ``num_frames`` frames (4 fps, 96x128) with one object bouncing in front of one of the suites'
    backgrounds, made as the suites make theirs (:func:`videollm.world.scenarios.add_mover`: a random shape,
    colour and texture, 14-20 pixels)."""
    ctx = Context(rng, num_options=1, seconds=num_frames / 4.0)
    b = ctx.builder()
    add_mover(b, rng, ctx, str(rng.choice(COLOR_NAMES)))
    return b.build()


def one_object_batch(config: MiniVLMConfig, batch_size: int, seed) -> Batch:
    """``batch_size`` one-object clips of ``config.num_frames`` frames (:func:`one_object_scene`), with their labels
    and captions (:class:`~videollm.vlm.mini.data.Batch`, no question records); all from
    ``np.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    scenes = [one_object_scene(rng) for _ in range(batch_size)]
    return scenes_batch(scenes, [], config.num_frames, config.size, config.patch_size)


def object_colours(batch: Batch) -> list[str]:
    """The colour name of each clip's object (the colour that covers the most pixels over its frames)."""
    return [COLOR_NAMES[int(i)] for i in batch.color[..., 1:].sum((1, 2, 3)).argmax(-1)]


def background_vectors(model, processor) -> torch.Tensor:
    """``(backgrounds, hidden)``: per background the mean word embedding of its phrase ("a cup of coffee")."""
    tok, embed = processor.tokenizer, model.get_input_embeddings().weight.detach()
    return torch.stack([embed[tok(" " + TOPICS[k], add_special_tokens=False).input_ids].mean(0) for k in TOPICS])


def truth_tokens(batch: Batch, merge: int, colour_words: torch.Tensor, backgrounds: torch.Tensor,
                 scale: float = SCALE, shape_words: torch.Tensor | None = None, presence: bool = False) -> torch.Tensor:
    """``(B * T/2 * gh/merge * gw/merge, hidden)``, in the merger's output order: per merged token, ``scale`` times
    the share of its pixels of each colour times that colour word's embedding (``colour_words`` ``(colours,
    hidden)``), plus the vector of its background (``backgrounds`` ``(backgrounds, hidden)``); with
    ``shape_words`` ``(shapes + 1, hidden)`` (the shape words, then "sign"), the same for the shapes too.

    ``presence``: every token an object touches holds its words at full weight (the shares renormalised over the
    token's object pixels), instead of in proportion to the area the object covers. The suites' objects cover a
    few percent of a merged token (median colour share 0.08 on the attribute questions), so area-weighted words
    are faint against the background vector."""
    target = targets(batch, merge)
    background = target["background"].view(-1, merge * merge, 2)[:, 0, 0]
    tokens = backgrounds[background].clone()
    for key, words in (("color", colour_words), ("shape", shape_words)):
        if words is not None:
            shares = token_shares(target[key], merge)[:, 1:].to(words)  # (N, classes)
            if presence:
                shares = shares / shares.sum(-1, keepdim=True).clamp_min(1e-6)
            tokens = tokens + scale * shares @ words
    return tokens


def _clip_keys(pixels: torch.Tensor, grid_thw: torch.Tensor) -> list[bytes]:
    """One key per video of a vision-tower call: a digest of its grid and its processed pixels ``(t*h*w, dim)``.
    The pixels are copied to the host: a diagnostic's cost, not a training path's."""
    rows = pixels.detach().cpu().split(grid_thw.prod(-1).tolist())
    return [hashlib.blake2b(bytes(str(g), "ascii") + r.contiguous().view(-1).view(torch.uint8).numpy().tobytes(),
                            digest_size=16).digest()
            for g, r in zip(grid_thw.tolist(), rows)]


class TruthEyes:
    """Perfect eyes: while entered, the vision tower's merger outputs, for every clip it has been shown
    (:meth:`show`), the ground-truth tokens of that clip (:func:`truth_tokens`), built from the word embeddings as
    they are when the eyes are made (frozen, so the language model cannot bend them its way).

    The eyes recognise a clip by its pixels (a digest of what the processor makes of its frames), so any code
    that runs the real forward (training stages, option scoring, ``model.generate``) sees through them, in any
    batch order and with clips repeated. A clip they were not shown is an error. ``shapes``: the tokens hold the
    shape words too (the suites' questions name shapes), else only the colours (the captions' readout);
    ``presence``: each word at full weight wherever its object is (:func:`truth_tokens`).
    """

    def __init__(self, model, processor, scale: float = SCALE, shapes: bool = False, presence: bool = False):
        embed = model.get_input_embeddings().weight.detach().clone()
        self.model, self.processor, self.scale, self.presence = model, processor, scale, presence
        self.merge = model.model.visual.spatial_merge_size
        words = word_ids(processor)
        self.colour_words = embed[words["color"]]
        self.shape_words = embed[words["shape"]] if shapes else None
        self.backgrounds = background_vectors(model, processor)
        self.known: dict[bytes, torch.Tensor] = {}
        self._keys: list[bytes] | None = None  # the clips of the vision-tower call under way
        self._handles = []

    def show(self, batch: Batch, add: bool = False) -> None:
        """Learn the tokens of ``batch``'s clips (replacing the clips shown before, unless ``add``)."""
        tokens = truth_tokens(batch, self.merge, self.colour_words, self.backgrounds, self.scale, self.shape_words,
                              self.presence)
        pixels, grid = video_pixels(self.processor, batch.frames)
        pixels = pixels.to(self.model.model.visual.dtype)  # as the model casts them before its tower sees them
        if not add:
            self.known = {}
        self.known.update(zip(_clip_keys(pixels, grid), tokens.view(len(batch.frames), -1, tokens.shape[-1])))

    def showing(self, batches):
        """Each batch of the iterator ``batches``, shown (:meth:`show`) as it is drawn."""
        for batch in batches:
            self.show(batch)
            yield batch

    def _see(self, module, args, kwargs):
        pixels = args[0] if args else kwargs["hidden_states"]
        grid = kwargs["grid_thw"] if "grid_thw" in kwargs else args[1]
        self._keys = _clip_keys(pixels, grid)

    def _hook(self, module, inputs, output):
        keys, self._keys = self._keys, None
        if keys is None:
            raise ValueError("TruthEyes: the merger was called outside a call of the vision tower; call the tower "
                             "(model.model.visual or get_video_features), which the eyes watch")
        missing = sum(key not in self.known for key in keys)
        if missing:
            raise ValueError(f"TruthEyes: {missing} of the {len(keys)} clips reaching the vision tower were never "
                             "shown: show() their batch first (with the frames as the model gets them: the same "
                             "processor, frame count and dtype)")
        tokens = torch.cat([self.known[key] for key in keys])
        if tokens.shape != output.shape:
            raise ValueError(f"TruthEyes: the merger makes {tuple(output.shape)} tokens but the clips' ground truth "
                             f"has {tuple(tokens.shape)}: show() the batch with its own frame count")
        return tokens.to(output.device, output.dtype)

    def __enter__(self):
        if self._handles:
            raise RuntimeError("TruthEyes are already entered; enter them once at a time")
        visual = self.model.model.visual
        self._handles = [visual.register_forward_pre_hook(self._see, with_kwargs=True),
                         visual.merger.register_forward_hook(self._hook)]
        return self

    def __exit__(self, *exc):
        for handle in self._handles:
            handle.remove()
        self._handles, self._keys = [], None


@torch.no_grad()
def colour_readout(model, processor, batch: Batch) -> float:
    """The share (%) of ``batch``'s one-object clips whose caption the model finds likeliest with the object's true
    colour: each caption is scored (summed log-likelihood of its tokens) with every colour word in the object's
    colour's place. Chance is ``100 / len(COLOR_NAMES)``. Under entered :class:`TruthEyes` that were shown the
    batch, the ground-truth tokens stand in for the tower's."""
    truth = object_colours(batch)
    k = len(COLOR_NAMES)
    texts = [text.replace(f"the {colour} ", f"the {c} ") for text, colour in zip(batch.captions, truth)
             for c in COLOR_NAMES]
    pixels, grid = video_pixels(processor, batch.frames)
    rows = torch.arange(len(truth)).repeat_interleave(k)  # the tower runs once a clip, its tokens serve k rows
    video = shared_video_features(model, pixels.to(model.device), grid.to(model.device), rows)
    inputs = caption_batch(processor, texts, pixels, grid[rows])
    labels = inputs.pop("labels").to(model.device)
    logits = model(**{name: v.to(model.device) for name, v in inputs.items() if name != "pixel_values_videos"},
                   mm_encoder_outputs={"video": video}).logits[:, :-1]
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
        if truth is not None:
            truth.show(held_out, add=True)  # with the batch being trained on
        was = model.training
        out["step"].append(step)
        out["readout"].append(colour_readout(model.eval(), processor, held_out))
        model.train(was)

    def batches():
        for i in range(steps):
            if i % every == 0:
                read(i)
            yield one_object_batch(short, config.align_batch, [seed, 0, i])

    with truth if truth is not None else nullcontext():
        history = align(model, processor, truth.showing(batches()) if truth is not None else batches(), steps,
                        lr=config.align_lr, device=device, progress=progress)
        read(steps)
    out["loss"] = history["loss"]
    return out


def question_batch(records: list[dict], config: MiniVLMConfig) -> Batch:
    """The scenes of question ``records`` (:func:`videollm.world.suites.scene_for`), ``config.num_frames`` frames
    each with their labels: the clips the suites' questions are about, ready for :meth:`TruthEyes.show`."""
    return scenes_batch([scene_for(r) for r in records], list(records), config.num_frames, config.size,
                        config.patch_size)


def perfect_eyes(config: MiniVLMConfig = MiniVLMConfig(), presence: bool = True, split: str = "test",
                 suites=SUITE_NAMES, modes=("scores",), workers: int = 1, device="cpu", progress: bool = False):
    """The recipe's ceiling on the suites: a new language model trained by stages 2 and 3 of ``config``
    (:func:`~videollm.vlm.mini.train.train_stages`, the same scenes, steps and rates) through perfect eyes
    (:class:`TruthEyes` with colour and shape words, at full weight wherever an object is if ``presence``, else
    in proportion to its area; no stage 1, the eyes are given), then scored on the questions of ``split``
    through them (:func:`~videollm.vlm.mini.evaluate.results_table`).

    What the frames hold that the tokens do not (the words on signs and cards, how an object moves within a
    token) stays out of reach, as do subtitles (never given to the model); what the questions ask about colours,
    shapes, counts and order is in the tokens, so where this model answers at chance the language model has not
    learned the question from these tokens.

    Returns:
        ``(rows, markdown, history)``: the results table (with random, blind and the frame-limited oracle) and
        the stages' history.
    """
    if not config.fresh:
        raise ValueError("perfect eyes need the labels of fresh scenes: use a config with fresh=True")
    config = replace(config, sight_steps=0)  # the eyes are given, not learned
    model, processor = build_model(config, device)
    model.mini_vlm_config = config
    eyes = TruthEyes(model, processor, shapes=True, presence=presence)
    with eyes:
        history = train_stages(model, processor, config, device, progress, workers, through=eyes.showing)
        for suite in suites:
            eyes.show(question_batch(load_questions(suite, split), config), add=True)
        rows, table = results_table(model, processor, split, suites=suites, modes=modes)
    return rows, table, history
