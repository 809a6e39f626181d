"""Check a student's notebook and pack it the way the grader reads submissions.

``python -m grader submit my-labs/lab01_vit_patching/lab01_vit_patching.ipynb --student alice`` checks that

1. the file is a notebook the grader can read (the grader's own reader, ``prepare.read_submission``);
2. the lab's nbgrader cells are intact: every answer cell is there once (a deleted one would score zero), and
   locked cells that were edited are named (the grader puts the originals back);
3. the lab's visible checks pass: a copy of the notebook runs top to bottom in a fresh kernel, here, on the
   student's machine (the student's file is never written to);

then copies the file, byte for byte, to ``submit/<student>/<lab>/<lab>.ipynb`` and zips that folder as
``submit/<student>-<lab>.zip``, the layout ``grader autograde`` expects. Problems that would lose the work
(an unreadable file, a missing answer cell) stop the packing; the others are reported and the file is packed.
"""

from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from grader.course import LABS, REPO, GraderError, lab_names, offline_environment
from grader.grading import STUDENT_ID
from grader.prepare import InvalidNotebook, cell_source, lab_cells, read_submission
from grader.workspace import locked_changes
from videollm.units import unit_of_lab

OUT = REPO / "submit"


@dataclass
class Check:
    """What ``submit`` found: ``errors`` stop the packing, ``warnings`` do not."""

    lab: str
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    packed: Path | None = None


def lab_of(path: Path) -> str:
    """The lab a notebook belongs to, from its file name (``lab01_vit_patching.ipynb``, or a lab's former name)."""
    known = lab_names()
    if path.suffix != ".ipynb":
        raise GraderError(f"{path} is not a notebook (.ipynb); submit the lab's notebook from my-labs/")
    if path.stem in known:
        return path.stem
    unit = unit_of_lab(path.stem)
    if unit is not None and unit.lab in known:
        return unit.lab  # packed under the current name, which the gradebook knows
    near = [lab for lab in known if path.stem.startswith(lab)]
    hint = (f"; rename it to {near[0]}.ipynb (the grader finds labs by name)" if near
            else f"; the labs are {', '.join(known)}")
    raise GraderError(f"{path.name} is not named after a lab{hint}")


def check_cells(notebook: dict, release: dict, result: Check) -> None:
    """Compare the student's cells with the released lab's (by nbgrader grade_id)."""
    answers = {c.grade_id: c for c in lab_cells(release) if c.role in ("answer", "manual")}
    counts: dict[str, int] = {}
    sources: dict[str, str] = {}
    for cell in notebook["cells"]:
        grade_id = ((cell.get("metadata") or {}).get("nbgrader") or {}).get("grade_id")
        if isinstance(grade_id, str):
            counts[grade_id] = counts.get(grade_id, 0) + 1
            sources.setdefault(grade_id, cell_source(cell))
    for grade_id, cell in answers.items():
        if grade_id not in counts:
            result.errors.append(f"the answer cell {grade_id!r} is missing (deleted, or its metadata lost): the "
                                 f"grader would find no answer there. Copy the cell from labs/{result.lab}/ back "
                                 "into your notebook and put your answer in it")
        elif sources[grade_id].strip() == cell_source(cell.cell).strip():
            result.warnings.append(f"task {grade_id!r} is not answered yet (the cell is as released)")
    for grade_id, n in counts.items():
        if n > 1:
            result.warnings.append(f"cell {grade_id!r} appears {n} times: only the first copy is graded")
    for grade_id, change in locked_changes(notebook, release).items():
        if change == "missing":
            result.warnings.append(f"the lab's cell {grade_id!r} is missing; the grader puts it back")
        elif change == "edited":
            result.warnings.append(f"the lab's locked cell {grade_id!r} was edited; the grader uses the original")


def run_visible_checks(path: Path, timeout: int, result: Check) -> None:
    """Run a copy of the notebook at ``path`` in a fresh kernel (the file is only read) and report each cell that
    raised (test cells by name)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    offline_environment()
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except CellTimeoutError:
        result.warnings.append(f"a cell ran longer than {timeout} s and was stopped; the grader allows 180 s a cell")
    except DeadKernelError:
        result.warnings.append("the kernel died while running your notebook (out of memory?)")
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                meta = cell.metadata.get("nbgrader") or {}
                grade_id = meta.get("grade_id")
                where = (f"the visible check {grade_id!r}" if meta.get("grade") else
                         f"your answer cell {grade_id!r}" if meta.get("solution") else
                         f"the lab's cell {grade_id!r}" if grade_id else f"cell {index + 1}")
                result.warnings.append(f"{where} fails: {output.get('ename')}: {str(output.get('evalue'))[:300]}")


def pack(path: Path, student: str, lab: str, out: Path) -> Path:
    """Copy ``path`` to ``out/<student>/<lab>/<lab>.ipynb`` and zip that folder; returns the zip."""
    folder = out / student / lab
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, folder / f"{lab}.ipynb")
    archive = out / f"{student}-{lab}.zip"
    staging = archive.with_name(f".{archive.name}.partial")
    with zipfile.ZipFile(staging, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(folder / f"{lab}.ipynb", f"{student}/{lab}/{lab}.ipynb")
    staging.replace(archive)
    return archive


def submit(path: Path, student: str, out: Path = OUT, run: bool = True, timeout: int = 600) -> Check:
    """Check ``path`` and, unless an error stops it, pack it under ``out``."""
    path = Path(path)
    if not STUDENT_ID.match(student):
        raise GraderError(f"student name {student!r}: use letters, digits and _ . @ + - (64 at most), starting "
                          "with a letter or digit (your course login)")
    if not path.is_file():
        raise GraderError(f"{path} does not exist; your labs are in my-labs/ (make lab creates them)")
    result = Check(lab_of(path))
    release = LABS / result.lab / f"{result.lab}.ipynb"
    if not release.is_file():
        raise GraderError(f"{release} is missing: run `make labs`")
    try:
        notebook = read_submission(path)
    except InvalidNotebook as why:
        result.errors.append(f"{path.name}: {why}")
        return result
    check_cells(notebook, read_submission(release), result)
    if run and not result.errors:
        run_visible_checks(path, timeout, result)
    if not result.errors:
        result.packed = pack(path, student, result.lab, out)
    return result
