"""Every lecture notebook runs top to bottom, offline, on CPU."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

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
        # 600 s a cell: on a fresh clone lecture 03 draws its frame sets and trains each cached fusion model inside
        # one cell (about 150 s for the tokenised one on a 2-core CI machine); the limit is there to stop hangs.
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(self.notebook.parent)}}).execute()


for _path in LECTURES:  # TestLecture_02_vq_tokenization, ...: select one with `-k 02_vq`
    globals()[f"TestLecture_{_path.stem}"] = type(f"TestLecture_{_path.stem}", (_Lecture,), {"notebook": _path})
