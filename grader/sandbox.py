"""Run one notebook sealed off: bubblewrap namespaces, an unprivileged user, resource limits, nothing left behind.

What a submission's code sees (``bwrap``): read-only, the system's ``/usr`` (and the usual symlinks), the
Python installation and environment the grader runs in, the course package ``videollm/`` and the data folder;
a private ``/tmp`` of bounded size, which holds its home and working folder and disappears with it. It does not
see ``solutions/``, ``grader/`` (except the runner script), the gradebook, the work folder, other submissions or
the network (its own network namespace has only a loopback). Its processes live in their own PID namespace and
all die when grading ends.

Limits (``Limits``): memory per process (``RLIMIT_DATA``) and, where cgroups are writable, for the whole
sandbox (which also bounds ``/tmp``), number of processes, CPU seconds, file size, wall time per cell and per
notebook, and output bytes. When the grader runs as root, the sandbox runs as an unprivileged user of its own
(one per concurrent run), which is what makes the process limit bite: root is exempt from ``RLIMIT_NPROC``.

Where bubblewrap is missing or cannot create namespaces (macOS, some containers), grading refuses unless the
instructor passes ``--unsafe``: then the runner starts directly, with the same limits but no namespaces, so
student code can read the instructor's files and reach the network. Use it only for your own notebooks.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

from grader.course import REPO, GraderError

RUNNER = Path(__file__).with_name("runner.py")
CONFINE = Path(__file__).with_name("confine.py")
UID_BASE, UID_COUNT = 61000, 1000  # unprivileged users the sandboxes run as when the grader is root
LOCKS = Path("/run/lock" if Path("/run/lock").is_dir() else tempfile.gettempdir()) / "videollm-grader-uids"
INSIDE_TMP = "/tmp"
INSIDE_HOME = "/tmp/home"
INSIDE_WORK = "/tmp/work"
INSIDE_RUNNER = "/grading/runner.py"
INSIDE_CONFINE = "/grading/confine.py"
INSIDE_RECORD = "/tmp/grading/records.jsonl"
GiB = 1 << 30


@dataclass(frozen=True)
class Limits:
    """Per-submission limits. Every field can be set from the command line (``--memory-gb`` etc.)."""

    memory_bytes: int = 4 * GiB  # per process (RLIMIT_DATA); the sandbox's cgroup gets 1 GiB more for the rest
    cell_seconds: int = int(os.environ.get("VIDEOLLM_CELL_TIMEOUT", "180"))
    notebook_seconds: int = 1800
    cpu_seconds: int = 3600  # per process
    processes: int = 512  # processes and threads of the sandbox's user
    disk_bytes: int = 512 << 20  # the private /tmp (home and working folder)
    file_bytes: int = 256 << 20  # any one file written
    cell_output_bytes: int = 1_000_000
    notebook_output_bytes: int = 10_000_000
    report_bytes: int = 48 << 20  # the runner's report: executed notebook (10 MB of output) and records
    max_restarts: int = 3  # kernels replaced after a hang or a crash before the rest is given up
    threads: int = 1  # OMP/MKL threads of the kernel

    def describe(self) -> str:
        return (f"memory {self.memory_bytes / GiB:g} GiB, {self.cell_seconds} s a cell, {self.notebook_seconds} s a "
                f"notebook, {self.processes} processes, /tmp {self.disk_bytes >> 20} MiB, output "
                f"{self.cell_output_bytes // 1000} kB a cell")


@dataclass
class Run:
    """What came back from one sandboxed run. ``report`` is the runner's JSON (untrusted), or None."""

    report: dict | None
    returncode: int | None
    wall_seconds: float
    stderr: str = ""
    killed_after_seconds: float | None = None  # the grader killed it at the notebook's wall limit
    report_too_big: bool = False
    memory_killed: bool = False  # the cgroup's out-of-memory killer fired
    problems: list[str] = field(default_factory=list)


def available() -> tuple[bool, str]:
    """Whether bubblewrap can build a sandbox here, and why not."""
    if sys.platform != "linux":
        return False, f"bubblewrap needs Linux (this is {sys.platform})"
    if not shutil.which("bwrap"):
        return False, "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    probe = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return False, f"bubblewrap cannot create namespaces here: {probe.stderr.strip()[:200]}"
    return True, ""


def require(unsafe: bool) -> str:
    """The sandbox mode to use: ``bwrap``, or ``unsafe`` when asked for; refuse when neither applies."""
    if unsafe:
        return "unsafe"
    ok, why = available()
    if not ok:
        raise GraderError(f"cannot sandbox student code: {why}. Install bubblewrap, or pass --unsafe to run "
                          "submissions without a sandbox (they can then read your files and the network: only "
                          "for notebooks you trust)")
    return "bwrap"


