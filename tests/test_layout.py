"""The layers of ``videollm/`` import in one direction, with no circle, not even through an import in a function.

core (``videollm/*.py``) -> world (unit 00) -> eval (unit 09) -> the unit packages, each importing only earlier
units; a ``__main__`` module (a command line) may import anything. Read from the source with ``ast``, so an
import inside a function body counts as much as one at the top.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from videollm.units import UNITS

PACKAGE = Path(__file__).resolve().parents[1] / "videollm"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def resolve(name: str) -> str | None:
    """The course module that ``name`` (a module, or a name inside one) lives in."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str) -> list[tuple[str, int, bool]]:
    """``(imported module, line, at top level)`` for every import of a course module in ``module``'s source."""
    tree = ast.parse(MODULES[module].read_text())
    top = {id(node) for node in tree.body}
    is_package = MODULES[module].name == "__init__.py"
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package this module is in
                package = module.split(".")[: len(module.split(".")) - node.level + is_package]
                base = ".".join(package + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for name in names:
            target = resolve(name) if name.startswith("videollm") else None
            if target and target != module:
                found.append((target, node.lineno, id(node) in top))
    return sorted(set(found))


def layer(module: str) -> tuple[float, str]:
    """``(rank, package)``: a module may import from a lower rank, or from its own package."""
    if MODULES[module].parent == PACKAGE:  # videollm/*.py
        return 0.0, "core"
    package = module.split(".")[1]
    if package == "world":
        return 1.0, package
    if package == "eval":
        return 2.0, package
    unit = next((u for u in UNITS if u.package == package), None)
    assert unit is not None, f"videollm/{package}/ is not in the unit registry (videollm/units.py)"
    return 3.0 + int(unit.number) / 100, package


GRAPH = {module: imports(module) for module in MODULES}


def test_every_module_is_placed_in_a_layer():
    for module in MODULES:
        layer(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_layers(module):
    rank, package = layer(module)
    if module.endswith(".__main__"):
        return  # a command line may import anything
    for target, line, _ in GRAPH[module]:
        target_rank, target_package = layer(target)
        assert target_package == package or target_rank < rank, (
            f"{MODULES[module].relative_to(PACKAGE.parent)}:{line} imports {target}: {package} (rank {rank}) may "
            f"import only its own package and lower layers (core -> world -> eval -> earlier units)")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_course_imports_are_at_the_top(module):
    # Every dependency on the course's own code is visible where a reader looks first.
    hidden = [(target, line) for target, line, at_top in GRAPH[module] if not at_top]
    assert not hidden, f"{module} imports course modules inside functions: {hidden}; move them to the top"


def test_no_import_circles():
    edges = {m: {t for t, _, _ in GRAPH[m]} for m in MODULES}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)


def test_the_reader_sees_an_upward_import_inside_a_function(tmp_path, monkeypatch):
    (tmp_path / "scenes.py").write_text("def f():\n    from videollm.vq import quantize\n    return quantize\n")
    monkeypatch.setitem(MODULES, "videollm.world.scenes", tmp_path / "scenes.py")
    assert ("videollm.vq.quantize", 2, False) in imports("videollm.world.scenes")
    assert layer("videollm.vq.quantize") > layer("videollm.world.scenes")


def test_every_command_the_course_documents_can_run():
    # `python -m videollm.x` in the Makefile, README and docstrings needs videollm/x.py with a main guard
    # (or a package with __main__.py)
    root = PACKAGE.parent
    texts = [(root / "Makefile").read_text(), (root / "README.md").read_text()]
    texts += [path.read_text() for path in MODULES.values()]
    named = {m for text in texts for m in re.findall(r"-m (videollm(?:\.\w+)*)", text)}
    assert named, "no commands found"
    for module in sorted(named):
        assert module in MODULES, f"`python -m {module}` is documented but there is no such module"
        path = MODULES[module]
        runnable = (path.parent / "__main__.py").exists() if path.name == "__init__.py" else \
            'if __name__ == "__main__":' in path.read_text()
        assert runnable, f"`python -m {module}` is documented but {path.relative_to(root)} has no main guard"
