"""Grading a class on a cluster (grader/cluster/): the Kubernetes manifest against the Kubernetes API schema, and
the Slurm script on a real single-node Slurm cluster that the ``slurm`` fixture starts as root (munged, slurmctld
and slurmd, with every file of theirs in a temporary folder)."""

from __future__ import annotations

import copy
import csv
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from grader.course import REPO

pytestmark = pytest.mark.slow

CLUSTER = REPO / "grader" / "cluster"
SCRIPT = CLUSTER / "slurm_autograde.sh"
MANIFEST = CLUSTER / "autograde-indexed-job.yaml"
K8S_VERSION = "1.37.0"  # the newest Kubernetes whose schema kubernetes-validate 1.37.0 ships
LAB = "lab00_video_as_data"
PYTHON = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv" / "bin" / "python").exists() else sys.executable
TOOLS = ("bwrap", "munged", "slurmctld", "slurmd", "sbatch", "sinfo", "squeue", "scancel")
SETUP_HINT = "run `make setup` as root (or: apt-get install slurm-wlm munge bubblewrap)"


# --- Kubernetes --------------------------------------------------------------------------------------------------

def _manifest() -> list[dict]:
    return [doc for doc in yaml.safe_load_all(MANIFEST.read_text()) if doc]


def _container(job: dict) -> dict:
    (container,) = job["spec"]["template"]["spec"]["containers"]
    return container


def test_manifest_validates_against_the_kubernetes_schema():
    docs = _manifest()
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [("Job", "autograde-shards"),
                                                                 ("Job", "autograde-merge")]
    for doc in docs:  # strict: an unknown (e.g. misspelled) field anywhere is an error
        assert kubernetes_validate.validate(doc, K8S_VERSION, strict=True) == "1.37"


def test_manifest_shards_are_an_indexed_job_one_shard_per_index():
    shards, merge = _manifest()
    spec = shards["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] == 4
    assert spec["backoffLimitPerIndex"] == 1
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    script = " ".join(_container(shards)["args"])
    assert "--work /grading/work/shards/$(JOB_COMPLETION_INDEX) " in script
    assert "autograde /grading/submissions --shard $(JOB_COMPLETION_INDEX)/4 " in script
    assert "--unsafe" not in script  # student code runs in the sandbox, which is why the pod is privileged
    assert _container(shards)["securityContext"]["privileged"] is True
    mounts = {m["mountPath"]: m for m in _container(shards)["volumeMounts"]}
    assert mounts["/grading/submissions"].get("readOnly") is True
    assert not mounts["/grading/work"].get("readOnly")
    claims = {v["persistentVolumeClaim"]["claimName"] for job in (shards, merge)
              for v in job["spec"]["template"]["spec"]["volumes"]}
    assert claims == {"grading-work"}
    assert merge["spec"]["suspend"] is True  # started by hand once the shards have ended
    assert " merge " in " ".join(_container(merge)["args"])


@pytest.mark.parametrize("breakage", ["misspelled field", "wrong type"])
def test_kubernetes_validate_rejects_a_broken_manifest(breakage):
    job = copy.deepcopy(_manifest()[0])
    if breakage == "misspelled field":
        job["spec"]["completionMod"] = job["spec"].pop("completionMode")
    else:
        job["spec"]["completions"] = "four"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, K8S_VERSION, strict=True)


def test_manifest_shard_command_passes_the_index_and_takes_exit_1_as_success(tmp_path):
    """Run the shard container's shell script here, as the kubelet would for index 2, with a stand-in python."""
    calls = tmp_path / "calls"
    script = _container(_manifest()[0])["args"][0].replace("$(JOB_COMPLETION_INDEX)", "2")
    for status, expected in ((0, 0), (1, 0), (2, 2)):
        fake = _stand_in(tmp_path / "python", f'echo "$*" >> {calls}; exit {status}')
        run = subprocess.run(["/bin/sh", "-c", script.replace("/course/.venv/bin/python", str(fake))], timeout=30)
        assert run.returncode == expected, f"the grader exited {status}"
    assert calls.read_text().splitlines()[0] == ("-m grader --work /grading/work/shards/2 autograde "
                                                 "/grading/submissions --shard 2/4 --jobs 2")


