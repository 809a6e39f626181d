"""How much ``autograde --jobs N`` saves: one class graded with 1 worker, then with N, side by side.

    python -m grader.benchmark [--students 12] [--jobs 2] [--lab lab00_video_as_data]

Every student hands in the lab's solution (so every notebook runs to the end). The reference run is made once
beforehand and shared, so both timings cover the students' sandboxes only. Prints both wall times and their
ratio; quote the ratio, not the seconds, unless the machine is the one you grade on.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from grader import reference, sandbox
from grader.course import SOLUTIONS
from grader.sandbox import Limits
from grader.grading import autograde


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.benchmark", description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=12)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--lab", default="lab00_video_as_data")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="videollm-bench-") as tmp:
        root = Path(tmp)
        for i in range(args.students):
            folder = root / "subs" / f"student{i:03d}" / args.lab
            folder.mkdir(parents=True)
            shutil.copy(SOLUTIONS / args.lab / f"{args.lab}.ipynb", folder / f"{args.lab}.ipynb")
        warm = root / "warm"
        reference.expected_records(args.lab, warm, Limits(), sandbox.require(False))  # the reference run, once
        seconds = {}
        for jobs in (1, args.jobs):
            work = root / f"jobs{jobs}"
            shutil.copytree(warm / "reference", work / "reference")
            began = time.perf_counter()
            results = autograde(root / "subs", [args.lab], work=work, jobs=jobs, progress=False)
            seconds[jobs] = time.perf_counter() - began
            assert all(r.score == r.max_score for r in results), [r.label for r in results]
    one, many = seconds[1], seconds[args.jobs]
    print(f"{args.students} x {args.lab}: 1 worker {one:.1f} s, {args.jobs} workers {many:.1f} s, "
          f"speed-up {one / many:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
