"""Unit 07 — ``python -m videollm.anyany build|benchmark|info|commit``: train and cache the binding models, print the
retrieval table (README, docs/experiments/07_binding.md), or commit the weights to ``data/weights``.

Lecture: `lectures/07_next_gpt.ipynb` §4.
"""

from __future__ import annotations

import argparse
import sys

import torch

from videollm.anyany.bind import CHECKPOINT_NAME, TEST_CLIPS, BindConfig, binding_data, evaluate, pretrained, spec
from videollm.anyany.encoders import parameter_count
from videollm.cache import cached_meta, cached_path, checkpoint_dir, commit_command


def table(rows: list[dict]) -> str:
    """The retrieval rows as a Markdown table."""
    lines = ["| retrieval | trained on | R@1 | R@5 |", "|---|---|---:|---:|"]
    lines += [f"| {r['row']} | {r['trained on']} | {r['R@1']:.1f} | {r['R@5']:.1f} |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m videollm.anyany",
                                     description="Unit 07: the binding models (ImageBind at the world's scale).")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="train and cache the binding models unless a matching checkpoint exists")
    build.add_argument("--force", action="store_true", help="train again even if the checkpoint matches")
    build.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default cpu)")
    bench = sub.add_parser("benchmark", help="the retrieval table on held-out clips")
    bench.add_argument("--clips", type=int, default=TEST_CLIPS, help=f"held-out clips (default {TEST_CLIPS})")
    bench.add_argument("--device", default="cpu")
    sub.add_parser("info", help="where the checkpoint of the current config is and whether it is cached")
    sub.add_parser("commit", help="copy the cached checkpoint to data/weights/ (to commit with the course)")
    args = parser.parse_args(argv)
    config = BindConfig()
    if args.command == "commit":
        return commit_command(CHECKPOINT_NAME, spec(config), "python -m videollm.anyany build")
    if args.command == "info":
        meta = cached_meta(CHECKPOINT_NAME, spec(config))
        where = cached_path(CHECKPOINT_NAME, spec(config)) or checkpoint_dir(CHECKPOINT_NAME, spec(config))
        print(f"{where}: {'cached' if meta else 'absent'}")
        return 0
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: no CUDA device is available here; use --device cpu")
    if args.command == "build":
        model = pretrained(config, device=args.device, retrain=args.force)
        how = "cached" if model.meta["cached"] else f"trained in {model.meta['seconds']:.0f} s"
        print(f"{model.meta['path']} ({how}); {parameter_count(model)} parameters")
        return 0
    if args.clips < 2:
        parser.error(f"--clips must be at least 2; got {args.clips}")
    model = pretrained(config, device=args.device)
    rows = evaluate(model, binding_data("test", args.clips, config.frames))
    print(f"## Retrieval on {args.clips} held-out sounding clips ({rows[0]['gallery']} distinct captions)\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
