"""Unit 09 — ``python -m videollm.eval SUITE PREDICTIONS.jsonl``: print the results table (logic in :mod:`.report`)."""

from videollm.eval.report import main

raise SystemExit(main())
