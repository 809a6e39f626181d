"""Test-wide settings: offline hub libraries and a headless plotting backend.

`make test` runs pytest-xdist with ``--dist loadscope``: a test class is one unit of work, so the tests that share
a class-scoped fixture (one lab's autograde run) stay on one worker, while different labs and lectures spread
over the workers. (``--dist loadgroup`` with ``xdist_group`` marks does not group anything under pytest 9.2 with
xdist 3.8: xdist renames ``item._nodeid``, which pytest 9.2 no longer reads, so each worker graded every lab.)
"""

import os
import sys
import uuid

# One math thread per process. `make test` runs two workers on (CI's) two cores, and every notebook they grade or
# run starts a kernel of its own: with PyTorch's default of one thread per core, the threads outnumber the cores
# and small tensor ops slow down several-fold (lab02's training cell: 12 s alone, 76-99 s with two workers at two
# threads each). Kernels inherit the environment, so this reaches them too.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
if "torch" in sys.modules:  # imported before this file by a plugin: set its pool directly
    sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

# One id for the whole test session, set before pytest-xdist starts its workers (they inherit it): a lecture that
# the lecture tests and the book both need is run once per session and shared (book/executed.py).
# A new id for every session (one inherited from an earlier run would let this one reuse its runs).
if "PYTEST_XDIST_WORKER" not in os.environ:
    os.environ["VIDEOLLM_TEST_SESSION"] = uuid.uuid4().hex

from videollm.offline import set_offline  # noqa: E402

set_offline()
os.environ.setdefault("MPLBACKEND", "Agg")

# The longest units of work first. `--dist loadscope` hands test scopes (a module, or a class) to whichever worker
# is free, in collection order; the labs' autograde runs (3-8 minutes each on two cores), the lectures and the
# grader's fault batch are the longest, so starting them first keeps one worker from finishing alone at the end.
# The book comes right after the lectures, so that most of the lectures it shows have run by then.
LONGEST_FIRST = ("tests/test_labs.py::TestLab", "tests/test_lectures.py::TestLecture", "tests/test_book.py",
                 "tests/test_grader_faults.py",
                 "tests/test_grader_cluster.py", "tests/test_workspace.py")


def pytest_collection_modifyitems(config, items):
    def rank(item):
        for i, prefix in enumerate(LONGEST_FIRST):
            if item.nodeid.startswith(prefix):
                return i
        return len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: each scope's tests stay together and in order
