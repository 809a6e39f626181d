"""The pieces of the grader that need no sandbox: recording (videollm.record), comparing (grader.verdicts) and
rebuilding a submission (grader.prepare)."""

from __future__ import annotations

import json

import nbformat
import numpy as np
import pytest
import torch

from grader.course import LABS, SOLUTIONS
from grader.prepare import InvalidNotebook, prepare, read_submission
from grader.verdicts import differs, expectations, parse_records, score_cells
from videollm.record import Checks, RecordError, decode, encode, encode_error

EXACT = {"how": "exact"}
LAB = "lab00_video_as_data"


def recorded(tmp_path, monkeypatch, mode, body):
    """Run ``body(Checks)`` in ``mode`` and return the records it wrote."""
    path = tmp_path / f"{mode}.jsonl"
    monkeypatch.setenv("VIDEOLLM_RECORD", str(path))
    monkeypatch.setenv("VIDEOLLM_RECORD_MODE", mode)
    body(Checks("test_x"))
    return path.read_text() if path.exists() else ""


def test_without_a_grading_run_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.delenv("VIDEOLLM_RECORD", raising=False)
    Checks("test_x").value("v", lambda: 1)
    assert list(tmp_path.iterdir()) == []


def test_reference_records_expect_and_the_student_its_own_value(tmp_path, monkeypatch):
    def body(check):
        check.value("v", lambda: np.arange(3), expect=lambda: np.arange(3) * 2)
    ref = expectations(recorded(tmp_path, monkeypatch, "reference", body))
    got = parse_records(recorded(tmp_path, monkeypatch, "student", body))
    assert ref["test_x"][0]["compare"] == EXACT
    assert differs(ref["test_x"][0]["outcome"], got[("test_x", "v")]["outcome"], EXACT) == "wrong values"
    assert "compare" not in got[("test_x", "v")]  # a student's run cannot choose how it is compared


def test_reference_mode_refuses_what_cannot_be_compared(tmp_path, monkeypatch):
    with pytest.raises(RecordError, match="cannot be recorded"):
        recorded(tmp_path, monkeypatch, "reference", lambda c: c.value("fig", lambda: object()))
    with pytest.raises(RecordError, match="does not raise"):
        recorded(tmp_path, monkeypatch, "reference", lambda c: c.raises("r", ValueError, lambda: 1))


def _in_thread(fn):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result()


def test_calling_the_graded_reference_fails_however_it_is_reached(tmp_path, monkeypatch):
    """A wrapper, an alias kept from before a patch, a bare except around it, a subclass: all are noticed;
    an own implementation, and a reference that was monkeypatched to it, are not; expect= may use it."""
    from videollm.fusion import model as fusion
    from videollm import sampling

    saved = sampling.uniform_indices

    def own(t, n):
        return np.linspace(0, t - 1, n).round().astype(np.int64)

    def swallowing(t, n):
        try:
            return saved(t, n)
        except:  # noqa: E722 -- what a student might write
            return own(t, n)

    class Mine(fusion.Projector):
        pass

    def body(mode):
        def run(_):
            check = Checks("test_x", graded=["videollm.sampling:uniform_indices", "videollm.fusion.model:Projector"])
            check.value("wrapper", lambda: saved(10, 4))
            check.value("bare except", lambda: swallowing(10, 4))
            check.value("own", lambda: own(10, 4), expect=lambda: sampling.uniform_indices(10, 4))
            check.value("subclass", lambda: Mine(4, 8) is None)
            check.raises("raises through it", ValueError, lambda: saved(10, 0))
            check.value("in a thread", lambda: _in_thread(lambda: saved(10, 4)))
        return run

    monkeypatch.setattr(sampling, "uniform_indices", own)
    got = parse_records(recorded(tmp_path, monkeypatch, "student", body("student")))
    outcomes = {check: item["outcome"]["t"] for (_, check), item in got.items()}
    assert outcomes == {"wrapper": "reference-used", "bare except": "reference-used", "own": "ndarray",
                        "subclass": "reference-used", "raises through it": "reference-used",
                        "in a thread": "reference-used"}
    why = differs({"t": "ndarray"}, got[("test_x", "wrapper")]["outcome"], EXACT)
    assert why and "reference" in why
    with pytest.raises(RecordError, match="calls the graded reference"):  # a solution that uses it is a bug
        recorded(tmp_path, monkeypatch, "reference", lambda c: Checks(
            "test_x", graded=["videollm.sampling:uniform_indices"]).value("w", lambda: saved(10, 4)))
    with pytest.raises(RecordError, match="module:function"):
        Checks("test_x", graded=["uniform_indices"])


