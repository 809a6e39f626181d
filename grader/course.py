"""Where the course's labs live and how to reach nbgrader with the course configuration."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG_FILE = REPO / "grader" / "nbgrader_config.py"
SOLUTIONS = REPO / "solutions"
LABS = REPO / "labs"
WORK = REPO / "grader" / "work"


class GraderError(RuntimeError):
    """nbgrader did not do what was asked; the message says what failed and where its log is."""


def lab_names() -> list[str]:
    """Every lab in ``solutions/`` (a folder ``labNN_name`` holding ``labNN_name.ipynb``), sorted."""
    return sorted(p.parent.name for p in SOLUTIONS.glob("lab*/lab*.ipynb") if p.stem == p.parent.name)


def check_lab_names(names: list[str] | None) -> list[str]:
    """Return ``names`` (or all labs when None), raising a clear error for a lab that does not exist."""
    known = lab_names()
    if not names:
        return known
    unknown = [n for n in names if n not in known]
    if unknown:
        raise GraderError(f"unknown lab(s) {unknown}; the labs in solutions/ are {known}")
    return list(names)


def offline_environment() -> None:
    """Grading never downloads: switch the hub libraries offline for us and for every kernel we start."""
    from videollm.offline import set_offline

    set_offline()
    # Kernels started by nbgrader inherit this; it keeps matplotlib from trying to open windows.
    os.environ.setdefault("MPLBACKEND", "Agg")
    # nbgrader creates the gradebook with the `alembic` command: without it on PATH it silently writes an
    # incomplete database. Put this environment's scripts first even when the venv is not activated.
    scripts = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != scripts:
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")


def load_config(**overrides):
    """The course's nbgrader config as a traitlets ``Config``; ``overrides`` set ``CourseDirectory`` traits."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(CONFIG_FILE.name, path=str(CONFIG_FILE.parent)).load_config()
    for key, value in overrides.items():
        setattr(config.CourseDirectory, key, value)
    return config


def work_overrides(work: Path) -> dict:
    """``CourseDirectory`` settings that move every folder a grading run writes (and the gradebook) to ``work``."""
    work = Path(work).resolve()
    return {
        "submitted_directory": str(work / "submitted"),
        "autograded_directory": str(work / "autograded"),
        "feedback_directory": str(work / "feedback"),
        "solution_directory": str(work / "solution"),
        "db_url": f"sqlite:///{work / 'gradebook.db'}",
    }


def make_api(work: Path = WORK, **overrides):
    """An ``NbGraderAPI`` bound to the course config, writing under ``work`` (default ``grader/work``).

    It is quiet: nbgrader's log comes back in each call's result instead.
    """
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    offline_environment()
    Path(work).mkdir(parents=True, exist_ok=True)
    config = load_config(**{**work_overrides(work), **overrides})
    coursedir = CourseDirectory(config=config)
    api = NbGraderAPI(coursedir=coursedir, config=config)
    api.log.setLevel(logging.WARNING)
    return api


def require_success(result: dict, what: str) -> dict:
    """nbgrader's API reports failure in a dict rather than raising; turn a failure into a ``GraderError``."""
    if not result.get("success"):
        detail = (result.get("error") or result.get("log") or "no log").strip()
        raise GraderError(f"{what} failed:\n{detail}")
    return result
