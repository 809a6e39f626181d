"""Unit 09 — evaluating video LLMs (lecture ``09_evaluation``, lab ``lab09_evaluation``).

- ``parsing``    turn a model's free text into an option letter, the way lmms-eval does (the per-task regexes used
                 for 2024-2025 results, and the newer ranking parser)
- ``metrics``    accuracy per task / duration bucket / overall, M-Avg, random baselines, circular evaluation,
                 bootstrap confidence intervals
- ``openended``  open-ended answers: exact match, token F1, embedding similarity, an LLM-judge hook
- ``oracle``     annotation oracles (all frames, or N sampled frames) and a blind, question-only baseline
- ``knowledge``  Video-MMMU-style scores: accuracy per track and the knowledge gain Δknowledge, and the baselines
                 of the Video-MMMU-like suite
- ``baselines``  the baseline table of every suite (``python -m videollm.eval.baselines``)
- ``report``     the results command, ``python -m videollm.eval``: score a predictions file against a suite
"""
