"""Autograde a folder of submissions: each one sealed off, judged outside its sandbox, recorded atomically.

Submissions are laid out ``<dir>/<student>/<lab>/<lab>.ipynb`` and never modified. For each one the grader
(1) hashes it and skips it when an identical submission was already graded under the same reference, code and
limits; (2) marks it ``interrupted`` (so a crash never leaves an old score looking current); (3) builds the
notebook to run from the lab's own cells and the student's answers (``grader.prepare``); (4) runs it in the
sandbox (``grader.sandbox``); (5) scores it in this process against the reference run (``grader.verdicts``);
(6) saves the result, the graded copy, an instructor log, and mirrors the scores into the nbgrader gradebook.
Steps 3-5 run ``jobs`` at a time; step 6 only ever in the main thread. ``shard=(i, n)`` grades every n-th
submission into a work folder of its own; ``merge`` gathers the shards.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import signal
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from grader import reference, sandbox
from grader.course import WORK, GraderError, lab_names
from grader.gradebook import GradebookMirror
from grader.prepare import InvalidNotebook, prepare, read_submission
from grader.release import register
from grader.results import Result, display_name, load, load_all, save
from grader.verdicts import expectations, parse_records, score_cells
from videollm.cache import data_dir

MAX_RECORDS = 8 << 20  # bytes of recorded checks read back (a lab's checks need kilobytes)
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$")
SIGNALS = {int(s): s.name for s in signal.Signals}


@dataclass
class Submission:
    student: str
    lab: str
    path: Path
    sha256: str = ""


def find_submissions(folder: Path) -> tuple[list[Submission], list[Result]]:
    """Walk ``folder/<student>/<lab>/``: the notebooks to grade, and a row for each thing that cannot be."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GraderError(f"submissions folder not found: {folder} (expected <folder>/<student>/<lab>/<lab>.ipynb)")
    known = set(lab_names())
    found, rejected = [], []
    for student_dir in sorted(folder.iterdir(), key=lambda p: p.name):
        student = student_dir.name
        if not student_dir.is_dir() or student_dir.is_symlink():
            rejected.append(Result(student, "-", "badly named", f"{display_name(student)} is not a student folder "
                                   "(expected <student>/<lab>/<lab>.ipynb)"))
            continue
        for lab_dir in sorted(student_dir.iterdir(), key=lambda p: p.name):
            lab = lab_dir.name
            notebook = lab_dir / f"{lab}.ipynb"
            if not STUDENT_ID.match(student):
                rejected.append(Result(student, lab, "badly named", "a student folder name must start with a letter "
                                       "or digit and hold only letters, digits and _ . @ + - (64 at most)"))
            elif lab not in known:
                rejected.append(Result(student, lab, "not a known lab", f"no lab called {display_name(lab)} "
                                       f"(labs: {', '.join(sorted(known))})"))
            elif lab_dir.is_symlink() or not lab_dir.is_dir():
                rejected.append(Result(student, lab, "badly named", f"{display_name(lab)} must be a folder of the "
                                       "student's own, not a link or a file"))
            elif not notebook.is_file() or notebook.is_symlink():
                others = sorted(p.name for p in lab_dir.glob("*.ipynb")) if lab_dir.is_dir() else []
                rejected.append(Result(student, lab, "badly named", f"{lab}.ipynb is missing (found "
                                       f"{', '.join(map(display_name, others)) or 'no notebook'}); rename it"))
            else:
                found.append(Submission(student, lab, notebook))
    if not found and not rejected:
        raise GraderError(f"no submissions in {folder}: expected <folder>/<student>/<lab>/<lab>.ipynb")
    return found, rejected


