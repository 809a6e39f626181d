"""Unit 09 — the baseline table: how well chance, a blind model and frame-limited oracles do on every suite.

Video-MME is scored with and without subtitles (as the real leaderboard is), MLVU by M-Avg (the unweighted mean
of its per-task accuracies), PerceptionTest and Video-MME by overall accuracy. Everything here reads annotations
only, so the whole table takes seconds: no clip is rendered. The Video-MMMU-like suite, scored per track and by its
knowledge gain, has its own table (:func:`videollm.eval.knowledge.knowledge_table`), printed after this one.

Lecture: `lectures/09_evaluation.ipynb` §5.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Sequence

import numpy as np

from videollm.eval.knowledge import format_knowledge_table, knowledge_table
from videollm.eval.metrics import accuracy, m_avg, score
from videollm.eval.oracle import BlindModel, frame_limited_predictions
from videollm.world.suites import SPLITS, SUITES, load_questions

#: The frame budgets of the README's table (``None`` = every frame).
FRAME_BUDGETS = (4, 16, 64)

#: The columns: (label, suite, subtitles).
COLUMNS = (("Video-MME w/o subs", "videomme", False), ("Video-MME w/ subs", "videomme", True),
           ("PerceptionTest", "perception", False), ("MLVU (M-Avg)", "mlvu", False))


def suite_score(records: Sequence[dict[str, Any]], predictions: dict[str, str]) -> float:
    """The suite's headline number in %: M-Avg for MLVU, accuracy otherwise."""
    results = score(records, {qid: {"prediction": letter} for qid, letter in predictions.items()})
    if records and records[0]["suite"] == "mlvu":
        return float(m_avg(results))
    return float(accuracy(results))


def baseline_table(split: str = "test", frame_budgets: Sequence[int] = FRAME_BUDGETS) -> dict[str, dict[str, float]]:
    """``{row: {column: score}}`` with rows ``random``, ``blind``, ``oracle N frames`` and ``oracle all frames``."""
    table: dict[str, dict[str, float]] = {}
    for label, suite, subtitles in COLUMNS:
        records = load_questions(suite, split)
        rows = {"random (expected)": 100.0 * float(np.mean([1 / len(r["options"]) for r in records]))}
        blind = BlindModel().fit(load_questions(suite, "train"))
        rows["blind (question only)"] = suite_score(records, blind.predictions(records))
        for n in [*frame_budgets, None]:
            name = f"oracle, {n} frames" if n else "oracle, all frames"
            rows[name] = suite_score(records, frame_limited_predictions(records, n, subtitles=subtitles))
        for row, value in rows.items():
            table.setdefault(row, {})[label] = value
    return table


def format_table(table: dict[str, dict[str, float]]) -> str:
    """A Markdown table, one row per baseline, one column per suite."""
    columns = [label for label, _, _ in COLUMNS]
    lines = ["| baseline | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for row, values in table.items():
        lines.append(f"| {row} | " + " | ".join(f"{values[c]:.1f}" for c in columns) + " |")
    return "\n".join(lines)


__all__ = ["COLUMNS", "FRAME_BUDGETS", "SUITES", "baseline_table", "format_table", "suite_score"]


def main(argv: list[str] | None = None) -> int:
    """``python -m videollm.eval.baselines``: random, blind and frame-limited oracle accuracy on every suite."""
    parser = argparse.ArgumentParser(prog="python -m videollm.eval.baselines", description=main.__doc__.split(": ")[1])
    parser.add_argument("--split", default="test", choices=SPLITS)
    parser.add_argument("--frames", type=int, nargs="*", default=list(FRAME_BUDGETS))
    args = parser.parse_args(argv)
    print(format_table(baseline_table(split=args.split, frame_budgets=args.frames)))
    print("\nVideo-MMMU-like suite (videommmu): accuracy % per track and overall; Δknowledge % on adaptation")
    print(format_knowledge_table(knowledge_table(split=args.split, frame_budgets=args.frames)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
