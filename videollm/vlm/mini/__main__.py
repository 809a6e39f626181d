"""Unit 05 — ``python -m videollm.vlm.mini build|info|evaluate``: train and cache the mini video LLM, or score it.

Lecture: `lectures/05_llava_ov_qwen2_vl.ipynb` §12.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from videollm.cache import cached_meta, checkpoint_dir
from videollm.vlm.mini.evaluate import results_table
from videollm.vlm.mini.model import MiniVLMConfig, spec
from videollm.vlm.mini.train import CHECKPOINT_NAME, pretrained


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m videollm.vlm.mini",
                                     description="The course's mini video LLM (a tiny Qwen2-VL, unit 05).")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="train and cache the checkpoint unless a matching one exists")
    build.add_argument("--force", action="store_true", help="train again even if the checkpoint matches")
    build.add_argument("--device", default="cpu", help="cpu, cuda, ... (default cpu)")
    build.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own)")
    sub.add_parser("info", help="where the checkpoint of the current config is and whether it is cached")
    ev = sub.add_parser("evaluate", help="score the (cached) model on every suite against random and blind")
    ev.add_argument("--split", default="test", choices=("train", "val", "test"))
    ev.add_argument("--no-tasks", action="store_true", help="one row per suite only")
    ev.add_argument("--device", default="cpu")
    ev.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own)")
    args = parser.parse_args(argv)
    config = MiniVLMConfig()
    if args.command == "info":
        meta = cached_meta(CHECKPOINT_NAME, spec(config))
        print(f"{checkpoint_dir(CHECKPOINT_NAME, spec(config))}: {'cached' if meta else 'absent'}")
        if meta is not None and meta.get("history"):
            h = meta["history"]
            stages = ", ".join(f"{name} {len(part['step'])} steps" for name, part in h.items())
            last = h["instruct"]
            print(f"trained in {meta['seconds']:.0f} s ({stages}); final instruction loss "
                  f"{np.mean(last['loss'][-20:]):.3f}, batch accuracy {np.mean(last['accuracy'][-20:]):.0%}")
        return 0
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: no CUDA device is available here; use --device cpu")
    if args.threads:
        torch.set_num_threads(args.threads)
    model, processor = pretrained(config, device=args.device, retrain=getattr(args, "force", False))
    trained = "cached" if model.meta["cached"] else f"trained in {model.meta['seconds']:.0f} s"
    print(f"{model.meta['path']} ({trained})")
    if args.command == "evaluate":
        _, table = results_table(model, processor, args.split, per_task=not args.no_tasks)
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
