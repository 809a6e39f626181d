"""Grading results: one file per (student, lab), written atomically; the table and the CSV read only these.

``WORK/results/<key>.json`` holds the current result of a submission; ``key`` is a hash of the student and
lab, so any folder name, however odd, has a safe file. Before a submission is (re)graded its file is replaced
by an ``interrupted`` result, and only a finished grading replaces that: a crash or a ``kill -9`` can leave a
submission marked interrupted, never an old score that looks current. ``autograde`` and ``export`` print the
same rows from the same files.
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from videollm.cache import write_atomic

# Statuses with a score; the others mean the submission could not be graded (never a silent zero).
SCORED = ("graded", "needs manual grading", "timed out", "out of memory", "kernel died")
NOT_SCORED = ("invalid notebook", "not a known lab", "badly named", "grading failed", "interrupted")


@dataclass
class Result:
    """One (student, lab) row."""

    student: str
    lab: str
    status: str  # one of SCORED or NOT_SCORED
    detail: str = ""  # which cell and why, in plain words (safe to show the student)
    score: float | None = None
    max_score: float | None = None
    cells: dict[str, list] = field(default_factory=dict)  # test cell -> [score, max, [failures]]
    notes: list[str] = field(default_factory=list)
    submission_sha256: str = ""
    fingerprint: str = ""  # what else the result depends on: reference, grader code, limits
    graded_at: float = 0.0
    log: str = ""  # instructor-only log (relative to the work folder)

    @property
    def graded(self) -> bool:
        return self.score is not None

    @property
    def label(self) -> str:
        return f"{self.status}: {self.detail}" if self.detail else self.status


def key(student: str, lab: str) -> str:
    return hashlib.sha256(f"{student}\0{lab}".encode("utf-8", "surrogateescape")).hexdigest()[:32]


def result_path(work: Path, student: str, lab: str) -> Path:
    return Path(work) / "results" / f"{key(student, lab)}.json"


def save(work: Path, result: Result) -> Path:
    result.graded_at = result.graded_at or time.time()
    text = json.dumps(asdict(result), indent=1, ensure_ascii=True)
    return write_atomic(result_path(work, result.student, result.lab), lambda p: Path(p).write_text(text))


def load(work: Path, student: str, lab: str) -> Result | None:
    path = result_path(work, student, lab)
    return _read(path) if path.exists() else None


def load_all(work: Path) -> list[Result]:
    """Every result in ``work`` (what ``export`` writes), sorted by student and lab."""
    results = [r for p in sorted((Path(work) / "results").glob("*.json")) if (r := _read(p)) is not None]
    return sorted(results, key=lambda r: (r.student, r.lab))


def _read(path: Path) -> Result | None:
    try:
        data = json.loads(path.read_text())
        return Result(**data)
    except (OSError, ValueError, TypeError):
        return None


def display_name(name: str) -> str:
    """A folder name as it can be printed: odd characters escaped."""
    return name if name.isprintable() and name.strip() == name and name else ascii(name)


def grade_table(results: list[Result]) -> str:
    """A plain-text table: one row per student, one column per lab (``score/max`` or ``NOT GRADED``), then notes."""
    students = sorted({r.student for r in results})
    labs = sorted({r.lab for r in results})
    by_key = {(r.student, r.lab): r for r in results}
    header = ["student", *labs, "total", "notes"]
    rows = []
    for student in students:
        cells, total, best, notes = [], 0.0, 0.0, []
        for lab in labs:
            r = by_key.get((student, lab))
            if r is None:
                cells.append("-")
                continue
            if r.graded:
                cells.append(f"{r.score:g}/{r.max_score:g}")
                total, best = total + r.score, best + r.max_score
            else:
                cells.append("NOT GRADED")
            if r.status != "graded":
                notes.append(f"{display_name(lab)}: {r.label}")
        rows.append([display_name(student), *cells, f"{total:g}/{best:g}", "; ".join(notes)])
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda values: "  ".join(str(v).ljust(w) for v, w in zip(values, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def write_csv(results: list[Result], path: Path) -> Path:
    """Long-format CSV (student, lab, score, max_score, status, detail): the file an LMS import wants.

    A submission that could not be graded has an empty score, never 0."""
    path = Path(path)

    def write(staging):
        with open(staging, "w", newline="", encoding="utf-8", errors="backslashreplace") as f:
            writer = csv.writer(f)
            writer.writerow(["student", "lab", "score", "max_score", "status", "detail"])
            for r in results:
                writer.writerow([_cell(r.student), _cell(r.lab), "" if r.score is None else f"{r.score:g}",
                                 "" if r.max_score is None else f"{r.max_score:g}", r.status, r.detail])

    return write_atomic(path, write)


def _cell(text: str) -> str:
    """A folder name as a CSV field a spreadsheet shows as text, never runs as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
