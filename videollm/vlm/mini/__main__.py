"""Unit 05 — ``python -m videollm.vlm.mini build|info|evaluate|report|diagnose|commit``: train and cache the mini
video LLM, score it, write the README's figures and tables, test whether its eyes or its lookup fail, or commit its
weights to ``data/weights``.

Lecture: `lectures/05_llava_ov_qwen2_vl.ipynb` §12.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from videollm.cache import cached_meta, cached_path, checkpoint_dir, commit_command
from videollm.vlm.mini import plots as mini_plots
from videollm.vlm.mini.diagnose import EYES, colour_readout, lookup, one_object_batch, perfect_eyes
from videollm.vlm.mini.evaluate import MODES, SOURCES, evaluate, frames_curve, results_table, suite_metric
from videollm.vlm.mini.model import SUITE_NAMES, MiniVLMConfig, build_model, spec
from videollm.vlm.mini.sight import probe
from videollm.vlm.mini.train import CHECKPOINT_NAME, pretrained
from videollm.world.shapes import COLOR_NAMES

#: The ablations of the README: each removes one ingredient of the default recipe.
ABLATIONS = {
    "no vision pre-training": {"sight_steps": 0},
    "no caption alignment": {"align_steps": 0},
    "the 828 fixed questions instead of fresh scenes": {"fresh": False},
}


def _info(config: MiniVLMConfig) -> None:
    meta = cached_meta(CHECKPOINT_NAME, spec(config))
    where = cached_path(CHECKPOINT_NAME, spec(config)) or checkpoint_dir(CHECKPOINT_NAME, spec(config))
    print(f"{where}: {'cached' if meta else 'absent'}")
    if meta is not None and meta.get("history"):
        h = meta["history"]
        stages = ", ".join(f"{name} {len(part['step'])} steps" for name, part in h.items())
        last = h["instruct"]
        print(f"trained in {meta['seconds']:.0f} s ({stages}); final instruction loss "
              f"{np.mean(last['loss'][-20:]):.3f}, batch accuracy {np.mean(last['accuracy'][-20:]):.0%}")


def _commit(config: MiniVLMConfig) -> int:
    """Copy the cached checkpoint of ``config`` to ``data/weights/`` (replacing older mini VLM folders there)."""
    return commit_command(CHECKPOINT_NAME, spec(config), "python -m videollm.vlm.mini build")


def _report(model, processor, config: MiniVLMConfig, out: Path, ablations: bool, device) -> None:
    """The README's tables and figures: both answering modes per suite and task, the linear probe, the frames
    curve, the training losses and (``ablations``) the ablation table."""
    out.mkdir(parents=True, exist_ok=True)
    _, table = results_table(model, processor, "test")
    print("## Test splits, both answering modes\n\n" + table + "\n", flush=True)
    random_tower, _ = build_model(config)
    probes = {"pre-trained tower": probe(model, processor, config),
              "random tower": probe(random_tower, processor, config)}
    mini_plots.probe_bars(probes).savefig(out / "mini_vlm_probe.png", dpi=110)
    print("## Linear probe (held-out fresh scenes, %)\n\n| label | pre-trained | random init | commonest class |"
          "\n|---|---:|---:|---:|")
    for label in probes["pre-trained tower"]:
        a, b = probes["pre-trained tower"][label], probes["random tower"][label]
        print(f"| {label} | {a['accuracy']:.1f} | {b['accuracy']:.1f} | {a['majority']:.1f} |")
    mini_plots.stage_losses(model.meta["history"]).savefig(out / "mini_vlm_losses.png", dpi=110)
    curve = frames_curve(model, processor)
    mini_plots.frames_curve(curve).savefig(out / "mini_vlm_frames.png", dpi=110)
    print("\n## Accuracy against input frames (option scores; oracle with the same frames)\n\n"
          "| suite | frames | mini VLM | 95% CI | oracle | random |\n|---|---:|---:|---:|---:|---:|")
    for r in curve:
        print(f"| {r['suite']} | {r['frames']} | {r['model']:.1f} | {r['ci'][0]:.1f}–{r['ci'][1]:.1f} | "
              f"{r['oracle']:.1f} | {r['random']:.1f} |", flush=True)
    if ablations:
        print("\n## Ablations (option scores, test splits)\n\n| model | " + " | ".join(SUITE_NAMES) + " | trained |"
              "\n|---|" + "---:|" * (len(SUITE_NAMES) + 1))
        variants = {"default recipe": config, **{name: replace(config, **change)
                                                  for name, change in ABLATIONS.items()}}
        for name, variant in variants.items():
            m, p = pretrained(variant, device=device, progress=False)
            scores = [suite_metric(evaluate(m, p, suite))[1] for suite in SUITE_NAMES]
            print(f"| {name} | " + " | ".join(f"{v:.1f}" for v in scores) + f" | {m.meta['seconds']:.0f} s |",
                  flush=True)
    (out / "mini_vlm_report.json").write_text(json.dumps({"probe": probes, "frames": curve}, indent=1))


def _diagnose(model, processor, config: MiniVLMConfig, out: Path, steps: int, every: int, suites: bool,
              device) -> None:
    """The eyes-or-lookup test (:mod:`videollm.vlm.mini.diagnose`): the trained model's colour readout on one-object
    clips, then a new language model aligned on them through perfect eyes and through the tower's; with
    ``suites``, also the recipe's ceiling on the suites (stages 2 and 3 through perfect eyes)."""
    if suites and not config.fresh:
        raise SystemExit("diagnose --suites needs the labels of fresh scenes: the config must have fresh=True")
    out.mkdir(parents=True, exist_ok=True)
    chance = 100 / len(COLOR_NAMES)
    trained = colour_readout(model, processor, one_object_batch(config, 48, [0, 1]))
    print(f"## Colour read out from one-object clips (48 held-out clips, %; chance {chance:.1f})\n\n"
          "| language model | eyes | frames | read out | during alignment (step: %) |\n|---|---|---:|---:|---|\n"
          f"| the trained mini VLM | its vision tower | {config.num_frames} | {trained:.1f} | |", flush=True)
    runs = {}
    for eyes, label in zip(EYES, ("ground-truth tokens", "stage-1 vision tower")):
        run = lookup(config, eyes, steps=steps, every=every, num_frames=2, device=device)
        runs[label] = run
        curve = ", ".join(f"{s}: {r:.0f}" for s, r in zip(run["step"], run["readout"]))
        print(f"| new, aligned {steps} steps | {label} | 2 | {run['readout'][-1]:.1f} | {curve} |", flush=True)
    mini_plots.lookup_curves(runs, chance).savefig(out / "mini_vlm_lookup.png", dpi=110)
    for presence in (False, True) if suites else ():
        _, table, history = perfect_eyes(config, presence, device=device)
        seconds = sum(stage["seconds"][-1] for stage in history.values() if stage["seconds"])
        words = "at full weight wherever an object is" if presence else "weighted by the area the object covers"
        print(f"\n## The suites through perfect eyes, the words {words} (stages 2 and 3 of the default recipe, "
              f"trained in {seconds:.0f} s; test splits, option scores)\n\n" + table, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m videollm.vlm.mini",
                                     description="The course's mini video LLM (a tiny Qwen2-VL, unit 05).")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="train and cache the checkpoint unless a matching one exists")
    build.add_argument("--force", action="store_true", help="train again even if the checkpoint matches")
    sub.add_parser("info", help="where the checkpoint of the current config is and whether it is cached")
    sub.add_parser("commit", help="copy the cached checkpoint to data/weights/ (to commit with the course)")
    ev = sub.add_parser("evaluate", help="score the model on every suite, both answering modes, with baselines")
    ev.add_argument("--split", default="test", choices=("train", "val", "test"))
    ev.add_argument("--no-tasks", action="store_true", help="one row per suite only")
    ev.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    ev.add_argument("--source", default="frames", choices=SOURCES,
                    help="frames drawn from the scenes (default), or each clip encoded and decoded as a user's video")
    ev.add_argument("--suites", nargs="+", default=list(SUITE_NAMES), choices=SUITE_NAMES)
    rep = sub.add_parser("report", help="the README's tables and figures (probe, frames curve, losses)")
    rep.add_argument("--out", type=Path, default=Path("docs/figures"), help="where the figures go")
    rep.add_argument("--ablations", action="store_true", help="also train and score the ablations (minutes each)")
    diag = sub.add_parser("diagnose", help="eyes or lookup: align a new language model on one-object clips through "
                                           "ground-truth tokens and through the vision tower (about 5 minutes)")
    diag.add_argument("--steps", type=int, default=600, help="alignment steps of each run (default 600)")
    diag.add_argument("--every", type=int, default=100, help="read the colours out every this many steps")
    diag.add_argument("--out", type=Path, default=Path("docs/figures"), help="where the figure goes")
    diag.add_argument("--suites", action="store_true",
                      help="also train stages 2 and 3 through two kinds of perfect eyes and score the suites "
                           "(13 more minutes)")
    for command in (build, ev, rep, diag):
        command.add_argument("--device", default="cpu", help="cpu, cuda, ... (default cpu)")
        command.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own)")
    args = parser.parse_args(argv)
    config = MiniVLMConfig()
    if args.command == "info":
        _info(config)
        return 0
    if args.command == "commit":
        return _commit(config)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: no CUDA device is available here; use --device cpu")
    if args.threads:
        torch.set_num_threads(args.threads)
    model, processor = pretrained(config, device=args.device, retrain=getattr(args, "force", False))
    trained = "cached" if model.meta["cached"] else f"trained in {model.meta['seconds']:.0f} s"
    print(f"{model.meta['path']} ({trained})")
    if args.command == "evaluate":
        _, table = results_table(model, processor, args.split, suites=args.suites, per_task=not args.no_tasks,
                                 modes=args.modes, source=args.source)
        print(table)
    if args.command == "report":
        _report(model, processor, config, args.out, args.ablations, args.device)
    if args.command == "diagnose":
        _diagnose(model, processor, config, args.out, args.steps, args.every, args.suites, args.device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
