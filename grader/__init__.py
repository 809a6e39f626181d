"""Instructor tooling: builds the student labs from the solutions and autogrades submissions with nbgrader.

Run ``python -m grader --help``. The nbgrader configuration is ``grader/nbgrader_config.py``.
"""
