"""Each lab's contracts and mistake catalog, summarised for the README's instructor section.

``python -m grader contracts`` prints the Markdown block that the README holds between its
``<!-- contracts -->`` markers (a test checks that the two agree): per lab, its tasks, the clauses of each task's
**Contract.** list, and how many wrong answers its mistake catalog (``tests/mistakes/labNN.py``) holds.
"""

from __future__ import annotations

import ast
import re

import nbformat

from grader.course import REPO, SOLUTIONS, lab_names

MARKER = "**Contract"  # "**Contract.**", or "**Contract** of `f(x)`:"
ITEM = re.compile(r"^(?:\d+\.|[-*])\s+(.*)")


def clauses(task_text: str) -> list[str]:
    """The items of a task's contract lists (numbered or bulleted, after the line that opens the first one;
    continuation lines joined)."""
    if MARKER not in task_text:
        return []
    items: list[str] = []
    for line in task_text.split(MARKER, 1)[1].splitlines()[1:]:
        if match := ITEM.match(line):
            items.append(match.group(1).strip())
        elif items and line.startswith((" ", "\t")) and line.strip():
            items[-1] += " " + line.strip()
    return items


def catalog_size(lab: str) -> int:
    """Entries of the lab's mistake catalog, counted from its source (the tests package is not imported)."""
    path = REPO / "tests" / "mistakes" / f"{lab.split('_')[0]}.py"
    if not path.exists():
        return 0
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "MISTAKES" for t in node.targets):
            return len(node.value.keys) if isinstance(node.value, ast.Dict) else 0
    return 0


def summary() -> str:
    """The README block: one collapsible section per lab."""
    blocks = []
    for lab in lab_names():
        nb = nbformat.read(SOLUTIONS / lab / f"{lab}.ipynb", as_version=4)
        tasks = [c.source for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("## Task")]
        lines, total = [], 0
        for task in tasks:
            items = clauses(task)
            total += len(items)
            title = task.splitlines()[0].removeprefix("## ").split(" (")[0]
            lines.append(f"- {title}: " + " ".join(f"({i}) {_short(item)}" for i, item in enumerate(items, 1)))
        head = (f"<details><summary><code>{lab}</code>: {len(tasks)} tasks, {total} contract clauses, "
                f"{catalog_size(lab)} wrong answers in its catalog</summary>\n")
        blocks.append(head + "\n" + "\n".join(lines) + "\n\n</details>")
    return "\n".join(blocks)


def _short(clause: str, limit: int = 140) -> str:
    clause = clause.replace("|", "\\|")
    return clause if len(clause) <= limit else clause[: limit - 1].rsplit(" ", 1)[0] + " …"
