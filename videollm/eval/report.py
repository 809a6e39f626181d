"""Unit 09 — the results command: score a predictions file against a course suite and print a leaderboard-style table.

``python -m videollm.eval SUITE PREDICTIONS.jsonl [options]`` (run with ``--help`` for the options).

PREDICTIONS.jsonl holds one JSON object per line, ``{"id": ..., "response": "<raw model text>"}`` or
``{"id": ..., "prediction": "B"}``. In ``--circular`` mode it holds one line per rotation, ids ``ID@0``,
``ID@1``, ... (see :func:`videollm.eval.metrics.circular_variants`).

Example output (90 Video-MME-style questions, 3 per clip, with ``--bootstrap``)::

    Video-MME · split test · 90 questions · parser new
    duration      n  correct   acc %  95% CI
    ----------------------------------------
    short        30       21    70.0  [ 53.3,  86.7]
    medium       30       22    73.3  [ 56.7,  86.7]
    long         30       10    33.3  [ 16.7,  50.0]
    ----------------------------------------
    overall      90       53    58.9  [ 48.9,  68.9]
    random       90        -    25.0  simulated 25.1 ± 4.5
    CI: percentile bootstrap resampling whole clips (questions on one video are correlated)

For MLVU the table adds an ``M-Avg`` row (unweighted mean over tasks) after ``overall``. For the Video-MMMU-like
suite the rows are its tracks, and ``--before BEFORE.jsonl`` (the adaptation questions answered without the video)
adds the adaptation accuracy without the video and the knowledge gain Δknowledge (:mod:`videollm.eval.knowledge`).

Lecture: `lectures/09_evaluation.ipynb` §4.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from videollm.eval import metrics
from videollm.eval.knowledge import knowledge_scores
from videollm.eval.parsing import parse_answer
from videollm.world.lessons import TRACKS
from videollm.world.suites import load_questions

SUITES = {"videomme": "Video-MME", "perception": "PerceptionTest", "mlvu": "MLVU", "videommmu": "Video-MMMU"}
SPLITS = ("train", "val", "test")
GROUP_FIELDS = ("task", "duration", "area", "reasoning")
# What each paper's table shows (the Video-MMMU-like suite's task is its track).
DEFAULT_BY = {"videomme": "duration", "perception": "area", "mlvu": "task", "videommmu": "task"}
RANDOM_DRAWS = 2000
MAX_LISTED = 10  # missing ids listed in the printed note


class CLIError(Exception):
    """A problem with the command's input; its message is printed as ``error: ...`` and the exit status is 2."""


# ---------------------------------------------------------------------------------------------- input


def read_jsonl(path: str | Path, what: str = "predictions") -> list[dict]:
    """Read a JSON-lines file of objects (blank lines skipped); errors name the file and the line number."""
    path = Path(path)
    if not path.is_file():
        raise CLIError(f"{what} file not found: {path}")
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise CLIError(f"{path}, line {number}: not valid JSON ({err.msg} at column {err.colno})") from None
            if not isinstance(row, dict) or "id" not in row:
                raise CLIError(f"{path}, line {number}: expected an object with an 'id' field; got {line.strip():.120}")
            rows.append(row)
    return rows


def _select(questions: Sequence[dict], suite: str, split: str, source: str) -> list[dict]:
    """The questions of ``suite``/``split`` (questions without those fields are kept), each tagged with its suite."""
    chosen = [
        {**q, "suite": q.get("suite", suite)}
        for q in questions
        if q.get("suite", suite) == suite and q.get("split", split) == split
    ]
    if not chosen:
        found = sorted({(str(q.get("suite")), str(q.get("split"))) for q in questions})
        raise CLIError(
            f"no {suite} questions of split {split!r} in {source}; it has (suite, split) = {found or 'nothing'}: "
            "check SUITE and --split"
        )
    return chosen