class UserLease:
    """Claim an unprivileged uid no other sandbox on this machine is using (held by a lock file)."""

    def __init__(self):
        self.uid, self.handle = None, None

    def __enter__(self) -> int | None:
        if os.geteuid() != 0:
            return None
        LOCKS.mkdir(mode=0o700, exist_ok=True)
        info = LOCKS.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o022:
            raise GraderError(f"{LOCKS} must be a folder owned by root and writable by root only")
        for uid in range(UID_BASE, UID_BASE + UID_COUNT):
            fd = os.open(LOCKS / f"{uid}.lock", os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            handle = os.fdopen(fd, "w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            self.uid, self.handle = uid, handle
            return uid
        raise GraderError(f"all {UID_COUNT} sandbox users are busy")

    def __exit__(self, *exc):
        if self.uid is not None:
            kill_user(self.uid)
            self.handle.close()


def kill_user(uid: int) -> None:
    """SIGKILL every process of ``uid`` (a sandbox user: nothing else runs as it)."""
    kill_all(lambda: [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _uid_of(p) == uid], 5)


def kill_all(list_pids, rounds: int) -> None:
    """SIGKILL what ``list_pids()`` names until it names nothing (a process may fork while we kill)."""
    for _ in range(rounds):
        try:
            pids = list_pids()
        except OSError:
            return
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


def _uid_of(proc: Path) -> int | None:
    try:
        for line in (proc / "status").read_text().splitlines():
            if line.startswith("Uid:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


class Cgroup:
    """A memory + pids cgroup for one sandbox, where this machine lets us make one (v2 or v1); else nothing."""

    def __init__(self, memory_bytes: int, processes: int):
        self.dirs: list[Path] = []
        name = f"videollm-grader-{uuid.uuid4().hex[:12]}"
        for controller, settings in (("memory", {"memory.max": memory_bytes, "memory.limit_in_bytes": memory_bytes,
                                                 "memory.swap.max": 0}),
                                     ("pids", {"pids.max": processes})):
            folder = _make_cgroup(controller, name)
            if folder is None:
                continue
            wrote = False
            for key, value in settings.items():
                try:
                    (folder / key).write_text(str(value))
                    wrote = wrote or key != "memory.swap.max"
                except OSError:
                    pass
            if wrote:
                self.dirs.append(folder)
            else:
                _remove(folder)

    @property
    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in dict.fromkeys(self.dirs)]

    def memory_killed(self) -> bool:
        for folder in self.dirs:
            for name, key in (("memory.events", "oom_kill"), ("memory.oom_control", "oom_kill")):
                try:
                    for line in (folder / name).read_text().splitlines():
                        parts = line.split()
                        if len(parts) == 2 and parts[0] == key and int(parts[1]) > 0:
                            return True
                except (OSError, ValueError):
                    continue
        return False

    def close(self) -> None:
        for folder in dict.fromkeys(self.dirs):
            if (folder / "cgroup.kill").exists():
                try:
                    (folder / "cgroup.kill").write_text("1")
                except OSError:
                    pass
            kill_all(lambda: [int(p) for p in (folder / "cgroup.procs").read_text().split()], 50)
            _remove(folder)


def _make_cgroup(controller: str, name: str) -> Path | None:
    """Make ``name`` under this process's own cgroup for ``controller``; None when that is not possible."""
    root = Path("/sys/fs/cgroup")
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        hierarchy, controllers, path = line.split(":", 2)
        if (root / "cgroup.controllers").exists():  # v2: one unified tree
            if hierarchy != "0" or controller not in (root / "cgroup.controllers").read_text().split():
                continue
            base = root / path.lstrip("/")
        elif controller in controllers.split(","):
            base = root / controller / path.lstrip("/")
        else:
            continue
        try:
            folder = base / name
            folder.mkdir()
            return folder
        except OSError:
            return None
    return None


def _remove(folder: Path) -> None:
    for _ in range(20):
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.05)


def open_to_sandbox(folder: Path) -> None:
    """Let the sandbox's user read ``folder`` (the data cache), whatever umask wrote it: add read (and, for
    folders, search) permission for others to what this process owns. Nothing is made writable."""
    if os.geteuid() != 0 or not folder.is_dir():
        return  # the sandbox runs as the caller, who can already read what the caller wrote
    for path in [folder, *folder.rglob("*")]:
        try:
            info = path.lstat()
            if path.is_symlink() or info.st_uid != 0:
                continue
            wanted = info.st_mode | (0o005 if path.is_dir() else 0o004)
            if wanted != info.st_mode:
                path.chmod(wanted & 0o7777)
        except OSError:
            continue


def sandbox_env(mode: str, limits: Limits, record_mode: str, data_dir: Path) -> dict[str, str]:
    """The whole environment of the sandbox: nothing of the grader's own leaks in except what is named here."""
    from videollm.offline import OFFLINE_ENV

    home = INSIDE_HOME if mode == "bwrap" else None
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "USER": "student", "LOGNAME": "student",
        "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1", "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": str(limits.threads), "MKL_NUM_THREADS": str(limits.threads),
        "OPENBLAS_NUM_THREADS": str(limits.threads),
        "VIDEOLLM_DATA": str(data_dir), "VIDEOLLM_RECORD_MODE": record_mode,
        **OFFLINE_ENV,
    }
    # Machine quirks the host set, and a tag a test can use to find the processes of its own runs.
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "VIDEOLLM_MANIFEST", "VIDEOLLM_GRADING_TAG"):
        if key in os.environ:
            env[key] = os.environ[key]
    if home:
        env.update(HOME=home, TMPDIR=INSIDE_TMP, VIDEOLLM_RECORD=INSIDE_RECORD)
    return env


