"""Unit 08 — training the course's VideoPoet on a mixture of tasks from the world's clips, and its checkpoint.

VideoPoet pre-trains one LM on a mixture of generative tasks at once, grouping examples of one task (hence one
sequence length) per batch, so that almost nothing is padding (Alternating Gradient Descent). The course does the
same on its world: every clip of :mod:`videollm.videopoet.data` is tokenised once (:func:`token_data`) by the
frozen tokenizers — video by :mod:`videollm.videopoet.tokenizer` (17 frames -> (5, 4, 4) codes), sound by
:mod:`videollm.videopoet.audio` (level-major residual-VQ codes), caption by unit 07's frozen text encoder
(:func:`videollm.videopoet.model.text_embeddings`) — and each training step draws one task's batch in turn:

==============  ================================================  =======================================
task            conditioning                                      output
==============  ================================================  =======================================
text-to-video   the caption                                       the clip's 80 tokens
text-to-image   the caption                                       the first frame's 16 tokens (left open)
image-to-video  the first frame's 16 tokens                       the clip's 80 tokens
continuation    the first 9 frames' 48 tokens                     the last 2 latent frames' 32 tokens
inpainting      the tokens of the clip with its centre blanked    the clip's 80 tokens
outpainting     the tokens of the clip with only its centre kept  the clip's 80 tokens
video-to-audio  the clip's 80 tokens                              its sound's level-major tokens
unconditional   nothing                                           the clip's 80 tokens
==============  ================================================  =======================================

Continuation works on tokens alone because the tokenizer is causal: the tokens of the first 9 frames *are* the
first 3 latent frames of the clip's tokens. The mask of in- and outpainting is a grey square of 16 x 16 pixels in
the middle of every frame (:func:`blank`), and the conditioning is the tokens of that blanked clip. This simplifies
VideoPoet, which builds these conditions with MAGVIT's COMMIT encoding (arXiv 2212.05199: the padded clip is
tokenised and only the tokens of its visible region are kept as conditions, the others masked).

Command line (``make data`` runs the first)::

    $ python -m videollm.videopoet.mixture build [--force] [--device cuda]
    $ python -m videollm.videopoet.mixture commit      # copy it to data/weights/, committed with the course
    $ python -m videollm.videopoet.mixture info

Lecture: `lectures/08_videopoet.ipynb` §5.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from videollm.anyany import bind
from videollm.anyany.encoders import EncoderConfig
from videollm.cache import cached_meta, checkpoint_dir, commit_command, load_or_train, load_weights, save_weights
from videollm.videopoet import audio as audio_tokenizer, data, tokenizer as video_tokenizer
from videollm.videopoet.causal import latent_frames
from videollm.videopoet.model import LMConfig, VideoPoetLM, text_embeddings
from videollm.videopoet.sequence import build, collate
from videollm.world.shapes import WORLD_VERSION

#: Bump when the model, the data or the training loop change what a config trains to.
MODEL_VERSION = 1
CHECKPOINT_NAME = "videopoet"
#: The tasks of the mixture, in the order the training steps take them.
TASKS = ("text_to_video", "text_to_image", "image_to_video", "continuation", "inpainting", "outpainting",
         "video_to_audio", "unconditional")
#: Continuation reads the first 9 frames (3 latent frames) and writes the rest (2 latent frames).
CONTEXT_FRAMES = 9
#: The blanked square of in- and outpainting: its side in pixels, and the grey it is filled with.
BOX, GREY = 16, 0.5


@dataclass(frozen=True)
class MixtureConfig:
    """The LM's size and the training recipe (the tokenizers and the text encoder are their own checkpoints)."""

    hidden: int = 128
    layers: int = 4
    heads: int = 4
    intermediate: int = 384
    train_clips: int = 4096
    steps: int = 3000
    batch_size: int = 16
    lr: float = 1e-3
    warmup: int = 100
    seed: int = 0


@dataclass
class TokenData:
    """The tokens of ``N`` clips: ``video``, ``inpaint``, ``outpaint`` ``(N, 5, 4, 4)`` visual codes (the clip, the
    clip with its centre blanked, with only its centre kept), ``audio`` ``(N, F, L)`` residual-VQ codes, and
    ``text``, each clip's caption as frozen text embeddings ``(n_i, D_text)``."""

    video: torch.Tensor
    inpaint: torch.Tensor
    outpaint: torch.Tensor
    audio: torch.Tensor
    text: list[torch.Tensor]

    def __len__(self) -> int:
        return len(self.video)


def blank(video: torch.Tensor, inside: bool) -> torch.Tensor:
    """``video`` ``(N, T, 3, H, W)`` with the central ``BOX x BOX`` square of every frame grey (``inside``), or
    everything but that square grey."""
    height, width = video.shape[-2:]
    top, left = (height - BOX) // 2, (width - BOX) // 2
    box = torch.zeros(height, width, dtype=torch.bool, device=video.device)
    box[top:top + BOX, left:left + BOX] = True
    return video.masked_fill(box if inside else ~box, GREY)


