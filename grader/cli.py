"""``python -m grader``: the instructor's commands, wrapping nbgrader with the course configuration.

    build                 regenerate labs/ from solutions/
    check                 fail if labs/ is out of sync with solutions/
    samples [--out DIR]   write sample submissions (the solutions, and the blank student notebooks)
    autograde DIR         grade DIR/<student>/<lab>/<lab>.ipynb; print and save the grade table
    feedback              write HTML feedback (hidden tests removed) for every autograded submission
    export [--to FILE]    write every grade in the gradebook to a CSV

Exit status is 0 only when everything asked for was done: a submission that could not be graded, or labs that
are out of sync, give 1 (after the whole batch has run).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grader.course import WORK, GraderError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=WORK, help="folder for submissions, gradebook, feedback (default grader/work)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("build", help="regenerate labs/ from solutions/")
    p.add_argument("labs", nargs="*")
    p = sub.add_parser("check", help="check labs/ is in sync with solutions/")
    p.add_argument("labs", nargs="*")
    p = sub.add_parser("samples", help="write sample submissions")
    p.add_argument("--out", type=Path, help="default: WORK/samples")
    p = sub.add_parser("autograde", help="autograde DIR/<student>/<lab>/<lab>.ipynb")
    p.add_argument("submissions", type=Path)
    p.add_argument("--labs", nargs="*")
    p.add_argument("--csv", type=Path, help="default: WORK/grades.csv")
    sub.add_parser("feedback", help="HTML feedback for every autograded submission")
    p = sub.add_parser("export", help="write all grades to CSV")
    p.add_argument("--to", type=Path, help="default: WORK/grades_export.csv")
    args = parser.parse_args(argv)

    try:
        return COMMANDS[args.command](args)
    except GraderError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _build(args) -> int:
    from grader.release import build

    for path in build(args.labs):
        print(f"built {path.relative_to(path.parents[2])}")
    return 0


def _check(args) -> int:
    from grader.release import check

    problems = check(args.labs)
    for problem in problems:
        print(problem)
    print("labs/ is in sync with solutions/" if not problems else "run `python -m grader build` (or `make labs`)")
    return 1 if problems else 0


def _samples(args) -> int:
    from grader.release import write_samples

    print(f"sample submissions in {write_samples(args.out or args.work / 'samples')}")
    return 0


def _autograde(args) -> int:
    from grader.grading import autograde, grade_table, write_csv

    results = autograde(args.submissions, args.labs, work=args.work)
    print(grade_table(results))
    print(f"\ngrades saved to {write_csv(results, args.csv or args.work / 'grades.csv')}")
    failed = [r for r in results if not r.graded]
    if failed:
        print(f"{len(failed)} submission(s) could not be graded; see the notes column", file=sys.stderr)
    return 1 if failed else 0


def _feedback(args) -> int:
    from grader.grading import feedback

    files = feedback(args.work)
    print(f"wrote {len(files)} feedback file(s) under {args.work / 'feedback'}")
    return 0


def _export(args) -> int:
    from grader.grading import gradebook_results, write_csv

    results = gradebook_results(args.work)
    print(f"exported {len(results)} grade(s) to {write_csv(results, args.to or args.work / 'grades_export.csv')}")
    return 0


COMMANDS = {
    "build": _build,
    "check": _check,
    "samples": _samples,
    "autograde": _autograde,
    "feedback": _feedback,
    "export": _export,
}
