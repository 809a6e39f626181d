"""A student's work is never lost: my-labs/ is only ever added to, labs/ is never rebuilt over an edit, and
``submit`` checks a notebook and packs it in the grader's layout."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import zipfile

import nbformat
import pytest

from grader import release
from grader.course import LABS, REPO, SOLUTIONS, GraderError
from grader.submit import submit
from grader.workspace import sync

LAB = "lab00_video_as_data"


def answer(path, grade_id, code):
    """Type ``code`` into an answer cell and save, as Jupyter would."""
    nb = nbformat.read(path, as_version=4)
    [cell] = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    cell.source = code
    nbformat.write(nb, path)


def solution_source(grade_id):
    """The instructor's answer for ``grade_id``, without nbgrader's solution markers."""
    nb = nbformat.read(SOLUTIONS / LAB / f"{LAB}.ipynb", as_version=4)
    [cell] = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    return "\n".join(line for line in cell.source.splitlines() if line.strip() not in
                     ("### BEGIN SOLUTION", "### END SOLUTION"))


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sync_copies_what_is_missing_and_never_touches_a_copy(tmp_path):
    ws = tmp_path / "my-labs"
    events = sync(LABS, ws)
    assert {e.kind for e in events} == {"copied"} and len(events) == len(list(LABS.glob("lab*/*.ipynb")))
    mine = ws / LAB / f"{LAB}.ipynb"
    answer(mine, "decode", "frames, timestamps = io.load_video(path, num_frames=8)  # mine")
    (ws / LAB / "notes.md").write_text("my notes")
    before = digest(mine)
    again = sync(LABS, ws)
    assert {e.kind for e in again} == {"current"}, "a copy with answers typed in is still the current lab"
    assert digest(mine) == before and (ws / LAB / "notes.md").read_text() == "my notes"


def test_an_updated_lab_goes_beside_the_students_copy(tmp_path):
    labs, ws = tmp_path / "labs", tmp_path / "my-labs"
    shutil.copytree(LABS / LAB, labs / LAB)
    sync(labs, ws, [LAB])
    mine = ws / LAB / f"{LAB}.ipynb"
    answer(mine, "decode", "frames, timestamps = io.load_video(path, num_frames=8)  # mine")
    before = digest(mine)

    released = labs / LAB / f"{LAB}.ipynb"  # upstream changes a task's text
    nb = nbformat.read(released, as_version=4)
    [task] = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "task1"]
    task.source += "\n\n(Clarified: the frames are RGB.)"
    nbformat.write(nb, released)

    [event] = sync(labs, ws, [LAB])
    assert event.kind == "update beside" and "untouched" in event.message
    beside = [p for p in (ws / LAB).iterdir() if ".new-" in p.name]
    assert len(beside) == 1 and beside[0].read_bytes() == released.read_bytes() and str(beside[0]) in event.message
    assert digest(mine) == before
    [event] = sync(labs, ws, [LAB])
    assert event.kind == "update waiting" and len(list((ws / LAB).iterdir())) == 2 and digest(mine) == before

    # The student moves their answer into the new version and keeps it under the lab's name: up to date again.
    answer(beside[0], "decode", "frames, timestamps = io.load_video(path, num_frames=8)  # mine")
    beside[0].replace(mine)
    assert [e.kind for e in sync(labs, ws, [LAB])] == ["current"]

    mine.write_text('{"cells": [ half-saved')  # an unreadable copy is left alone, the lab put beside it
    [event] = sync(labs, ws, [LAB])
    assert event.kind == "unreadable" and mine.read_text() == '{"cells": [ half-saved'


def test_build_never_deletes_and_never_replaces_an_edit(tmp_path, monkeypatch):
    labs = tmp_path / "labs"
    shutil.copytree(LABS / LAB, labs / LAB)
    monkeypatch.setattr(release, "STAMPS", tmp_path / "built.json")
    notebook = labs / LAB / f"{LAB}.ipynb"
    (labs / LAB / "scratch.py").write_text("print('mine')")
    assert release.build([LAB], labs=labs) == [], "an up-to-date lab is not rewritten"

    answer(notebook, "decode", "frames = 1  # a student's work in labs/")
    edited = notebook.read_bytes()
    with pytest.raises(GraderError, match="edited after the course generated them") as error:
        release.build([LAB], labs=labs)
    assert str(notebook) in str(error.value) and "my-labs" in str(error.value)
    assert notebook.read_bytes() == edited and (labs / LAB / "scratch.py").read_text() == "print('mine')"

    # A file an earlier build wrote (its stamp matches) is replaced when solutions/ changed.
    stale = notebook.read_bytes()
    release._write_stamps({release._key(notebook): hashlib.sha256(stale).hexdigest()})
    assert release.build([LAB], labs=labs) == [notebook]
    assert notebook.read_bytes() == (LABS / LAB / f"{LAB}.ipynb").read_bytes()
    assert (labs / LAB / "scratch.py").exists()


def test_submit_checks_then_packs_the_file_byte_for_byte(tmp_path):
    ws, out = tmp_path / "my-labs", tmp_path / "submit"
    sync(LABS, ws, [LAB])
    mine = ws / LAB / f"{LAB}.ipynb"
    for task in ("decode", "uniform_indices", "qwen_num_frames", "contact_sheet"):
        answer(mine, task, solution_source(task))
    result = submit(mine, "alice", out=out)
    assert result.errors == [] and result.warnings == [], result.warnings
    with zipfile.ZipFile(result.packed) as z:
        assert z.namelist() == [f"alice/{LAB}/{LAB}.ipynb"]
        assert z.read(f"alice/{LAB}/{LAB}.ipynb") == mine.read_bytes()
    assert (out / "alice" / LAB / f"{LAB}.ipynb").read_bytes() == mine.read_bytes()

    answer(mine, "qwen_num_frames", "def qwen_num_frames(total_frames, video_fps, fps=2.0):\n    return 20.0")
    result = submit(mine, "alice", out=out)
    assert result.packed and any("visible check 'test_qwen_num_frames' fails" in w for w in result.warnings)


def test_submit_says_what_is_wrong(tmp_path):
    ws = tmp_path / "my-labs"
    sync(LABS, ws, [LAB])
    mine = ws / LAB / f"{LAB}.ipynb"
    result = submit(mine, "bob", out=tmp_path / "out", run=False)
    assert result.packed and any("'decode' is not answered yet" in w for w in result.warnings)

    nb = nbformat.read(mine, as_version=4)
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "uniform_indices"]
    nbformat.write(nb, mine)
    result = submit(mine, "bob", out=tmp_path / "out2", run=False)
    assert result.packed is None and "'uniform_indices' is missing" in result.errors[0]
    assert not (tmp_path / "out2").exists()

    mine.write_text("{ not json")
    assert "not valid JSON" in submit(mine, "bob", out=tmp_path / "out3").errors[0]
    with pytest.raises(GraderError, match="student name"):
        submit(mine, "../eve", out=tmp_path / "out3")
    renamed = mine.with_name(f"{LAB} (1).ipynb")
    shutil.copy(mine, renamed)
    with pytest.raises(GraderError, match=f"rename it to {LAB}.ipynb"):
        submit(renamed, "bob", out=tmp_path / "out3")


def test_a_copy_under_a_labs_former_name_is_kept_named_and_still_submits(tmp_path):
    ws = tmp_path / "my-labs"
    old = ws / "lab00_video_warmup" / "lab00_video_warmup.ipynb"  # the lab's name before unit 00 took one slug
    old.parent.mkdir(parents=True)
    shutil.copy(LABS / LAB / f"{LAB}.ipynb", old)
    answer(old, "decode", solution_source("decode"))
    before = digest(old)
    events = sync(LABS, ws, [LAB])
    assert [e.kind for e in events] == ["copied", "renamed"] and (ws / LAB / f"{LAB}.ipynb").exists()
    assert "lab00_video_warmup is now called lab00_video_as_data" in events[1].message and digest(old) == before
    result = submit(old, "carol", out=tmp_path / "submit", run=False)
    assert result.errors == [] and result.lab == LAB
    assert (tmp_path / "submit" / "carol" / LAB / f"{LAB}.ipynb").read_bytes() == old.read_bytes()


@pytest.mark.slow
def test_every_command_a_student_runs_keeps_their_edits(tmp_path):
    """The Makefile targets a student types, in the real repository, with the workspace in a scratch folder:
    the set-up of `make lab` (`make workspace`), `make labs`, `make course` (one lab, and `-o data`: the data
    targets write only under data/cache, which the rest of the suite builds and checks), `make test`'s set-up."""
    ws = tmp_path / "my-labs"
    env = {**os.environ, "VIDEOLLM_WORKSPACE": str(ws)}

    def make(*args):
        done = subprocess.run(["make", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=1200)
        assert done.returncode == 0, f"make {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"

    make("workspace")
    mine = ws / LAB / f"{LAB}.ipynb"
    answer(mine, "uniform_indices", "def uniform_indices(total_frames, num_frames):\n    return None  # work in progress")
    (ws / LAB / "scratch.txt").write_text("mine")
    saved = {p: p.read_bytes() for p in ws.rglob("*") if p.is_file()}
    for target in (["labs"], ["-o", "data", "course", f"LABS={LAB}"], ["setup"], ["workspace"]):
        make(*target)
        now = {p: p.read_bytes() for p in ws.rglob("*") if p.is_file()}
        assert now == saved, f"make {' '.join(target)} changed the workspace"
