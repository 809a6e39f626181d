"""nbgrader configuration for the course.

The course root is the repository root. nbgrader's *source* is ``solutions/`` (the instructor notebooks) and its
*release* is ``labs/`` (the student notebooks, generated, never edited by hand). Everything a grading run writes
(submissions, autograded copies, feedback, the gradebook) goes under ``grader/work/``, which git ignores.

Use it from the command line with ``nbgrader <command> --config grader/nbgrader_config.py`` or, better, through
the course's own CLI, ``python -m grader <command>``, which loads this file and checks nbgrader's results.
"""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "grader" / "work"

c = get_config()  # noqa: F821 -- injected by traitlets when nbgrader loads this file

c.CourseDirectory.root = str(REPO)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "labs"
c.CourseDirectory.submitted_directory = "grader/work/submitted"
c.CourseDirectory.autograded_directory = "grader/work/autograded"
c.CourseDirectory.feedback_directory = "grader/work/feedback"
c.CourseDirectory.solution_directory = "grader/work/solution"
c.CourseDirectory.db_url = f"sqlite:///{WORK / 'gradebook.db'}"
c.CourseDirectory.course_id = "videollm"
# Only notebooks are part of a lab; data come from `videollm.data`, never from the lab folder.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]

# A lab cell that runs longer than this is interrupted and its tests score zero (an infinite loop must not
# stall a whole batch). Labs are written to finish every cell in well under a minute on a 2-core CPU.
c.ExecutePreprocessor.timeout = int(os.environ.get("VIDEOLLM_CELL_TIMEOUT", "180"))  # seconds per cell
c.ExecutePreprocessor.kernel_name = "python3"
# Each graded kernel would otherwise print ipykernel's "running over TCP without encryption" warning: the
# kernels listen on localhost only, so the warning is noise in a batch's log. Errors still print.
c.ExecutePreprocessor.extra_arguments = ["--IPKernelApp.log_level=ERROR"]

# Student notebooks carry no hidden tests, and feedback must not reveal them either: nbgrader's ClearHiddenTests
# strips them from the source, and the course's HideTestTracebacks from error tracebacks, which quote them.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "grader.preprocessors.HideTestTracebacks",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
