"""The book: every lecture with its outputs, every lab's student version and the API pages, rendered by Sphinx and
opened page by page in headless Chromium; and nothing in it that a student must not see."""

import html
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from book.browser import check_site, expected_pages
from book.build import BUILD, build
from book.executed import REPO
from videollm.units import UNITS

#: Lines this short are too common to say anything (``return x``, ``assert ok``).
DISTINCTIVE = 30
MARKER = re.compile(r"(^|\n)[ \t]*#+[ \t]*(BEGIN|END) (SOLUTION|HIDDEN TESTS)")


def _site_text(site: Path) -> dict[str, str]:
    """Every text file of the site with its tags and inline images stripped and entities decoded, whitespace
    collapsed per line."""
    texts = {}
    for path in site.rglob("*"):
        if path.suffix not in (".html", ".js", ".txt", ".json", ".ipynb") or "mathjax" in path.parts:
            continue
        raw = re.sub(r"<[^>]+>", "", re.sub(r"data:image/[^\"')]+", "", path.read_text(errors="replace")))
        lines = html.unescape(raw).splitlines()
        texts[str(path.relative_to(site))] = "\n".join(" ".join(line.split()) for line in lines)
    return texts


def _blocks(source: str, begin: str, end: str) -> list[str]:
    return re.findall(rf"{begin}\n(.*?)\n[ \t]*{end}", source, flags=re.S)


def _secret_lines() -> dict[str, set[str]]:
    """Distinctive lines of every solution block, hidden test and worked answer that the student versions and the
    lectures do not show themselves."""
    public = set()
    for path in [*REPO.glob("labs/*/*.ipynb"), *REPO.glob("lectures/*.ipynb")]:
        for cell in nbformat.read(path, as_version=4).cells:
            public.update(" ".join(line.split()) for line in cell.source.splitlines())
    secrets = {}
    for unit in UNITS:
        nb = nbformat.read(REPO / "solutions" / unit.lab / f"{unit.lab}.ipynb", as_version=4)
        for cell in nb.cells:
            for kind, begin, end in (("hidden test", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"),
                                     ("solution", "### BEGIN SOLUTION", "### END SOLUTION")):
                for block in _blocks(cell.source, begin, end):
                    for line in block.splitlines():
                        line = " ".join(line.split())
                        if len(line) >= DISTINCTIVE and line not in public:
                            secrets.setdefault(f"{unit.lab} {kind}", set()).add(line)
        answers = (REPO / unit.answers).read_text()
        secrets[f"{unit.answers}"] = {" ".join(line.split()) for line in answers.splitlines()
                                      if len(line.strip()) >= 2 * DISTINCTIVE} - public
    return secrets


@pytest.fixture(scope="module")
def site() -> Path:
    """The book, built once for this module (``book.build``) from the lectures' runs of this test session."""
    return build(BUILD / "test", reuse="session").parent


@pytest.mark.slow
class TestBook:

    def test_every_page_renders_in_a_browser(self, site):
        if not (shutil.which("chromium") or shutil.which("chromium-browser")):
            message = "no Chromium: install Debian's chromium (make setup does, as root) to run the browser test"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        report = check_site(site, screenshots=site.parent / "screenshots")
        assert report.ok, report.summary()
        assert set(expected_pages()) <= set(report.pages)
        assert {p.name for p in report.screenshots} == {"book_landing.png", "book_lecture.png"}

    def test_docstrings_render_without_errors(self, site):
        warnings = (site.parent / "sphinx-warnings.txt").read_text()
        errors = [line for line in warnings.splitlines() if "ERROR" in line or "CRITICAL" in line]
        assert not errors, "\n".join(errors)

    def test_lectures_show_their_outputs(self, site):
        for unit in UNITS:
            page = (site / "lectures" / f"{unit.name}.html").read_text()
            assert "cell_output" in page, f"{unit.name}: the book shows the lecture without outputs"
        assert "Draft build" not in "".join(p.read_text() for p in (site / "lectures").glob("*.html"))

    def test_no_solution_or_hidden_test_in_the_book(self, site):
        texts = _site_text(site)
        marked = [name for name, text in texts.items() if MARKER.search(text)]
        assert not marked, f"nbgrader markers in {marked}"
        secrets = _secret_lines()
        assert sum(len(v) for v in secrets.values()) > 100, "too few secret lines found: is the parsing broken?"
        everything = "\n".join(texts.values())
        leaks = [f"{origin}: {line}" for origin, lines in secrets.items() for line in sorted(lines)
                 if line in everything]
        assert not leaks, "\n".join(leaks[:20])
