"""Build the book: assemble its source tree (book.source), then render it with Sphinx into static HTML."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from book.source import HERE, assemble

BUILD = HERE / "_build"
HTML = BUILD / "html"


def build(out: Path = BUILD, reuse: str = "any", draft: bool = False) -> Path:
    """Render the whole course into ``out/html`` and return its ``index.html``.

    ``out`` is a build folder: ``out/source`` (the assembled source tree), ``out/html`` (both replaced),
    ``out/doctrees`` (Sphinx's own cache) and ``out/sphinx-warnings.txt`` (what Sphinx said about the docstrings and
    pages).

    ``reuse`` is passed to :func:`book.executed.execute` for every lecture; ``draft=True`` shows a lecture with no
    kept run without outputs (and says so on its page) instead of running it: for a quick look at the layout.

    Raises:
        RuntimeError: Sphinx failed (its messages are in the error).
    """
    source, html, warnings = out / "source", out / "html", out / "sphinx-warnings.txt"
    assemble(source, reuse=reuse, draft=draft)
    shutil.rmtree(html, ignore_errors=True)  # a build folder: a page of an earlier build must not linger
    # Sphinx in its own process: autodoc imports the whole package (PyTorch included) into the builder.
    result = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-E", "-w", str(warnings),
                             "-d", str(out / "doctrees"), str(source), str(html)], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"sphinx-build failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
    return html / "index.html"