def token_data(split: str, count: int, start: int = 0, video_model=None, audio_model=None, text_encoder=None,
               chunk: int = 256, device="cpu") -> TokenData:
    """Tokenise clips ``start .. start + count - 1`` of ``split`` with the frozen tokenizers (the course's
    checkpoints by default); everything returned is on the CPU."""
    video_model = video_model or video_tokenizer.pretrained(device=device, progress=False)
    audio_model = audio_model or audio_tokenizer.pretrained(device=device, progress=False)
    if text_encoder is None:
        text_encoder = bind.pretrained(device=device, progress=False).text
    parts: dict[str, list] = {"video": [], "inpaint": [], "outpaint": [], "audio": [], "text": []}
    embedded: dict[str, torch.Tensor] = {}
    for i in range(start, start + count, chunk):
        batch = data.clips(split, min(chunk, start + count - i), i)
        frames = data.videos(batch, device=device)
        parts["video"].append(video_model.encode(frames).cpu())
        parts["inpaint"].append(video_model.encode(blank(frames, inside=True)).cpu())
        parts["outpaint"].append(video_model.encode(blank(frames, inside=False)).cpu())
        parts["audio"].append(audio_model.encode(data.sounds(batch, device=device)).cpu())
        new = sorted(set(data.captions(batch)) - set(embedded))
        if new:
            flat, lengths = text_embeddings(new, text_encoder)
            embedded.update(zip(new, flat.cpu().split(lengths)))
        parts["text"] += [embedded[c] for c in data.captions(batch)]
    return TokenData(*(torch.cat(parts[k]) for k in ("video", "inpaint", "outpaint", "audio")), text=parts["text"])


def example(task: str, tokens: TokenData, i: int, vocab):
    """Clip ``i``'s example of ``task``: ``(Sequence, text embeddings (n, D_text) or None)``."""
    video, text = tokens.video[i], tokens.text[i]
    split = latent_frames(CONTEXT_FRAMES, video_tokenizer.TEMPORAL)         # latent frames of the context
    kwargs = {
        "text_to_video": dict(text=len(text), video_out=video),
        "text_to_image": dict(text=len(text), video_out=video[:1]),
        "image_to_video": dict(video_in=video[:1], video_out=video),
        "continuation": dict(video_in=video[:split], video_out=video[split:]),
        "inpainting": dict(video_in=tokens.inpaint[i], video_out=video),
        "outpainting": dict(video_in=tokens.outpaint[i], video_out=video),
        "video_to_audio": dict(video_in=video, audio_out=tokens.audio[i]),
        "unconditional": dict(video_out=video),
    }[task]
    return build(task, vocab, **kwargs), (text if "text" in kwargs else None)


def batch(task: str, tokens: TokenData, indices: list[int], vocab, device="cpu"):
    """A collated batch of one task (:func:`videollm.videopoet.sequence.collate`) and its text embeddings
    ``(M, D_text)`` (or None)."""
    pairs = [example(task, tokens, int(i), vocab) for i in indices]
    texts = [t for _, t in pairs if t is not None]
    return collate([s for s, _ in pairs], device), (torch.cat(texts).to(device) if texts else None)


def lm_config(config: MixtureConfig, video_model, audio_model) -> LMConfig:
    """The LM's size from ``config`` and its vocabulary from the tokenizers."""
    return LMConfig(hidden=config.hidden, layers=config.layers, heads=config.heads,
                    intermediate=config.intermediate, text_width=EncoderConfig().width,
                    visual_codes=video_model.num_codes, audio_levels=audio_model.levels,
                    audio_codes=audio_model.codebook_size)


def build_model(config: MixtureConfig = MixtureConfig(), device="cpu", video_model=None, audio_model=None
                ) -> VideoPoetLM:
    """An untrained :class:`VideoPoetLM` for ``config`` (weights from ``torch.manual_seed(config.seed)``, without
    disturbing the caller's random state)."""
    video_model = video_model or video_tokenizer.pretrained(progress=False)
    audio_model = audio_model or audio_tokenizer.pretrained(progress=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = VideoPoetLM(lm_config(config, video_model, audio_model))
    return model.to(device)


def train(model: VideoPoetLM, tokens: TokenData, steps: int = 3000, batch_size: int = 16, lr: float = 1e-3,
          warmup: int = 100, seed: int = 0, progress: bool = False) -> dict[str, list]:
    """Train ``model`` in place, one task's batch per step in :data:`TASKS` order; returns each step's task and loss.

    AdamW (weight decay 0.01), linear warm-up then cosine decay to a tenth, gradients clipped at 1."""
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: min(1.0, (s + 1) / warmup) * (
        0.1 + 0.9 * 0.5 * (1 + torch.cos(torch.tensor(torch.pi * s / steps)).item())))
    history: dict[str, list] = {"task": [], "loss": []}
    model.train()
    for step in tqdm(range(steps), disable=not progress, desc="VideoPoet mixture"):
        task = TASKS[step % len(TASKS)]
        picks = torch.randint(len(tokens), (batch_size,), generator=generator).tolist()
        inputs, text = batch(task, tokens, picks, model.vocab, model.device)
        loss = model(inputs, text)["loss"]
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        history["task"].append(task)
        history["loss"].append(loss.item())
    model.eval()
    return history


