"""Unit 08 — what the course's VideoPoet can do, measured: continuation against the world's ground truth, decoding
speed with and without the KV cache, and the token arithmetic.

- **Continuation** (:func:`continuation`): the LM reads the tokens of a held-out clip's first 9 frames and writes
  the last 2 latent frames; the tokenizer decodes them into frames 9-16. Scored against the world's true frames by
  the PSNR of those frames and by where each object is (:func:`object_centroids`: the centroid of the pixels
  nearest its colour), next to two yardsticks: *copy the last frame* (frame 8, repeated: what a model that has
  not learned motion can do) and the *tokenizer's ceiling* (the clip's own tokens decoded: the best any LM over
  these tokens can do).
- **Speed** (:func:`speed`): tokens per second writing a clip's 80 tokens from a text prompt, with and without the
  KV cache, interleaved in one run so that a busy machine slows both alike.
- **Tokens** (:func:`token_table`): the paper's clips and the course's.

Command line::

    $ python -m videollm.videopoet.benchmark [continuation|speed|tokens|all] [--clips 64] [--device cuda]

Lecture: `lectures/08_videopoet.ipynb` §5.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from videollm.videopoet import data, mixture, tokenizer as video_tokenizer
from videollm.videopoet.causal import latent_frames
from videollm.videopoet.model import text_embeddings
from videollm.videopoet.sequence import build, collate
from videollm.videopoet.tokens import video_token_grid, video_tokens
from videollm.vq.vqvae import psnr

#: A pixel belongs to an object when the object's colour is the nearest of the clip's colours and nearer than this
#: (Euclidean distance of RGB in [0, 1]); an object with fewer than MIN_PIXELS such pixels is not found.
COLOUR_RADIUS, MIN_PIXELS = 0.3, 3


def object_centroids(video: torch.Tensor, colours: list[list[tuple[int, int, int]]],
                     backgrounds: list[tuple[int, int, int]]) -> torch.Tensor:
    """``(N, T, K, 2)`` ``(x, y)`` centroids of each clip's ``K`` objects in ``video`` ``(N, T, 3, H, W)`` (in
    [0, 1]), found by colour: NaN where an object is not found. ``colours[n]`` lists clip ``n``'s object colours
    (RGB, 0-255), ``backgrounds[n]`` its background colour; clips with fewer objects are padded with NaN."""
    n, t, _, h, w = video.shape
    most = max(len(c) for c in colours)
    out = torch.full((n, t, most, 2), float("nan"))
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    for i in range(n):
        palette = torch.tensor([backgrounds[i], *colours[i]], dtype=torch.float32) / 255       # (1 + K, 3)
        pixels = video[i].float().cpu().permute(0, 2, 3, 1)                                   # (T, H, W, 3)
        distance = torch.cdist(pixels.reshape(-1, 3), palette).reshape(t, h, w, -1)
        nearest = distance.argmin(-1)
        for k in range(len(colours[i])):
            mask = (nearest == k + 1) & (distance[..., k + 1] < COLOUR_RADIUS)                # (T, H, W)
            count = mask.sum((1, 2)).float()
            found = count >= MIN_PIXELS
            centre = torch.stack([(mask * xs).sum((1, 2)), (mask * ys).sum((1, 2))], -1) / count.clamp(min=1)[:, None]
            out[i, :, k] = torch.where(found[:, None], centre, torch.tensor(float("nan")))
    return out


def background_colour(frames: np.ndarray) -> tuple[int, int, int]:
    """The most common colour of a clip's first frame ``(H, W, 3)`` uint8: the world's plain background."""
    colours, counts = np.unique(frames.reshape(-1, 3), axis=0, return_counts=True)
    return tuple(int(v) for v in colours[counts.argmax()])


@torch.no_grad()
def continue_clips(model, video_model, video: torch.Tensor, context_frames: int = mixture.CONTEXT_FRAMES,
                   temperature: float = 0.0, seed: int = 0) -> torch.Tensor:
    """The LM's continuation of ``video`` ``(N, 17, 3, H, W)`` after its first ``context_frames`` frames: the whole
    clip as decoded from the context's tokens and the written ones, ``(N, 17, 3, H, W)``."""
    codes = video_model.encode(video[:, :context_frames].to(video_model.device))             # (N, t0, h, w)
    total = latent_frames(video.shape[1], video_tokenizer.TEMPORAL)                         # latent frames of a clip
    per_frame = codes.shape[2] * codes.shape[3]
    prompt = collate([build("continuation", model.vocab, video_in=c) for c in codes], model.device)
    count = (total - codes.shape[1]) * per_frame
    written = model.generate(prompt, "video", count, temperature=temperature, seed=seed)
    written = (written - model.vocab.visual_offset).reshape(len(codes), -1, *codes.shape[2:]).to(codes.device)
    return video_model.decode(torch.cat([codes, written], 1)).cpu()


def _position_error(predicted: torch.Tensor, truth: torch.Tensor) -> tuple[float, float]:
    """Mean distance (pixels) over the objects found in both, and the share of true objects found in ``predicted``."""
    real = ~torch.isnan(truth[..., 0])
    found = real & ~torch.isnan(predicted[..., 0])
    error = (predicted - truth).norm(dim=-1)[found]
    return float(error.mean()) if len(error) else float("nan"), float(found.sum() / real.sum())


