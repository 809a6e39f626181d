"""End-to-end tests of ``python -m videollm.eval`` on small temporary question and prediction files.

The course suites (``videollm.world.suites``) and the answer parser are not needed: questions come from
``--questions`` or are injected, and raw responses go through a stand-in parser.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from videollm.eval import report
from videollm.eval.metrics import circular_questions
from videollm.eval.report import main

ROOT = Path(__file__).resolve().parents[2]


def mlvu_question(qid, task, answer, clip, duration="long"):
    options = ["one", "two", "three", "four", "five", "six"]  # MLVU test: 6 options, chance 16.7 %
    return {
        "id": qid, "suite": "mlvu", "split": "test", "clip": clip, "task": task, "duration": duration,
        "question": f"question {qid}?", "options": options, "answer": answer,
    }  # fmt: skip


QUESTIONS = [
    mlvu_question("m1", "count", "B", "c1", "short"),
    mlvu_question("m2", "count", "C", "c1", "short"),
    mlvu_question("m3", "count", "A", "c2", "medium"),
    mlvu_question("m4", "needle", "F", "c3"),
    mlvu_question("m5", "order", "D", "c4", "medium"),
    mlvu_question("m6", "order", "E", "c4"),
    {**mlvu_question("v1", "count", "A", "c9"), "suite": "videomme", "options": ["a", "b", "c", "d"]},  # other suite
    {**mlvu_question("m9", "count", "A", "c9"), "split": "val"},  # other split
]
# count: m1 right, m2 wrong, m3 right -> 2/3; needle: m4 missing -> 0/1; order: m5 right, m6 wrong -> 1/2.
PREDICTIONS = [
    {"id": "m1", "prediction": "B"},
    {"id": "m2", "prediction": "A"},
    {"id": "m3", "response": "Best option: (A) one"},
    {"id": "m5", "response": "(D"},
    {"id": "m6", "prediction": "F"},
]


def first_letter(text, question):
    """Stand-in parser: the first standalone letter A-F ("Best option: (A)" -> A)."""
    m = re.search(r"\b([A-F])\b", text)
    return m[1] if m else ""


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


@pytest.fixture
def files(tmp_path):
    return write_jsonl(tmp_path / "questions.jsonl", QUESTIONS), write_jsonl(tmp_path / "preds.jsonl", PREDICTIONS)


def run(argv, capsys, **kwargs):
    code = main(argv, **kwargs)
    out, err = capsys.readouterr()
    return code, out, err


def table_row(out, label):
    """The numbers on the table line that starts with ``label``."""
    line = next(line for line in out.splitlines() if line.split() and line.split()[0] == label)
    return line.split()[1:]


def test_mlvu_table_hand_worked(files, tmp_path, capsys):
    questions, predictions = files
    out_json = tmp_path / "report.json"
    argv = ["mlvu", predictions, "--questions", questions, "--json", str(out_json)]
    code, out, err = run(argv, capsys, parse=first_letter)
    assert code == 0, err
    assert out.splitlines()[0].startswith("MLVU · split test · 6 questions")
    assert table_row(out, "count") == ["3", "2", "66.7"]
    assert table_row(out, "needle") == ["1", "0", "0.0"]
    assert table_row(out, "order") == ["2", "1", "50.0"]
    assert table_row(out, "overall") == ["6", "3", "50.0"]  # 3/6
    assert table_row(out, "M-Avg") == ["6", "-", "38.9"]  # (66.7 + 0 + 50) / 3 = 38.9
    assert table_row(out, "random")[:3] == ["6", "-", "16.7"]  # 1/6
    assert "1 question(s) had no prediction and count as wrong: m4" in out
    saved = json.loads(out_json.read_text())
    assert saved["overall"]["accuracy"] == 50.0 and saved["m_avg"]["accuracy"] == pytest.approx(350 / 9)
    assert saved["missing"] == ["m4"] and len(saved["records"]) == 6
    assert saved["random"]["simulated_mean"] == pytest.approx(100 / 6, abs=3 * saved["random"]["simulated_std"])


def test_group_by_duration(files, capsys):
    questions, predictions = files
    code, out, _ = run(["mlvu", predictions, "--questions", questions, "--by", "duration"], capsys, parse=first_letter)
    assert code == 0
    labels = [line.split()[0] for line in out.splitlines()[3:6]]
    assert labels == ["short", "medium", "long"]
    assert table_row(out, "short") == ["2", "1", "50.0"]  # m1 right, m2 wrong
    assert table_row(out, "medium") == ["2", "2", "100.0"]  # m3, m5 right
    assert table_row(out, "long") == ["2", "0", "0.0"]  # m4 missing, m6 wrong


def test_bootstrap_columns(files, capsys):
    questions, predictions = files
    code, out, _ = run(["mlvu", predictions, "--questions", questions, "--bootstrap"], capsys, parse=first_letter)
    assert code == 0 and "95% CI" in out and "resampling whole clips" in out
    low, high = (float(v) for v in re.findall(r"[\d.]+", " ".join(table_row(out, "overall")[3:])))
    assert low <= 50.0 <= high


def test_circular_mode_end_to_end(tmp_path, capsys):
    questions = [mlvu_question(f"q{i}", "count", "ABCDEF"[i], f"c{i}") for i in range(6)]
    always_a = [{"id": v["id"], "prediction": "A"} for v in circular_questions(questions)]
    preds = write_jsonl(tmp_path / "circ.jsonl", always_a)
    code, out, _ = run(["mlvu", preds, "--circular"], capsys, questions=questions)
    assert code == 0
    assert table_row(out, "overall") == ["6", "0", "0.0"]
    assert table_row(out, "random")[2] == "0.0"  # (1/6)^6 = 0.002 %
    assert "plain accuracy over all rotations 16.7%" in out  # one rotation in six has its answer at A


def test_injected_questions_need_no_suite_fields(tmp_path, capsys):
    bare = [{"id": "x", "task": "physics", "options": ["a", "b", "c"], "answer": "C", "area": "physics"}]
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": "x", "prediction": "C"}])
    code, out, _ = run(["perception", preds, "--split", "val"], capsys, questions=bare)
    assert code == 0 and out.startswith("PerceptionTest · split val")
    assert table_row(out, "physics") == ["1", "1", "100.0"] and table_row(out, "random")[2] == "33.3"


def test_default_questions_come_from_the_course_suites(tmp_path, capsys, monkeypatch):
    asked = []

    def load_questions(suite, split):
        asked.append((suite, split))
        return [q for q in QUESTIONS if (q["suite"], q["split"]) == (suite, split)]

    monkeypatch.setattr(report, "load_questions", load_questions)
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": "m9", "prediction": "A"}])
    code, out, _ = run(["mlvu", preds, "--split", "val"], capsys)
    assert code == 0 and table_row(out, "overall") == ["1", "1", "100.0"] and asked == [("mlvu", "val")]


@pytest.mark.parametrize(
    ("make_argv", "message"),
    [
        (lambda q, p, tmp: ["mlvux", p, "--questions", q], r"unknown suite 'mlvux'; choose one of videomme"),
        (lambda q, p, tmp: ["mlvu", str(tmp / "nope.jsonl"), "--questions", q], r"predictions file not found: .*nope"),
        (lambda q, p, tmp: ["mlvu", p, "--questions", str(tmp / "q.jsonl")], r"questions file not found"),
        (lambda q, p, tmp: ["mlvu", p, "--questions", q, "--split", "train"], r"no mlvu questions of split 'train'"),
        (lambda q, p, tmp: ["mlvu", p, "--questions", q, "--by", "area"], r"no record has a 'area' field"),
    ],
)
def test_errors_exit_2_with_a_message(files, tmp_path, capsys, make_argv, message):
    code, out, err = run(make_argv(*files, tmp_path), capsys, parse=first_letter)
    assert code == 2 and out == ""
    assert re.search(message, err), err


def test_bad_json_names_the_line(files, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "m1", "prediction": "B"}\n\n{"id": "m2", "prediction": "A"\n', encoding="utf-8")
    code, _, err = run(["mlvu", str(bad), "--questions", files[0]], capsys)
    assert code == 2 and re.search(r"bad\.jsonl, line 3: not valid JSON", err), err


def test_prediction_without_id_names_the_line(files, tmp_path, capsys):
    bad = write_jsonl(tmp_path / "noid.jsonl", [{"id": "m1", "prediction": "B"}, {"prediction": "A"}])
    code, _, err = run(["mlvu", bad, "--questions", files[0]], capsys)
    assert code == 2 and "line 2: expected an object with an 'id' field" in err


def test_unknown_prediction_id_is_reported(files, tmp_path, capsys):
    preds = write_jsonl(tmp_path / "p.jsonl", PREDICTIONS + [{"id": "ghost", "prediction": "A"}])
    code, _, err = run(["mlvu", preds, "--questions", files[0]], capsys, parse=first_letter)
    assert code == 2 and "unknown question id 'ghost'" in err


def test_module_entry_point(files):
    # The real `python -m` path, as a user runs it (letters only, so no parser is needed).
    questions, _ = files
    preds = write_jsonl(Path(questions).with_name("letters.jsonl"), [{"id": "m1", "prediction": "B"}])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "videollm.eval", "mlvu", preds, "--questions", questions],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "overall" in done.stdout and "note: 5 question(s) had no prediction" in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "videollm.eval", "nosuch", preds], capture_output=True, text=True, cwd=ROOT, env=env
    )
    assert bad.returncode == 2 and "unknown suite 'nosuch'" in bad.stderr


def test_report_module_constants():
    assert set(report.SUITES) == {"videomme", "perception", "mlvu", "videommmu"}
    assert report.DEFAULT_BY == {"videomme": "duration", "perception": "area", "mlvu": "task", "videommmu": "task"}
