"""Sphinx settings of the course book (copied into the assembled source tree by book.source)."""

project = "Video Understanding with Multimodal LLMs"
author = "the course's engineers"
extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax"]
exclude_patterns = ["_build", "docs"]

# The lectures come executed (book.executed); the labs are student versions, shown as they are.
nb_execution_mode = "off"
nb_merge_streams = True
nb_ipywidgets_js = {}  # never load the widget manager from a CDN (book.source drops widget outputs anyway)
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]

# Reference pages (book.source says which modules list their members): members in source order, Google-style
# "Raises:" sections, no source listings.
autodoc_member_order = "bysource"
napoleon_google_docstring = True
napoleon_use_ivar = True  # "Attributes:" as a field list: autodoc already documents each attribute

# A local MathJax 3 with SVG output (from sphinx-mathjax-offline, copied in by book.source): a reader offline still
# sees the formulas, and SVG needs no web fonts. MyST-NB adds the settings that typeset only the "math" elements.
html_static_path = ["_static"]
mathjax_path = "mathjax/tex-svg.js"

html_theme = "sphinx_book_theme"
html_title = project
# No download button: it would link the page's source files, which the book does not copy.
# Light mode by default (an empty stored mode is otherwise reported as an error by the theme's script).
html_theme_options = {"show_toc_level": 2, "home_page_in_toc": True, "use_download_button": False}
html_context = {"default_mode": "light"}
html_favicon = "_static/favicon.svg"
html_show_sourcelink = False
html_copy_source = False
