"""Mistake catalogs: typical wrong implementations of each lab, each of which must lose points.

A catalog maps a mistake's name to a :class:`Mistake`: which answer cell (nbgrader ``grade_id``) it replaces,
the wrong code a student might plausibly write, and the test cells that must then score below full marks.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mistake:
    cell: str            # grade_id of the answer cell replaced
    code: str            # the wrong implementation, a whole cell
    loses: tuple[str, ...]  # grade_ids of test cells that must lose points
    why: str = ""        # what a student did wrong, in one line
    also: tuple[tuple[str, str], ...] = ()  # (grade_id, code) of further answer cells replaced in the same notebook


def filler(template: str, right: dict[str, str]):
    """``fill(**changes)``: a catalog's wrong answer written from ``template`` (a whole answer cell with ``{part}``
    slots), every slot as ``right`` has it except those ``changes`` replaces."""
    return lambda **changes: template.format(**{**right, **changes})
