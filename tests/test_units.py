"""The unit registry (videollm/units.py) names every unit's lecture, lab, package and tests, and they all exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from grader.course import lab_names
from videollm.units import UNITS, syllabus_table, unit_of_lab

ROOT = Path(__file__).resolve().parents[1]
READY = [u for u in UNITS if u.ready]


@pytest.mark.parametrize("unit", READY, ids=lambda u: u.name)
def test_every_path_of_a_ready_unit_exists(unit):
    missing = [path for path in unit.paths() if not (ROOT / path).exists()]
    assert not missing, f"unit {unit.name}: {missing} do not exist; fix videollm/units.py or add them"


def test_units_are_numbered_once_with_unique_slugs_and_packages():
    assert [u.number for u in UNITS] == [f"{n:02d}" for n in range(10)]
    for field in ("slug", "package"):
        values = [getattr(u, field) for u in UNITS]
        assert len(set(values)) == len(values), f"two units share a {field}: {values}"
    assert all(re.fullmatch(r"[a-z0-9_]+", u.slug) for u in UNITS)


def test_the_registry_and_the_repository_list_the_same_lectures_labs_and_packages():
    assert sorted(p.name for p in (ROOT / "lectures").glob("*.ipynb")) == sorted(
        Path(u.lecture).name for u in READY)
    assert lab_names() == sorted(u.lab for u in READY)
    assert sorted(p.name for p in (ROOT / "labs").iterdir() if p.is_dir()) == sorted(u.lab for u in READY)
    packages = {p.parent.name for p in (ROOT / "videollm").glob("*/__init__.py")}
    assert packages == {u.package for u in READY}, "every package under videollm/ belongs to one ready unit"


def test_a_lab_is_found_by_its_former_name():
    assert unit_of_lab("lab02_vq").lab == "lab02_vq_tokenization"
    assert unit_of_lab("lab02_vq_tokenization").number == "02"
    assert unit_of_lab("lab99_nothing") is None
    former = [name for u in UNITS for name in u.formerly]
    assert not set(former) & {u.lab for u in UNITS}, "a former name may not be a current one"


def test_readme_syllabus_is_printed_from_the_registry():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- syllabus: python -m videollm.units -->\n(.*?)\n<!-- /syllabus -->", readme, re.S)
    assert block, "README.md lacks the syllabus block"
    assert block.group(1) == syllabus_table(), "README's syllabus is stale: paste `python -m videollm.units` into it"


def test_every_module_of_a_unit_package_says_which_unit_it_serves():
    numbers = {u.package: u.number for u in UNITS}
    missing = []
    for path in sorted((ROOT / "videollm").glob("*/**/*.py")):
        number = numbers[path.relative_to(ROOT / "videollm").parts[0]]
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        if not doc.startswith(f"Unit {number}"):
            missing.append(str(path.relative_to(ROOT)))
    assert not missing, f"these modules' docstrings do not start with their unit ('Unit NN ...'): {missing}"
