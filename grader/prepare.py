"""Turn a submitted file into the notebook that will run, outside the sandbox and before any student code runs.

The lab's own cells come from the instructor's notebook (``solutions/``): locked cells and test cells (hidden
tests included) are always the instructor's, wherever the student moved, edited, deleted or forged them. The
student contributes the answer cells (matched by nbgrader ``grade_id``) and any cells of their own, which run
where they stood (after the nearest lab cell before them). A file that is not a notebook this grader can read
raises ``InvalidNotebook`` with the reason in plain words.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

MAX_BYTES = 50 << 20
SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


class InvalidNotebook(ValueError):
    """The submission is not a readable nbformat-4 notebook; the message says why, for the student."""


@dataclass
class LabCell:
    """One cell of the instructor's notebook and what it is for grading."""

    role: str  # "answer" | "test" | "locked" | "manual" | "plain"
    grade_id: str | None
    points: float
    cell: dict


@dataclass
class Prepared:
    """The notebook to execute and, for each of its cells, where it came from."""

    notebook: dict
    origins: list[tuple[str, str | None]]  # per cell: (role, grade_id); student's own cells are ("student", None)
    notes: list[str] = field(default_factory=list)  # what the grader changed, for the instructor and student
    manual: list[str] = field(default_factory=list)  # why a person must look at it (empty: fully automatic)


def lab_cells(source: dict) -> list[LabCell]:
    """The instructor notebook's cells with their grading roles."""
    cells = []
    for cell in source["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader") or {}
        grade_id = meta.get("grade_id")
        if not grade_id:
            role = "plain"
        elif meta.get("solution") and meta.get("grade") or meta.get("task"):
            role = "manual"
        elif meta.get("solution"):
            role = "answer"
        elif meta.get("grade"):
            role = "test"
        else:
            role = "locked"
        cells.append(LabCell(role, grade_id, float(meta.get("points", 0) or 0), cell))
    return cells


