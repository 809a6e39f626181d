"""What each lab's hidden checks expect: the solution notebook run once, in a clean sandbox, in reference mode.

The run records, for every check, the expected value (``expect()`` when the check names one, else the solution's
own) and how to compare. It must run without an error in any cell; otherwise grading stops with the failing cell
and its output (the instructor's notebook is broken, so no student can be graded fairly). The result is kept in
``WORK/reference/<lab>.json`` and reused while the fingerprint (solution, student version, course package,
grader, Python and the key libraries) is the same and the data it used is still on disk.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import replace
from pathlib import Path

from grader import sandbox
from grader.course import LABS, REPO, SOLUTIONS, GraderError
from grader.prepare import prepare
from videollm.cache import files_digest, write_atomic

GRADER_FILES = ("prepare.py", "runner.py", "confine.py", "sandbox.py", "verdicts.py", "reference.py", "grading.py",
                "results.py")


@functools.cache
def code_hash() -> str:
    """A hash of the course package and the grader's code: a change to either invalidates every result."""
    files = sorted((REPO / "videollm").rglob("*.py")) + [REPO / "grader" / name for name in GRADER_FILES]
    return files_digest(REPO, files, ("numpy", "torch", "nbclient", "ipykernel", "matplotlib"))


def lab_notebooks(lab: str) -> tuple[dict, dict]:
    """The instructor notebook and the student version of ``lab`` as dicts."""
    source, release = SOLUTIONS / lab / f"{lab}.ipynb", LABS / lab / f"{lab}.ipynb"
    for path in (source, release):
        if not path.exists():
            raise GraderError(f"{path} is missing: run `python -m grader build` first")
    return json.loads(source.read_text()), json.loads(release.read_text())


def fingerprint(lab: str, limits: sandbox.Limits) -> str:
    """What a result of ``lab`` depends on besides the submission itself."""
    source, release = SOLUTIONS / lab / f"{lab}.ipynb", LABS / lab / f"{lab}.ipynb"
    digest = hashlib.sha256()
    for part in (source.read_bytes(), release.read_bytes(), code_hash().encode(), sandbox.limits_json(limits).encode()):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:32]


def expected_records(lab: str, work: Path, limits: sandbox.Limits, mode: str) -> str:
    """The reference records of ``lab`` (JSON lines), from the cache or from a fresh run of the solution."""
    from videollm.cache import data_dir

    path = Path(work) / "reference" / f"{lab}.json"
    wanted = fingerprint(lab, limits)
    if path.exists():
        try:
            cached = json.loads(path.read_text())
            files = cached.get("data_files", [])
            if cached.get("fingerprint") == wanted and all((data_dir() / f).exists() for f in files):
                return cached["records"]
        except (OSError, ValueError, KeyError):
            pass
    source, release = lab_notebooks(lab)
    prepared = prepare(source, release, source, reference=True)
    # The solution may need more time than a student's first cell: it also fills the data cache once.
    run = sandbox.run_notebook(prepared.notebook, replace(limits, cell_seconds=max(limits.cell_seconds, 900)),
                               mode, record_mode="reference", writable_data=True)
    _require_clean(lab, run, prepared)
    records = run.report["records"]
    _require_sound_checks(lab, records, prepared)
    cache = data_dir()
    data_files = sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file() and
                        not p.name.startswith("."))
    text = json.dumps({"lab": lab, "fingerprint": wanted, "records": records, "data_files": data_files})
    write_atomic(path, lambda p: Path(p).write_text(text))
    return records


def _require_clean(lab: str, run: sandbox.Run, prepared) -> None:
    if run.report is None:
        raise GraderError(f"the reference run of {lab} produced no report (exit {run.returncode}):\n{run.stderr}")
    for index, state in enumerate(run.report["cells"]):
        if state["status"] in ("ok", "skipped"):
            continue
        role, grade_id = prepared.origins[index]
        outputs = run.report["notebook"]["cells"][index].get("outputs", [])
        text = "\n".join("".join(o.get("traceback", [])) or str(o.get("text", "")) for o in outputs)[-3000:]
        raise GraderError(f"the solution of {lab} does not run cleanly in the sandbox: cell {index} "
                          f"({grade_id or role}) ended with {state['status']} {state.get('ename') or ''}\n{text}")


def _require_sound_checks(lab: str, records: str, prepared) -> None:
    """Every recorded check belongs to a test cell and has a name of its own (else one would silently hide
    another, or its cell would fall back to nbgrader's rule)."""
    tests = {grade_id for role, grade_id in prepared.origins if role == "test"}
    seen = set()
    for line in records.splitlines():
        item = json.loads(line)
        where = (item["cell"], item["check"])
        if item["cell"] not in tests:
            raise GraderError(f"{lab}: Checks({item['cell']!r}) names no test cell of the lab (test cells: "
                              f"{sorted(tests)})")
        if where in seen:
            raise GraderError(f"{lab}: check {item['check']!r} of {item['cell']} is recorded twice: give each "
                              "check its own name")
        seen.add(where)
