"""HTML feedback per submission, built only from what cannot carry hidden tests.

A feedback page is made of: the student version of the lab (markdown and visible tests; it never held hidden
tests), the student's own cells as they submitted them, and under each test cell the grader's verdict (points,
and for each failed check its name and a category). Nothing that ran in the sandbox is copied in: no output
(the student's code may have printed the hidden tests it read while running), no file it wrote. Each page is
written on its own; one that fails is reported and the others are still written.
"""

from __future__ import annotations

import html
from pathlib import Path

import nbformat

from grader import reference
from grader.course import lab_names
from grader.grading import STUDENT_ID
from grader.prepare import InvalidNotebook, prepare, read_submission
from grader.results import Result, load_all
from videollm.cache import write_atomic


def feedback(work: Path) -> tuple[list[Path], list[str]]:
    """Write ``work/feedback/<student>/<lab>/<lab>.html`` for every result; return (files, problems)."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="classic")
    written, problems = [], []
    labs = set(lab_names())
    for result in load_all(work):
        if not STUDENT_ID.match(result.student) or result.lab not in labs:
            continue  # a folder name the grader refused has no safe place for a page; the table reports it
        try:
            notebook = feedback_notebook(work, result)
            body, _ = exporter.from_notebook_node(notebook)
            path = Path(work) / "feedback" / result.student / result.lab / f"{result.lab}.html"
            write_atomic(path, lambda p: Path(p).write_text(body))
            written.append(path)
        except Exception as error:  # noqa: BLE001 -- one page's failure must not cost anyone else theirs
            problems.append(f"{result.student}/{result.lab}: {type(error).__name__}: {error}")
    return written, problems


def feedback_notebook(work: Path, result: Result):
    """The notebook rendered as one student's feedback page."""
    header = [f"# Feedback: {html.escape(result.lab)}", "",
              f"**Score:** {'not graded' if result.score is None else f'{result.score:g} / {result.max_score:g}'}"
              f" — **status:** {html.escape(result.label)}"]
    header += [f"- {html.escape(note)}" for note in result.notes]
    cells = [nbformat.v4.new_markdown_cell("\n".join(header))]
    submitted = Path(work) / "submitted" / result.student / result.lab / f"{result.lab}.ipynb"
    if result.score is None or not submitted.exists():
        return nbformat.v4.new_notebook(cells=cells)
    source, release = reference.lab_notebooks(result.lab)
    try:
        prepared = prepare(source, release, read_submission(submitted))
    except InvalidNotebook:
        return nbformat.v4.new_notebook(cells=cells)
    visible = {(c.get("metadata", {}).get("nbgrader") or {}).get("grade_id"): c for c in release["cells"]}
    for cell, (role, grade_id) in zip(prepared.notebook["cells"], prepared.origins):
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if role in ("locked", "test"):
            shown = visible.get(grade_id)
            text = "".join(shown["source"]) if shown else ""
            if cell["cell_type"] == "markdown":
                cells.append(nbformat.v4.new_markdown_cell(text))
                continue
        out = nbformat.v4.new_code_cell(text)  # the student's own text is shown as code, never rendered
        if role == "test" and grade_id in result.cells:
            score, most, failures = result.cells[grade_id]
            lines = [f"{'passed' if score == most else 'FAILED'}: {score:g} / {most:g} points"]
            lines += [f"  - {failure}" for failure in failures]
            out.outputs = [nbformat.v4.new_output("stream", name="stdout", text="\n".join(lines) + "\n")]
        cells.append(out)
    return nbformat.v4.new_notebook(cells=cells, metadata={"language_info": {"name": "python"}})
