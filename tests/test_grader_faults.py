"""The grader's fault catalog: hostile and broken lab00 submissions graded in one batch beside honest ones.

Each case says what a student (or a careless instructor) does and what must hold afterwards: the batch finishes,
the submission's status names the cause, no other student's result, file or feedback changes, nothing of the
hidden tests reaches any feedback, and no process of the sandbox survives. The batch runs once (module
fixture), through the real command line, with two workers and a short cell time limit.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from grader import sandbox
from grader.course import LABS, REPO, SOLUTIONS
from grader.results import SCORED, load

pytestmark = pytest.mark.slow
LAB = "lab00_video_as_data"
CELL_TIMEOUT = 12
HIDDEN_MARKERS = ("_check.value(", "expect=lambda", "default_rng(0)", "def _facts")  # hidden source only


def require_sandbox():
    ok, why = sandbox.available()
    if not ok:
        message = f"{why}: run `make setup` as root (it installs bubblewrap) or apt-get install bubblewrap"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def solved(release: Path = LABS / LAB / f"{LAB}.ipynb") -> nbformat.NotebookNode:
    """The student version of lab00 (or an earlier ``release`` of it) with every answer cell filled in as the
    solution does it."""
    nb = nbformat.read(release, as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source
               for c in nbformat.read(SOLUTIONS / LAB / f"{LAB}.ipynb", as_version=4).cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


def cell(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def with_answer(grade_id: str, code: str, nb=None):
    nb = nb or solved()
    cell(nb, grade_id).source = code.strip("\n")
    return nb


WRONG_UNIFORM = '''
def uniform_indices(total_frames, num_frames):
    if not 1 <= num_frames <= total_frames:
        raise ValueError("bad")
    k = np.arange(num_frames)  # rounds halves up: wrong (they go to even), yet passes the visible checks
    return np.floor(k * (total_frames - 1) / max(num_frames - 1, 1) + 0.5).astype(np.int64)
'''


def catalog(work: Path, port: int) -> dict:
    """student -> (notebook or raw bytes). Every hostile student also leaves its other answers right."""
    subs: dict[str, object] = {}
    subs["honest"] = solved()
    subs["honest2"] = solved()
    subs["blank"] = nbformat.read(LABS / LAB / f"{LAB}.ipynb", as_version=4)
    # A copy begun under the lab's former name (lab00_video_warmup, whose locked set-up cell imported modules that
    # have since moved), packed by `make submit` under the current name: the grader restores the locked cells.
    subs["former_name"] = solved(REPO / "tests" / "data" / "lab00_video_warmup.ipynb")
    gradebook = work / "gradebook.db"
    subs["tamper_gradebook"] = with_answer("decode", f'''
import sqlite3, os, glob, shutil
frames, timestamps = io.load_video(path, num_frames=8)
for db in [{str(gradebook)!r}, {str(REPO / "grader" / "work" / "gradebook.db")!r}]:
    try:
        con = sqlite3.connect(db); con.execute("update grade set extra_credit = 25"); con.commit()
        print("TAMP" + "ERED", db)
    except Exception as e:
        print("no gradebook", type(e).__name__)
for target in [{str(work / "results")!r}, {str(work / "submitted")!r}, {str(work / "autograded")!r}]:
    shutil.rmtree(target, ignore_errors=True)
try:
    print(open("/proc/%d/cmdline" % os.getppid()).read())
except Exception as e:
    print("no parent", type(e).__name__)
''')
    subs["read_hidden"] = with_answer("uniform_indices", f'''
import inspect, linecache, glob
_leaked = []
def uniform_indices(total_frames, num_frames):
    if not _leaked:  # once: inspect.stack() reads every frame's source, too slow for 300 calls in 12 s
        _leaked.append(True)
        for frame in inspect.stack()[1:3]:
            print("LEAK" + "-CALLER", "".join(linecache.getlines(frame.filename)))
    if not 1 <= num_frames <= total_frames:
        raise ValueError("bad")
    return np.round(np.arange(num_frames) * (total_frames - 1) / max(num_frames - 1, 1)).astype(np.int64)
for name in glob.glob({str(REPO / "solutions")!r} + "/**/*.ipynb", recursive=True):
    print("LEAK" + "-SOLUTION", open(name).read())
print("LEAK" + "-HISTORY", "\\n".join(In))
open("leak.html", "w").write("<h1>LEAKED " + "FILE</h1>")
''')
    subs["monkeypatch"] = with_answer("uniform_indices", WRONG_UNIFORM + '''
import numpy, torch, builtins
from videollm import sampling
sampling.uniform_indices = uniform_indices
numpy.array_equal = lambda *a, **k: True
numpy.allclose = lambda *a, **k: True
numpy.testing.assert_array_equal = lambda *a, **k: None
torch.allclose = lambda *a, **k: True
import videollm.record as record
''')
    subs["forge_expected"] = with_answer("uniform_indices", WRONG_UNIFORM + '''
import os
import videollm.record as record
os.environ["VIDEOLLM_RECORD_MODE"] = "reference"  # record what the reference would ...
_value = record.Checks.value
record.Checks.value = lambda self, name, thunk, expect=None, **kw: _value(self, name, expect or thunk, **kw)
''')
    subs["hidden_marker_comment"] = with_answer("qwen_num_frames", '''
# ### BEGIN HIDDEN TESTS
def qwen_num_frames(total_frames, video_fps, fps=2.0):
    import math
    n = min(max(total_frames / video_fps * fps, 4), math.floor(min(768, total_frames) / 2) * 2, total_frames)
    if n < 2:
        raise ValueError("a one-frame clip")
    return int(math.floor(n / 2) * 2)
''')
    subs["infinite_loop"] = with_answer("decode", "while True:\n    pass")
    subs["swallow_interrupt"] = with_answer("decode", '''
frames, timestamps = io.load_video(path, num_frames=8)
import time
while True:
    try:
        time.sleep(0.1)
    except KeyboardInterrupt:
        pass
''')
    subs["os_exit"] = with_answer("uniform_indices", "import os\nos._exit(3)")
    subs["segfault"] = with_answer("uniform_indices", "import ctypes\nctypes.string_at(0)")
    subs["memory_bomb"] = with_answer("uniform_indices", "hog = []\nwhile True:\n    hog.append(bytearray(50_000_000))")
    subs["fork_storm"] = with_answer("uniform_indices", WRONG_UNIFORM + '''
import os, time
for _ in range(100000):
    try:
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
    except OSError:
        break
''')
    subs["daemon"] = with_answer("uniform_indices", WRONG_UNIFORM + '''
import subprocess
subprocess.Popen(["setsid", "sleep", "611"])
subprocess.Popen(["sh", "-c", "nohup sleep 612 >/dev/null 2>&1 &"])
''')
    subs["huge_output"] = with_answer("decode", "frames, timestamps = io.load_video(path, num_frames=8)\nprint('x' * 50_000_000)")
    subs["network"] = with_answer("decode", f'''
import socket
frames, timestamps = io.load_video(path, num_frames=8)
for host in [("127.0.0.1", {port}), ("1.1.1.1", 80)]:
    try:
        socket.create_connection(host, timeout=3).sendall(b"HELLO")
        print("CONNECTED", host)
    except OSError as e:
        print("blocked", host, type(e).__name__)
''')
    deleted = solved()
    deleted.cells = [c for c in deleted.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "test_uniform_indices"]
    subs["deleted_test_cell"] = with_answer("uniform_indices", WRONG_UNIFORM, deleted)
    no_answer = solved()
    no_answer.cells = [c for c in no_answer.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "decode"]
    subs["deleted_answer_cell"] = no_answer
    replaced = with_answer("uniform_indices", WRONG_UNIFORM)
    cell(replaced, "test_uniform_indices").source = "pass"
    subs["replaced_test_cell"] = replaced
    repointed = with_answer("uniform_indices", WRONG_UNIFORM)
    cell(repointed, "test_uniform_indices").metadata["nbgrader"]["grade_id"] = "test_decode"
    subs["repointed_test_cell"] = repointed
    as_test = with_answer("uniform_indices", WRONG_UNIFORM)
    cell(as_test, "uniform_indices").metadata["nbgrader"].update(grade=True, points=100)
    subs["answer_marked_as_test"] = as_test
    forged = solved()
    forged.cells.append(nbformat.v4.new_code_cell("print('free points')", metadata={"nbgrader": {
        "grade": True, "grade_id": "bonus", "points": 100, "locked": True, "solution": False, "schema_version": 3}}))
    subs["forged_test_cell"] = forged
    kernel = solved()
    kernel.metadata["kernelspec"] = {"name": "julia-1.9", "display_name": "Julia", "language": "julia"}
    subs["wrong_kernelspec"] = kernel
    subs["malformed_json"] = b'{"cells": [ this is not json'
    subs["empty_file"] = b""
    old = nbformat.v3.new_notebook()
    subs["nbformat3"] = json.dumps({**old, "nbformat": 3, "nbformat_minor": 0}).encode()
    subs["..."] = solved()
    subs["Alice Smith"] = solved()
    return subs


def write(folder: Path, student: str, content) -> None:
    target = folder / student / LAB
    target.mkdir(parents=True)
    path = target / f"{LAB}.ipynb"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        nbformat.write(content, path)


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


TAG = f"faults-{os.getpid()}-{time.time_ns()}"  # in the environment of every process our gradings start


def sandbox_processes() -> list[str]:
    """Processes started by this module's gradings (other graders may be running on the machine meanwhile)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or proc.name == str(os.getpid()):
            continue
        try:
            environ = (proc / "environ").read_bytes()
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if TAG.encode() in environ or "sleep 611" in cmd or "sleep 612" in cmd:
            found.append(f"{proc.name} {cmd}")
    return found


