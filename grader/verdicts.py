"""Score a run, in the grader's own process: recorded values against the reference's, never the kernel's word.

For a test cell whose hidden part records (``videollm.record``), the cell earns its points when every check the
solution's clean run recorded was also recorded by the student's run and matches it (types, dtypes, shapes and
values; ``close`` within the reference's tolerance; ``agree``: enough equal items of a list; ``raises`` by
exception class; ``derive``: first a course function turns the student's value into what is compared, here).
Nothing the student's code did to ``numpy``, ``torch`` or the reference in its kernel reaches this comparison. A
test cell that records nothing is scored the nbgrader way (full points when it ran without an error): the labs not
yet converted.

The reasons given to students name the check (the lab author's words) and a category of failure; they never
quote a value, a message or a type name that came out of the sandbox.
"""

from __future__ import annotations

import importlib
import json
import math
from dataclasses import dataclass, field

import numpy as np

from videollm.record import decode, decode_array, encode


@dataclass
class CellVerdict:
    grade_id: str
    score: float
    max_score: float
    recorded: bool  # judged on records (True) or on "ran without error" (False)
    failures: list[str] = field(default_factory=list)  # "check name: category", safe to show the student


def parse_records(text: str) -> dict[tuple[str, str], dict]:
    """The last record of each (cell, check) in a JSON-lines text; malformed lines are skipped."""
    records = {}
    for line in text.splitlines():
        try:
            item = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if (isinstance(item, dict) and isinstance(item.get("cell"), str) and isinstance(item.get("check"), str)
                and isinstance(item.get("outcome"), dict)):
            records[(item["cell"], item["check"])] = item
    return records


def expectations(text: str) -> dict[str, list[dict]]:
    """The reference run's checks per test cell, in recording order (each with its ``compare`` rule)."""
    by_cell: dict[str, list[dict]] = {}
    for (cell, _), item in parse_records(text).items():
        by_cell.setdefault(cell, []).append(item)
    return by_cell


def differs(expected: dict, got: dict, rule: dict) -> str | None:
    """None when ``got`` matches ``expected`` under ``rule``; else a category of failure (no values quoted)."""
    if rule.get("derive") and got.get("t") not in ("raised", "reference-used"):
        function = derived(rule["derive"])  # the lab's own check: an error here is the instructor's, not hidden
        try:
            got = encode(function(decode(got), **rule.get("derive_args", {})))
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError):
            return "returned something that could not be read"  # the course function refused the student's value
    try:
        return _differs(expected, got, rule)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
        return "returned something that could not be read"


def derived(spec: str):
    """The course function ``"videollm.module:function"`` that a check's ``derive`` names (the name comes from the
    solution's records, never from a student's; only the course package is reachable)."""
    module, _, function = spec.partition(":")
    if not module.startswith("videollm.") or not function.isidentifier():
        raise ValueError(f"derive must name a function of the course package; got {spec!r}")
    return getattr(importlib.import_module(module), function)


def _differs(expected: dict, got: dict, rule: dict) -> str | None:
    te, tg = expected["t"], got.get("t")
    if tg == "reference-used":
        return "calls the course's reference for this task instead of your own code"
    if te == "raised":
        if tg != "raised":
            return f"did not raise {expected['mro'][0].rsplit('.', 1)[-1]}"
        return None if expected["mro"][0] in got.get("mro", []) else "raised a different error"
    if tg == "raised":
        return "raised an error"
    if te != tg:
        return "wrong type"
    if te == "none":
        return None
    if te in ("bool", "int", "str"):
        same = all(expected.get(k) == got.get(k) for k in ("v", "len", "sha256"))
        return None if same else "wrong value"
    if te == "float":
        a, b = float(expected["v"]), float(got["v"])
        if math.isnan(a) or math.isnan(b):
            return None if math.isnan(a) and math.isnan(b) else "wrong value"
        if rule.get("how") == "close":
            return None if math.isclose(b, a, rel_tol=rule["rtol"], abs_tol=rule["atol"]) else "wrong value"
        return None if a == b else "wrong value"
    if te in ("list", "tuple"):
        if len(expected["items"]) != len(got["items"]):
            return "wrong length"
        if rule.get("how") == "agree":  # enough items equal, each compared exactly
            same = sum(_differs(e, g, {"how": "exact"}) is None for e, g in zip(expected["items"], got["items"]))
            return None if same >= rule["share"] * len(got["items"]) - 1e-9 else "agrees on too few items"
        for i, (e, g) in enumerate(zip(expected["items"], got["items"])):
            if (why := _differs(e, g, rule)) is not None:
                return f"item {i}: {why}"
        return None
    if te == "dict":
        want = {json.dumps(k, sort_keys=True): v for k, v in expected["items"]}
        have = {json.dumps(k, sort_keys=True): v for k, v in got["items"]}
        if set(want) != set(have):
            return "wrong keys"
        for key in want:
            if (why := _differs(want[key], have[key], rule)) is not None:
                return why
        return None
    if te in ("ndarray", "npscalar", "tensor"):
        if te == "tensor" and (expected["tdtype"] != got["tdtype"] or expected["device"] != got["device"]):
            return "wrong dtype" if expected["tdtype"] != got["tdtype"] else "wrong device"
        a, b = decode_array(expected), decode_array(got)
        if a.dtype != b.dtype:
            return "wrong dtype"
        if a.shape != b.shape:
            return "wrong shape"
        if rule.get("how") == "close" and a.dtype.kind in "fc":
            same = np.allclose(b, a, rtol=rule["rtol"], atol=rule["atol"], equal_nan=True)
        else:
            same = np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
        return None if same else "wrong values"
    return "cannot be compared"


def score_cells(tests: list[tuple[str, float]], cell_status: dict[str, str], expected: dict[str, list[dict]],
                recorded: dict[tuple[str, str], dict]) -> list[CellVerdict]:
    """One verdict per test cell (``tests``: grade id and points, in notebook order)."""
    verdicts = []
    for grade_id, points in tests:
        status = cell_status.get(grade_id, "not-run")
        checks = expected.get(grade_id)
        if not checks:  # not converted: nbgrader's rule
            ok = status == "ok"
            why = [] if ok else [_cell_problem(status)]
            verdicts.append(CellVerdict(grade_id, points if ok else 0.0, points, False, why))
            continue
        failures = [] if status == "ok" else [_cell_problem(status)]  # as nbgrader: a failed cell earns nothing
        for check in checks:
            got = recorded.get((grade_id, check["check"]))
            if got is None:
                why = "did not run"
            else:
                why = differs(check["outcome"], got["outcome"], check.get("compare") or {"how": "exact"})
            if why is not None:
                failures.append(f"{check['check']}: {why}")
        verdicts.append(CellVerdict(grade_id, 0.0 if failures else points, points, True, failures))
    return verdicts


def _cell_problem(status: str) -> str:
    return {"error": "the cell raised an error", "timeout": "the cell ran past its time limit",
            "died": "the kernel died in this cell", "not-run": "the cell did not run",
            "skipped": "the cell is empty"}.get(status, "the cell did not finish")
