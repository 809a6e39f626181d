"""Every lab through the real nbgrader pipeline: the solution earns full marks, the blank student notebook zero,
every entry of the lab's mistake catalog loses points in the cells it should, and broken submissions are
reported without stopping the batch."""

from __future__ import annotations

import csv
import importlib
import os
import re
import subprocess
import sys

import nbformat
import pytest

from grader import release
from grader.contracts import clauses
from grader.course import LABS, REPO, SOLUTIONS, lab_names
from grader.feedback import feedback
from grader.grading import autograde
from grader.results import grade_table

pytestmark = pytest.mark.slow
LAB_NAMES = lab_names()


def test_every_lab_has_a_mistake_catalog_of_at_least_five():
    for lab in LAB_NAMES:
        catalog = importlib.import_module(f"tests.mistakes.{lab.split('_')[0]}").MISTAKES
        assert len(catalog) >= 5, f"{lab}: the mistake catalog needs at least five entries"


def test_labs_are_in_sync_with_solutions():
    assert release.check() == []


def test_labs_carry_no_solutions_or_hidden_tests():
    for lab in LAB_NAMES:
        text = (LABS / lab / f"{lab}.ipynb").read_text()
        for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "_ref_"):
            assert marker not in text, f"labs/{lab} leaks {marker!r}"
        assert "YOUR CODE HERE" in text


def _hidden_part(source: str) -> str:
    start, end = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
    return source[source.index(start) + len(start):source.index(end)] if start in source else ""


