"""Unit 09 — ``python -m videollm.eval SUITE PREDICTIONS.jsonl``: print the results table (logic in :mod:`.report`).

Lecture: `lectures/09_evaluation.ipynb` §4.
"""

from videollm.eval.report import main

raise SystemExit(main())
