"""The book: every lecture with its outputs, every lab's student version and the API pages, rendered by Sphinx and
opened page by page in headless Chromium; and nothing in it that a student must not see."""

import html
import os
import re
from pathlib import Path

import nbformat
import pytest

from book import executed
from book.browser import check_site, chromium
from book.build import build
from book.executed import REPO
from book.source import expected_pages
from videollm.units import UNITS

#: A secret is compared as a run of this many words at least (lower-cased, punctuation and markup dropped): what
#: Markdown, Pygments and smart quotes do to a line changes its characters, not its words.
WORDS = 6
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
BLOCKS = (("hidden test", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"),
          ("solution", "### BEGIN SOLUTION", "### END SOLUTION"))


def _words(text: str) -> str:
    """``text`` as its lower-case words, one space apart, with a space at either end (so that ``in`` finds whole
    words only)."""
    return " " + " ".join(re.findall(r"\w+", text.lower())) + " "


def _site_texts(site: Path) -> dict[str, str]:
    """Every text file of the site, tags and inline images stripped, entities decoded (the theme's and MathJax's
    files in ``_static`` left out: they are the same in every Sphinx site)."""
    texts = {}
    for path in site.rglob("*"):
        if path.suffix not in (".html", ".js", ".txt", ".json", ".ipynb") or "_static" in path.parts:
            continue
        raw = re.sub(r"data:image/[^\"')]+", "", path.read_text(errors="replace"))
        texts[str(path.relative_to(site))] = html.unescape(re.sub(r"<[^>]+>", " ", raw))
    return texts


def _public() -> str:
    """What a student may read anyway, as words: the student labs, the lectures and the reference package."""
    texts = [cell.source for path in [*REPO.glob("labs/*/*.ipynb"), *REPO.glob("lectures/*.ipynb")]
             for cell in nbformat.read(path, as_version=4).cells]
    texts += [path.read_text() for path in (REPO / "videollm").rglob("*.py")]
    return " ".join(_words(line) for text in texts for line in text.splitlines())


def _distinctive(words: str) -> bool:
    """At least :data:`WORDS` words, four of them real words (three letters or more): a row of numbers or a line
    like ``k = 0, 1, 2, 3`` says nothing about where it came from."""
    return words.count(" ") - 1 >= WORDS and sum(len(re.sub(r"[\d_]", "", w)) >= 3 for w in words.split()) >= 4


def _secrets() -> dict[str, set[str]]:
    """``{origin: lines as words}``: every distinctive line of a solution block, a hidden test and a worked answer
    that the public material does not have (as a run of its words). Every lab and every answers file gives some."""
    public, secrets = _public(), {}
    for unit in UNITS:
        source = (REPO / "solutions" / unit.lab / f"{unit.lab}.ipynb").read_text()
        nb = nbformat.reads(source, as_version=4)
        for kind, begin, end in BLOCKS:
            pattern = rf"{begin}[ \t]*\n(.*?)\n[ \t]*{end}"
            blocks = [b for cell in nb.cells for b in re.findall(pattern, cell.source, re.S)]
            assert len(blocks) == sum(cell.source.count(begin) for cell in nb.cells), f"{unit.lab}: unparsed {kind}"
            secrets[f"{unit.lab} {kind}"] = {_words(line) for block in blocks for line in block.splitlines()}
        secrets[unit.answers] = {_words(line) for line in (REPO / unit.answers).read_text().splitlines()}
    secrets = {origin: {w for w in lines if _distinctive(w) and w not in public} for origin, lines in secrets.items()}
    empty = [origin for origin, lines in secrets.items() if not lines and not origin.endswith("hidden test")]
    assert not empty, f"no distinctive line found in {empty}: is the parsing broken?"
    return secrets


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The book, built once for this module (``book.build``) from the lectures' runs of this test session."""
    return build(tmp_path_factory.mktemp("book"), reuse="session").parent


def _need_chromium() -> None:
    try:
        chromium()  # the browser check's own lookup, so that the test skips exactly when the check cannot run
    except FileNotFoundError as missing:
        if os.environ.get("CI"):
            pytest.fail(str(missing))
        pytest.skip(str(missing))


@pytest.mark.slow
class TestBook:
    def test_every_page_renders_in_a_browser(self, site):
        _need_chromium()
        report = check_site(site, screenshots=site.parent / "screenshots")
        assert report.ok, report.summary()
        assert set(expected_pages()) <= set(report.pages)
        assert {p.name for p in report.screenshots} == {"book_landing.png", "book_lecture.png"}

    def test_docstrings_render_without_errors(self, site):
        warnings = (site.parent / "sphinx-warnings.txt").read_text()
        errors = [line for line in warnings.splitlines() if "ERROR" in line or "CRITICAL" in line]
        assert not errors, "\n".join(errors)

    def test_every_unit_links_its_lecture_lab_and_code(self, site):
        for unit in UNITS:
            lecture = (site / "lectures" / f"{unit.name}.html").read_text()
            assert "cell_output" in lecture and "<img" in lecture, f"{unit.name}: the lecture shows no outputs"
            assert f"../labs/{unit.lab}.html" in lecture and f"../api/{unit.package}.html" in lecture
            lab = (site / "labs" / f"{unit.lab}.html").read_text()
            assert f"../lectures/{unit.name}.html" in lab and f"../api/{unit.package}.html" in lab
        assert "Draft build" not in "".join(p.read_text() for p in (site / "lectures").glob("*.html"))

    def test_no_solution_or_hidden_test_in_the_book(self, site):
        texts = _site_texts(site)
        readme = (REPO / "README.md").read_text()  # the README explains the markers to instructors: that many
        for marker in MARKERS:
            for name, text in texts.items():
                allowed = readme.count(marker) if name == "course.html" else 0
                assert text.count(marker) <= allowed, f"nbgrader marker {marker!r} in {name}"
        everything = " ".join(_words(text) for text in texts.values())
        leaks = [f"{origin}: {line.strip()}" for origin, lines in _secrets().items() for line in sorted(lines)
                 if line in everything]
        assert not leaks, "\n".join(leaks[:20])


def test_the_leak_check_sees_through_markup():
    """A worked answer rendered with smart quotes, emphasis and code spans is still the same words."""
    line = "The model's `keep` mask drops *every* patch whose score is below the threshold -- a hard choice."
    rendered = "<p>The model’s <code>keep</code> mask drops <em>every</em> patch whose score is below the " \
               "threshold – a hard choice.</p>"
    assert _words(line) in _words(html.unescape(re.sub(r"<[^>]+>", " ", rendered)))
    assert _words("drops every patch whose score") not in _words("he drops every patch whose scores")


def test_the_browser_check_finds_what_is_broken(tmp_path):
    """A tiny site with one of each fault: every one is reported."""
    _need_chromium()
    (tmp_path / "index.html").write_text(
        '<html><body><a href="gone.html">missing page</a> <a href="second.html#nowhere">bad anchor</a>'
        '<img src="missing.png"><script>throw new Error("boom")</script></body></html>')
    (tmp_path / "second.html").write_text('<html><body><p id="here">x</p>'
                                          '<span class="math">\\(x\\)</span></body></html>')
    (tmp_path / "orphan.html").write_text("<html><body>nobody links here</body></html>")
    problems = "\n".join(check_site(tmp_path).problems)
    for fault in ("broken link: ", "gone.html", "broken anchor: second.html#nowhere", "image does not render",
                  "JavaScript error: boom", "formulas not typeset: 1", "never reached from the landing page: "
                  "orphan.html", "missing page: course.html"):
        assert fault in problems, f"not reported: {fault}\n{problems}"


def test_a_kept_run_stands_in_only_where_it_may(tmp_path, monkeypatch):
    """``execute``: "session" reuses only a run of the same session, "any" any run for the same inputs, "none" none;
    a changed notebook is another key."""
    monkeypatch.setenv("VIDEOLLM_DATA", str(tmp_path / "data"))
    notebook = tmp_path / "tiny.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import random; print(random.random())")])
    nbformat.write(nb, notebook)

    def printed(run) -> str:
        return run.cells[0].outputs[0]["text"]

    monkeypatch.setenv(executed.SESSION_VARIABLE, "one")
    first = printed(executed.execute(notebook))
    assert printed(executed.execute(notebook, reuse="session")) == first
    assert printed(executed.execute(notebook, reuse="any")) == first
    monkeypatch.setenv(executed.SESSION_VARIABLE, "two")
    second = printed(executed.execute(notebook, reuse="session"))
    assert second != first
    assert printed(executed.execute(notebook, reuse="none")) != second
    before = executed.key(notebook)
    nb.cells.append(nbformat.v4.new_code_cell("1 + 1"))
    nbformat.write(nb, notebook)
    assert executed.key(notebook) != before
    with pytest.raises(ValueError, match="reuse must be"):
        executed.execute(notebook, reuse="always")
