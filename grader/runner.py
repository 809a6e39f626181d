"""Execute one prepared notebook, cell by cell, and print a JSON report. Runs *inside* the sandbox.

This file is the only part of ``grader/`` the sandbox sees (bound read-only as a single file), so it imports
nothing from the course. Everything it prints is untrusted by the grader: the student's code runs in the same
sandbox and can tamper with it. What it does for the student is keep one bad cell from costing the rest:

- a cell past its time limit is interrupted; if the kernel does not come back (a loop that swallows
  ``KeyboardInterrupt``), the kernel is replaced and the earlier cells are replayed into the new one;
- a dead kernel (``os._exit``, a segfault, the out-of-memory killer) is replaced the same way;
- outputs are capped in bytes per cell and per notebook; what is cut is said in the output.

Input (stdin, JSON): ``notebook`` (nbformat 4 dict), ``cell_timeout``, ``notebook_timeout`` (seconds),
``cell_output_bytes``, ``notebook_output_bytes``, ``max_restarts``, ``workdir``, ``record_path``.
Output (stdout, JSON): ``cells`` (per cell: ``status`` ok | error | timeout | died | skipped | not-run, ``ename``,
``signal``, ``seconds``), ``restarts``, ``records`` (the text the hidden checks recorded), ``notebook`` (the
executed notebook, outputs capped).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

# nbformat imports jsonschema, which compiles the rfc3987-syntax grammar on import (about 1.2 s, paid again for every
# graded notebook) for an "iri" format that no notebook schema uses; jsonschema leaves that check out without it.
sys.modules.setdefault("rfc3987_syntax", None)

import nbformat  # noqa: E402
from jupyter_core.utils import run_sync  # noqa: E402
from nbclient import NotebookClient  # noqa: E402
from nbclient.exceptions import CellTimeoutError, DeadKernelError  # noqa: E402

PROBE_SECONDS = 10  # after an interrupt, how long a kernel gets to answer a trivial cell before it is replaced
NOT_CODE = ("markdown", "raw")


class CappedClient(NotebookClient):
    """nbclient with outputs capped in bytes (a 50 MB print must not reach the report, or the grader)."""

    cell_budget = 1_000_000
    notebook_budget = 10_000_000

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.used_by_cell: dict[int, int] = {}
        self.cut_cells: set[int] = set()

    def output(self, outs, msg, display_id, cell_index):
        size = len(json.dumps(msg.get("content", {}), default=str))
        used = self.used_by_cell.get(cell_index, 0)
        total = sum(self.used_by_cell.values())
        if used + size > self.cell_budget or total + size > self.notebook_budget:
            if cell_index not in self.cut_cells:
                self.cut_cells.add(cell_index)
                outs.append(nbformat.v4.new_output("stream", name="stderr",
                                                   text=f"[output cut here: over {self.cell_budget} bytes]\n"))
            return None
        self.used_by_cell[cell_index] = used + size
        return super().output(outs, msg, display_id, cell_index)


def write_kernelspec(home: Path) -> str:
    """A kernel spec that starts this interpreter quietly (errors only in the kernel's own log)."""
    folder = home / ".local" / "share" / "jupyter" / "kernels" / "grading"
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                     "--IPKernelApp.log_level=ERROR"],
            "display_name": "grading", "language": "python"}
    (folder / "kernel.json").write_text(json.dumps(spec))
    return "grading"


def kernel_exit(client) -> tuple[int | None, int | None]:
    """How the kernel process ended: (signal, exit code), either None when unknown."""
    try:
        code = client.km.provisioner.process.poll()
    except Exception:  # noqa: BLE001 -- no process to ask: say nothing rather than guess
        return None, None
    if code is None:
        return None, None
    return (-code, None) if code < 0 else (None, code)


