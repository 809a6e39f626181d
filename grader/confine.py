"""Launcher: join the sandbox's cgroups, set its resource limits, drop to its user, then exec the sandbox.

Run as ``python -I grader/confine.py SPEC`` where SPEC is JSON: ``cgroups`` (``cgroup.procs`` files to join),
``rlimits`` (``{"RLIMIT_DATA": bytes, ...}``), ``uid`` (or null to keep the caller's) and ``argv``. Doing this in
a process of its own, before ``exec``, means every process the sandbox ever starts is already inside the limits
(no window between start and confinement), and the grader's threads never run code between fork and exec.
Standard library only.
"""

import json
import os
import resource
import sys


def main() -> None:
    spec = json.loads(sys.argv[1])
    for procs in spec["cgroups"]:
        with open(procs, "w") as f:
            f.write(str(os.getpid()))
    for name, value in spec["rlimits"].items():
        limit = getattr(resource, name)
        resource.setrlimit(limit, (value, value))
    uid = spec.get("uid")
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    os.execvpe(spec["argv"][0], spec["argv"], os.environ)


if __name__ == "__main__":
    main()
