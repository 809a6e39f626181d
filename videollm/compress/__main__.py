"""Unit 06 — ``python -m videollm.compress build|info|benchmark|commit``: train and cache the needle reader, run the
budget benchmark (the README's tables and the lecture's figures), or commit the reader's weights to ``data/weights``.

Lecture: `lectures/06_adaretake.ipynb` §8.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from videollm.cache import cached_meta, cached_path, checkpoint_dir, commit_command
from videollm.compress import plots
from videollm.compress.benchmark import (ALL_METHODS, RATIOS, budget_predictions, budget_table, compress_video,
                                         frames_at_budget, kept_mask, long_questions, needle_patches,
                                         needle_retention, paired_difference, prefill_cost, question_input)
from videollm.compress.reader import CHECKPOINT_NAME, ReaderConfig, needle_questions, needle_reader, reader_spec
from videollm.vlm.mini.train import pretrained


def _info(config: ReaderConfig) -> None:
    meta = cached_meta(CHECKPOINT_NAME, reader_spec(config))
    where = cached_path(CHECKPOINT_NAME, reader_spec(config)) or checkpoint_dir(CHECKPOINT_NAME, reader_spec(config))
    print(f"{where}: {'cached' if meta else 'absent'}")
    if meta is not None:
        h = meta["history"]
        print(f"trained in {meta['seconds']:.0f} s, {len(h['step'])} steps; batch accuracy over the last 50 "
              f"{np.mean(h['accuracy'][-50:]):.0%}")


def _kept_figure(model, processor, record: dict, num_frames: int, ratio: float):
    """Which tokens each method keeps of one needle clip, with the cut-away's temporal patches outlined."""
    video, _ = question_input(model, processor, record, num_frames)
    kept = {m: kept_mask(compress_video(model, video, m, ratio), video) for m in ALL_METHODS}
    return plots.kept_tokens(kept, video.grid, needle_patches(record, num_frames))


def _benchmark(questions: int, frames: int, out: Path, suites: bool, device) -> None:
    """The needle benchmark (the reader), the more-frames table, the cost, the figures; with ``suites``, the
    suites' long-video questions with the mini VLM too."""
    out.mkdir(parents=True, exist_ok=True)
    model, processor = needle_reader(device=device)
    records = needle_questions(questions)
    runs = budget_predictions(model, processor, records, ALL_METHODS, RATIOS, frames, progress=True)
    rows, table = budget_table(records, runs)
    print(f"## The needle reader on {len(records)} held-out needle questions ({frames} frames)\n\n{table}\n",
          flush=True)
    print("## Paired differences (same questions; 95% bootstrap interval of the difference, points)\n\n"
          "| budget | AdaReTaKe − random eviction | AdaReTaKe − attention top-k | temporal only − random |\n"
          "|---:|---:|---:|---:|")
    for ratio in RATIOS[1:]:
        cells = [paired_difference(runs, (a, ratio), (b, ratio), records)
                 for a, b in (("adaretake", "random eviction"), ("adaretake", "attention top-k"),
                              ("temporal only", "random eviction"))]
        print(f"| {ratio:g} | " + " | ".join(f"{d:+.1f} ({lo:+.1f} to {hi:+.1f})" for d, lo, hi in cells) + " |")
    print(flush=True)
    plots.budget_curves(rows).savefig(out / "adaretake_budget.png", dpi=110)
    _kept_figure(model, processor, records[0], frames, 0.25).savefig(out / "adaretake_kept.png", dpi=110)
    kept = needle_retention(model, processor, records, num_frames=frames)
    print(f"## How much of the needle each method keeps ({kept[0]['n']} questions whose frames show the shape)\n\n"
          "| method | budget | shape tokens kept (mean over layers) | question-layer pairs keeping one or more |\n"
          "|---|---:|---:|---:|")
    for r in kept:
        print(f"| {r['method']} | {r['ratio']:g} | {r['share']:.1f}% | {r['any']:.1f}% |")
    longer = needle_questions(questions, seconds=(16, 32))
    more = frames_at_budget(model, processor, longer)
    print("\n## One budget, more frames (needle clips of 16-32 s; the same number of video KV entries)\n\n"
          "| frames | kept | method | accuracy | 95% CI |\n|---:|---:|---|---:|---:|")
    for r in more:
        print(f"| {r['frames']} | {100 * r['ratio']:g}% | {r['method']} | {r['score']:.1f} | "
              f"{r['ci'][0]:.1f}–{r['ci'][1]:.1f} |")
    cost = prefill_cost(model, processor, needle_questions(20, seconds=(16, 32)))  # >= 64 frames at 4 fps
    print(f"\n## Cost ({cost['videos']} videos, {cost['frames']} frames, budget {cost['ratio']})\n\n"
          f"AdaReTaKe's prefill takes {cost['time_ratio']:.2f}x the time of the uncompressed chunked prefill "
          f"({torch.get_num_threads()} CPU threads; quote absolute times only from a GPU) and leaves "
          f"{100 * cost['entry_ratio']:.1f}% of its KV entries.\n", flush=True)
    report = {"needle": rows, "retention": kept, "frames": more, "cost": cost}
    if suites:
        mini, mini_processor = pretrained(device=device, progress=False)
        long = long_questions()
        suite_rows, suite_table = budget_table(long, budget_predictions(mini, mini_processor, long, ALL_METHODS,
                                                                        RATIOS, 32, progress=True))
        print(f"## The mini VLM on the suites' long-video questions (32 frames)\n\n{suite_table}\n")
        report["suites"] = suite_rows
    (out / "adaretake_report.json").write_text(json.dumps(report, indent=1, default=str))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m videollm.compress", description=__doc__.split("\n\n")[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--device", default="cpu", help="where the models run (cpu, cuda)")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", parents=[common], help="train the needle reader unless it is cached or committed")
    build.add_argument("--force", action="store_true", help="train again even if cached")
    sub.add_parser("info", help="where the reader is and how it trained")
    bench = sub.add_parser("benchmark", parents=[common],
                           help="accuracy against the kept-token budget; figures into --out")
    bench.add_argument("--questions", type=int, default=200, help="held-out needle questions")
    bench.add_argument("--frames", type=int, default=16, help="frames per clip")
    bench.add_argument("--out", type=Path, default=Path("docs/figures"))
    bench.add_argument("--suites", action="store_true", help="also the suites' long questions with the mini VLM")
    sub.add_parser("commit", help="copy the cached reader into data/weights/")
    args = parser.parse_args(argv)
    config = ReaderConfig()
    if args.command == "build":
        model, _ = needle_reader(config, device=args.device, retrain=args.force)
        print(f"needle reader at {model.meta['path']} ({'cached' if model.meta.get('cached') else 'trained'})")
    elif args.command == "info":
        _info(config)
    elif args.command == "benchmark":
        if args.questions < 1 or args.frames < 2 or args.frames % 2:
            parser.error("--questions must be >= 1 and --frames an even number >= 2")
        _benchmark(args.questions, args.frames, args.out, args.suites, args.device)
    elif args.command == "commit":
        return commit_command(CHECKPOINT_NAME, reader_spec(config), "python -m videollm.compress build")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