def run(job: dict) -> dict:
    nb = nbformat.from_dict(job["notebook"])
    cells = [{"status": "skipped" if c.cell_type in NOT_CODE or not c.source.strip() else "not-run",
              "ename": None, "signal": None, "seconds": 0.0} for c in nb.cells]
    workdir = job["workdir"]
    for folder in (workdir, os.environ["HOME"], Path(job["record_path"]).parent):
        Path(folder).mkdir(parents=True, exist_ok=True)
    kernel_name = write_kernelspec(Path(os.environ["HOME"]))
    deadline = time.monotonic() + job["notebook_timeout"]
    restarts, start = [], 0
    kernel_log = open(Path(os.environ["HOME"]) / "kernel.log", "ab")

    def new_client():
        client = CappedClient(nb, timeout=job["cell_timeout"], kernel_name=kernel_name, allow_errors=True,
                              interrupt_on_timeout=False, record_timing=False, startup_timeout=120,
                              shutdown_kernel="immediate",  # nothing is left to save: records are closed per write
                              resources={"metadata": {"path": workdir}})
        client.cell_budget, client.notebook_budget = job["cell_output_bytes"], job["notebook_output_bytes"]
        return client

    while start < len(nb.cells):
        client = new_client()
        with client.setup_kernel(stdout=kernel_log, stderr=kernel_log, stdin=subprocess.DEVNULL):
            if not replay(client, nb, cells[:start], deadline):
                break
            for index in range(start, len(nb.cells)):
                start = index + 1
                if cells[index]["status"] == "skipped":
                    continue
                if time.monotonic() > deadline:
                    cells[index]["notebook_limit"] = True
                    start = len(nb.cells)
                    break
                left = deadline - time.monotonic()
                outcome = execute(client, nb, index, min(job["cell_timeout"], max(1, left)))
                if outcome["status"] == "timeout" and left < job["cell_timeout"]:
                    outcome["notebook_limit"] = True
                cells[index].update(outcome)
                if outcome["status"] in ("died", "timeout") and outcome.get("replace_kernel"):
                    restarts.append({"cell": index, "why": outcome["status"], "signal": outcome["signal"]})
                    break
        if len(restarts) > job["max_restarts"]:
            break
    for cell in cells:
        cell.pop("replace_kernel", None)
    record_path = Path(job["record_path"])
    records = record_path.read_text(errors="replace") if record_path.exists() else ""
    return {"cells": cells, "restarts": restarts, "records": records, "notebook": nb}


def execute(client, nb, index: int, timeout: float) -> dict:
    """Run cell ``index``; report how it ended and whether the kernel must be replaced."""
    cell = nb.cells[index]
    client.timeout = int(max(1, timeout))
    began = time.monotonic()
    outcome = {"status": "ok", "ename": None, "signal": None, "exit_code": None, "replace_kernel": False}
    try:
        client.execute_cell(cell, index)
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            outcome.update(status="error", ename=str(errors[-1].get("ename", ""))[:100])
    except DeadKernelError:
        signal_number, exit_code = kernel_exit(client)
        outcome.update(status="died", signal=signal_number, exit_code=exit_code, replace_kernel=True)
    except CellTimeoutError:
        outcome.update(status="timeout", replace_kernel=not recovered(client, index))
    outcome["seconds"] = round(time.monotonic() - began, 3)
    return outcome


def recovered(client, index: int) -> bool:
    """Interrupt a kernel stuck in a cell; True when it then answers a trivial cell in time."""
    try:
        run_sync(client.km.interrupt_kernel)()
        probe = nbformat.v4.new_code_cell("pass")
        client.timeout = PROBE_SECONDS
        client.execute_cell(probe, index)
        return True
    except (CellTimeoutError, DeadKernelError):
        return False
    except Exception:  # noqa: BLE001 -- any other failure to talk to it: replace it
        return False


def replay(client, nb, done: list[dict], deadline: float) -> bool:
    """Re-run into a fresh kernel the cells that ran before (not the ones that hung or killed it), outputs
    discarded, so the cells after a lost kernel see the state they would have seen."""
    for index, state in enumerate(done):
        if state["status"] not in ("ok", "error"):
            continue
        if time.monotonic() > deadline:
            return False
        copy = nbformat.v4.new_code_cell(nb.cells[index].source)
        client.timeout = int(max(1, min(client.timeout or 60, deadline - time.monotonic())))
        try:
            client.execute_cell(copy, index)
        except (CellTimeoutError, DeadKernelError):
            return False
    return True


def main() -> int:
    job = json.load(sys.stdin)
    report = run(job)
    sys.stdout.write(json.dumps(report))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