# --- Slurm -------------------------------------------------------------------------------------------------------

@dataclass
class Slurm:
    """A running single-node cluster: ``run`` calls its client commands (sbatch, sinfo...) with SLURM_CONF set."""

    folder: Path
    env: dict[str, str]

    def run(self, argv: list[str], timeout: float, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(argv, env={**self.env, **env}, cwd=cwd, capture_output=True, text=True,
                              timeout=timeout)

    def logs(self) -> str:
        return "\n".join(f"--- {log.name}:\n{log.read_text(errors='replace')[-3000:]}"
                         for log in sorted((self.folder / "log").glob("*")))


def _which(tool: str) -> str | None:
    return shutil.which(tool, path=os.environ.get("PATH", os.defpath) + ":/usr/sbin:/sbin")


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:  # all bound at once: distinct ports
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise RuntimeError("no MemTotal in /proc/meminfo")


def _slurm_conf(folder: Path, host: str, munge_socket: Path) -> str:
    # Everything Slurm writes goes under `folder`; its ports are free ones, so that it clashes with nothing.
    # No cgroups (proctrack/linuxproc, task/none) and no accounting database: only what sbatch needs.
    cpus, memory_mb = len(os.sched_getaffinity(0)), _memory_mb() * 9 // 10  # slurmd drains a node that has less
    ctld_port, slurmd_port = _free_ports(2)
    return textwrap.dedent(f"""\
        ClusterName=gradertest
        SlurmctldHost={host}(127.0.0.1)
        SlurmctldPort={ctld_port}
        SlurmdPort={slurmd_port}
        SlurmUser=root
        SlurmdUser=root
        AuthType=auth/munge
        AuthInfo=socket={munge_socket}
        StateSaveLocation={folder}/state
        SlurmdSpoolDir={folder}/spool
        SlurmctldPidFile={folder}/slurmctld.pid
        SlurmdPidFile={folder}/slurmd.pid
        SlurmctldLogFile={folder}/log/slurmctld.log
        SlurmdLogFile={folder}/log/slurmd.log
        PlugStackConfig={folder}/plugstack.conf
        ProctrackType=proctrack/linuxproc
        TaskPlugin=task/none
        JobAcctGatherType=jobacct_gather/none
        AccountingStorageType=accounting_storage/none
        MpiDefault=none
        SelectType=select/cons_tres
        SelectTypeParameters=CR_Core_Memory
        DefMemPerCPU=512
        ReturnToService=2
        SlurmdParameters=config_overrides
        NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN
        PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
        """)


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """munged, slurmctld and slurmd as root, all files under a temporary folder; stopped by PID afterwards."""
    missing = [tool for tool in TOOLS if not _which(tool)]
    if missing:
        message = f"{', '.join(missing)} not found: {SETUP_HINT}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    if os.geteuid() != 0:
        pytest.skip("the test Slurm cluster runs munged, slurmctld and slurmd as root: run the tests as root")

    folder = tmp_path_factory.mktemp("slurm")
    for sub in ("state", "spool", "log", "munge"):
        (folder / sub).mkdir()
    (folder / "munge").chmod(0o755)  # munged wants its socket's folder open to everyone
    (folder / "plugstack.conf").write_text("")  # not the system's /etc/slurm/plugstack.conf
    key = folder / "munge" / "munge.key"
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
    os.write(fd, os.urandom(1024))
    os.close(fd)
    munge_socket = folder / "munge" / "munge.socket"
    host = socket.gethostname().split(".")[0]
    conf = folder / "slurm.conf"
    conf.write_text(_slurm_conf(folder, host, munge_socket))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_", "SRUN_", "SALLOC_"))}
    env["SLURM_CONF"] = str(conf)
    cluster = Slurm(folder, env)

    daemons: list[subprocess.Popen] = []

    def start(name: str, argv: list[str]) -> None:
        with open(folder / "log" / f"{name}.stderr", "w") as log:
            daemons.append(subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True))

    def wait_for(what: str, ready, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not ready():
            dead = [p.args[0] for p in daemons if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                pytest.fail(f"Slurm test cluster: {what} not ready after {seconds} s "
                            f"(exited: {dead or 'none'})\n{cluster.logs()}")
            time.sleep(0.5)

    try:
        start("munged", [_which("munged"), "--foreground", "--force", f"--socket={munge_socket}",
                         f"--key-file={key}", f"--pid-file={folder}/munge/munged.pid",
                         f"--log-file={folder}/log/munged.log", f"--seed-file={folder}/munge/munged.seed"])
        wait_for("munged", munge_socket.exists, 15)
        start("slurmctld", [_which("slurmctld"), "-D", "-c", "-f", str(conf)])
        start("slurmd", [_which("slurmd"), "-D", "-f", str(conf), "-N", host])

        def idle() -> bool:
            try:
                state = cluster.run(["sinfo", "--noheader", "--Node", "--format=%T"], timeout=10).stdout
            except subprocess.TimeoutExpired:
                return False
            return state.strip() == "idle"

        wait_for("the node (sinfo: idle)", idle, 90)
        yield cluster
    finally:
        try:
            if daemons and daemons[-1].poll() is None:  # no job of a failed test left running
                cluster.run(["scancel", "--full", "--user=root"], timeout=15)
        except subprocess.TimeoutExpired:
            pass
        for daemon in reversed(daemons):
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
                try:
                    daemon.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                    daemon.wait(timeout=5)


def test_slurm_runs_an_array_job(slurm, tmp_path):
    run = slurm.run(["sbatch", "--wait", "--array=0-1", "--cpus-per-task=1", "--mem=100M",
                     f"--output={tmp_path}/task-%a.out", "--wrap", "echo task $SLURM_ARRAY_TASK_ID"], timeout=120)
    assert run.returncode == 0, f"{run.stdout}{run.stderr}\n{slurm.logs()}"
    assert [(tmp_path / f"task-{i}.out").read_text() for i in (0, 1)] == ["task 0\n", "task 1\n"]


def _stand_in(path: Path, body: str) -> Path:
    path.write_text(f"#!/bin/bash\n{body}\n")
    path.chmod(0o755)
    return path


def test_slurm_script_shards_then_merges(slurm, tmp_path):
    """The script's plumbing, with a stand-in for the repository's python: shard I/N of each array task, its exit
    status 1 taken as success, a crashed shard reported by the merge (which still runs), logs under WORK/slurm."""
    repo, subs, calls = tmp_path / "repo", tmp_path / "subs", tmp_path / "calls"
    (repo / "grader" / "cluster").mkdir(parents=True)
    (repo / ".venv" / "bin").mkdir(parents=True)
    subs.mkdir()
    script = shutil.copy(SCRIPT, repo / "grader" / "cluster")
    # shard 0 grades everything, shard 1 some submissions not (exit 1), shard 2 crashes (exit 2)
    _stand_in(repo / ".venv" / "bin" / "python", textwrap.dedent(f"""\
        echo "$PWD | $*" >> {calls}
        case "$*" in
          *" --shard "*) mkdir -p "$4/results"; case "$*" in *" 1/3 "*) exit 1;; *" 2/3 "*) exit 2;; esac;;
        esac"""))
    work = tmp_path / "work dir"  # a space, to check the quoting
    run = slurm.run([str(script), "--wait", str(subs), str(work), "3", "--labs", "a b"], timeout=120,
                    AUTOGRADE_CPUS="1", AUTOGRADE_MEM="100M")
    merge_log = "".join(p.read_text() for p in (work / "slurm").glob("merge-*.out"))
    assert run.returncode == 3, f"{run.stdout}{run.stderr}\n{merge_log}\n{slurm.logs()}"
    assert re.search(r"^shard array job: \d+ \(3 tasks", run.stdout, re.M)
    assert re.search(r"^merge job: \d+ ", run.stdout, re.M)
    assert "shards that did not finish (see their logs): 2\n" in merge_log
    lines = calls.read_text().splitlines()
    assert all(line.startswith(f"{repo} | -m grader ") for line in lines)  # from the repository root
    shard_calls = sorted(line.split(" | ")[1] for line in lines if "--shard" in line)
    assert shard_calls == [f"-m grader --work {work}/shards/{i} autograde {subs} --shard {i}/3 --jobs 1 --labs a b"
                           for i in range(3)]
    assert lines[-2:] == [f"{repo} | -m grader --work {work} merge {work}/shards/0 {work}/shards/1 {work}/shards/2",
                          f"{repo} | -m grader --work {work} export --to {work}/grades.csv"]
    assert len(list((work / "slurm").glob("shard-*_[0-2].out"))) == 3


def _grades(path: Path, work: Path) -> list[tuple]:
    """The CSV's rows, sorted; the work folder's own path (if the detail column names it) made neutral."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and set(rows[0]) >= {"student", "lab", "score", "max_score", "status", "detail"}
    return sorted((r["student"], r["lab"], r["score"], r["max_score"], r["status"],
                   r["detail"].replace(str(work), "WORK")) for r in rows)


def test_slurm_grades_a_class_like_a_single_run(slurm, tmp_path):
    """Sample submissions of lab00 (the reference twice, the blank notebook once), graded in 2 Slurm shards then
    merged, give the same table as one plain `autograde` run."""
    samples, subs = tmp_path / "samples", tmp_path / "subs"
    grader = [PYTHON, "-m", "grader"]
    run = subprocess.run(grader + ["samples", "--out", str(samples)], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    for student, source in (("reference", "reference"), ("blank", "blank"), ("second", "reference")):
        shutil.copytree(samples / source / LAB, subs / student / LAB)

    single = tmp_path / "single"
    run = subprocess.run(grader + ["--work", str(single), "autograde", str(subs), "--quiet"], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode in (0, 1), run.stdout + run.stderr
    run = subprocess.run(grader + ["--work", str(single), "export", "--to", str(single / "export.csv")], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    expected = _grades(single / "export.csv", single)
    scores = {r[0]: (float(r[2]), float(r[3])) for r in expected}
    assert scores.keys() == {"reference", "blank", "second"}
    assert scores["reference"] == scores["second"] == (scores["reference"][1], scores["reference"][1]) != (0, 0)
    assert scores["blank"][0] == 0

    work = tmp_path / "work"
    run = slurm.run([str(SCRIPT), "--wait", str(subs), str(work), "2", "--quiet"], timeout=420, cwd=tmp_path,
                    AUTOGRADE_CPUS="1", AUTOGRADE_MEM="2G")
    logs = "\n".join(f"--- {p.name}:\n{p.read_text()[-4000:]}" for p in sorted((work / "slurm").glob("*.out")))
    assert run.returncode in (0, 1), f"{run.stdout}{run.stderr}\n{logs}\n{slurm.logs()}"
    assert _grades(work / "grades.csv", work) == expected, logs

    # each shard graded its part: the two shards' own tables are disjoint and together make the class
    parts = []
    for i in (0, 1):
        shard = work / "shards" / str(i)
        run = subprocess.run(grader + ["--work", str(shard), "export", "--to", str(shard / "export.csv")],
                             cwd=REPO, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr
        parts.append(_grades(shard / "export.csv", shard))
    assert parts[0] and parts[1], f"a shard graded nothing: {parts}"
    assert sorted(parts[0] + parts[1]) == expected