def read_submission(path: Path) -> dict:
    """The submission as a validated nbformat-4 dict, or ``InvalidNotebook`` saying what is wrong."""
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise InvalidNotebook(f"the file is {size / 2**20:.0f} MB; the limit is {MAX_BYTES >> 20} MB "
                              "(clear large outputs, then save and submit again)")
    raw = path.read_bytes()
    if not raw.strip():
        raise InvalidNotebook("the file is empty (save the notebook in Jupyter, then submit it again)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidNotebook(f"the file is not UTF-8 text (byte {error.start}): is it really a .ipynb?") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidNotebook(f"the file is not valid JSON (line {error.lineno}, column {error.colno}: "
                              f"{error.msg}); it may have been cut off or edited by hand") from None
    except RecursionError:
        raise InvalidNotebook("the file's JSON is nested too deeply to be a notebook") from None
    if not isinstance(data, dict) or "nbformat" not in data:
        raise InvalidNotebook("the file is JSON but not a Jupyter notebook (it has no 'nbformat' field)")
    version = data.get("nbformat")
    if version != 4:
        if isinstance(version, int) and version < 4:
            raise InvalidNotebook(f"the notebook is in nbformat {version} (IPython before 2015); open it in "
                                  "JupyterLab and save it, which converts it to nbformat 4")
        raise InvalidNotebook(f"nbformat {str(version)[:20]!s} is not one this grader reads (it reads nbformat 4)")
    try:
        nbformat.validate(data, version=4)
    except nbformat.ValidationError as error:
        where = "/".join(str(p) for p in list(error.absolute_path)[:6]) or "top level"
        raise InvalidNotebook(f"the notebook does not follow the nbformat 4 schema (at {where}: "
                              f"{_printable(error.message)[:160]})") from None
    except Exception:  # noqa: BLE001 -- nbformat's validator itself trips on some shapes (cells: 3)
        raise InvalidNotebook("the notebook does not follow the nbformat 4 schema (its cells are not a list "
                              "of cells)") from None
    return data


def prepare(source: dict, release: dict, submission: dict, reference: bool = False) -> Prepared:
    """The notebook to run: the lab's cells from ``source``, the answers and extra cells from ``submission``.

    ``release`` is the student version (visible tests only), used to tell an edited test cell from an intact one.
    Unless ``reference``, the hidden checks lose their ``expect=`` arguments (``without_expect``).
    """
    lab = lab_cells(source)
    by_id = {c.grade_id: c for c in lab if c.grade_id}
    released = {(c.get("metadata", {}).get("nbgrader") or {}).get("grade_id"): c.get("source", "")
                for c in release["cells"]}
    notes, manual = [], []
    answers: dict[str, dict] = {}
    extras: dict[str | None, list[dict]] = {}  # student cells, by the lab cell they follow (None: the top)
    anchor, seen = None, set()
    for cell in submission["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader") or {}
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        known = by_id.get(grade_id) if isinstance(grade_id, str) else None
        if known is None:
            if isinstance(meta, dict) and (meta.get("grade") or meta.get("locked")):
                notes.append(f"a cell of yours ({_name(grade_id)}) is marked as a graded or locked cell but is not "
                             "one of the lab's: it ran as your own cell and earns nothing")
            extras.setdefault(anchor, []).append(_plain(cell))
            continue
        if grade_id in seen:
            notes.append(f"cell {grade_id} appears more than once: the first copy counts, the others ran as your "
                         "own cells")
            extras.setdefault(anchor, []).append(_plain(cell))
            continue
        seen.add(grade_id)
        anchor = grade_id
        if known.role in ("answer", "manual"):
            if meta.get("grade") and known.role == "answer":
                notes.append(f"answer cell {grade_id} was marked as a test cell; it was graded as an answer")
            answers[grade_id] = cell
        elif cell_source(cell) != cell_source({"source": released.get(grade_id, "")}) and known.role == "test":
            notes.append(f"test cell {grade_id} was edited; it ran as the lab wrote it")
    cells, origins = [], []

    def emit(cell, role, grade_id):
        cells.append(cell)
        origins.append((role, grade_id))

    for cell in extras.get(None, []):
        emit(cell, "student", None)
    for item in lab:
        if item.role == "plain":
            continue  # the student's copy of an unlabelled cell is one of their own cells
        if item.role in ("answer", "manual"):
            submitted = answers.get(item.grade_id)
            if submitted is None:
                manual.append(f"answer cell {item.grade_id} is missing from the notebook")
                emit(_with_source(item.cell, released.get(item.grade_id, "")), item.role, item.grade_id)
            else:
                emit(_with_source(item.cell, cell_source(submitted)), item.role, item.grade_id)
            if item.role == "manual":
                manual.append(f"cell {item.grade_id} is graded by hand")
        else:
            if item.grade_id not in seen and item.role == "test":
                notes.append(f"test cell {item.grade_id} was missing; it was put back")
            text = cell_source(item.cell)
            emit(_with_source(item.cell, text if reference or item.role != "test" else without_expect(text)),
                 item.role, item.grade_id)
        for cell in extras.get(item.grade_id, []):
            emit(cell, "student", None)
    kernelspec = (submission.get("metadata") or {}).get("kernelspec") or {}
    wanted = (source.get("metadata") or {}).get("kernelspec") or {}
    if isinstance(kernelspec, dict) and kernelspec.get("name") not in (None, wanted.get("name")):
        notes.append(f"the notebook asked for kernel {_name(kernelspec.get('name'))}; it ran with "
                     f"{wanted.get('name', 'python3')}")
    notebook = nbformat.v4.new_notebook(metadata=source.get("metadata", {}))
    notebook.cells = [nbformat.from_dict(c) for c in cells]
    return Prepared(notebook=json.loads(json.dumps(notebook)), origins=origins, notes=notes, manual=manual)


def without_expect(code: str) -> str:
    """``code`` with every ``expect=`` keyword argument removed from its calls.

    A hidden check's ``expect`` computes the right answer. In a student's kernel it would be there for the taking
    (patch ``Checks`` to record ``expect()``, or set the record mode to reference), so the student's copy of the
    test cell never contains it; only the reference run records expected values.
    """
    if not re.search(r"\bexpect\s*=", code):
        return code
    try:
        tree = ast.parse(code)
    except SyntaxError as error:  # a lab author's cell that is not plain Python: refuse rather than leak
        raise ValueError(f"a test cell with hidden checks must be plain Python ({error.msg}, line {error.lineno})")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            node.keywords = [k for k in node.keywords if k.arg != "expect"]
    return ast.unparse(tree)


def cell_source(cell: dict) -> str:
    """A cell's source as one string (nbformat files may store it as a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _with_source(cell: dict, source) -> dict:
    """A fresh copy of a lab cell with ``source``; outputs and execution counts cleared."""
    text = cell_source({"source": source})
    meta = {"nbgrader": dict(cell.get("metadata", {}).get("nbgrader") or {})}
    if cell.get("cell_type") == "code":
        return nbformat.v4.new_code_cell(text, metadata=meta)
    if cell.get("cell_type") == "raw":
        return nbformat.v4.new_raw_cell(text, metadata=meta)
    return nbformat.v4.new_markdown_cell(text, metadata=meta)


def _plain(cell: dict) -> dict:
    """A student's own cell: its source and type only (no grading metadata, no outputs)."""
    text = cell_source(cell)
    if cell.get("cell_type") == "code":
        return nbformat.v4.new_code_cell(text)
    return nbformat.v4.new_markdown_cell(text) if cell.get("cell_type") == "markdown" else nbformat.v4.new_raw_cell(text)


def _name(grade_id) -> str:
    """A grade id quoted for a message, if it is a plain name; student-chosen text is not echoed otherwise."""
    return repr(grade_id) if isinstance(grade_id, str) and SAFE_ID.match(grade_id) else "unnamed"


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else " " for ch in str(text))
