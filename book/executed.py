"""Executed lectures: each lecture notebook run top to bottom once, and kept with its outputs.

The lecture tests (``tests/test_lectures.py``) run every lecture through :func:`execute`, and the book renders the
copies it keeps, so a lecture is executed once for both. A copy is kept in ``data_dir()/executed/`` under a key
that covers what its outputs depend on: the notebook itself, the reference package's source, the committed
weights and benchmark manifests, the pinned environment (the lock and the installed versions of the libraries
that compute), the Python version and the machine. Change any of them and the
lecture runs again.

Two processes that need the same lecture at once (``make test`` runs two workers) take turns on a file lock, and
the second one reads what the first one wrote.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import nbformat
from nbclient import NotebookClient

from videollm.cache import data_dir, files_digest, write_atomic
from videollm.offline import set_offline

REPO = Path(__file__).resolve().parents[1]
#: What a lecture's outputs depend on besides the notebook: the package's code, and the data folders and files it
#: reads (every file in them), and the pinned environment.
CODE, DATA = "videollm", ("data/weights", "data/benchmarks", "data/manifest.json", "requirements.lock")
#: The libraries whose installed versions are part of the key (the lock pins them; a hand-installed one differs).
LIBRARIES = ("numpy", "torch", "torchvision", "transformers", "timm", "diffusers", "peft", "open_clip_torch",
             "vector-quantize-pytorch", "matplotlib", "nbclient", "ipykernel")
#: Set by the test session (tests/conftest.py) so that its workers share one run of each lecture.
SESSION_VARIABLE = "VIDEOLLM_TEST_SESSION"
#: Seconds a single cell may take: on a fresh clone some cells train a small model (about 150 s on 2 cores).
CELL_TIMEOUT = 600


def _inputs() -> list[Path]:
    files = sorted((REPO / CODE).rglob("*.py"))
    for name in DATA:
        path = REPO / name
        files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return files


def key(notebook: Path) -> str:
    """16 hex digits: the sha256 of the notebook's bytes and of :func:`videollm.cache.files_digest` of everything in
    :data:`CODE`, :data:`DATA` and :data:`LIBRARIES`."""
    inputs = files_digest(REPO, _inputs(), LIBRARIES)
    return hashlib.sha256(Path(notebook).read_bytes() + inputs.encode()).hexdigest()[:16]


def executed_path(notebook: Path) -> Path:
    """Where the executed copy of ``notebook`` for the current inputs is kept."""
    notebook = Path(notebook)
    return data_dir() / "executed" / f"{notebook.stem}-{key(notebook)}.ipynb"


@contextmanager
def _locked(notebook: Path) -> Iterator[None]:
    lock = data_dir() / "executed" / f"{Path(notebook).stem}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _reusable(path: Path, session: str | None) -> nbformat.NotebookNode | None:
    """The kept copy at ``path``, if any (and, when ``session`` is given, only one executed in that session)."""
    try:
        nb = nbformat.read(path, as_version=4)
    except (OSError, ValueError):
        return None
    if session is not None and nb.metadata.get("videollm", {}).get("session") != session:
        return None
    return nb


def execute(notebook: Path, reuse: str = "session") -> nbformat.NotebookNode:
    """The lecture ``notebook`` executed top to bottom (offline, in its own folder), with its outputs.

    ``reuse`` says which kept copy may stand in for a run: ``"session"`` (the tests) only one made in the same test
    session (``$VIDEOLLM_TEST_SESSION``), so every test session really runs every lecture once; ``"any"`` (the
    book) any copy made for the same inputs; ``"none"`` always run. The run is kept either way.

    Raises:
        nbclient.exceptions.CellExecutionError: a cell failed (the message shows the cell and the traceback).
    """
    if reuse not in ("session", "any", "none"):
        raise ValueError(f"reuse must be 'session', 'any' or 'none', got {reuse!r}")
    notebook = Path(notebook).resolve()
    session = os.environ.get(SESSION_VARIABLE)
    with _locked(notebook):
        path = executed_path(notebook)
        if reuse == "any" or (reuse == "session" and session):
            kept = _reusable(path, session if reuse == "session" else None)
            if kept is not None:
                return kept
        nb = nbformat.read(notebook, as_version=4)
        set_offline()  # the kernel inherits it: nothing a lecture loads may reach a hub
        NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                       resources={"metadata": {"path": str(notebook.parent)}}).execute()
        nb.metadata["videollm"] = {"session": session, "key": path.stem.rsplit("-", 1)[1]}
        write_atomic(path, lambda staging: nbformat.write(nb, staging))
        for older in path.parent.glob(f"{notebook.stem}-*.ipynb"):  # runs for code that has changed since
            if older != path:
                older.unlink(missing_ok=True)
        return nb
