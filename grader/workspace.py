"""A student's own copy of the labs, which no command of the course ever overwrites or deletes.

``labs/`` is generated from ``solutions/`` (``make labs``) and may be rewritten at any time, so students work in
``my-labs/`` (git-ignored; ``$VIDEOLLM_WORKSPACE`` moves it). :func:`sync` fills it from ``labs/`` where the
student has no copy yet, and when a lab changed after the student copied it, puts the new version *beside* the
student's notebook (``lab01_vit_patching.new-1a2b3c4d.ipynb``) and says so. Files are only ever created, never
replaced: a new file is written in full under a temporary name, then linked to its final name, which fails
rather than replace a file that appeared there meanwhile.

A copy counts as "the current lab" when its locked cells (the task texts, set-up and test cells) read as the
release's: the answers the student typed do not matter.

A lab that was renamed (``lab02_vq`` became ``lab02_vq_tokenization``; the unit registry keeps the old names) arrives
in a folder of its new name; the student's copy under the old name stays where it is, is named in the message, and
can still be submitted under its old name.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader.course import LABS, REPO, lab_names
from grader.prepare import cell_source
from videollm.units import unit_of_lab

WORKSPACE_ENV = "VIDEOLLM_WORKSPACE"


def workspace_dir() -> Path:
    """``$VIDEOLLM_WORKSPACE`` if set, else ``my-labs/`` in the repository."""
    return Path(os.environ.get(WORKSPACE_ENV) or REPO / "my-labs")


@dataclass
class Event:
    """What :func:`sync` did or found for one file; ``message`` is for the student."""

    kind: str  # "copied" | "current" | "update beside" | "update waiting" | "unreadable" | "renamed"
    path: Path
    message: str


def locked_cells(notebook: dict) -> dict[str, str]:
    """grade_id -> source of the cells a student must not change (nbgrader ``locked``, tests included)."""
    cells = {}
    for cell in notebook.get("cells", []):
        meta = (cell.get("metadata") or {}).get("nbgrader") or {}
        if meta.get("locked") and meta.get("grade_id"):
            cells[meta["grade_id"]] = cell_source(cell)
    return cells


def locked_changes(mine: dict, release: dict) -> dict[str, str]:
    """grade_id -> "missing", "edited" or "extra" for each locked cell where ``mine`` departs from ``release``
    (trailing whitespace aside)."""
    ours, theirs = locked_cells(mine), locked_cells(release)
    changes = {}
    for grade_id, source in theirs.items():
        if grade_id not in ours:
            changes[grade_id] = "missing"
        elif ours[grade_id].rstrip() != source.rstrip():
            changes[grade_id] = "edited"
    changes.update({grade_id: "extra" for grade_id in ours if grade_id not in theirs})
    return changes


def same_lab(mine: bytes, release: bytes) -> bool:
    """Whether the student's notebook ``mine`` has the locked cells of ``release`` (whatever its answers)."""
    try:
        return not locked_changes(json.loads(mine), json.loads(release))
    except (ValueError, UnicodeDecodeError, AttributeError, TypeError):
        return False


def create_new(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` only if nothing is there: True when written, False when ``path`` exists."""
    if path.exists() or path.is_symlink():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, staging = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(staging, 0o644)
        try:
            os.link(staging, path)  # unlike rename, link never replaces an existing file
        except FileExistsError:
            return False
    finally:
        os.unlink(staging)
    return True


def sync(labs: Path = LABS, workspace: Path | None = None, names: list[str] | None = None) -> list[Event]:
    """Bring every lab of ``labs`` into ``workspace`` without touching anything already there."""
    workspace = workspace or workspace_dir()
    events = []
    for lab in names or lab_names():
        source = labs / lab
        for released in sorted(p for p in source.rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts):
            target = workspace / released.relative_to(labs)
            events.append(_sync_file(released.read_bytes(), target))
        events.extend(_former_copies(lab, workspace))
    return events


def _former_copies(lab: str, workspace: Path) -> list[Event]:
    """A note for each copy the student keeps under an earlier name of ``lab``; the copy itself is not touched."""
    unit = unit_of_lab(lab)
    events = []
    for old in unit.formerly if unit else ():
        mine = workspace / old / f"{old}.ipynb"
        if mine.is_file():
            events.append(Event("renamed", mine, f"{old} is now called {lab}: your work in {mine} is untouched "
                                f"and still submits (make submit LAB={old}); the current lab is in {workspace / lab}/. "
                                "Move your answers over when you are ready."))
    return events


def _sync_file(release: bytes, target: Path) -> Event:
    if create_new(target, release):
        return Event("copied", target, f"new: {target}")
    mine = target.read_bytes()
    if mine == release or (target.suffix == ".ipynb" and same_lab(mine, release)):
        return Event("current", target, f"up to date: {target}")
    beside = target.with_name(f"{target.stem}.new-{hashlib.sha256(release).hexdigest()[:8]}{target.suffix}")
    if target.suffix == ".ipynb":
        try:
            json.loads(mine)
        except (ValueError, UnicodeDecodeError):
            note = f"{target} is not a readable notebook (saved half-way?); it was left as it is"
            if create_new(beside, release):
                return Event("unreadable", target, f"{note}; a fresh copy of the lab is beside it: {beside}")
            return Event("unreadable", target, f"{note}; a fresh copy of the lab is waiting at {beside}")
    why = "the lab was updated, or one of its locked cells was edited in your copy"
    if create_new(beside, release):
        return Event("update beside", target, f"{target} differs from the current lab ({why}). The current "
                     f"version is now beside it: {beside}. Your notebook is untouched; move your answers over "
                     "when you are ready.")
    return Event("update waiting", target, f"{target}: the current version of the lab is waiting beside it "
                 f"({beside}); your notebook is untouched")
