"""``python -m book build [--draft]`` renders the course into book/_build/html; ``python -m book check
[--screenshots DIR]`` opens every page in headless Chromium (see book/__init__.py)."""

from __future__ import annotations

import argparse
import sys

from nbclient.exceptions import CellExecutionError

from book.browser import check_site
from book.build import HTML, build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m book", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    b = commands.add_parser("build", help="render the book (runs a lecture only when no kept run matches the code)")
    b.add_argument("--draft", action="store_true", help="show lectures never run for this code without outputs")
    c = commands.add_parser("check", help="visit every page of the built book in headless Chromium")
    c.add_argument("--screenshots", default=None,
                   help="also save book_landing.png and book_lecture.png into this folder")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            index = build(draft=args.draft)
            print(f"built the book: open file://{index}  (or: python -m http.server -d {HTML} 8000)")
            return 0
        report = check_site(HTML, screenshots=args.screenshots)
    except (FileNotFoundError, RuntimeError) as error:  # no book built yet, no Chromium, Sphinx failed
        print(f"error: {error}", file=sys.stderr)
        return 2
    except CellExecutionError as error:  # a lecture failed: its cell and traceback say where
        print(f"error: a lecture failed to run, so the book was not built:\n{error}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
