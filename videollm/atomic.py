"""Write a cache file so that a reader never sees half of it: stage it beside the target, then rename."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable


def write_atomic(path: str | Path, write: Callable[[str], None]) -> Path:
    """Call ``write(staging_name)`` to write the file, then move it onto ``path`` in one rename.

    The staging file sits in ``path``'s folder (created if needed) and keeps its suffix, so writers that add one
    (``np.savez`` adds ``.npz``) leave the name alone; if ``write`` raises, it is removed and ``path`` is untouched.
    Two processes building the same cache both succeed, and the last rename wins.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, staging = tempfile.mkstemp(prefix=f".{path.name}-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(staging)
        os.replace(staging, path)
    finally:
        Path(staging).unlink(missing_ok=True)
    return path