def load_suite_questions(suite: str, split: str, questions_file: str | None = None) -> list[dict]:
    """Questions from ``--questions FILE`` if given, else from the course suites (``videollm.world.suites``)."""
    if questions_file is not None:
        return _select(read_jsonl(questions_file, what="questions"), suite, split, questions_file)
    try:
        questions = load_questions(suite, split)
    except (OSError, ValueError, KeyError) as err:
        raise CLIError(f"could not load {suite} split {split!r}: {err}") from None
    return _select(questions, suite, split, f"videollm.world.suites {suite}/{split}")


# ---------------------------------------------------------------------------------------------- report


def _members(records: list[dict], field: str, value: str) -> list[dict]:
    return [r for r in records if metrics.group_key(r, (field,)) == (value,)]


def _with_ci(row: dict, records: list[dict], seed, n_boot: int, alpha: float):
    """Add the bootstrap interval of ``records`` to ``row``; return the draws (for M-Avg)."""
    clips = [r.get("clip") for r in records]
    clusters = clips if all(c is not None for c in clips) else None  # cluster by clip when every question has one
    correct = [r["correct"] for r in records]
    draws = metrics.bootstrap_draws(correct, n_boot=n_boot, seed=seed, clusters=clusters)
    row["ci"] = [float(v) for v in np.percentile(draws, [50 * alpha, 100 - 50 * alpha])]
    return draws


def _default_parse(suite: str, parser: str):
    """The parser for ``suite``: :func:`videollm.eval.metrics.make_parser`, except that Video-MMMU's legacy parser
    also reads the option texts (its last resort matches them in the reply)."""
    if suite != "videommmu":
        return metrics.make_parser(parser)

    def parse(text: str, question) -> str:
        return parse_answer(text, "videommmu", len(question["options"]), parser, options=question["options"])

    parse.__name__ = f"parse_answer_{parser}"
    return parse


def build_report(
    questions: Sequence[dict],
    predictions,
    suite: str,
    split: str = "test",
    parser: str = "new",
    parse=None,
    by: str | None = None,
    circular: bool = False,
    bootstrap: bool = False,
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
    before=None,
) -> dict:
    """Everything the table shows, as a JSON-ready dict (also what ``--json`` writes).

    Keys: ``suite``, ``name``, ``split``, ``parser``, ``by``, ``circular``, ``rows`` (one per group),
    ``overall``, ``m_avg`` (MLVU only), ``random`` (analytic and simulated), ``knowledge`` (with ``before``: the
    adaptation accuracy before and after the video and Δknowledge, see
    :func:`videollm.eval.knowledge.knowledge_scores`), ``missing`` (ids without a prediction), ``bootstrap``
    (settings, when on), ``records`` (one per question).
    """
    by = by or DEFAULT_BY.get(suite, "task")
    parser_name = parser if parse is None else getattr(parse, "__name__", "custom")
    parse = parse or _default_parse(suite, parser)
    if before is not None and circular:
        raise ValueError("--before (Δknowledge) and --circular cannot be combined: score one or the other")
    if circular:
        records = metrics.circular_score(questions, predictions, parse)
    else:
        records = metrics.score(questions, predictions, parse)
    table = metrics.accuracy_table(records, by=(by,))
    rows, overall = table["rows"], table["overall"]
    if {row[by] for row in rows} <= set(TRACKS):  # Video-MMMU's tracks in the order of learning, not alphabetical
        rows = sorted(rows, key=lambda row: TRACKS.index(row[by]))
    report = {
        "suite": suite,
        "name": SUITES.get(suite, suite),
        "split": split,
        "parser": parser_name,
        "by": by,
        "circular": circular,
        "rows": rows,
        "overall": overall,
    }
    if circular:
        rotations = sum(r["num_options"] for r in records)
        report["plain_accuracy"] = 100.0 * sum(r["rotations_correct"] for r in records) / rotations
    if suite == "mlvu":
        report["m_avg"] = {"n": len(records), "accuracy": metrics.m_avg(records)}
    analytic = metrics.circular_random_baseline(records) if circular else metrics.random_baseline(records)
    sim_mean, sim_std = metrics.simulate_random(records, n_draws=RANDOM_DRAWS, seed=seed, circular=circular)
    report["random"] = {
        "n": len(records),
        "accuracy": analytic,
        "simulated_mean": sim_mean,
        "simulated_std": sim_std,
        "draws": RANDOM_DRAWS,
    }
    if bootstrap:
        _with_ci(overall, records, seed, n_boot, alpha)
        for g, row in enumerate(rows):
            _with_ci(row, _members(records, by, row[by]), (seed, g + 1), n_boot, alpha)  # one stream per group
        if "m_avg" in report:
            # Stratified bootstrap: resample within each task, average the task accuracies per replicate.
            tasks = sorted({metrics.group_key(r, ("task",))[0] for r in records})
            task_draws = [
                _with_ci({}, _members(records, "task", task), (seed, 1000 + t), n_boot, alpha)
                for t, task in enumerate(tasks)
            ]
            m_draws = np.mean(task_draws, axis=0)
            report["m_avg"]["ci"] = [float(v) for v in np.percentile(m_draws, [50 * alpha, 100 - 50 * alpha])]
        clustered = all(r.get("clip") is not None for r in records)
        report["bootstrap"] = {"n_boot": n_boot, "alpha": alpha, "seed": seed, "clip_clusters": clustered}
    if before is not None:
        gain = knowledge_scores(questions, predictions, before, parse)
        n = sum(1 for q in questions if q.get("track", q.get("task")) == "adaptation")
        report["knowledge"] = {"n": n, "before": gain["before"], "after": gain["after"],
                               "delta_knowledge": gain["delta_knowledge"]}
    report["missing"] = metrics.missing_ids(records)
    report["records"] = records
    return report


