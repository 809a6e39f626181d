"""The book's source tree: what Sphinx reads, assembled from the repository into one folder.

::

    <source>/index.md                  landing page: the syllabus, each unit linked to its lecture, lab and code
    <source>/course.md                 the README (results, instructions)
    <source>/lectures/NN_slug.ipynb    each lecture, executed (book.executed), under a line linking its lab and code
    <source>/labs/labNN_slug.ipynb     each lab's student version (labs/, the nbgrader release: no solutions and no
                                       hidden tests), under a line linking its lecture and code
    <source>/api/<package>.md          the reference package's API, from its docstrings (Sphinx autodoc)
    <source>/docs/figures/             the README's and lectures' committed figures
    <source>/conf.py, _static/mathjax  the Sphinx settings and a local MathJax 3 (nothing is fetched when reading)

Nothing here reads ``solutions/``: the book is built from what a student may see.
"""

from __future__ import annotations

import pkgutil
import shutil
from importlib.metadata import distribution
from pathlib import Path

import nbformat

from book.executed import REPO, execute, executed_path
from videollm.units import UNITS, Unit

HERE = Path(__file__).resolve().parent
#: MathJax 3's files, as the package sphinx-mathjax-offline ships them (its folder name is not importable).
MATHJAX = Path(str(distribution("sphinx-mathjax-offline").locate_file("sphinx-mathjax-offline/static/mathjax")))
#: The modules of ``videollm`` that belong to no unit (the core layer).
CORE_PAGE = "core"


def lecture_page(unit: Unit) -> str:
    """The page of ``unit``'s lecture, relative to the site's root, without suffix."""
    return f"lectures/{unit.name}"


def lab_page(unit: Unit) -> str:
    return f"labs/{unit.lab}"


def api_page(package: str) -> str:
    return f"api/{package}"


def expected_pages() -> list[str]:
    """The pages the book must have: landing page, course README, and each unit's lecture, lab and API page."""
    pages = ["index.html", "course.html"]
    for unit in UNITS:
        pages += [f"{lecture_page(unit)}.html", f"{lab_page(unit)}.html", f"{api_page(unit.package)}.html"]
    return pages


def _links(unit: Unit, here: str) -> str:
    """One line linking a unit's lecture, lab and API page from a page in the folder ``here`` (the others)."""
    parts = [f"**Unit {unit.number}**",
             f"lecture: [{unit.name}](../{lecture_page(unit)}.ipynb)" if here != "lectures" else None,
             f"lab: [{unit.lab}](../{lab_page(unit)}.ipynb)" if here != "labs" else None,
             f"reference code: [videollm.{unit.package}](../{api_page(unit.package)}.md)" if here != "api" else None]
    return " · ".join(p for p in parts if p)


def _with_header(nb: nbformat.NotebookNode, text: str) -> nbformat.NotebookNode:
    """``nb`` with the markdown ``text`` right under its title (the first cell's ``# `` line), all outputs kept."""
    nb = nbformat.from_dict(nb)
    first = nb.cells[0] if nb.cells else None
    if first is not None and first.cell_type == "markdown" and first.source.startswith("# "):
        title, _, rest = first.source.partition("\n")
        first.source = f"{title}\n\n{text}\n\n{rest}"
    else:
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(text))
    return nb


#: Jupyter widgets' output type: live progress bars (tqdm) while a lecture runs, nothing to show in a static page.
WIDGET = "application/vnd.jupyter.widget-view+json"


