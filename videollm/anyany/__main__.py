"""Unit 07 — ``python -m videollm.anyany build|benchmark|emergent|pipeline|info|commit``: train and cache the unit's
three models (the binding encoders, the decoders, the world's NExT-GPT) and the lab's experiment data, print the
retrieval table (README, docs/experiments/07_binding.md), the lab-scale emergent experiment's, or the pipeline's
(docs/experiments/07_nextgpt.md), or commit the weights to ``data/weights``.

Lecture: `lectures/07_next_gpt.ipynb` §4.
"""

from __future__ import annotations

import argparse
import sys

import torch

from videollm.anyany import bind, decoders, emergent, nextgpt
from videollm.anyany.benchmark import pipeline_report
from videollm.anyany.bind import TEST_CLIPS, binding_data, evaluate
from videollm.anyany.encoders import parameter_count
from videollm.cache import cached_meta, cached_path, checkpoint_dir, commit_command

#: The unit's models, in the order they build on each other: (module, its default spec).
MODELS = {bind.CHECKPOINT_NAME: bind, decoders.CHECKPOINT_NAME: decoders, nextgpt.CHECKPOINT_NAME: nextgpt}


def table(rows: list[dict]) -> str:
    """The retrieval rows as a Markdown table."""
    lines = ["| retrieval | trained on | R@1 | R@5 |", "|---|---|---:|---:|"]
    lines += [f"| {r['row']} | {r['trained on']} | {r['R@1']:.1f} | {r['R@5']:.1f} |" for r in rows]
    return "\n".join(lines)


def _pipeline(clips: int, device) -> int:
    model = nextgpt.pretrained(device=device, progress=False)
    report = pipeline_report(model, decoders.pretrained(device=device, progress=False), clips)
    print(f"## The world's NExT-GPT on {clips} held-out clips\n\n| input | caption exact | objects named right |\n"
          "|---|---:|---:|")
    for source, row in report["captioning"].items():
        print(f"| {source} | {row['exact']:.1f} | {row['objects']:.1f} |")
    print("\n| request | signal run emitted | L2 to the real conditioning | L2 between two captions' |\n"
          "|---|---:|---:|---:|")
    for row in report["requests"]:
        print(f"| {row['output']} | {row['emitted']:.1f} | {row['L2 to the real conditioning']:.2f} | "
              f"{row['L2 between two captions']:.2f} |")
    print("\n| output judged against the request | % right |\n|---|---:|")
    for key, value in report["outputs"].items():
        if key != "requests":
            print(f"| {key} | {value:.1f} |")
    print("\n| parameters | count |\n|---|---:|")
    for key, value in nextgpt.parameter_table(model).items():
        print(f"| {key} | {value:,} |")
    return 0


def _emergent(seeds: int) -> int:
    data = emergent.emergent_data()
    print(f"## Lab 07's emergent experiment: {len(data.features)} sounds bound to video, {len(data.target)} held-out "
          f"sounds, {len(data.texts)} captions\n\n| head | R@1 | R@5 |\n|---|---:|---:|")
    for seed in range(seeds):
        for shuffle in (False, True):
            recall = emergent.experiment(data, seed, shuffle=shuffle)
            name = f"seed {seed}" + (", video shuffled (control)" if shuffle else "")
            print(f"| {name} | {100 * recall[1]:.1f} | {100 * recall[5]:.1f} |")
    print(f"| chance | {100 / len(data.texts):.1f} | {500 / len(data.texts):.1f} |")
    return 0


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
    lab = sub.add_parser("emergent", help="the lab's emergent experiment: a small audio head bound to video, per seed")
    lab.add_argument("--seeds", type=int, default=4, help="heads trained, seeds 0 .. N-1 (default 4)")
    pipe = sub.add_parser("pipeline", help="captioning, requests and outputs of the world's NExT-GPT")
    pipe.add_argument("--clips", type=int, default=128, help="held-out clips (default 128)")
    pipe.add_argument("--device", default="cpu")
    sub.add_parser("info", help="where the checkpoint of the current config is and whether it is cached")
    sub.add_parser("commit", help="copy the cached checkpoint to data/weights/ (to commit with the course)")
    args = parser.parse_args(argv)
    if args.command == "commit":
        return max(commit_command(name, module.spec(), "python -m videollm.anyany build")
                   for name, module in MODELS.items())
    if args.command == "info":
        for name, module in MODELS.items():
            meta = cached_meta(name, module.spec())
            where = cached_path(name, module.spec()) or checkpoint_dir(name, module.spec())
            print(f"{where}: {'cached' if meta else 'absent'}")
        return 0
    if args.command == "emergent":
        return _emergent(args.seeds)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: no CUDA device is available here; use --device cpu")
    if args.command == "build":
        for module in MODELS.values():
            model = module.pretrained(device=args.device, retrain=args.force)
            how = "cached" if model.meta["cached"] else f"trained in {model.meta['seconds']:.0f} s"
            print(f"{model.meta['path']} ({how}); {parameter_count(model)} parameters")
        emergent.emergent_data()   # the lab's features, cached for every student run
        return 0
    if args.command == "pipeline":
        return _pipeline(args.clips, args.device)
    if args.clips < 2:
        parser.error(f"--clips must be at least 2; got {args.clips}")
    model = bind.pretrained(device=args.device)
    rows = evaluate(model, binding_data("test", args.clips, model.config.frames))
    print(f"## Retrieval on {args.clips} held-out sounding clips ({rows[0]['gallery']} distinct captions)\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