def test_switching_the_tripwire_off_counts_as_calling_the_reference(tmp_path, monkeypatch):
    """Code under test that switches the profile hook off (for itself or its threads) before calling the reference,
    and sets it back after, is recorded as using the reference; a hook of its own that passes every event on (lab
    04 counts calls so) is fine, and still sees a call into the reference; the hook is off again afterwards."""
    import sys
    import threading

    from videollm import sampling

    def off_then_on():
        hook = sys.getprofile()
        sys.setprofile(None)
        value = sampling.uniform_indices(10, 4)
        sys.setprofile(hook)
        return value

    def chained(fn):
        outer = sys.getprofile()

        def counting(frame, event, arg):
            outer(frame, event, arg)

        sys.setprofile(counting)
        try:
            return fn()
        finally:
            sys.setprofile(outer)

    def run(check):
        check = Checks("test_x", graded=["videollm.sampling:uniform_indices"])
        check.value("setprofile", off_then_on)
        check.value("threads", lambda: threading.setprofile(None))
        check.value("chained, honest", lambda: chained(lambda: 3))
        check.value("chained, calls it", lambda: chained(lambda: sampling.uniform_indices(10, 4)))
        check.value("honest", lambda: 3)

    got = parse_records(recorded(tmp_path, monkeypatch, "student", run))
    outcomes = {check: item["outcome"]["t"] for (_, check), item in got.items()}
    assert outcomes == {"setprofile": "reference-used", "threads": "reference-used", "chained, honest": "int",
                        "chained, calls it": "reference-used", "honest": "int"}
    assert sys.getprofile() is None


def _double_first(trained, factor=2):
    """A stand-in for a course function a check derives with (it must be importable by its module's name)."""
    return [factor * x for x in trained["values"]]


def test_derive_runs_a_course_function_on_the_students_value_in_the_graders_process(tmp_path, monkeypatch):
    """What a check derives is computed from the student's recorded value by the grader (the kernel only records
    data); a value the function cannot take fails as unreadable; only course functions are reachable."""
    monkeypatch.setattr("videollm.record._double_first", _double_first, raising=False)
    derive = "videollm.record:_double_first"

    def body(check):
        check.value("derived", lambda: {"values": [1, 2, 3]}, expect=lambda: [2, 4, 6], agree=1.0, derive=derive)
    ref = expectations(recorded(tmp_path, monkeypatch, "reference", body))["test_x"][0]
    assert ref["compare"] == {"how": "agree", "share": 1.0, "derive": derive}
    assert differs(ref["outcome"], encode({"values": [1, 2, 3]}), ref["compare"]) is None

    def with_args(check):  # the arguments come from the reference's rule: the student's value cannot set them
        check.value("args", lambda: {"values": [1, 2]}, expect=lambda: [3, 6], derive=derive, derive_args={"factor": 3})
    checks = expectations(recorded(tmp_path, monkeypatch, "reference", with_args))["test_x"]
    rule = next(c for c in checks if c["check"] == "args")["compare"]
    assert rule["derive_args"] == {"factor": 3}
    assert differs(encode([3, 6]), encode({"values": [1, 2], "factor": 2}), rule) is None
    assert differs(ref["outcome"], encode({"values": [1, 2, 4]}), ref["compare"]) == "agrees on too few items"
    assert differs(ref["outcome"], encode({"values": "abc"}), ref["compare"]) == "agrees on too few items"
    assert differs(ref["outcome"], encode({"other": 1}), ref["compare"]) == "returned something that could not be read"
    assert differs(ref["outcome"], encode_error(ValueError("x")), ref["compare"]) == "raised an error"
    assert differs(ref["outcome"], {"t": "dict", "items": [[{"t": "bogus"}, {"t": "none"}]]},
                   ref["compare"]) == "returned something that could not be read"
    with pytest.raises(ValueError, match="course package"):  # a broken check is the instructor's error, loudly
        differs(ref["outcome"], encode({"values": [1]}), {**ref["compare"], "derive": "os:system"})
    for bad in ("os:system", "videollm.record", "videollm.record:not a name"):
        with pytest.raises(RecordError, match="derive"):
            recorded(tmp_path, monkeypatch, "reference",
                     lambda c: c.value("d", lambda: 1, expect=lambda: 1, derive=bad))
    with pytest.raises(RecordError, match="with an expect"):
        recorded(tmp_path, monkeypatch, "reference", lambda c: c.value("d", lambda: 1, derive=derive))