@torch.no_grad()
def evaluate(model: VideoPoetLM, tokens: TokenData, batch_size: int = 64) -> dict[str, float]:
    """Each task's mean next-token loss on the outputs of ``tokens`` (teacher-forced; nats per token)."""
    out = {}
    for task in TASKS:
        total, count = 0.0, 0
        for i in range(0, len(tokens), batch_size):
            inputs, text = batch(task, tokens, list(range(i, min(i + batch_size, len(tokens)))), model.vocab,
                                 model.device)
            n = len(inputs["prefix"])
            total, count = total + model(inputs, text)["loss"].item() * n, count + n
        out[task] = total / count
    return out


def spec(config: MixtureConfig = MixtureConfig()) -> dict:
    """What decides the trained weights: the config, this code's version, the world's, and the frozen parts (the
    video and audio tokenizers' and the text encoder's own specs)."""
    return {"config": config, "model_version": MODEL_VERSION, "world_version": WORLD_VERSION,
            "video_tokenizer": video_tokenizer.spec(), "audio_tokenizer": audio_tokenizer.spec(),
            "text_encoder": bind.spec()}


def train_config(config: MixtureConfig = MixtureConfig(), device="cpu", progress: bool = False
                 ) -> tuple[VideoPoetLM, dict]:
    """Tokenise the training clips, build and train the LM of ``config``: ``(model, history)``."""
    video_model = video_tokenizer.pretrained(device=device, progress=progress)
    audio_model = audio_tokenizer.pretrained(device=device, progress=progress)
    tokens = token_data("train", config.train_clips, video_model=video_model, audio_model=audio_model,
                        device=device)
    model = build_model(config, device, video_model, audio_model)
    history = train(model, tokens, config.steps, config.batch_size, config.lr, config.warmup, config.seed, progress)
    return model, history


def pretrained(config: MixtureConfig = MixtureConfig(), device="cpu", retrain: bool = False,
               progress: bool = True) -> VideoPoetLM:
    """The course's trained VideoPoet LM: the committed or cached checkpoint of ``config``, else trained and
    cached. In eval mode, with ``model.meta`` (history, training time, ``path``, ``cached``)."""
    def fit():
        model, history = train_config(config, device, progress)
        return model, {"history": history, "device": str(device)}

    def load(folder: Path) -> VideoPoetLM:
        return load_weights(build_model(config, "cpu"), folder, device)

    model, model.meta = load_or_train(CHECKPOINT_NAME, spec(config), fit, save_weights, load, retrain=retrain)
    return model.eval()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m videollm.videopoet.mixture",
                                     description="The course's VideoPoet LM, trained on a task mixture (unit 08).")
    sub = parser.add_subparsers(dest="command", required=True)
    build_cmd = sub.add_parser("build", help="train and cache the checkpoint unless a matching one exists")
    build_cmd.add_argument("--force", action="store_true", help="train again even if the checkpoint matches")
    build_cmd.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default cpu)")
    sub.add_parser("info", help="where the checkpoint of the current config is and whether it is cached")
    sub.add_parser("commit", help="copy the cached checkpoint to data/weights/ (to commit with the course)")
    args = parser.parse_args(argv)
    config = MixtureConfig()
    if args.command == "commit":
        return commit_command(CHECKPOINT_NAME, spec(config), "python -m videollm.videopoet.mixture build")
    if args.command == "info":
        found = cached_meta(CHECKPOINT_NAME, spec(config))
        print(f"{checkpoint_dir(CHECKPOINT_NAME, spec(config))}: {'cached' if found else 'absent'}")
        return 0
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: no CUDA device is available here; use --device cpu")
    model = pretrained(config, device=args.device, retrain=args.force, progress=True)
    held = evaluate(model, token_data("heldout", 128, device=args.device))
    trained = "cached" if model.meta["cached"] else f"trained in {model.meta['seconds']:.0f} s"
    print(f"{model.meta['path']} ({trained}); held-out loss per output token (nats):")
    for task, loss in held.items():
        print(f"  {task:<15} {loss:.3f}")
    return 0


__all__ = ["BOX", "CONTEXT_FRAMES", "MixtureConfig", "TASKS", "TokenData", "batch", "blank", "build_model",
           "evaluate", "example", "lm_config", "main", "pretrained", "spec", "token_data", "train", "train_config"]


if __name__ == "__main__":
    sys.exit(main())