def _without_widgets(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` without widget outputs and widget state (their text form stays): a page with widgets would load
    require.js and the widget manager from a CDN, which a reader offline does not reach."""
    nb = nbformat.from_dict(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            output.get("data", {}).pop(WIDGET, None)
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if o.get("output_type") != "display_data" or o.get("data")]
    return nb


def _lecture(unit: Unit, target: Path, reuse: str, draft: bool) -> None:
    notebook = REPO / unit.lecture
    header = (_links(unit, "lectures") + ". The worked answers to the exercises are on the instructor's side "
              "of the course (`solutions/answers/`).")
    if draft and not executed_path(notebook).exists():
        nb = nbformat.read(notebook, as_version=4)
        header += " **Draft build: this lecture has not been run for the current code, so it shows no outputs.**"
    else:
        nb = _without_widgets(execute(notebook, reuse=reuse))
    nbformat.write(_with_header(nb, "> " + header), target)


def _lab(unit: Unit, target: Path) -> None:
    nb = nbformat.read(REPO / "labs" / unit.lab / f"{unit.lab}.ipynb", as_version=4)
    header = (_links(unit, "labs") + ". This is the student version, shown for reading: to do the lab, run "
              "`make lab` and open your own copy in JupyterLab (see the README, *For students*).")
    nbformat.write(_with_header(nb, "> " + header), target)


def _raise(name: str) -> None:
    raise ImportError(f"the book cannot list the modules of {name}: importing it failed (see the error above)")


def package_modules(package: str) -> list[tuple[str, bool]]:
    """``(module, is_package)`` for every module of ``videollm.<package>`` (``""``: the core modules, those outside
    every unit package), sorted, ``__main__`` left out. Subpackages are imported to list their modules; a module
    that fails to import stops the build rather than dropping out of the book.
    """
    root = REPO / "videollm" / package
    if package:
        found = [(f"videollm.{package}", True)]
        found += [(info.name, info.ispkg) for info in pkgutil.walk_packages([str(root)], f"videollm.{package}.",
                                                                            onerror=_raise)]
    else:
        found = [(f"videollm.{info.name}", False) for info in pkgutil.iter_modules([str(root)]) if not info.ispkg]
    return sorted((name, ispkg) for name, ispkg in found if not name.endswith("__main__"))


def _api(package: str, title: str, intro: str, target: Path) -> None:
    blocks = [f"# {title}", "", intro, ""]
    for module, is_package in package_modules(package):
        # autodoc writes reStructuredText: it must be parsed as such, not as Markdown. A package's __init__ only
        # re-exports what its modules define (documented there), so it shows its docstring alone.
        members = [] if is_package else ["   :members:"]
        blocks += [f"## `{module}`", "", "```{eval-rst}", f".. automodule:: {module}", *members, "```", ""]
    target.write_text("\n".join(blocks))


def _index(target: Path) -> None:
    readme = (REPO / "README.md").read_text().split("\n## ")[0]  # title and the opening paragraph
    rows = ["| # | lecture | lab | reference code |", "|---|---|---|---|"]
    for u in UNITS:
        rows.append(f"| {u.number} | [{u.title}]({lecture_page(u)}.ipynb) | [lab {u.number}]({lab_page(u)}.ipynb) | "
                    f"[`videollm.{u.package}`]({api_page(u.package)}.md) |")
    toc = ["```{toctree}", ":caption: Lectures", ":maxdepth: 1", ""] + [lecture_page(u) for u in UNITS] + ["```", "",
           "```{toctree}", ":caption: Labs (student versions)", ":maxdepth: 1", ""] + [lab_page(u) for u in UNITS] + [
           "```", "", "```{toctree}", ":caption: Reference code", ":maxdepth: 1", ""] + [
           api_page(u.package) for u in UNITS] + [api_page(CORE_PAGE), "```", "",
           "```{toctree}", ":caption: About", ":maxdepth: 1", "", "course", "```"]
    text = [readme, "", "## Syllabus", "",
            "Each unit has a lecture (shown here with its outputs), a graded lab (shown in its student version) and "
            "its reference code in one package of `videollm/`. Read a lecture, then do its lab in your own copy "
            "(`make lab`); the [course README](course.md) has the commands, the results the reference code "
            "measures, and the instructions for students and instructors.", "", *rows, "", *toc]
    target.write_text("\n".join(text) + "\n")


def assemble(source: Path, reuse: str = "any", draft: bool = False) -> Path:
    """Write the book's source tree into ``source`` (emptied first; it is a build folder) and return it.

    Lectures are executed through :func:`book.executed.execute` with ``reuse`` (``"any"``: a kept run for the
    current code stands in); with ``draft``, a lecture with no kept run is shown without outputs instead.
    """
    if source.exists():
        shutil.rmtree(source)
    for folder in ("lectures", "labs", "api", "_static"):
        (source / folder).mkdir(parents=True)
    shutil.copy(HERE / "conf.py", source / "conf.py")
    shutil.copy(HERE / "favicon.svg", source / "_static" / "favicon.svg")
    shutil.copytree(MATHJAX, source / "_static" / "mathjax")
    shutil.copytree(REPO / "docs" / "figures", source / "docs" / "figures")
    (source / "course.md").write_text((REPO / "README.md").read_text())
    _index(source / "index.md")
    for unit in UNITS:
        _lecture(unit, source / f"{lecture_page(unit)}.ipynb", reuse, draft)
        _lab(unit, source / f"{lab_page(unit)}.ipynb")
        _api(unit.package, f"`videollm.{unit.package}` — unit {unit.number}",
             _links(unit, "api") + f". {unit.title}.", source / f"{api_page(unit.package)}.md")
    _api("", "The core modules of `videollm`",
         "What every unit shares: reading video, sampling frames, the one cache, checks, records, plots.",
         source / f"{api_page(CORE_PAGE)}.md")
    return source
