"""Every lecture notebook runs top to bottom, offline, on CPU (once a session: the book shows that run)."""

from pathlib import Path

import nbformat
import pytest

from book.executed import execute

LECTURES = sorted((Path(__file__).resolve().parents[1] / "lectures").glob("*.ipynb"))


def test_there_are_lectures():
    assert LECTURES, "no lecture notebooks found"


@pytest.mark.slow
class _Lecture:
    """One lecture's run. Each lecture gets its own subclass (below), so `--dist loadscope` spreads them over
    the workers."""

    notebook: Path

    def test_lecture_runs(self):
        nb = nbformat.read(self.notebook, as_version=4)
        assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), \
            f"{self.notebook.name}: clear outputs before committing"
        # One run a test session, shared with the book (tests/test_book.py renders the same executed copy). Cells
        # may take up to 600 s: on a fresh clone lecture 03 trains each cached fusion model inside one cell (about
        # 150 s on a 2-core CI machine); the limit is there to stop hangs.
        execute(self.notebook, reuse="session")  # raises CellExecutionError, with the cell and traceback, on failure


for _path in LECTURES:  # TestLecture_02_vq_tokenization, ...: select one with `-k 02_vq`
    globals()[f"TestLecture_{_path.stem}"] = type(f"TestLecture_{_path.stem}", (_Lecture,), {"notebook": _path})
