"""Unit 03 — training and evaluating the early-fusion models, and their cached checkpoints.

- :class:`FusionConfig` names everything that decides a trained model; :func:`spec` adds the versions (its hash
  keys the checkpoint).
- :func:`prepare` turns a suite split into model inputs: the clips' frames (``videollm.world.qa_frames``), the prompt
  ids with the visual tokens in place, and the ids of every option's answer.
- :func:`train` fits the model on the training split: cross-entropy on the answer tokens only.
- :func:`predict` answers multiple-choice questions by the likelihood of each option's text (as lmms-eval's
  log-likelihood tasks do) and :func:`evaluate` scores the letters with :mod:`videollm.eval`, per task, with the
  random baseline next to it.
- :func:`pretrained` loads a style's checkpoint through :func:`videollm.cache.load_or_train`, else trains and caches it.

Command line::

    $ python -m videollm.fusion.train build [--style non_tokenised|tokenised] [--force]
    $ python -m videollm.fusion.train commit  # copy them to data/weights/, committed with the course
    $ python -m videollm.fusion.train evaluate [--split test]

Lecture: `lectures/03_early_fusion.ipynb` §6–8.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from videollm.cache import commit_command, load_or_train, load_weights, save_weights
from videollm.choices import LETTERS
from videollm.eval.likelihood import answer_log_likelihood, option_table
from videollm.eval.metrics import accuracy_table, score
from videollm.fusion import model as fu
from videollm.vq import train as vq_train
from videollm.world.qa_frames import data_version, frame_set
from videollm.world.text_tokenizer import course_tokenizer

#: Bump when the model, the data or the training loop change what a config trains to.
MODEL_VERSION = 1


@dataclass(frozen=True)
class FusionConfig:
    """Everything that decides a trained early-fusion model (hashed by :func:`config_hash`)."""

    style: str = "non_tokenised"             # one of videollm.fusion.model.STYLES
    suite: str = "mlvu"                      # MLVU-like: 60 training questions per task, 50 held-out (6 options)
    tasks: tuple[str, ...] = ("count", "needle", "order", "topic")
    num_frames: int = 8
    image_size: int = 32                     # the unit 02 VQ-VAE's frame size; both styles see the same frames
    patch_size: int = 8                      # non-tokenised: (32/8)^2 = 16 patch tokens per frame
    pool: int = 1                            # average-pool the patch grid (pool=2: 4 tokens per frame)
    feature_dim: int = 64                    # patch-embedding width (the projector's input)
    hidden: int = 64
    layers: int = 2
    heads: int = 4
    kv_heads: int = 2
    intermediate: int = 128
    steps: int = 300
    batch_size: int = 16
    lr: float = 3e-3
    weight_decay: float = 0.01
    flip: bool = True                        # augment with mirrored clips (colours and counts do not change)
    shuffle_frames: bool = True              # augment with reordered frames (neither does the frame order)
    list_options: bool = False               # list the options in the prompt (each option is scored anyway)
    seed: int = 0


def spec(config: FusionConfig) -> dict:
    """What decides a trained model: the config, :data:`MODEL_VERSION`, the version of its data
    (:func:`videollm.world.qa_frames.data_version`) and (tokenised) the VQ-VAE's own spec."""
    spec: dict[str, Any] = {"config": config, "model_version": MODEL_VERSION, "data": data_version()}
    if config.style == "tokenised":
        spec["vqvae"] = vq_train.spec()
    return spec


def _tokenizer():
    return course_tokenizer()


def _special_id(tokenizer, token: str) -> int:
    ids = tokenizer.convert_tokens_to_ids(token)
    if ids is None or ids == tokenizer.unk_token_id:
        raise ValueError(f"the tokenizer has no special token {token}")
    return int(ids)


def _encode(tokenizer, text: str) -> Tensor:
    return torch.tensor(tokenizer(text, add_special_tokens=False)["input_ids"], dtype=torch.long)


# --------------------------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------------------------
@dataclass
class FusionData:
    """Model inputs of one split.

    ``records`` (question dicts), ``clips`` ``(N, T, 3, H, W)`` float in [0, 1], ``codes`` ``(V, N, T, h, w)`` int64
    VQ codes of the clip (``V = 2``: the clip and its mirror image; tokenised style only), ``text_ids[i]`` the
    prompt ids of question ``i`` with its one placeholder, ``options[i][k]`` the answer ids of option ``k``,
    ``answers`` ``(N,)`` int64 and ``tokens_per_clip`` (visual tokens per clip)."""

    records: list[dict]
    clips: Tensor
    text_ids: list[Tensor]
    options: list[list[Tensor]]
    answers: Tensor
    tokens_per_clip: int
    placeholder_id: int
    text_vocab_size: int
    codes: Tensor | None = None


