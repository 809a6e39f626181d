"""The unit registry (videollm/units.py) names every unit's lecture, lab, package and tests, and they all exist."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
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
    lectures = {p.name for p in (ROOT / "lectures").glob("*.ipynb")}
    # a unit under construction may have its lecture (and package) before its lab; no lecture is anyone's else
    assert {Path(u.lecture).name for u in READY} <= lectures <= {Path(u.lecture).name for u in UNITS}
    assert lab_names() == sorted(u.lab for u in READY)
    assert sorted(p.name for p in (ROOT / "labs").iterdir() if p.is_dir()) == sorted(u.lab for u in READY)
    packages = {p.parent.name for p in (ROOT / "videollm").glob("*/__init__.py")}
    assert packages >= {u.package for u in READY}, "every ready unit has its package under videollm/"
    # a unit under construction may have its package before its lecture and lab; no package is anyone's else
    assert packages <= {u.package for u in UNITS}, "every package under videollm/ belongs to one unit"


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



def _sections(lecture: Path) -> set[int]:
    cells = json.loads(lecture.read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return {int(n) for n in re.findall(r"^## (\d+)\. ", text, re.M)}


def test_every_module_of_a_unit_package_names_the_lecture_sections_it_serves():
    # d2l's "defined in section ...", one line per module (a module holds one idea): `Lecture: `<notebook>` §a, §b-c.`
    problems = []
    building = {u.lecture for u in UNITS if not u.ready}
    modules = sorted((ROOT / "videollm").glob("*/**/*.py")) + sorted((ROOT / "videollm").glob("*.py"))
    for path in modules:
        if path.name == "__init__.py" and path.parent.name != "mini":
            continue  # a package's __init__ lists its modules instead
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        line = re.search(r"^Lecture: (.*)$", doc, re.M)
        if line is None:
            if path.parent != ROOT / "videollm":  # core modules that no lecture shows may go without
                problems.append(f"{path.relative_to(ROOT)}: no 'Lecture:' line")
            continue
        refs = re.findall(r"`(lectures/[\w.]+\.ipynb)` ((?:§\d+(?:–\d+)?(?:, )?)+)", line.group(1))
        if not refs or len(refs) != line.group(1).count("`lectures/"):
            problems.append(f"{path.relative_to(ROOT)}: cannot read every reference of {line.group(0)!r}")
        for notebook, sections in refs:
            if not (ROOT / notebook).exists():
                if notebook not in building:  # a unit under construction writes its lecture after its code
                    problems.append(f"{path.relative_to(ROOT)}: {notebook} does not exist")
                continue
            have = _sections(ROOT / notebook)
            for first, last in re.findall(r"§(\d+)(?:–(\d+))?", sections):
                wanted = set(range(int(first), int(last or first) + 1))
                if not wanted <= have:
                    problems.append(f"{path.relative_to(ROOT)}: {notebook} has no section {sorted(wanted - have)}")
    assert not problems, "\n".join(problems)

def _graded_names(notebook: Path) -> set[str]:
    """The functions and classes a lab's solution cells define (what the student writes)."""
    names = set()
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] == "code" and cell["metadata"].get("nbgrader", {}).get("solution"):
            source = "".join(cell["source"])
            names |= set(re.findall(r"^(?:def|class) (\w+)", source, re.M))
    return names


@pytest.mark.parametrize("unit", READY, ids=lambda u: u.name)
def test_a_lab_names_the_course_code_behind_every_task(unit):
    # A lab task may keep its own name (its contract can be a part of the reference's), but the lab's last cell
    # says where its counterpart lives, so lab and package can be read side by side.
    notebook = ROOT / "solutions" / unit.lab / f"{unit.lab}.ipynb"
    last = "".join(json.loads(notebook.read_text())["cells"][-1]["source"])
    assert last.startswith("## Where your code lives in the course"), f"{unit.lab}: the last cell must map tasks"
    rows = dict(re.findall(r"^\| `(\w+)` \| `([\w.]+)` \|", last, re.M))
    assert set(rows) == _graded_names(notebook), f"{unit.lab}: the map and the graded functions differ"
    for task, reference in rows.items():
        module, _, name = reference.rpartition(".")
        assert hasattr(importlib.import_module(module), name), f"{unit.lab}: {task} -> {reference} does not exist"