@torch.no_grad()
def continuation(count: int = 64, device="cpu", model=None, video_model=None) -> list[dict]:
    """Continue ``count`` held-out clips from their first 9 frames; score frames 9-16 against the truth: one row
    each for the LM, copying the last frame, and the tokenizer's ceiling (PSNR in dB, position error in pixels,
    share of objects found)."""
    video_model = video_model or video_tokenizer.pretrained(device=device, progress=False)
    model = model or mixture.pretrained(device=device, progress=False)
    clips = data.clips("heldout", count)
    truth = data.videos(clips)
    colours = [[o.color for o in c.objects] for c in clips]
    backgrounds = [background_colour(c.frames[0]) for c in clips]
    start = mixture.CONTEXT_FRAMES
    candidates = {
        "VideoPoet (course), greedy": continue_clips(model, video_model, truth),
        "copy the last context frame": truth[:, start - 1:start].expand_as(truth[:, start:]),
        "tokenizer ceiling (true tokens decoded)": video_model.decode(video_model.encode(truth.to(video_model.device))
                                                                      ).cpu(),
    }
    true_positions = object_centroids(truth[:, start:], colours, backgrounds)
    rows = []
    for name, frames in candidates.items():
        frames = frames[:, start:] if frames.shape[1] == truth.shape[1] else frames
        error, found = _position_error(object_centroids(frames, colours, backgrounds), true_positions)
        rows.append({"method": name, "psnr": psnr(frames.float(), truth[:, start:]), "position_error": error,
                     "found": found})
    return rows


@torch.no_grad()
def speed(model=None, repeats: int = 3, device="cpu", threads: int | None = 1) -> dict:
    """Tokens per second writing one clip's tokens from a text prompt (batch 1), with and without the KV cache,
    interleaved; the best of ``repeats`` runs each (on ``threads`` CPU threads when on the CPU)."""
    model = model or mixture.pretrained(device=device, progress=False)
    caption = data.captions(data.clips("heldout", 1))
    text, lengths = text_embeddings(caption, device=model.device)
    prompt = collate([build("text_to_video", model.vocab, text=lengths[0])], model.device)
    count = video_tokens(data.FRAMES, data.HEIGHT, data.WIDTH)
    previous = torch.get_num_threads()
    if threads and model.device.type == "cpu":
        torch.set_num_threads(threads)
    try:
        times: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(repeats):
            for cached in times:
                if model.device.type == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
                tokens = model.generate(prompt, "video", count, text, use_cache=cached)
                if model.device.type == "cuda":
                    torch.cuda.synchronize()
                times[cached].append(time.perf_counter() - start)
                if cached:
                    first = tokens
                elif not torch.equal(first, tokens):
                    raise AssertionError("cached and uncached decoding wrote different tokens")
    finally:
        torch.set_num_threads(previous)
    best = {k: min(v) for k, v in times.items()}
    return {"tokens": count, "prefix": prompt["input_ids"].shape[1], "cached_s": best[True], "uncached_s": best[False],
            "cached_tokens_per_s": count / best[True], "uncached_tokens_per_s": count / best[False],
            "ratio": best[False] / best[True], "device": str(model.device)}


def token_table() -> list[dict]:
    """The paper's clips and the course's: frames x height x width -> latent grid -> tokens."""
    rows = [("VideoPoet clip", 17, 128, 128), ("VideoPoet portrait clip", 17, 224, 128),
            ("VideoPoet picture", 1, 128, 128), ("VideoPoet after super-resolution", 17, 896, 512),
            ("the course's clip", data.FRAMES, data.HEIGHT, data.WIDTH), ("the course's picture", 1, data.HEIGHT,
                                                                          data.WIDTH),
            ("the course's continuation context", mixture.CONTEXT_FRAMES, data.HEIGHT, data.WIDTH)]
    return [{"clip": name, "size": f"{t} x {h} x {w}", "grid": video_token_grid(t, h, w),
             "tokens": video_tokens(t, h, w)} for name, t, h, w in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m videollm.videopoet.benchmark",
                                     description="Unit 08's measurements: continuation, KV-cache speed, tokens.")
    parser.add_argument("what", nargs="?", default="all", choices=["continuation", "speed", "tokens", "all"])
    parser.add_argument("--clips", type=int, default=64, help="held-out clips to continue (default 64)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, ... (default cpu)")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: no CUDA device is available here; use --device cpu")
    if args.what in ("tokens", "all"):
        print("| clip | frames x height x width | latent grid | tokens |\n|---|---|---|---:|")
        for row in token_table():
            print(f"| {row['clip']} | {row['size']} | {row['grid']} | {row['tokens']:,} |")
    if args.what in ("continuation", "all"):
        print(f"\ncontinuation of {args.clips} held-out clips from 9 frames (frames 9-16 scored):")
        print("| method | PSNR (dB) | position error (px) | objects found |\n|---|---:|---:|---:|")
        for row in continuation(args.clips, args.device):
            print(f"| {row['method']} | {row['psnr']:.2f} | {row['position_error']:.2f} | {row['found']:.0%} |")
    if args.what in ("speed", "all"):
        s = speed(device=args.device)
        print(f"\nwriting {s['tokens']} tokens after a {s['prefix']}-token text prompt on {s['device']}: "
              f"{s['cached_tokens_per_s']:.0f} tokens/s with the KV cache, {s['uncached_tokens_per_s']:.0f} without, "
              f"{s['ratio']:.1f}x")
    return 0


__all__ = ["background_colour", "continuation", "continue_clips", "main", "object_centroids", "speed", "token_table"]


if __name__ == "__main__":
    sys.exit(main())
