"""Test-wide settings: offline hub libraries, a headless plotting backend, and one xdist worker per lab."""

import os

import pytest

from videollm.offline import set_offline

set_offline()
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    # Tests sharing one lab's (expensive, module-scoped) autograde run must run on the same worker,
    # or each worker would grade the lab again.
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "graded" in params:
            item.add_marker(pytest.mark.xdist_group(f"grade-{params['graded']}"))