def test_decode_inverts_encode():
    value = [None, True, 3, 2.5, "text", (1, "a"), {"k": [1, 2]}, np.arange(3), torch.ones(2, dtype=torch.float16)]
    back = decode(encode(value))
    assert back[:7] == [None, True, 3, 2.5, "text", (1, "a"), {"k": [1, 2]}]
    np.testing.assert_array_equal(back[7], np.arange(3))
    assert back[8].dtype == np.float32 and back[8].tolist() == [1.0, 1.0]  # half precision comes back widened
    for forged in ({"t": "object"}, {"t": "list", "items": "no"}, "not a dict", {"t": "int", "v": "x"}):
        with pytest.raises(ValueError):
            decode(forged)


@pytest.mark.parametrize("expected, got, why", [
    (np.arange(4, dtype=np.int64), np.arange(4, dtype=np.int64), None),
    (np.arange(4, dtype=np.int64), np.arange(4, dtype=np.int32), "wrong dtype"),
    (np.arange(4), np.arange(5), "wrong shape"),
    (np.arange(4), np.arange(4)[::-1].copy(), "wrong values"),
    (np.arange(4), list(range(4)), "wrong type"),
    (20, np.int64(20), "wrong type"),  # the contract says int
    (20, 21, "wrong value"),
    (float("nan"), float("nan"), None),
    (np.array([np.nan, 1.0]), np.array([np.nan, 1.0]), None),
    (torch.zeros(2), torch.zeros(2, dtype=torch.float64), "wrong dtype"),
    ([1, (2, "a")], [1, (2, "a")], None),
    ([1, (2, "a")], [1, [2, "a"]], "item 1: wrong type"),
    ({"rows": 2, "titles": ["t = 0.50 s"]}, {"rows": 2, "titles": ["t = 0.5 s"]}, "item 0: wrong value"),
    ({"a": 1}, {"b": 1}, "wrong keys"),
])
def test_differs_names_the_kind_of_difference(expected, got, why):
    assert differs(encode(expected), encode(got), EXACT) == why


def test_close_comparison_uses_the_reference_tolerance():
    a, b = encode(np.array([1.0, 2.0])), encode(np.array([1.0, 2.0 + 1e-7]))
    assert differs(a, b, EXACT) == "wrong values"
    assert differs(a, b, {"how": "close", "rtol": 1e-6, "atol": 0.0}) is None
    assert differs(encode(1.0), encode(1.1), {"how": "close", "rtol": 1e-6, "atol": 0.0}) == "wrong value"


def test_agree_passes_when_enough_items_are_equal(tmp_path, monkeypatch):
    rule = {"how": "agree", "share": 0.75}
    want = encode([0, 1, 2, 3])
    assert differs(want, encode([0, 1, 2, 0]), rule) is None  # 3 of 4
    assert differs(want, encode([0, 1, 0, 0]), rule) == "agrees on too few items"
    assert differs(want, encode([0, 1, 2]), rule) == "wrong length"
    assert differs(want, encode([0.0, 1.0, 2.0, 3.0]), rule) == "agrees on too few items"  # items compared exactly
    assert differs(want, encode("0123"), rule) == "wrong type"

    def body(check):
        check.value("answers", lambda: [1, 1, 0], expect=lambda: [1, 1, 1], agree=0.6)
    ref = expectations(recorded(tmp_path, monkeypatch, "reference", body))["test_x"][0]
    assert ref["compare"] == {"how": "agree", "share": 0.6} and ref["outcome"] == encode([1, 1, 1])
    with pytest.raises(RecordError, match="agree is a share"):
        recorded(tmp_path, monkeypatch, "reference", lambda c: c.value("x", lambda: [1], agree=1.5))