def load_frames(config: FusionConfig, split: str) -> tuple[Tensor, list[dict]]:
    """``(N, T, 3, H, W)`` float in [0, 1] frames of the config's questions of ``split`` and their records."""
    fs = frame_set(config.suite, split, num_frames=config.num_frames, size=(config.image_size, config.image_size),
                   tasks=list(config.tasks))
    return fs.frames.float() / 255.0, list(fs.records)


@torch.no_grad()
def vq_codes(clips: Tensor, vqvae=None, batch_size: int = 256) -> Tensor:
    """Unit 02 VQ-VAE codes of clips: ``(N, T, 3, 32, 32)`` float -> ``(N, T, 8, 8)`` int64."""
    if vqvae is None:
        vqvae = vq_train.pretrained(progress=False)
    flat = clips.flatten(0, 1).to(vqvae.device)
    codes = torch.cat([vqvae.tokenize(flat[i:i + batch_size]) for i in range(0, len(flat), batch_size)])
    return codes.cpu().unflatten(0, clips.shape[:2]).long()


def tokens_per_clip(config: FusionConfig) -> int:
    """Visual tokens one clip costs: ``T * (S/patch/pool)^2`` (non-tokenised) or ``T * (S/4)^2`` VQ codes."""
    if config.style == "tokenised":
        return config.num_frames * (config.image_size // 4) ** 2
    side = config.image_size // config.patch_size // config.pool
    return config.num_frames * side * side


def prepare(config: FusionConfig, split: str, tokenizer=None, vqvae=None) -> FusionData:
    """Frames (and VQ codes), prompt ids and option answer ids for ``config``'s questions of ``split``."""
    tokenizer = tokenizer or _tokenizer()
    clips, records = load_frames(config, split)
    codes = None
    if config.style == "tokenised":
        if vqvae is None:
            vqvae = vq_train.pretrained(progress=False)
        codes = torch.stack([vq_codes(clips, vqvae), vq_codes(clips.flip(-1), vqvae)])
    text_ids, options, answers = [], [], []
    for r in records:
        text_ids.append(_encode(tokenizer, fu.prompt_text(r["question"], r["options"] if config.list_options else None)))
        options.append([_encode(tokenizer, fu.answer_text(o)) for o in r["options"]])
        answers.append(LETTERS.index(r["answer"]))
    return FusionData(records, clips, text_ids, options, torch.tensor(answers), tokens_per_clip(config),
                      _special_id(tokenizer, fu.PLACEHOLDER), len(tokenizer), codes)


# --------------------------------------------------------------------------------------------------------------
# model
# --------------------------------------------------------------------------------------------------------------
def build_model(config: FusionConfig, tokenizer=None, device="cpu", num_codes: int = 256) -> fu.EarlyFusionLM:
    """An untrained :class:`~videollm.fusion.model.EarlyFusionLM` for ``config``, seeded by ``config.seed``."""
    if config.style not in fu.STYLES:
        raise ValueError(f"unknown style {config.style!r}; choose one of {fu.STYLES}")
    tokenizer = tokenizer or _tokenizer()
    text_vocab = len(tokenizer)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        lm = fu.tiny_lm(text_vocab, config.hidden, config.layers, config.heads, config.kv_heads, config.intermediate,
                        max_positions=2048, seed=config.seed)
        encoder = projector = None
        if config.style == "tokenised":
            lm.resize_token_embeddings(text_vocab + num_codes, mean_resizing=False)
        else:
            encoder = fu.FrameEncoder(config.image_size, config.patch_size, config.feature_dim, config.pool)
            projector = fu.Projector(config.feature_dim, config.hidden)
    model = fu.EarlyFusionLM(lm, config.style, _special_id(tokenizer, fu.PLACEHOLDER), text_vocab, encoder, projector)
    return model.to(device)


def _batch(data: FusionData, index: Tensor, option: Tensor, pad_id: int, style: str,
           flip: Tensor | None = None, order: Tensor | None = None, device="cpu") -> dict[str, Tensor]:
    """A padded batch of questions ``index`` answered with options ``option``; ``flip`` ``(B,)`` bool mirrors
    clips, ``order`` ``(B, T)`` reorders their frames (augmentation)."""
    B = len(index)
    flip = torch.zeros(B, dtype=torch.bool) if flip is None else flip
    clips = data.clips[index]
    clips = torch.where(flip.view(-1, 1, 1, 1, 1), clips.flip(-1), clips)
    if order is not None:
        clips = clips[torch.arange(B)[:, None], order]
    if style == "tokenised":
        codes = data.codes[flip.long(), index]                        # (B, T, h, w)
        if order is not None:
            codes = codes[torch.arange(B)[:, None], order]
        prompts = [fu.insert_visual_tokens(data.text_ids[int(i)], data.placeholder_id,
                                           fu.vq_token_ids(c, data.text_vocab_size)) for i, c in zip(index, codes)]
    else:
        prompts = [fu.expand_placeholders(data.text_ids[int(i)], data.placeholder_id, data.tokens_per_clip)
                   for i in index]
    answers = [data.options[int(i)][int(k)] for i, k in zip(index, option)]
    batch = fu.make_batch(prompts, answers, pad_id)
    batch["clips"] = clips
    return {k: t.to(device) for k, t in batch.items()}


def _forward(model: fu.EarlyFusionLM, batch: dict[str, Tensor]):
    clips = batch["clips"] if model.style == "non_tokenised" else None
    return model(batch["input_ids"], batch["attention_mask"], clips=clips, labels=batch["labels"])


def train(model: fu.EarlyFusionLM, data: FusionData, config: FusionConfig, pad_id: int, device="cpu",
          progress: bool = False) -> dict[str, list[float]]:
    """AdamW on the answer tokens' cross-entropy for ``config.steps`` steps (cosine schedule, seeded batches).

    Returns the history ``{"loss": [...]}`` (one value per step)."""
    model.to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 20) * 0.5 * (1 + math.cos(math.pi * min(s, config.steps) / config.steps)))
    gen = torch.Generator().manual_seed(config.seed)
    n, T = data.clips.shape[:2]
    history: dict[str, list[float]] = {"loss": []}
    steps = range(config.steps)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc=f"training {config.style}", leave=False)
    for _ in steps:
        index = torch.randint(n, (config.batch_size,), generator=gen)
        flip = torch.rand(config.batch_size, generator=gen) < 0.5 if config.flip else None
        order = (torch.rand(config.batch_size, T, generator=gen).argsort(1) if config.shuffle_frames else None)
        batch = _batch(data, index, data.answers[index], pad_id, model.style, flip, order, device)
        loss = _forward(model, batch).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        history["loss"].append(float(loss.detach()))
    return history


