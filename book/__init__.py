"""The course as a book: a static website of every lecture (with its outputs), every lab's student version, and
the reference package's API, built with Sphinx and MyST-NB and checked in a real browser.

- ``python -m book build``: render the site into ``book/_build/html`` (runs a lecture only when no executed copy
  of it is kept for the current code, :mod:`book.executed`)
- ``python -m book check``: open every page in headless Chromium and fail on a missing page, a broken link, a
  missing image or a JavaScript error (:mod:`book.browser`)

``make book`` does both and prints the address of the landing page.
"""
