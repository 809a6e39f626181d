"""Every lecture notebook runs top to bottom, offline, on CPU."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

LECTURES = sorted((Path(__file__).resolve().parents[1] / "lectures").glob("*.ipynb"))


def test_there_are_lectures():
    assert LECTURES, "no lecture notebooks found"


@pytest.mark.slow
@pytest.mark.parametrize("notebook", LECTURES, ids=[p.stem for p in LECTURES])
def test_lecture_runs(notebook):
    nb = nbformat.read(notebook, as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{notebook.name}: clear outputs before committing"
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(notebook.parent)}}).execute()