def format_table(report: dict) -> str:
    """The report as a plain-text table: one row per group, then overall, M-Avg (MLVU) and random."""
    by, ci_on = report["by"], "bootstrap" in report
    mode = " · circular" if report["circular"] else ""
    title = (
        f"{report['name']} · split {report['split']} · {report['overall']['n']} questions · "
        f"parser {report['parser']}{mode}"
    )
    labels = [row["group"] for row in report["rows"]] + ["overall", "M-Avg", "random"]
    labels += ["adaptation, no video"] if "knowledge" in report else []
    width = max(len(by), *(len(label) for label in labels))
    ci_header = f"  {100 * (1 - report['bootstrap']['alpha']):.0f}% CI" if ci_on else ""
    lines = [title, f"{by:<{width}}  {'n':>5}  {'correct':>7}  {'acc %':>6}{ci_header}"]

    def line(label, n, correct, acc, extra=""):
        return f"{label:<{width}}  {n:>5}  {correct:>7}  {acc:>6.1f}{extra}"

    def ci(row):
        return f"  [{row['ci'][0]:5.1f}, {row['ci'][1]:5.1f}]" if "ci" in row else ""

    rule = "-" * len(lines[-1])
    lines.append(rule)
    for row in report["rows"]:
        lines.append(line(row["group"], row["n"], row["correct"], row["accuracy"], ci(row)))
    lines.append(rule)
    overall = report["overall"]
    lines.append(line("overall", overall["n"], overall["correct"], overall["accuracy"], ci(overall)))
    if "m_avg" in report:
        m = report["m_avg"]
        lines.append(line("M-Avg", m["n"], "-", m["accuracy"], ci(m)))
    rnd = report["random"]
    sim = f"  simulated {rnd['simulated_mean']:.1f} ± {rnd['simulated_std']:.1f}"
    lines.append(line("random", rnd["n"], "-", rnd["accuracy"], sim))
    if "knowledge" in report:
        k = report["knowledge"]
        lines.append(line("adaptation, no video", k["n"], "-", k["before"]))
        lines.append(f"Δknowledge {k['delta_knowledge']:+.1f}%: adaptation {k['before']:.1f}% without the video, "
                     f"{k['after']:.1f}% with it; (after - before) / (100 - before)")
    if report["circular"]:
        plain = report["plain_accuracy"]
        lines.append(f"circular: right only under every rotation; plain accuracy over all rotations {plain:.1f}%")
    if "m_avg" in report:
        lines.append("M-Avg: unweighted mean of per-task accuracies; overall weights every question equally")
    if ci_on and report["bootstrap"]["clip_clusters"]:
        lines.append("CI: percentile bootstrap resampling whole clips (questions on one video are correlated)")
    missing = report["missing"]
    if missing:
        listed = ", ".join(missing[:MAX_LISTED]) + (", ..." if len(missing) > MAX_LISTED else "")
        lines.append(f"note: {len(missing)} question(s) had no prediction and count as wrong: {listed}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="python -m videollm.eval",
        description="Score multiple-choice predictions against a course benchmark suite and print the results.",
    )
    cli.add_argument("suite", help=f"benchmark suite: {', '.join(SUITES)}")
    cli.add_argument("predictions", help='JSONL file, one {"id", "response" | "prediction"} object per line')
    cli.add_argument("--split", default="test", choices=SPLITS, help="split of the suite (default: test)")
    cli.add_argument("--parser", default="new", choices=metrics.PARSERS, help="answer parser (default: new)")
    cli.add_argument("--by", choices=GROUP_FIELDS, help="group rows by this field (default: the suite's usual one)")
    cli.add_argument(
        "--circular",
        action="store_true",
        help="CircularEval: prediction ids are ID@k; a question counts only if every rotation is right",
    )
    cli.add_argument("--bootstrap", action="store_true", help="add percentile-bootstrap confidence intervals")
    cli.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples (default: 2000)")
    cli.add_argument("--seed", type=int, default=0, help="seed for the bootstrap and the random baseline")
    cli.add_argument("--json", metavar="OUT", help="also write the full report (with per-question records) here")
    cli.add_argument("--questions", metavar="FILE", help="read questions from this JSONL instead of the suite")
    cli.add_argument("--before", metavar="FILE", help="Video-MMMU: predictions for the adaptation questions answered "
                     "without the video (question and its image only); adds the knowledge gain Δknowledge")
    return cli