def autograde(folder: Path, labs: list[str] | None = None, work: Path = WORK, jobs: int = 1,
              shard: tuple[int, int] | None = None, unsafe: bool = False, limits: sandbox.Limits | None = None,
              force: bool = False, progress: bool = True) -> list[Result]:
    """Grade every submission under ``folder`` (only ``labs`` if given); one ``Result`` per row, sorted."""
    from tqdm.auto import tqdm

    work = Path(work).resolve()
    limits = limits or sandbox.Limits()
    mode = sandbox.require(unsafe)
    found, rejected = find_submissions(folder)
    if labs:
        found = [s for s in found if s.lab in labs]
        rejected = [r for r in rejected if r.lab in labs]
    if shard is not None:
        index, count = shard
        rows = sorted([(s.student, s.lab, s) for s in found] + [(r.student, r.lab, r) for r in rejected],
                      key=lambda t: (t[0], t[1]))
        mine = [item for i, (_, _, item) in enumerate(rows) if i % count == index]
        found = [x for x in mine if isinstance(x, Submission)]
        rejected = [x for x in mine if isinstance(x, Result)]
    work.mkdir(parents=True, exist_ok=True)
    lab_set = sorted({s.lab for s in found})
    if lab_set:
        register(lab_set, work)
    expected = {lab: expectations(reference.expected_records(lab, work, limits, mode)) for lab in lab_set}
    sandbox.open_to_sandbox(data_dir())  # caches the reference runs (or `make data`) wrote, umask 077 or not
    fingerprints = {lab: reference.fingerprint(lab, limits) for lab in lab_set}
    results: list[Result] = []
    todo: list[Submission] = []
    with GradebookMirror(work) as gradebook:
        for row in rejected:
            save(work, row)
            results.append(row)
        for sub in found:
            sub.sha256 = file_hash(sub.path)
            old = load(work, sub.student, sub.lab)
            if (not force and old is not None and old.status not in ("interrupted", "grading failed") and
                    old.submission_sha256 == sub.sha256 and old.fingerprint == fingerprints[sub.lab]):
                results.append(old)  # the same file under the same reference, code and limits: same result
                continue
            save(work, Result(sub.student, sub.lab, "interrupted", "grading did not finish; run autograde again",
                              submission_sha256=sub.sha256, fingerprint=fingerprints[sub.lab]))
            gradebook.put(Result(sub.student, sub.lab, "interrupted"))
            todo.append(sub)
        bar = tqdm(total=len(todo), desc="autograding", unit="submission", disable=not progress or not todo)
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            pending = {pool.submit(grade_one, sub, expected[sub.lab], limits, mode): sub for sub in todo}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    sub = pending.pop(future)
                    try:
                        result, executed, log = future.result()
                    except Exception as error:  # noqa: BLE001 -- one submission's failure never stops the batch
                        result, executed, log = (Result(sub.student, sub.lab, "grading failed",
                                                        f"{type(error).__name__}: {error}"), None, repr(error))
                    result.submission_sha256, result.fingerprint = sub.sha256, fingerprints[sub.lab]
                    try:
                        commit(work, sub, result, executed, log, gradebook)
                    except Exception as error:  # noqa: BLE001 -- e.g. an unreadable file: this row fails, alone
                        result = Result(sub.student, sub.lab, "grading failed", f"saving the result failed "
                                        f"({type(error).__name__}); see the grader's output",
                                        submission_sha256=sub.sha256, fingerprint=fingerprints[sub.lab])
                        save(work, result)
                    results.append(result)
                    bar.update()
        bar.close()
    return sorted(results, key=lambda r: (r.student, r.lab))


def file_hash(path: Path) -> str:
    """sha256 of a submitted file, read in chunks up to the size limit (a huge or unreadable file still gets
    a hash, and ``read_submission`` then says what is wrong with it)."""
    from grader.prepare import MAX_BYTES

    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while (chunk := f.read(1 << 20)) and f.tell() <= MAX_BYTES + (1 << 20):
                digest.update(chunk)
        digest.update(str(path.stat().st_size).encode())
    except OSError as error:
        digest.update(f"unreadable: {error.errno}".encode())
    return digest.hexdigest()