def bwrap_command(data_dir: Path, limits: Limits, writable_data: bool, uid: int | None) -> list[str]:
    """bubblewrap's arguments: what the sandbox sees, mounted read-only unless said otherwise."""
    if os.geteuid() == 0:  # no user namespace: the sandbox's uid must be a real, unprivileged one (see module doc)
        cmd = ["bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    else:  # an ordinary user: bubblewrap needs a user namespace to build the rest
        cmd = ["bwrap", "--unshare-all"]
    cmd += ["--die-with-parent", "--new-session", "--proc", "/proc", "--dev", "/dev"]
    for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        path = Path(top)
        if path.is_symlink():
            cmd += ["--symlink", os.readlink(path), top]
        elif path.is_dir():
            cmd += ["--ro-bind", top, top]
    for etc in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/fonts", "/etc/localtime",
                "/etc/mime.types"):
        cmd += ["--ro-bind-try", etc, etc]
    # The private /tmp first: a course checked out under /tmp is then bound on top of it, not hidden by it.
    cmd += ["--perms", "1777", "--size", str(limits.disk_bytes), "--tmpfs", INSIDE_TMP]  # the runner makes
    cmd += ["--perms", "1777", "--size", str(64 << 20), "--tmpfs", "/dev/shm"]  # home and work folders in it
    binds = []  # (flag, source, destination)
    for prefix in dict.fromkeys((sys.base_prefix, sys.prefix, str(Path(sys.executable).resolve().parents[1]))):
        if not prefix.startswith("/usr/"):
            binds.append(("--ro-bind", prefix, prefix))
    binds.append(("--ro-bind", str(REPO / "videollm"), str(REPO / "videollm")))
    binds.append(("--ro-bind", str(REPO / "data"), str(REPO / "data")))
    data_dir = data_dir.resolve()
    binds.append(("--bind" if writable_data else "--ro-bind", str(data_dir), str(data_dir)))
    # bubblewrap makes missing parents of a mount point mode 0700, which the sandbox's user could not cross
    # (pyenv lives under /root): make them 0755 first. They are empty folders of the sandbox's own root.
    parents = sorted({str(p) for _, _, dest in binds for p in Path(dest).parents if str(p) not in ("/", INSIDE_TMP)},
                     key=len)
    for parent in parents:
        cmd += ["--perms", "0755", "--dir", parent]
    for flag, source, dest in binds:
        cmd += [flag, source, dest]
    cmd += ["--perms", "0755", "--dir", "/grading", "--ro-bind", str(RUNNER), INSIDE_RUNNER,
            "--ro-bind", str(CONFINE), INSIDE_CONFINE, "--chdir", INSIDE_TMP]
    # The mounts above need root; the code that runs next must not have it. Dropping inside (rather than before
    # bwrap) keeps the bind sources readable when they sit in root-only folders (pyenv under /root).
    drop = {"uid": uid, "cgroups": [], "rlimits": {}, "argv": [sys.executable, INSIDE_RUNNER]}
    return cmd + ["--", sys.executable, "-I", INSIDE_CONFINE, json.dumps(drop)]


