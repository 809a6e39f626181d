"""Argument checks shared by the reference code: a bad argument gets an error naming it, its value and what it needs."""

from __future__ import annotations

import numbers


def positive_int(value, name: str, meaning: str = "") -> int:
    """``value`` as a Python ``int`` if it is a positive integer (Python, NumPy or other ``numbers.Integral``; not a
    bool), else ``ValueError("<name> must be a positive integer (<meaning>); got <value>")``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        detail = f" ({meaning})" if meaning else ""
        raise ValueError(f"{name} must be a positive integer{detail}; got {value!r}")
    return int(value)