def grade_one(sub: Submission, expected: dict, limits: sandbox.Limits, mode: str) -> tuple[Result, dict | None, str]:
    """Prepare, run and score one submission (in a worker thread); nothing is written here."""
    try:
        submission = read_submission(sub.path)
    except OSError as error:
        return Result(sub.student, sub.lab, "invalid notebook", f"the file cannot be read ({error.strerror})"), None, ""
    except InvalidNotebook as error:
        return Result(sub.student, sub.lab, "invalid notebook", str(error)), None, str(error)
    source, release = reference.lab_notebooks(sub.lab)
    prepared = prepare(source, release, submission)
    run = sandbox.run_notebook(prepared.notebook, limits, mode)
    log = json.dumps({"returncode": run.returncode, "wall_seconds": run.wall_seconds, "stderr": run.stderr,
                      "memory_killed": run.memory_killed, "killed_after_seconds": run.killed_after_seconds,
                      "cells": run.report["cells"] if run.report else None,
                      "restarts": run.report["restarts"] if run.report else None}, indent=1)
    return judge(sub, prepared, run, expected, limits), (run.report or {}).get("notebook"), log


def judge(sub: Submission, prepared, run: sandbox.Run, expected: dict, limits: sandbox.Limits) -> Result:
    """The result of one run: scores from the records, a status that names what went wrong and where."""
    result = Result(sub.student, sub.lab, "graded", notes=list(prepared.notes))
    report = run.report
    if report is None or not _report_shape_ok(report, len(prepared.origins)):
        if run.memory_killed:
            result.status, result.detail = "out of memory", f"the notebook used more than {limits.memory_bytes >> 30} GiB"
        elif run.killed_after_seconds is not None:
            result.status, result.detail = "timed out", f"the notebook ran past its {limits.notebook_seconds} s limit"
        elif run.report_too_big:
            result.status, result.detail = "grading failed", "the run's output exceeded the report limit"
        else:
            result.status, result.detail = "grading failed", ("the sandbox ended without a readable report (exit "
                                                              f"{run.returncode}); see the log")
        return result
    cells = report["cells"]
    status_by_id, tests = {}, []
    for (role, grade_id), state, cell in zip(prepared.origins, cells, prepared.notebook["cells"]):
        if grade_id:
            status_by_id[grade_id] = state.get("status")
        if role == "test":
            tests.append((grade_id, float(cell["metadata"]["nbgrader"].get("points", 0))))
    records = report.get("records", "")
    if len(records) > MAX_RECORDS:
        result.notes.append(f"the hidden checks' records exceeded {MAX_RECORDS >> 20} MB and were not read")
        records = ""
    verdicts = score_cells(tests, status_by_id, expected, parse_records(records))
    result.cells = {v.grade_id: [v.score, v.max_score, v.failures] for v in verdicts}
    result.score = sum(v.score for v in verdicts)
    result.max_score = sum(v.max_score for v in verdicts)
    result.status, result.detail = _status(prepared, cells, run, limits)
    return result


def _report_shape_ok(report: dict, n_cells: int) -> bool:
    cells = report.get("cells")
    return (isinstance(cells, list) and len(cells) == n_cells and all(isinstance(c, dict) for c in cells)
            and isinstance(report.get("records", ""), str))


def _where(prepared, index: int) -> str:
    role, grade_id = prepared.origins[index]
    return f"cell {grade_id}" if grade_id else f"cell {index + 1} (one of yours)"