def main(argv: Sequence[str] | None = None, questions: Sequence[dict] | None = None, parse=None) -> int:
    """Run the command; returns the exit status (0 ok, 2 bad input).

    ``questions`` (question dicts) and ``parse`` (a ``parse(text, question) -> letter`` callable) may be
    injected by tests or notebooks; otherwise questions come from ``--questions`` or the course suites and
    the parser from ``--parser``.
    """
    args = build_parser().parse_args(argv)
    try:
        if args.suite not in SUITES:
            raise CLIError(f"unknown suite {args.suite!r}; choose one of {', '.join(SUITES)}")
        if args.n_boot < 1:
            raise CLIError(f"--n-boot must be a positive integer; got {args.n_boot}")
        predictions = read_jsonl(args.predictions)
        before = read_jsonl(args.before, what="before-predictions") if args.before else None
        if questions is not None:
            chosen = _select(questions, args.suite, args.split, "the given questions")
        else:
            chosen = load_suite_questions(args.suite, args.split, args.questions)
        try:
            report = build_report(
                chosen,
                predictions,
                args.suite,
                split=args.split,
                parser=args.parser,
                parse=parse,
                by=args.by,
                circular=args.circular,
                bootstrap=args.bootstrap,
                n_boot=args.n_boot,
                seed=args.seed,
                before=before,
            )
        except ValueError as err:
            raise CLIError(str(err)) from None  # the message names the id or field at fault
        except ImportError as err:
            raise CLIError(
                f"the answer parser is not available ({err}); give letters as \"prediction\" fields instead"
            ) from None
        print(format_table(report))
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    except CLIError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