def test_raises_matches_by_class_including_subclasses():
    expected = {"t": "raised", "mro": ["builtins.ValueError"]}
    assert differs(expected, encode_error(ValueError("x")), EXACT) is None
    assert differs(expected, encode_error(UnicodeError("x")), EXACT) is None  # a ValueError subclass
    assert differs(expected, encode_error(TypeError("x")), EXACT) == "raised a different error"
    assert differs(expected, encode(3), EXACT) == "did not raise ValueError"
    look_alike = type("ValueError", (Exception,), {})  # a student's class of the same name is not the builtin
    assert differs(expected, encode_error(look_alike("x")), EXACT) == "raised a different error"


def test_forged_or_broken_records_never_pass():
    good = encode(np.arange(3))
    assert differs(good, {"t": "ndarray", "dtype": "<i8", "shape": [3], "b64": "!!"}, EXACT) is not None
    assert differs(good, {"t": "ndarray", "dtype": "|O", "shape": [3], "b64": ""}, EXACT) is not None
    assert differs(good, {"t": "ndarray"}, EXACT) is not None
    records = parse_records('not json\n{"cell": 1}\n' + json.dumps({"cell": "c", "check": "k", "outcome": good}))
    assert list(records) == [("c", "k")]


def test_a_cell_scores_only_when_every_reference_check_matches():
    expected = {"test_a": [{"check": "one", "outcome": encode(1), "compare": EXACT},
                           {"check": "two", "outcome": encode(2), "compare": EXACT}]}
    full = {("test_a", "one"): {"outcome": encode(1)}, ("test_a", "two"): {"outcome": encode(2)}}
    tests = [("test_a", 5.0), ("test_legacy", 3.0)]
    ok = score_cells(tests, {"test_a": "ok", "test_legacy": "ok"}, expected, full)
    assert [(v.score, v.recorded) for v in ok] == [(5.0, True), (3.0, False)]
    missing = score_cells(tests, {"test_a": "error", "test_legacy": "error"}, expected,
                          {("test_a", "one"): {"outcome": encode(1)}})
    assert [v.score for v in missing] == [0.0, 0.0]
    assert missing[0].failures == ["the cell raised an error", "two: did not run"]
    late = score_cells(tests[:1], {"test_a": "timeout"}, expected, full)  # recorded, then ran past its limit
    assert late[0].score == 0.0 and late[0].failures == ["the cell ran past its time limit"]


def test_read_submission_says_what_is_wrong(tmp_path):
    cases = {"empty": (b"", "empty"), "json": (b'{"cells": [', "not valid JSON"),
             "v3": (json.dumps({"nbformat": 3, "worksheets": []}).encode(), "nbformat 3"),
             "list": (b"[1, 2]", "not a Jupyter notebook"),
             "schema": (json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": 3}).encode(),
                        "nbformat 4 schema")}
    for name, (raw, words) in cases.items():
        (tmp_path / name).write_bytes(raw)
        with pytest.raises(InvalidNotebook, match=words):
            read_submission(tmp_path / name)


def test_prepare_restores_the_lab_cells_and_keeps_the_students_own():
    source = json.loads((SOLUTIONS / LAB / f"{LAB}.ipynb").read_text())
    release = json.loads((LABS / LAB / f"{LAB}.ipynb").read_text())
    student = nbformat.read(LABS / LAB / f"{LAB}.ipynb", as_version=4)
    test = next(c for c in student.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_decode")
    test.source = "pass"
    student.cells.remove(next(c for c in student.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                              == "test_uniform_indices"))
    decode = next(i for i, c in enumerate(student.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "decode")
    student.cells.insert(decode + 1, nbformat.v4.new_code_cell("scratch = 1"))
    prepared = prepare(source, release, json.loads(nbformat.writes(student)))
    ids = [g for _, g in prepared.origins]
    assert ids.index("decode") + 1 == ids.index(None)  # the student's cell runs right after its anchor
    cells = {g: c for (_, g), c in zip(prepared.origins, prepared.notebook["cells"]) if g}
    hidden = "".join(cells["test_decode"]["source"])
    assert "Checks('test_decode')" in hidden  # edited: the lab's version runs, hidden checks included ...
    assert "expect=" not in hidden and "load_video(path, num_frames=8)[1]" not in hidden  # ... but never the
    # expected answers, which only the reference run records
    reference = prepare(source, release, source, reference=True)
    assert any("expect=" in "".join(c["source"]) for c in reference.notebook["cells"])
    assert "test_uniform_indices" in cells  # deleted: put back
    assert any("was edited" in n for n in prepared.notes) and any("was missing" in n for n in prepared.notes)
    assert prepared.manual == []