def _status(prepared, cells: list[dict], run: sandbox.Run, limits: sandbox.Limits) -> tuple[str, str]:
    """The one status of a run that has a report, and its detail."""
    lost = sum(1 for c in cells if c.get("status") == "not-run")
    tail = f"; {lost} later cell(s) did not run" if lost else ""
    for index, cell in enumerate(cells):
        status = cell.get("status")
        if status == "timeout" or cell.get("notebook_limit"):
            limit = (f"the notebook's {limits.notebook_seconds} s limit" if cell.get("notebook_limit")
                     else f"the {limits.cell_seconds} s limit")
            return "timed out", f"{_where(prepared, index)} ran past {limit}; its tests score zero{tail}"
        if status == "error" and cell.get("ename") == "MemoryError":
            return "out of memory", f"{_where(prepared, index)} ran out of memory ({limits.memory_bytes >> 30} GiB)"
        if status == "died":
            if run.memory_killed or cell.get("signal") == signal.SIGKILL:
                return "out of memory", (f"the kernel was killed in {_where(prepared, index)} (memory limit "
                                         f"{limits.memory_bytes >> 30} GiB){tail}")
            signal_number, code = cell.get("signal"), cell.get("exit_code")  # from the sandbox: numbers only
            how = (f"signal {signal_number}, {SIGNALS.get(signal_number, '?')}" if type(signal_number) is int
                   else f"exit code {code}" if type(code) is int else "no exit status")
            return "kernel died", f"in {_where(prepared, index)} ({how}); the cells after it ran in a new kernel{tail}"
    if lost:
        return "timed out", (f"{lost} cell(s) did not run (the notebook's {limits.notebook_seconds} s limit, or too "
                             "many kernel restarts)")
    if prepared.manual:
        return "needs manual grading", "; ".join(prepared.manual)
    return "graded", ""


def commit(work: Path, sub: Submission, result: Result, executed: dict | None, log: str, gradebook) -> None:
    """Write one submission's files, mirror it into the gradebook, and save its result last (the commit point)."""
    from videollm.cache import write_atomic

    folder = Path(sub.student) / sub.lab
    write_atomic(work / "submitted" / folder / f"{sub.lab}.ipynb", lambda p: shutil.copyfile(sub.path, p))
    graded_copy = work / "autograded" / folder / f"{sub.lab}.ipynb"
    if executed is not None:
        text = json.dumps(executed)
        write_atomic(graded_copy, lambda p: Path(p).write_text(text))
    elif graded_copy.exists():
        graded_copy.unlink()
    log_path = work / "logs" / f"{sub.student}__{sub.lab}.log"
    write_atomic(log_path, lambda p: Path(p).write_text(f"{result.label}\n{log}\n"))
    result.log = str(log_path.relative_to(work))
    gradebook.put(result)
    save(work, result)


def merge(work: Path, shards: list[Path]) -> list[Result]:
    """Gather the results of shard work folders into ``work`` (results, graded copies, logs, gradebook)."""
    work = Path(work).resolve()
    owned = []  # (shard folder, result)
    for shard in map(Path, shards):
        if not (shard / "results").is_dir():
            raise GraderError(f"{shard} has no results folder: is it a shard's work folder?")
        owned += [(shard, r) for r in load_all(shard)]
    labs = sorted({r.lab for _, r in owned if r.lab in set(lab_names())})
    if labs:
        register(labs, work)
    with GradebookMirror(work) as gradebook:
        for shard, result in owned:  # first, nothing merged may look current until it is
            save(work, Result(result.student, result.lab, "interrupted", "merge did not finish; run merge again"))
        for shard, result in owned:
            if STUDENT_ID.match(result.student) and result.lab in labs:
                for part in ("submitted", "autograded"):
                    source = shard / part / result.student / result.lab
                    if source.is_dir():
                        shutil.copytree(source, work / part / result.student / result.lab, dirs_exist_ok=True)
                if result.log and (shard / result.log).is_file():
                    (work / result.log).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(shard / result.log, work / result.log)
                gradebook.put(result)
            save(work, result)
    return sorted((r for _, r in owned), key=lambda r: (r.student, r.lab))


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` with 0 <= i < n, as used by Slurm array and Kubernetes indexed jobs."""
    try:
        index, count = (int(x) for x in text.split("/"))
    except ValueError:
        raise GraderError(f"--shard wants I/N (e.g. 0/4), got {text!r}") from None
    if not 0 <= index < count:
        raise GraderError(f"--shard {text}: I must be between 0 and N-1")
    return index, count

