"""nbgrader configuration for the course.

The course root is the repository root. nbgrader's *source* is ``solutions/`` (the instructor notebooks) and its
*release* is ``labs/`` (the student notebooks, generated, never edited by hand). Everything a grading run writes
(submissions, autograded copies, feedback, the gradebook) goes under ``grader/work/``, which git ignores.

Use it from the command line with ``nbgrader <command> --config grader/nbgrader_config.py`` or, better, through
the course's own CLI, ``python -m grader <command>``, which loads this file and checks nbgrader's results.
"""

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
# Only notebooks are part of a lab; data come from `videollm.world.data`, never from the lab folder.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]

# nbgrader here only builds the student versions and keeps the gradebook. Autograding and feedback go through
# `python -m grader` (grader/grading.py, grader/feedback.py): each submission runs in a sandbox and is judged
# outside it. Do not run `nbgrader autograde` on student work: it executes their code unsandboxed.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
