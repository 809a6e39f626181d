"""Mirror results into nbgrader's gradebook, so that nbgrader's own tools (formgrader, ``nbgrader export``) agree.

Only the grader's main process calls this, after a submission's sandbox has exited; the results files stay the
record (``grader/results.py``). A submission that could not be graded is removed from the gradebook, so no tool
shows an old score for it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from grader.course import work_overrides
from grader.results import Result


class GradebookMirror:
    """One open gradebook for a batch; ``put`` writes one result."""

    def __init__(self, work: Path):
        from nbgrader.api import Gradebook
        from sqlalchemy.exc import SAWarning

        # nbgrader 0.9.6's gradebook warns about its own session handling on every submission; nothing to act on.
        warnings.filterwarnings("ignore", category=SAWarning)
        self.gradebook = Gradebook(work_overrides(work)["db_url"])

    def put(self, result: Result) -> None:
        from nbgrader.api import MissingEntry

        gb = self.gradebook
        gb.update_or_create_student(result.student)
        try:
            gb.remove_submission(result.lab, result.student)
        except MissingEntry:
            pass
        if not result.graded:
            return
        submission = gb.add_submission(result.lab, result.student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                if grade.name in result.cells:
                    grade.auto_score = float(result.cells[grade.name][0])
                    grade.needs_manual_grade = False
        gb.db.commit()

    def close(self) -> None:
        self.gradebook.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