def test_every_test_cell_records_its_verdicts_and_states_a_contract():
    """No lab is scored the nbgrader way ("ran without an error", forgeable in the kernel): each test cell's hidden
    part records checks under its own grade id and asserts nothing; each task states its contract; each catalog has entries that call and that patch the reference."""
    for lab in LAB_NAMES:
        nb = nbformat.read(SOLUTIONS / lab / f"{lab}.ipynb", as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if not meta.get("grade"):
                continue
            hidden = _hidden_part(cell.source)
            assert f'Checks("{meta["grade_id"]}"' in hidden, f"{lab}/{meta['grade_id']}: hidden part must record"
            # under its own grade id only: a later cell never changes an earlier one's verdict (the mistakes'
            # notebooks below rely on it)
            assert set(re.findall(r'Checks\("([^"]+)"', hidden)) == {meta["grade_id"]}, \
                f"{lab}/{meta['grade_id']}: records under another cell's grade id"
            assert not any(line.lstrip().startswith("assert ") for line in hidden.splitlines()), \
                f"{lab}/{meta['grade_id']}: a hidden assert is judged in the student's kernel: record instead"
        tasks = [c.source for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("## Task")]
        assert tasks and all(clauses(t) for t in tasks), f"{lab}: every task states its contract"
        catalog = importlib.import_module(f"tests.mistakes.{lab.split('_')[0]}").MISTAKES
        assert any(name.startswith("calls_reference") for name in catalog), f"{lab}: no calls_reference entry"
        assert any(name.startswith("patches_reference") for name in catalog), f"{lab}: no patches_reference entry"


def test_readme_lists_every_labs_contract_and_catalog():
    from grader.contracts import summary

    readme = (REPO / "README.md").read_text()
    start, end = "<!-- contracts: python -m grader contracts -->\n", "\n<!-- /contracts -->"
    assert start in readme and end in readme, "README: the contracts block is missing"
    block = readme[readme.index(start) + len(start):readme.index(end)]
    assert block == summary(), "README's contracts block is stale: paste the output of `python -m grader contracts`"


def _with_mistake(lab: str, cell: str, code: str, also: tuple[tuple[str, str], ...] = (),
                  through: tuple[str, ...] = ()):
    """The solution with the answer cells ``cell`` (and ``also``) replaced by wrong code. With ``through`` (test
    cells' grade ids), every answer cell after the last of them is left as the student version has it: a notebook
    runs top to bottom, so later cells cannot change those cells' scores, and blank ones fail in milliseconds
    instead of training again (a third of the labs' grading time)."""
    nb = nbformat.read(SOLUTIONS / lab / f"{lab}.ipynb", as_version=4)
    index = {c.metadata.get("nbgrader", {}).get("grade_id"): i for i, c in enumerate(nb.cells)}
    graded = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")]
    assert len(graded) == len(set(graded)), f"{lab}: a grade id appears twice"
    for grade_id, source in ((cell, code), *also):
        assert grade_id in index, f"{lab} has no answer cell {grade_id!r}: update its mistake catalog"
        nb.cells[index[grade_id]].source = source.strip("\n")
    if through:
        assert all(g in index for g in through), f"{lab}: a mistake loses points in a cell it does not have"
        last = max(index[g] for g in (*through, cell, *(g for g, _ in also)))
        blank = {c.metadata["nbgrader"]["grade_id"]: c.source
                 for c in nbformat.read(LABS / lab / f"{lab}.ipynb", as_version=4).cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
        for later in nb.cells[last + 1:]:
            grade_id = later.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in blank:
                later.source = blank[grade_id]
    return nb


def _grade(lab: str, root):
    """Autograde one lab's solution, blank, mistakes and broken submissions in a private gradebook."""
    catalog = importlib.import_module(f"tests.mistakes.{lab.split('_')[0]}").MISTAKES
    subs, work = root / "submissions", root / "work"

    def put(student, notebook=None, raw=None, name=f"{lab}.ipynb"):
        folder = subs / student / lab
        folder.mkdir(parents=True)
        if raw is not None:
            (folder / name).write_text(raw)
        else:
            nbformat.write(notebook, folder / name)

    put("reference", nbformat.read(SOLUTIONS / lab / f"{lab}.ipynb", as_version=4))
    put("blank", nbformat.read(LABS / lab / f"{lab}.ipynb", as_version=4))
    for name, mistake in catalog.items():
        put(f"mistake-{name}", _with_mistake(lab, mistake.cell, mistake.code, mistake.also, mistake.loses))
    put("corrupt", raw='{"cells": [ this is not json')
    put("misnamed", nbformat.read(SOLUTIONS / lab / f"{lab}.ipynb", as_version=4), name="my_lab.ipynb")
    results = {r.student: r for r in autograde(subs, work=work)}
    return lab, catalog, results, work


class _GradedLab:
    """The checks of one lab's autograde run. Each lab gets its own subclass (below), so that pytest-xdist's
    ``--dist loadscope`` keeps a lab's tests, and its one expensive grading run, on a single worker."""

    lab: str

    @pytest.fixture(scope="class")
    @classmethod
    def graded(cls, tmp_path_factory):
        return _grade(cls.lab, tmp_path_factory.mktemp(cls.lab))

    def test_solution_gets_full_marks(self, graded):
        lab, _, results, _ = graded
        r = results["reference"]
        assert r.status == "graded" and r.max_score == 20, f"{lab}: {r.label}"
        assert r.score == r.max_score, f"{lab}: solution scored {r.score}/{r.max_score}: {r.cells}"

    def test_blank_gets_zero(self, graded):
        lab, _, results, _ = graded
        r = results["blank"]
        assert r.graded and r.score == 0, f"{lab}: blank notebook scored {r.score}: {r.cells}"

    def test_every_mistake_loses_points_where_expected(self, graded):
        lab, catalog, results, _ = graded
        for name, mistake in catalog.items():
            r = results[f"mistake-{name}"]
            assert r.graded, f"{lab}/{name}: {r.label}"
            for cell in mistake.loses:
                score, most, _ = r.cells[cell]
                assert score < most, f"{lab}: mistake {name!r} ({mistake.why}) kept full marks in {cell}"
            assert r.score < r.max_score

    def test_broken_submissions_are_reported_not_lost(self, graded):
        lab, _, results, _ = graded
        assert not results["corrupt"].graded and results["corrupt"].status == "invalid notebook"
        assert "not valid JSON" in results["corrupt"].detail
        assert not results["misnamed"].graded and results["misnamed"].status == "badly named"
        assert "my_lab.ipynb" in results["misnamed"].detail
        table = grade_table(list(results.values()))
        assert "NOT GRADED" in table and "reference" in table

    def test_feedback_hides_hidden_tests(self, graded):
        lab, _, _, work = graded
        files, problems = feedback(work)
        assert files and not problems, f"feedback: {problems}"
        # the hidden tests' marker and their private names (a name, not the inside of one: get_rng_state is public)
        hidden = re.compile(r"BEGIN HIDDEN TESTS|(?<![A-Za-z0-9])(?:_ref_|_rng|_best\()")
        for html in files:
            found = hidden.search(html.read_text())
            assert found is None, f"{html} reveals hidden tests ({found and found.group()!r})"


for _lab in LAB_NAMES:  # TestLab_lab02_vq, ...: select one with `-k lab02_vq_tokenization`
    globals()[f"TestLab_{_lab}"] = type(f"TestLab_{_lab}", (_GradedLab,), {"lab": _lab})


def test_cli_grades_the_rest_and_reports_what_it_could_not(tmp_path):
    """Through the CLI: a submission without its notebook is reported and makes the exit status 1; an infinite
    loop is interrupted at the cell timeout and scores zero there, and the batch carries on; export writes all."""
    lab = "lab00_video_as_data"
    (tmp_path / "subs" / "ghost" / lab).mkdir(parents=True)
    (tmp_path / "subs" / "ghost" / lab / "notes.txt").write_text("forgot the notebook")
    looping = _with_mistake(lab, "decode", "while True:\n    pass")
    (tmp_path / "subs" / "looper" / lab).mkdir(parents=True)
    nbformat.write(looping, tmp_path / "subs" / "looper" / lab / f"{lab}.ipynb")
    work = tmp_path / "work"
    env = {**os.environ, "VIDEOLLM_CELL_TIMEOUT": "10"}
    grade = [sys.executable, "-m", "grader", "--work", str(work), "autograde", str(tmp_path / "subs")]
    out = subprocess.run(grade, cwd=REPO, capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "NOT GRADED" in out.stdout and "ghost" in out.stdout
    rows = {row["student"]: row for row in csv.DictReader(open(work / "grades.csv"))}
    assert rows["ghost"]["status"] == "badly named" and rows["ghost"]["score"] == ""
    assert rows["looper"]["status"] == "timed out" and "cell decode" in rows["looper"]["detail"]
    assert float(rows["looper"]["score"]) < 20
    export = subprocess.run([sys.executable, "-m", "grader", "--work", str(work), "export"], cwd=REPO, capture_output=True, text=True)
    assert export.returncode == 0, export.stderr
    exported = list(csv.DictReader(open(work / "grades_export.csv")))
    assert exported == list(csv.DictReader(open(work / "grades.csv"))), "export and the table must agree"
