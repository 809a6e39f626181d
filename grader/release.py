"""Build the student labs (nbgrader *release*, ``labs/``) from the instructor notebooks (*source*, ``solutions/``)
and check that the two are in sync."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import nbformat

from grader.course import LABS, SOLUTIONS, WORK, GraderError, check_lab_names, make_api, require_success


def build(names: list[str] | None = None) -> list[Path]:
    """Regenerate ``labs/<lab>/`` for each lab (all by default); returns the notebooks written."""
    api = make_api()
    written = []
    for lab in check_lab_names(names):
        require_success(api.generate_assignment(lab, force=True, create=True), f"building {lab}")
        written.append(LABS / lab / f"{lab}.ipynb")
    return written


def register(names: list[str], work: Path = WORK) -> None:
    """Put the labs' test cells into the gradebook without touching ``labs/`` (autograde needs them there)."""
    api = make_api(work, release_directory=str(Path(work).resolve() / "release"))
    for lab in names:
        require_success(api.generate_assignment(lab, force=True, create=True), f"registering {lab} in the gradebook")


def _normalised(path: Path) -> dict:
    """A notebook's content without the fields that change from run to run (outputs are cleared on release)."""
    nb = nbformat.read(path, as_version=4)
    return {
        "metadata": {k: v for k, v in nb.metadata.items() if k in ("kernelspec", "language_info")},
        "cells": [{"type": c.cell_type, "source": c.source, "metadata": dict(c.metadata)} for c in nb.cells],
    }


def check(names: list[str] | None = None) -> list[str]:
    """Regenerate every lab into a scratch folder and compare with ``labs/``.

    Returns a list of problems (empty when in sync): a missing lab, a missing or extra file, a notebook whose
    cells differ. Run ``python -m grader build`` to fix them.
    """
    problems = []
    labs = check_lab_names(names)
    with tempfile.TemporaryDirectory(prefix="videollm-check-") as tmp:
        fresh = Path(tmp) / "release"
        api = make_api(Path(tmp), release_directory=str(fresh))
        for lab in labs:
            require_success(api.generate_assignment(lab, force=True, create=True), f"regenerating {lab}")
            ours, theirs = LABS / lab, fresh / lab
            if not ours.is_dir():
                problems.append(f"labs/{lab} is missing")
                continue
            files = {p.relative_to(theirs) for p in theirs.rglob("*") if p.is_file()}
            have = {p.relative_to(ours) for p in ours.rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts}
            problems += [f"labs/{lab}/{f} is missing" for f in sorted(files - have)]
            problems += [f"labs/{lab}/{f} is not generated from solutions/" for f in sorted(have - files)]
            for f in sorted(files & have):
                if f.suffix == ".ipynb":
                    same = _normalised(ours / f) == _normalised(theirs / f)
                else:
                    same = (ours / f).read_bytes() == (theirs / f).read_bytes()
                if not same:
                    problems.append(f"labs/{lab}/{f} differs from what solutions/{lab} generates")
    return problems


def write_samples(out: Path, names: list[str] | None = None) -> Path:
    """Sample submissions for the main job: student ``reference`` hands in the solution, ``blank`` the
    untouched student notebook. Layout ``out/<student>/<lab>/<lab>.ipynb``, as ``autograde`` expects."""
    for lab in check_lab_names(names):
        for student, source in (("reference", SOLUTIONS), ("blank", LABS)):
            notebook = source / lab / f"{lab}.ipynb"
            if not notebook.exists():
                raise GraderError(f"{notebook} is missing: run `python -m grader build` first")
            target = out / student / lab
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(notebook, target / notebook.name)
    return out
