"""``python -m grader``: the instructor's commands, wrapping nbgrader with the course configuration.

    build                 regenerate labs/ from solutions/
    check                 fail if labs/ is out of sync with solutions/
    samples [--out DIR]   write sample submissions (the solutions, and the blank student notebooks)
    autograde DIR         grade DIR/<student>/<lab>/<lab>.ipynb, each in a sandbox; print and save the grade table
                          [--jobs N] [--shard I/N] [--force] [--unsafe] [--memory-gb G] [--cell-timeout S] ...
    merge SHARD...        gather shard work folders (autograde --shard) into this work folder
    feedback              write HTML feedback for every graded submission (no hidden tests, no sandbox output)
    export [--to FILE]    write every result to a CSV (the same rows as autograde's table)
    contracts             print each lab's contract clauses and catalog size (the README's summary)

For students:
    workspace             copy the labs you do not have yet into my-labs/; put updated labs beside your copy
    submit NOTEBOOK --student NAME   check your notebook (valid, cells intact, visible checks) and pack it

Exit status is 0 only when everything asked for was done: a submission that could not be graded, or labs that
are out of sync, give 1 (after the whole batch has run).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
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
    p.add_argument("--labs", nargs="*", help="only these labs (default: all)")
    p = sub.add_parser("autograde", help="autograde DIR/<student>/<lab>/<lab>.ipynb")
    p.add_argument("submissions", type=Path)
    p.add_argument("--labs", nargs="*")
    p.add_argument("--csv", type=Path, help="default: WORK/grades.csv")
    p.add_argument("--jobs", type=int, default=1, help="submissions graded at once (default 1)")
    p.add_argument("--shard", help="I/N: grade only every N-th submission, starting at I (for cluster arrays)")
    p.add_argument("--force", action="store_true", help="regrade even submissions already graded unchanged")
    p.add_argument("--unsafe", action="store_true",
                   help="run without a sandbox where bubblewrap is unavailable (only for notebooks you trust)")
    p.add_argument("--memory-gb", type=float, help="memory per submission (default 4)")
    p.add_argument("--cell-timeout", type=int, help="seconds a cell may run (default 180, or $VIDEOLLM_CELL_TIMEOUT)")
    p.add_argument("--notebook-timeout", type=int, help="seconds a notebook may run (default 1800)")
    p.add_argument("--processes", type=int, help="processes and threads per submission (default 512)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p = sub.add_parser("merge", help="merge shard work folders into --work")
    p.add_argument("shards", type=Path, nargs="+")
    p.add_argument("--csv", type=Path, help="default: WORK/grades.csv")
    sub.add_parser("feedback", help="HTML feedback for every graded submission")
    sub.add_parser("contracts", help="print each lab's contract clauses and catalog size")
    sub.add_parser("workspace", help="fill my-labs/ from labs/ (never overwrites)")
    p = sub.add_parser("submit", help="check a lab notebook and pack it for the grader")
    p.add_argument("notebook", type=Path)
    p.add_argument("--student", required=True, help="your course login (the folder name the grader sees)")
    p.add_argument("--out", type=Path, help="default: submit/")
    p.add_argument("--no-run", action="store_true", help="skip running the notebook's visible checks")
    p.add_argument("--cell-timeout", type=int, default=600, help="seconds a cell may run (default 600)")
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

    written = build(args.labs)
    for path in written:
        print(f"built {path.relative_to(path.parents[2])}")
    if not written:
        print("labs/ is up to date")
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

    print(f"sample submissions in {write_samples(args.out or args.work / 'samples', args.labs)}")
    return 0


def limits_from(args):
    from grader.sandbox import GiB, Limits

    limits = Limits()
    if args.memory_gb:
        limits = replace(limits, memory_bytes=int(args.memory_gb * GiB))
    if args.cell_timeout:
        limits = replace(limits, cell_seconds=args.cell_timeout)
    if args.notebook_timeout:
        limits = replace(limits, notebook_seconds=args.notebook_timeout)
    if args.processes:
        limits = replace(limits, processes=args.processes)
    return limits


def _report(results, csv_path) -> int:
    from grader.results import grade_table, write_csv

    print(grade_table(results))
    print(f"\ngrades saved to {write_csv(results, csv_path)}")
    failed = [r for r in results if not r.graded]
    if failed:
        print(f"{len(failed)} submission(s) could not be graded; see the notes column", file=sys.stderr)
    return 1 if failed else 0


def _autograde(args) -> int:
    from grader.grading import autograde, parse_shard

    if args.jobs < 1:
        raise GraderError(f"--jobs must be at least 1, got {args.jobs}")
    shard = parse_shard(args.shard) if args.shard else None
    results = autograde(args.submissions, args.labs, work=args.work, jobs=args.jobs, shard=shard,
                        unsafe=args.unsafe, limits=limits_from(args), force=args.force, progress=not args.quiet)
    return _report(results, args.csv or args.work / "grades.csv")


def _merge(args) -> int:
    from grader.grading import merge

    results = merge(args.work, args.shards)
    return _report(results, args.csv or args.work / "grades.csv")


def _feedback(args) -> int:
    from grader.feedback import feedback

    files, problems = feedback(args.work)
    for problem in problems:
        print(f"feedback not written: {problem}", file=sys.stderr)
    print(f"wrote {len(files)} feedback file(s) under {args.work / 'feedback'}")
    return 1 if problems else 0


def _export(args) -> int:
    from grader.results import load_all, write_csv

    results = load_all(args.work)
    print(f"exported {len(results)} result(s) to {write_csv(results, args.to or args.work / 'grades_export.csv')}")
    return 0


def _contracts(args) -> int:
    from grader.contracts import summary

    print(summary())
    return 0


def _workspace(args) -> int:
    from grader.workspace import sync, workspace_dir

    events = sync()
    for event in events:
        if event.kind != "current":
            print(event.message)
    new = sum(e.kind == "copied" for e in events)
    beside = sum(e.kind not in ("copied", "current", "renamed") for e in events)
    print(f"your workspace: {workspace_dir()} ({new} new, {beside} with a newer version beside, "
          f"{sum(e.kind == 'current' for e in events)} up to date)")
    return 0


def _submit(args) -> int:
    from grader.submit import OUT, submit

    result = submit(args.notebook, args.student, out=args.out or OUT, run=not args.no_run, timeout=args.cell_timeout)
    for error in result.errors:
        print(f"error: {error}", file=sys.stderr)
    for warning in result.warnings:
        print(f"warning: {warning}")
    if result.packed is None:
        print(f"not packed: fix the error(s) above and run submit again", file=sys.stderr)
        return 1
    print(f"packed {result.lab} for {args.student}: {result.packed} (hand in this file)")
    return 0


COMMANDS = {
    "contracts": _contracts,
    "workspace": _workspace,
    "submit": _submit,
    "build": _build,
    "check": _check,
    "samples": _samples,
    "autograde": _autograde,
    "merge": _merge,
    "feedback": _feedback,
    "export": _export,
}
