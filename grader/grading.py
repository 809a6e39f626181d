"""Autograde a folder of submissions and report a grade table.

Submissions are laid out ``<dir>/<student>/<lab>/<lab>.ipynb``. Each one is copied into nbgrader's submitted
folder (the original is never touched), autograded on its own, and read back from the gradebook. One broken
submission (corrupt JSON, a crash, a timeout) is reported in its row and never stops the batch, and a
submission nbgrader could not grade is marked ``not graded``, never given a silent zero.
"""

from __future__ import annotations

import csv
import re
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from grader.course import WORK, GraderError, lab_names, make_api
from grader.release import register

STUDENT_ID = re.compile(r"^[A-Za-z0-9_.@+-]+$")


@dataclass
class Result:
    """One (student, lab) row of the grade table."""

    student: str
    lab: str
    status: str  # "graded", "needs manual grading", or "not graded: <why>"
    score: float | None = None
    max_score: float | None = None
    cells: dict[str, tuple[float, float]] = field(default_factory=dict)  # test cell id -> (score, max)

    @property
    def graded(self) -> bool:
        return self.score is not None


def find_submissions(folder: Path) -> tuple[list[tuple[str, str, Path]], list[Result]]:
    """Walk ``folder/<student>/<lab>/``; return the notebooks to grade and rows for what cannot be graded."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GraderError(f"submissions folder not found: {folder} (expected <folder>/<student>/<lab>/<lab>.ipynb)")
    known = set(lab_names())
    found, problems = [], []
    for student_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        student = student_dir.name
        for lab_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            lab = lab_dir.name
            notebook = lab_dir / f"{lab}.ipynb"
            if not STUDENT_ID.match(student):
                problems.append(Result(student, lab, "not graded: student folder name may only hold letters, digits and _.@+-"))
            elif lab not in known:
                problems.append(Result(student, lab, f"not graded: no lab called {lab!r} (labs: {', '.join(sorted(known))})"))
            elif not notebook.exists():
                others = sorted(p.name for p in lab_dir.glob("*.ipynb"))
                problems.append(Result(student, lab, f"not graded: {lab}.ipynb missing (found {others or 'no notebooks'}); rename it"))
            else:
                found.append((student, lab, notebook))
    if not found and not problems:
        raise GraderError(f"no submissions in {folder}: expected <folder>/<student>/<lab>/<lab>.ipynb")
    return found, problems


def read_result(gradebook, student: str, lab: str) -> Result:
    """Scores of one autograded submission, per test cell, from the gradebook."""
    submission = gradebook.find_submission(lab, student)
    cells = {g.name: (g.score, g.max_score) for nb in submission.notebooks for g in nb.grades}
    status = "needs manual grading" if submission.needs_manual_grade else "graded"
    return Result(student, lab, status, submission.score, submission.max_score, cells)


def autograde(folder: Path, labs: list[str] | None = None, work: Path = WORK) -> list[Result]:
    """Autograde every submission under ``folder`` (only ``labs`` if given); one ``Result`` per submission."""
    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SAWarning
    from tqdm.auto import tqdm

    # nbgrader 0.9.6's gradebook warns about its own session handling on every submission; nothing to act on.
    warnings.filterwarnings("ignore", category=SAWarning, module="nbgrader")
    found, results = find_submissions(folder)
    if labs:
        found = [s for s in found if s[1] in labs]
    register(sorted({lab for _, lab, _ in found}), work)
    api = make_api(work)
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for student, lab, notebook in tqdm(found, desc="autograding", unit="submission"):
        target = work / "submitted" / student / lab
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        shutil.copy2(notebook, target / notebook.name)
        outcome = api.autograde(lab, student, force=True, create=True)
        log_file = logs / f"{student}__{lab}.log"
        log_file.write_text((outcome.get("log") or "") + "\n" + (outcome.get("error") or ""))
        if not outcome.get("success"):
            reason = _first_error_line(outcome)
            results.append(Result(student, lab, f"not graded: {reason} (log: {log_file})"))
            continue
        with Gradebook(api.coursedir.db_url) as gradebook:
            results.append(read_result(gradebook, student, lab))
    return sorted(results, key=lambda r: (r.student, r.lab))


def _first_error_line(outcome: dict) -> str:
    text = (outcome.get("error") or outcome.get("log") or "nbgrader reported failure").strip().splitlines()
    errors = [line for line in text if "Error" in line or "error" in line]
    return (errors[-1] if errors else text[-1]).strip()[:200]


def grade_table(results: list[Result]) -> str:
    """A plain-text table: one row per student, one column per lab (``score/max``), then a status column."""
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
            elif r.graded:
                cells.append(f"{r.score:g}/{r.max_score:g}")
                total, best = total + r.score, best + r.max_score
                if r.status != "graded":
                    notes.append(f"{lab}: {r.status}")
            else:
                cells.append("NOT GRADED")
                notes.append(f"{lab}: {r.status}")
        rows.append([student, *cells, f"{total:g}/{best:g}", "; ".join(notes)])
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda values: "  ".join(str(v).ljust(w) for v, w in zip(values, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def write_csv(results: list[Result], path: Path) -> Path:
    """Long-format CSV (student, lab, score, max_score, status), the file an LMS import wants."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "lab", "score", "max_score", "status"])
        for r in results:
            writer.writerow([r.student, r.lab, r.score if r.graded else "", r.max_score if r.graded else "", r.status])
    return path


def gradebook_results(work: Path = WORK) -> list[Result]:
    """Every submission the gradebook holds (what ``export`` writes)."""
    from nbgrader.api import Gradebook, MissingEntry

    api = make_api(work)
    results = []
    with Gradebook(api.coursedir.db_url) as gradebook:
        for assignment in gradebook.assignments:
            for student in gradebook.students:
                try:
                    results.append(read_result(gradebook, student.id, assignment.name))
                except MissingEntry:
                    continue
    return sorted(results, key=lambda r: (r.student, r.lab))


def feedback(work: Path = WORK) -> list[Path]:
    """HTML feedback for every autograded submission, hidden tests removed; returns the files written."""
    api = make_api(work)
    for lab in sorted({r.lab for r in gradebook_results(work)}):
        outcome = api.generate_feedback(lab, force=True)
        if not outcome.get("success"):
            raise GraderError(f"feedback for {lab} failed:\n{outcome.get('error') or outcome.get('log')}")
    return sorted((work / "feedback").glob("*/*/*.html"))
