"""Build the student labs (nbgrader *release*, ``labs/``) from the instructor notebooks (*source*, ``solutions/``)
and check that the two are in sync."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat

from grader.course import LABS, REPO, SOLUTIONS, WORK, GraderError, check_lab_names, make_api, require_success
from videollm.cache import write_atomic


def build(names: list[str] | None = None, labs: Path = LABS) -> list[Path]:
    """Regenerate ``labs/<lab>/`` for each lab (all by default); returns the files that changed.

    nbgrader's own release step deletes the lab's folder and writes it again, taking with it anything a student
    saved there. So the release is generated in a scratch folder and copied over file by file: a file is only
    replaced when its content changes and the one there is what an earlier build (or the repository's last
    commit) wrote. Nothing is ever deleted. A file edited by hand is left alone and reported, after the other labs
    are built.
    """
    written, refused = [], []
    stamps = _read_stamps()
    with tempfile.TemporaryDirectory(prefix="videollm-build-") as tmp:
        fresh = Path(tmp) / "release"
        api = make_api(Path(tmp), release_directory=str(fresh))
        for lab in check_lab_names(names):
            require_success(api.generate_assignment(lab, force=True, create=True), f"building {lab}")
            for new in sorted(p for p in (fresh / lab).rglob("*") if p.is_file()):
                target = labs / new.relative_to(fresh)
                data = new.read_bytes()
                if target.exists() and _same(target, new):
                    continue
                if target.exists() and not _generated(target, stamps):
                    refused.append(target)
                    continue
                write_atomic(target, lambda staging, data=data: Path(staging).write_bytes(data))
                stamps[_key(target)] = _sha256(data)
                written.append(target)
    _write_stamps(stamps)
    if refused:
        names = "\n  ".join(str(p) for p in refused)
        raise GraderError(f"left as they are, because they were edited after the course generated them:\n  {names}\n"
                          "labs/ is generated from solutions/ and students work in my-labs/ (`make lab`). If the "
                          "edits are yours to keep, move the file into my-labs/; to discard them, delete the "
                          "file; then build again.")
    return written


STAMPS = WORK / "built.json"  # what each build wrote: path -> sha256


def _key(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_stamps() -> dict[str, str]:
    try:
        stamps = json.loads(STAMPS.read_text())
    except (OSError, ValueError):
        return {}
    return stamps if isinstance(stamps, dict) else {}


def _write_stamps(stamps: dict[str, str]) -> None:
    write_atomic(STAMPS, lambda staging: Path(staging).write_text(json.dumps(stamps, indent=1, sort_keys=True)))


def _same(ours: Path, fresh: Path) -> bool:
    if ours.suffix == ".ipynb":
        try:
            return _normalised(ours) == _normalised(fresh)
        except Exception:  # noqa: BLE001 -- an unreadable notebook is simply not the same
            return False
    return ours.read_bytes() == fresh.read_bytes()


def _generated(path: Path, stamps: dict[str, str]) -> bool:
    """Whether ``path`` holds what a build wrote (its stamp) or what the repository's last commit holds."""
    current = path.read_bytes()
    if stamps.get(_key(path)) == _sha256(current):
        return True
    try:
        committed = subprocess.run(["git", "-C", str(REPO), "show", f"HEAD:{_key(path)}"], capture_output=True,
                                   timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return committed.returncode == 0 and committed.stdout == current


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
