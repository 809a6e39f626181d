"""``python -m videollm.benchmarks``: build or check the suites' manifests, and print the baseline table.

    build       write data/benchmarks/<suite>/<split>.jsonl and print each file's sha256
    check       exit 1 if the committed manifests differ from what the generator makes
    baselines   random, blind and frame-limited oracle accuracy on every suite's test split
"""

from __future__ import annotations

import argparse
import sys

from videollm.benchmarks import baselines, suites


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m videollm.benchmarks", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="write the manifests")
    sub.add_parser("check", help="check the manifests are current")
    p = sub.add_parser("baselines", help="print the baseline table")
    p.add_argument("--split", default="test", choices=suites.SPLITS)
    p.add_argument("--frames", type=int, nargs="*", default=list(baselines.FRAME_BUDGETS))
    args = parser.parse_args(argv)
    if args.command == "build":
        for path, digest in suites.build().items():
            print(f"{digest}  data/benchmarks/{path}")
        return 0
    if args.command == "check":
        problems = suites.check()
        for problem in problems:
            print(problem, file=sys.stderr)
        print("manifests are current" if not problems else "run `python -m videollm.benchmarks build`")
        return 1 if problems else 0
    table = baselines.baseline_table(split=args.split, frame_budgets=args.frames)
    print(baselines.format_table(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