class Listener:
    """A TCP server on the host's loopback: a submission that reaches it has escaped the network namespace."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen()
        self.server.settimeout(0.5)
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self.stop = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stop:
            try:
                conn, _ = self.server.accept()
                self.connections += 1
                conn.close()
            except OSError:
                continue

    def close(self):
        self.stop = True
        self.thread.join()
        self.server.close()


def grade(work: Path, subs: Path, *extra: str, timeout: int = 900) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "grader", "--work", str(work), "autograde", str(subs), "--quiet",
           "--cell-timeout", str(CELL_TIMEOUT), "--memory-gb", "2", *extra]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "VIDEOLLM_GRADING_TAG": TAG})


def rows(path: Path) -> dict[str, dict]:
    return {row["student"]: row for row in csv.DictReader(open(path, encoding="utf-8"))}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    require_sandbox()
    root = tmp_path_factory.mktemp("faults")
    work, subs = root / "work", root / "subs"
    listener = Listener()
    for student, content in catalog(work, listener.port).items():
        write(subs, student, content)
    before = digest(subs)
    began = time.monotonic()
    out = grade(work, subs, "--jobs", "2")
    seconds = time.monotonic() - began
    feedback = subprocess.run([sys.executable, "-m", "grader", "--work", str(work), "feedback"], cwd=REPO,
                              capture_output=True, text=True, timeout=600)
    export = subprocess.run([sys.executable, "-m", "grader", "--work", str(work), "export"], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    listener.close()
    yield {"work": work, "subs": subs, "out": out, "feedback": feedback, "export": export, "before": before,
           "after": digest(subs), "table": rows(work / "grades.csv"), "listener": listener, "seconds": seconds,
           "processes": sandbox_processes()}


def test_the_batch_finishes_and_reports_what_it_could_not_grade(batch):
    out = batch["out"]
    assert out.returncode == 1, out.stdout + out.stderr  # some submissions cannot be graded: exit 1 after all
    assert "honest" in out.stdout and "Traceback" not in out.stderr, out.stderr[-3000:]


def test_honest_students_are_untouched_by_the_others(batch):
    table = batch["table"]
    for student in ("honest", "honest2", "former_name", "tamper_gradebook", "read_hidden", "hidden_marker_comment",
                    "huge_output", "network", "forged_test_cell", "wrong_kernelspec"):
        assert table[student]["score"] == "20", (student, table[student])
    assert table["blank"]["score"] == "0" and table["blank"]["status"] == "graded"
    assert batch["before"] == batch["after"], "a submitted file was changed"


def test_the_gradebook_agrees_with_the_table_and_was_not_tampered(batch):
    import sqlite3

    db = sqlite3.connect(batch["work"] / "gradebook.db")
    total = dict(db.execute(
        "select student.id, sum(coalesce(grade.auto_score, 0) + coalesce(grade.extra_credit, 0)) from grade "
        "join submitted_notebook on grade.notebook_id = submitted_notebook.id "
        "join submitted_assignment on submitted_notebook.assignment_id = submitted_assignment.id "
        "join student on submitted_assignment.student_id = student.id group by student.id").fetchall())
    for student, row in batch["table"].items():
        if row["score"] == "":
            assert student not in total, f"{student} could not be graded but has a gradebook score"
        elif student in total:
            assert float(row["score"]) == total[student], (student, row, total[student])
    assert (batch["work"] / "results").is_dir() and (batch["work"] / "submitted" / "honest").is_dir()


@pytest.mark.parametrize("student", ["monkeypatch", "forge_expected"])
def test_replacing_the_reference_the_comparisons_or_the_recorder_earns_nothing(batch, student):
    row = batch["table"][student]
    assert row["status"] == "graded" and float(row["score"]) == 14, row  # loses task 2's 6 points


@pytest.mark.parametrize("student", ["deleted_test_cell", "replaced_test_cell", "repointed_test_cell",
                                     "answer_marked_as_test"])
def test_test_cells_cannot_be_removed_edited_or_moved(batch, student):
    row = batch["table"][student]
    assert row["max_score"] == "20" and float(row["score"]) == 14, row


def test_a_forged_test_cell_earns_nothing(batch):
    row = batch["table"]["forged_test_cell"]
    assert (row["score"], row["max_score"]) == ("20", "20"), row


@pytest.mark.parametrize("student, status, words", [
    ("infinite_loop", "timed out", "cell decode"),
    ("swallow_interrupt", "timed out", "cell decode"),
    ("os_exit", "kernel died", "exit code 3"),
    ("segfault", "kernel died", "SIGSEGV"),
    ("memory_bomb", "out of memory", "uniform_indices"),
    ("deleted_answer_cell", "needs manual grading", "answer cell decode is missing"),
    ("malformed_json", "invalid notebook", "not valid JSON"),
    ("empty_file", "invalid notebook", "empty"),
    ("nbformat3", "invalid notebook", "nbformat 3"),
    ("...", "badly named", "letter or digit"),
    ("Alice Smith", "badly named", "letter or digit"),
])
def test_each_fault_has_a_status_that_names_it(batch, student, status, words):
    row = batch["table"][student]
    assert row["status"] == status and words in row["detail"], row
    if status in ("invalid notebook", "badly named"):
        assert row["score"] == "", "a submission that could not be graded is never a 0"


def test_a_stuck_or_dead_kernel_costs_only_its_own_cell(batch):
    table = batch["table"]
    for student in ("infinite_loop", "swallow_interrupt"):  # decode lost, and the contact sheet that needs
        assert float(table[student]["score"]) == 12, (student, table[student])  # its frames; tasks 2-3 ran
    for student in ("os_exit", "segfault"):  # task 2 lost; the cells after it ran in a new kernel
        assert float(table[student]["score"]) == 14, (student, table[student])
    bomb = load(batch["work"], "memory_bomb", LAB)  # task 2 lost; what the hog leaves may starve later cells
    assert bomb.cells["test_decode"][0] == 4 and bomb.cells["test_qwen_num_frames"][0] == 6, bomb.cells


def test_limits_hold_and_nothing_survives(batch):
    assert batch["processes"] == [], "processes outlived grading"
    assert batch["listener"].connections == 0, "a submission reached the host's network"
    assert batch["table"]["fork_storm"]["status"] in SCORED, batch["table"]["fork_storm"]
    graded_copy = batch["work"] / "autograded" / "huge_output" / LAB / f"{LAB}.ipynb"
    assert graded_copy.stat().st_size < 3_000_000, "the 50 MB output was not cut"


def test_feedback_is_written_for_everyone_and_leaks_nothing(batch):
    assert batch["feedback"].returncode == 0, batch["feedback"].stderr
    pages = sorted((batch["work"] / "feedback").rglob("*.html"))
    graded = [s for s, r in batch["table"].items() if r["lab"] == LAB and r["status"] not in ("badly named",)]
    assert {p.parent.parent.name for p in pages} == set(graded)
    for page in pages:
        text = page.read_text()
        assert len(text) < 2_000_000, f"{page} is {len(text)} bytes"
        for marker in HIDDEN_MARKERS + ("LEAK-CALLER", "LEAK-SOLUTION", "LEAK-HISTORY", "LEAKED FILE", "TAMPERED"):
            assert marker not in text, f"{page} carries {marker!r}"
    assert not list((batch["work"] / "feedback").rglob("leak.html"))
    failed = (batch["work"] / "feedback" / "monkeypatch" / LAB / f"{LAB}.html").read_text()
    assert "300 random (total_frames, num_frames) pairs" in failed and "wrong values" in failed


def test_export_holds_every_row_the_table_holds(batch):
    assert batch["export"].returncode == 0, batch["export"].stderr
    exported = list(csv.DictReader(open(batch["work"] / "grades_export.csv", encoding="utf-8")))
    assert exported == list(csv.DictReader(open(batch["work"] / "grades.csv", encoding="utf-8")))
    assert {"...", "Alice Smith", "malformed_json"} <= {r["student"] for r in exported}


def test_a_regrade_replaces_or_fails_never_keeps_a_stale_score(tmp_path):
    require_sandbox()
    subs, work = tmp_path / "subs", tmp_path / "work"
    write(subs, "ana", solved())
    write(subs, "ben", solved())
    assert grade(work, subs).returncode == 0
    first = rows(work / "grades.csv")
    assert first["ana"]["score"] == "20"
    stamp = load(work, "ben", LAB).graded_at
    (subs / "ana" / LAB / f"{LAB}.ipynb").write_text('{"cells": [')  # ana's regrade now fails
    out = grade(work, subs)
    assert out.returncode == 1
    again = rows(work / "grades.csv")
    assert again["ana"]["score"] == "" and again["ana"]["status"] == "invalid notebook"
    assert again["ben"] == first["ben"]
    subprocess.run([sys.executable, "-m", "grader", "--work", str(work), "export"], cwd=REPO, check=True,
                   capture_output=True)
    assert rows(work / "grades_export.csv")["ana"]["score"] == ""
    assert load(work, "ben", LAB).graded_at == stamp, "an unchanged submission was graded again"


def test_kill_9_mid_batch_then_rerun_gives_the_uninterrupted_table(tmp_path):
    require_sandbox()
    subs = tmp_path / "subs"
    for i in range(6):
        write(subs, f"s{i}", solved() if i % 2 == 0 else with_answer("uniform_indices", WRONG_UNIFORM))
    whole = grade(tmp_path / "whole", subs)
    assert whole.returncode == 0, whole.stderr
    work = tmp_path / "work"
    cmd = [sys.executable, "-m", "grader", "--work", str(work), "autograde", str(subs), "--quiet",
           "--cell-timeout", str(CELL_TIMEOUT), "--memory-gb", "2"]
    process = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True, env={**os.environ, "VIDEOLLM_GRADING_TAG": TAG})
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # kill as soon as two submissions are done
        done = [p for p in (work / "results").glob("*.json") if '"status": "graded"' in p.read_text()]
        if len(done) >= 2:
            break
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    interrupted = [json.loads(p.read_text()) for p in (work / "results").glob("*.json")]
    assert any(r["status"] == "interrupted" for r in interrupted), "the kill came too late to test anything"
    graded_before = {r["student"]: r["graded_at"] for r in interrupted if r["status"] == "graded"}
    assert grade(work, subs).returncode == 0
    assert rows(work / "grades.csv") == rows(tmp_path / "whole" / "grades.csv")
    after = {json.loads(p.read_text())["student"]: json.loads(p.read_text())["graded_at"]
             for p in (work / "results").glob("*.json")}
    assert all(after[s] == t for s, t in graded_before.items()), "submissions graded before the kill were regraded"
    time.sleep(0.5)
    assert sandbox_processes() == []