def run_notebook(notebook: dict, limits: Limits, mode: str, record_mode: str = "student",
                 writable_data: bool = False) -> Run:
    """Execute ``notebook`` (a prepared nbformat-4 dict) sealed off; return what the runner reported."""
    from videollm.cache import data_dir as course_data_dir

    data_dir = course_data_dir()
    scratch = None if mode == "bwrap" else Path(tempfile.mkdtemp(prefix="videollm-unsafe-"))
    env = sandbox_env(mode, limits, record_mode, data_dir)
    if scratch is None:
        workdir, record_path = INSIDE_WORK, INSIDE_RECORD
    else:
        (scratch / "home").mkdir()
        workdir, record_path = str(scratch / "work"), str(scratch / "records.jsonl")
        env.update(HOME=str(scratch / "home"), TMPDIR=str(scratch), VIDEOLLM_RECORD=record_path)
    job = {"notebook": notebook, "cell_timeout": limits.cell_seconds, "notebook_timeout": limits.notebook_seconds,
           "cell_output_bytes": limits.cell_output_bytes, "notebook_output_bytes": limits.notebook_output_bytes,
           "max_restarts": limits.max_restarts, "workdir": workdir, "record_path": record_path}
    trusted = writable_data  # the reference run: the instructor's own solution, allowed to fill the data cache
    try:
        with UserLease() if not trusted else nullcontext() as uid:
            cgroup = Cgroup(limits.memory_bytes + GiB, limits.processes) if os.geteuid() == 0 else None
            try:
                if scratch is None:
                    spec = {"uid": None, "argv": bwrap_command(data_dir, limits, writable_data, uid)}
                else:
                    if uid is not None:
                        shutil.chown(scratch, uid, uid)
                        shutil.chown(scratch / "home", uid, uid)
                    spec = {"uid": uid, "argv": [sys.executable, str(RUNNER)]}
                spec.update(cgroups=cgroup.procs_files if cgroup else [], rlimits=_rlimits(limits))
                launch = [sys.executable, "-I", str(CONFINE), json.dumps(spec)]
                run = _communicate(launch, env, json.dumps(job).encode(), limits)
                run.memory_killed = bool(cgroup and cgroup.memory_killed())
                return run
            finally:
                if cgroup:
                    cgroup.close()
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _rlimits(limits: Limits) -> dict[str, int]:
    # RLIMIT_DATA counts what a process allocates; RLIMIT_AS also bounds shared mappings (mmap of /dev/zero),
    # with room for the address space that libraries reserve without using (PyTorch: about 3.5 GB).
    return {"RLIMIT_DATA": limits.memory_bytes, "RLIMIT_AS": limits.memory_bytes + 8 * GiB,
            "RLIMIT_CPU": limits.cpu_seconds,
            "RLIMIT_FSIZE": limits.file_bytes, "RLIMIT_NPROC": limits.processes, "RLIMIT_CORE": 0,
            "RLIMIT_NOFILE": 4096}


def _communicate(argv: list[str], env: dict, stdin: bytes, limits: Limits) -> Run:
    """Start ``argv``, feed it ``stdin``, read its report (capped), and kill it at the notebook's wall limit."""
    began = time.monotonic()
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env, cwd="/", start_new_session=True)
    out, err, state = bytearray(), bytearray(), {"too_big": False}

    def feed():
        try:
            process.stdin.write(stdin)
            process.stdin.close()
        except (BrokenPipeError, OSError):
            pass

    def drain(stream, buffer, cap, flag=None):
        while chunk := stream.read(1 << 16):
            if len(buffer) + len(chunk) > cap:
                if flag:
                    state[flag] = True
                    _kill(process)
                continue
            buffer.extend(chunk)

    threads = [threading.Thread(target=feed, daemon=True),
               threading.Thread(target=drain, args=(process.stdout, out, limits.report_bytes, "too_big"), daemon=True),
               threading.Thread(target=drain, args=(process.stderr, err, 1 << 16), daemon=True)]
    for thread in threads:
        thread.start()
    wall = limits.notebook_seconds + 120  # the runner stops itself at the notebook limit; this is the backstop
    killed_after = None
    try:
        process.wait(timeout=wall)
    except subprocess.TimeoutExpired:
        killed_after = round(time.monotonic() - began, 1)
        _kill(process)
        process.wait()
    for thread in threads[1:]:
        thread.join(timeout=30)
    report = None
    if not state["too_big"] and out:
        try:
            report = json.loads(out)
        except (ValueError, RecursionError):
            report = None
    return Run(report=report if isinstance(report, dict) else None, returncode=process.returncode,
               wall_seconds=round(time.monotonic() - began, 2), stderr=err.decode(errors="replace")[-4000:],
               killed_after_seconds=killed_after, report_too_big=state["too_big"])


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def limits_json(limits: Limits) -> str:
    return json.dumps(asdict(limits), sort_keys=True)