@pytest.mark.parametrize("modules", [("videollm.vq.train",), ("videollm.fusion.train",), ("videollm.motion.tokenizer",),
                                     ("videollm.anyany.bind",), ("videollm.videopoet.audio",),
                                     ("videollm.videopoet.tokenizer",),
                                     ("videollm.videopoet.mixture",),
                                     ("videollm.vlm.mini.train", "videollm.vlm.mini.evaluate")], ids=lambda m: m[0])
def test_every_trained_model_has_the_same_four_functions(modules):
    found = {}
    for name in modules:
        module = importlib.import_module(name)
        found.update({f: getattr(module, f) for f in ("train", "train_config", "pretrained", "evaluate")
                      if hasattr(module, f)})
    leading = {"train": ["model"], "train_config": ["config", "device", "progress"],
               "pretrained": ["config", "device", "retrain", "progress"], "evaluate": ["model"]}
    for function, names in leading.items():
        assert function in found, f"{modules}: no {function}"
        params = list(inspect.signature(found[function]).parameters)
        assert params[:len(names)] == names, f"{modules}: {function}{tuple(params)} should start with {names}"


def _committed_specs() -> dict:
    """The current config's spec and a loader of each small model committed in data/weights/, by checkpoint name
    (the mini video LLM and the needle reader have their own tests, in tests/vlm and tests/compress)."""
    from videollm.anyany import bind, decoders, nextgpt
    from videollm.fusion import train as fusion
    from videollm.motion import tokenizer as motion
    from videollm.videopoet import audio, mixture, tokenizer as video_tokenizer
    from videollm.vq import train as vq

    out = {vq.CHECKPOINT_NAME: (vq.spec(vq.VQVAEConfig()), lambda: vq.pretrained(progress=False)),
           motion.CHECKPOINT_NAME: (motion.spec(motion.TokenizerConfig()), motion.pretrained),
           bind.CHECKPOINT_NAME: (bind.spec(bind.BindConfig()), lambda: bind.pretrained(progress=False)),
           decoders.CHECKPOINT_NAME: (decoders.spec(), lambda: decoders.pretrained(progress=False)),
           nextgpt.CHECKPOINT_NAME: (nextgpt.spec(), lambda: nextgpt.pretrained(progress=False)),
           audio.CHECKPOINT_NAME: (audio.spec(), audio.pretrained),
           video_tokenizer.CHECKPOINT_NAME: (video_tokenizer.spec(),
                                             lambda: video_tokenizer.pretrained(progress=False)),
           mixture.CHECKPOINT_NAME: (mixture.spec(), lambda: mixture.pretrained(progress=False))}
    for style in ("non_tokenised", "tokenised"):
        out[fusion.checkpoint_name(style)] = (fusion.spec(fusion.default_config(style)),
                                              lambda style=style: fusion.pretrained(style, progress=False))
    return out


@pytest.mark.parametrize("name", ["vqvae", "motion_tokenizer", "fusion-non_tokenised", "fusion-tokenised", "binding",
                                  "decoders", "nextgpt", "audio_tokenizer", "video_tokenizer", "videopoet"])
def test_the_committed_weights_are_the_current_configs_and_load(name):
    """``data/weights/<name>-<hash>`` must be retrained and committed whenever a model's config, code version or
    data change (``python -m videollm.vq.train build --force && python -m videollm.vq.train commit``, likewise for
    the motion tokenizer and the fusion models): a fresh clone loads them instead of training."""
    from videollm.cache import COMMITTED_WEIGHTS, committed_dir

    spec, load = _committed_specs()[name]
    folder = committed_dir(name, spec)
    others = sorted(p.name for p in COMMITTED_WEIGHTS.glob(f"{name}-*") if p != folder)
    assert (folder / "meta.json").exists(), f"no committed weights for the current config ({folder.name}); {others}"
    assert not others, f"remove stale committed weights: {others}"
    # A few MB each; the world's NExT-GPT carries three output projectors (0.74 M parameters) and takes 5.6 MB, the
    # course's VideoPoet LM (1.3 M parameters, a third of them its embedding and output rows) 5.4 MB.
    assert sum(f.stat().st_size for f in folder.iterdir()) < (6e6 if name in ("nextgpt", "videopoet") else 5e6)
    assert load().meta["cached"]
