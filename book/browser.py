"""Check the built book in a real browser: headless Chromium visits every page through a local web server.

A page fails on a JavaScript error (an uncaught exception or a console error), a request that fails or answers
4xx/5xx (a missing image, style sheet or script), a request that leaves the book (a CDN: offline, nothing is
there), an image that does not render, a formula MathJax did not typeset, or a link to a page or anchor of the
book that does not exist. The crawl starts at the landing page and follows every link inside the book;
every HTML file Sphinx wrote must be reached, and every unit's lecture, lab and reference page must exist.

Chromium is Debian's (``/usr/bin/chromium``; ``make setup`` installs it when run as root on Debian, as CI does),
driven by Playwright. Nothing leaves the machine: the flags switch off Chromium's own background traffic.
"""

from __future__ import annotations

import shutil
import threading
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator
from urllib.parse import unquote, urldefrag, urlparse

from playwright.sync_api import Error as PlaywrightError, Route, sync_playwright

from book.source import expected_pages

#: Chromium's flags: headless, no sandbox of its own (CI runs as root), no traffic to Google's services.
FLAGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-default-apps")
#: Pages Sphinx writes that no link leads to (the search box and the index): visited too.
SERVICE_PAGES = ("search.html", "genindex.html", "py-modindex.html")
#: The page shot for the README beside the landing page.
LECTURE_SHOT = "lectures/02_vq_tokenization.html"


def chromium() -> str:
    """The Chromium binary to drive.

    Raises:
        FileNotFoundError: none is installed (with what to install).
    """
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise FileNotFoundError("no Chromium found: install Debian's `chromium` package (`sudo apt-get install "
                                "chromium`; `make setup` does it when run as root)")
    return found


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # the report says what went wrong; the server keeps quiet
        pass


@contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve the folder ``root`` on a free port of 127.0.0.1 while the block runs; yields the base address."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Report:
    """What the crawl saw: the pages visited (paths relative to the site) and every problem, one line each."""

    pages: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    screenshots: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.pages) and not self.problems

    def summary(self) -> str:
        head = f"{len(self.pages)} pages visited, {len(self.problems)} problems"
        shots = [f"screenshot: {p}" for p in self.screenshots]
        return "\n".join([head, *self.problems, *shots])


def _local(url: str, base: str) -> str | None:
    """The site path of ``url`` ("lectures/x.html"), or None for a link that leaves the book."""
    if not url.startswith(base):
        return None
    path = urlparse(url).path.lstrip("/")
    return path + "index.html" if path == "" or path.endswith("/") else path


# Formulas: once MathJax 3 has started up and typeset the page, every "math" element holds an mjx-container, and
# none holds a TeX error.
_UNTYPESET_MATH = """async () => {
    if (typeof MathJax !== "undefined" && MathJax.startup) { await MathJax.startup.promise; }
    const math = Array.from(document.querySelectorAll("span.math, div.math"));
    return [math.filter(e => !e.querySelector("mjx-container")).length,
            document.querySelectorAll("mjx-merror, [data-mjx-error]").length];
}"""
_BROKEN_IMAGES = "imgs => imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.currentSrc || i.src)"
_IDS = "els => els.map(e => e.id)"


def _visit(page, url: str, timeout_ms: int) -> None:
    page.goto(url, wait_until="load", timeout=timeout_ms)
    page.wait_for_load_state("networkidle", timeout=timeout_ms)


def check_site(html: str | Path, screenshots: str | Path | None = None, timeout_ms: int = 60_000) -> Report:
    """Visit every page of the built book at ``html`` (the folder with ``index.html``) and report what is broken.

    With ``screenshots``, also save ``book_landing.png`` (the landing page) and ``book_lecture.png`` (a lecture)
    there, 1280 × 800 pixels.

    Raises:
        FileNotFoundError: ``html`` has no ``index.html`` (build the book first), or no Chromium is installed.
    """
    html = Path(html)
    if not (html / "index.html").is_file():
        raise FileNotFoundError(f"no built book at {html} (no index.html): run `python -m book build` first")
    report = Report()
    report.problems += [f"missing page: {p}" for p in expected_pages() if not (html / p).is_file()]
    anchors: dict[str, set[str]] = {}
    wanted: list[tuple[str, str, str]] = []  # (from page, to page, anchor)
    with serve(html) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), args=list(FLAGS))
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        current = {"path": ""}

        def problem(text: str) -> None:
            report.problems.append(f"{current['path']}: {text}")

        page.on("pageerror", lambda error: problem(f"JavaScript error: {error}"))
        page.on("console", lambda msg: problem(f"console error: {msg.text}") if msg.type == "error" else None)
        page.on("requestfailed", lambda req: problem(f"request failed: {req.url} ({req.failure})"))
        page.on("response", lambda resp: problem(f"HTTP {resp.status}: {resp.url}") if resp.status >= 400 else None)

        def outside(route: Route) -> None:  # a reader offline gets nothing from elsewhere: neither may the check
            if not route.request.url.startswith(("data:", "blob:", "about:")):
                problem(f"request leaves the book: {route.request.url}")
            route.abort()

        page.route(lambda url: not url.startswith(base), outside)
        queue = deque(["index.html", *SERVICE_PAGES])  # Sphinx's search and index pages: reached by forms
        seen = set(queue)
        while queue:
            path = queue.popleft()
            current["path"] = path
            try:
                _visit(page, base + path, timeout_ms)
            except PlaywrightError as error:  # a page that does not load (or hangs) is a problem, not a crash
                problem(f"page did not load: {str(error).splitlines()[0]}")
                continue
            report.pages.append(path)
            untypeset, tex_errors = page.evaluate(_UNTYPESET_MATH)
            if untypeset or tex_errors:
                problem(f"formulas not typeset: {untypeset}, with TeX errors: {tex_errors}")
            for src in page.eval_on_selector_all("img", _BROKEN_IMAGES):
                problem(f"image does not render: {src}")
            anchors[path] = set(page.eval_on_selector_all("[id]", _IDS))
            for href in page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)"):
                url, fragment = urldefrag(href)
                fragment = unquote(fragment)
                target = _local(url, base)
                if target is None:
                    continue
                if not (html / target).is_file():
                    problem(f"broken link: {href}")
                    continue
                if fragment:
                    wanted.append((path, target, fragment))
                if target.endswith(".html") and target not in seen:
                    seen.add(target)
                    queue.append(target)
            if screenshots is not None and path in ("index.html", LECTURE_SHOT):
                folder = Path(screenshots)
                folder.mkdir(parents=True, exist_ok=True)
                shot = folder / ("book_landing.png" if path == "index.html" else "book_lecture.png")
                figures = page.locator(".cell_output img")
                if path == LECTURE_SHOT and figures.count():  # show the lecture's first figure: outputs are the point
                    figures.first.scroll_into_view_if_needed(timeout=timeout_ms)
                page.screenshot(path=str(shot))
                report.screenshots.append(shot)
        browser.close()
    for source, target, fragment in wanted:
        if target in anchors and fragment not in anchors[target]:
            report.problems.append(f"{source}: broken anchor: {target}#{fragment}")
    written = {str(p.relative_to(html)) for p in html.rglob("*.html") if "_static" not in p.parts}
    report.problems += [f"page never reached from the landing page: {p}" for p in sorted(written - seen)]
    return report