@torch.no_grad()
def option_scores(model: fu.EarlyFusionLM, data: FusionData, pad_id: int, device="cpu",
                  batch_size: int = 32) -> Tensor:
    """``(N, k_max)`` summed log-probabilities of each option's answer tokens (``-inf`` where a question has
    fewer options), as :func:`videollm.eval.likelihood.option_table` lays them out."""
    model.to(device).eval()
    pairs = torch.tensor([(i, k) for i in range(len(data.records)) for k in range(len(data.options[i]))])
    scores = torch.empty(len(pairs))
    for s in range(0, len(pairs), batch_size):
        chunk = pairs[s:s + batch_size]
        batch = _batch(data, chunk[:, 0], chunk[:, 1], pad_id, model.style, device=device)
        logits = _forward(model, {**batch, "labels": None}).logits
        scores[s:s + len(chunk)] = answer_log_likelihood(logits, batch["labels"]).cpu()
    return option_table(scores, pairs[:, 0], pairs[:, 1], len(data.records))


def predict(model: fu.EarlyFusionLM, data: FusionData, pad_id: int, device="cpu") -> dict[str, str]:
    """``{question id: letter}``: the option whose answer text the model finds most likely."""
    scores = option_scores(model, data, pad_id, device)
    return {r["id"]: LETTERS[int(s.argmax())] for r, s in zip(data.records, scores)}


def evaluate(model: fu.EarlyFusionLM, data: FusionData, pad_id: int, device="cpu") -> dict:
    """Accuracy per task and overall (%), the random baseline (%), and tokens per clip, scored by videollm.eval."""
    predictions = predict(model, data, pad_id, device)
    table = accuracy_table(score(data.records, {q: {"prediction": p} for q, p in predictions.items()}))
    per_task = {row["task"]: {"accuracy": row["accuracy"], "random": row["chance"], "n": row["n"]}
                for row in table["rows"]}
    overall = table["overall"]
    return {"style": model.style, "accuracy": overall["accuracy"], "random": overall["chance"], "n": overall["n"],
            "tasks": per_task, "visual_tokens_per_clip": data.tokens_per_clip,
            "sequence_tokens": float(sum(len(p) for p in data.text_ids) / len(data.text_ids)) - 1 + data.tokens_per_clip,
            "predictions": predictions}


