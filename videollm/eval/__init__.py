"""Evaluating video LLMs (unit 09): answer extraction, metrics, open-ended scoring, and the results command.

- ``videollm.eval.parsing``    turn a model's free text into an option letter, the way lmms-eval does
                               (the per-task regexes used for 2024-2025 results, and the newer ranking parser)
- ``videollm.eval.metrics``    accuracy per task / duration bucket / overall, M-Avg, random baselines,
                               circular evaluation, bootstrap confidence intervals
- ``videollm.eval.openended``  open-ended answers: exact match, token F1, embedding similarity, an LLM-judge hook
- ``python -m videollm.eval``  score a predictions file against a course benchmark suite and print the table
"""