# --------------------------------------------------------------------------------------------------------------
# the cached checkpoints
# --------------------------------------------------------------------------------------------------------------
def checkpoint_name(style: str) -> str:
    """The folder name of a style's checkpoint, before its config hash (data/cache/checkpoints/, data/weights/)."""
    return f"fusion-{style}"


def default_config(style: str) -> FusionConfig:
    """The course's config of each style."""
    if style not in fu.STYLES:
        raise ValueError(f"unknown style {style!r}; choose one of {fu.STYLES}")
    return FusionConfig(style=style)


def train_config(config: FusionConfig, device="cpu", progress: bool = False) -> tuple[fu.EarlyFusionLM, dict]:
    """Build and train the model of ``config`` on its style's training questions: ``(model, history)``."""
    tokenizer = _tokenizer()
    model = build_model(config, tokenizer, device)
    history = train(model, prepare(config, "train", tokenizer), config, tokenizer.pad_token_id, device,
                    progress=progress)
    return model, history


def pretrained(config: FusionConfig | str = "non_tokenised", device="cpu", retrain: bool = False,
               progress: bool = True) -> fu.EarlyFusionLM:
    """The course's trained early-fusion model: loaded from the cache, else trained and cached
    (:func:`videollm.cache.load_or_train`).

    Args:
        config: a :class:`FusionConfig`, or a style name for the course's config of that style
            (:func:`default_config`).

    Returns the model in eval mode with ``model.config`` (the :class:`FusionConfig`) and ``model.meta``
    (``history``, ``seconds``, ``path``, ``cached``).
    """
    config = default_config(config) if isinstance(config, str) else config

    def fit():
        model, history = train_config(config, device, progress)
        return model, {"history": history, "device": str(device)}

    def load(folder: Path) -> fu.EarlyFusionLM:
        # a checkpoint made with another tokenizer fails to load here, and the model is trained again
        return load_weights(build_model(config, _tokenizer()), folder, device)

    model, model.meta = load_or_train(checkpoint_name(config.style), spec(config), fit, save_weights, load,
                                      retrain=retrain)
    model.config = config
    return model.eval()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m videollm.fusion.train",
                                     description="Unit 03: the two early-fusion models (train/cache, evaluate).")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("build", "train and cache the models unless matching checkpoints exist"),
                       ("evaluate", "accuracy vs random and tokens per clip of both styles")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--style", choices=[*fu.STYLES, "both"], default="both")
        p.add_argument("--device", default="cpu", help="cpu, cuda, ... (default cpu)")
        if name == "build":
            p.add_argument("--force", action="store_true", help="train again even if a checkpoint matches")
        else:
            p.add_argument("--split", default="test", choices=("train", "val", "test"))
    commit = sub.add_parser("commit", help="copy the cached checkpoints to data/weights/ (to commit with the course)")
    commit.add_argument("--style", choices=[*fu.STYLES, "both"], default="both")
    args = parser.parse_args(argv)
    styles = fu.STYLES if args.style == "both" else (args.style,)
    if args.command == "commit":
        return max(commit_command(checkpoint_name(style), spec(default_config(style)),
                                  f"python -m videollm.fusion.train build --style {style}") for style in styles)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: no CUDA device is available here; use --device cpu")
    tokenizer = _tokenizer()
    for style in styles:
        model = pretrained(style, device=args.device, retrain=getattr(args, "force", False))
        cfg = model.config
        trained = "cached" if model.meta["cached"] else f"trained in {model.meta['seconds']:.0f} s"
        print(f"{style}: {model.meta['path']} ({trained})")
        if args.command == "evaluate":
            result = evaluate(model, prepare(cfg, args.split, tokenizer), tokenizer.pad_token_id, args.device)
            print(f"  {cfg.suite}/{args.split}: accuracy {result['accuracy']:.1f}% vs random {result['random']:.1f}% "
                  f"(n={result['n']}); {result['visual_tokens_per_clip']} visual tokens per clip, "
                  f"{result['sequence_tokens']:.0f} tokens per prompt")
            for task, row in result["tasks"].items():
                print(f"    {task:<10} {row['accuracy']:5.1f}% vs random {row['random']:.1f}% (n={row['n']})")
    return 0


__all__ = ["FusionConfig", "FusionData", "MODEL_VERSION", "build_model", "checkpoint_name", "default_config", "evaluate", "main",
           "option_scores", "predict", "prepare", "pretrained", "spec", "train", "vq_codes"]


if __name__ == "__main__":
    sys.exit(main())
