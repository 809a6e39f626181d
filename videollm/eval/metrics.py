"""Unit 09 — multiple-choice metrics: accuracy per group, M-Avg, random baselines, circular evaluation, bootstrap CIs,
Video-MMMU's knowledge gain.

Everything here works on plain lists of question dicts (one JSON line of a course suite each) and prediction
dicts, so it can score any benchmark laid out the same way. A question carries at least ``id``, ``task``,
``options`` (plain option texts) and ``answer`` (a letter); a prediction is ``{"id": ..., "response": text}``
(raw model output, turned into a letter by a parser) or ``{"id": ..., "prediction": "B"}`` (already a letter).

The pipeline is ``score`` (one record per question: parsed letter, correct or not) followed by aggregations
over those records (``accuracy_table``, ``m_avg``, ``bootstrap_ci``). Two numbers that look alike differ:

- the **overall** accuracy weights every *question* equally, so big tasks dominate;
- MLVU's **M-Avg** weights every *task* equally (mean of per-task accuracies), so a 200-question counting
  task counts as much as a 500-question plot task.

>>> qs = [{"id": "q1", "task": "count", "options": ["2", "3", "4", "5"], "answer": "B"},
...       {"id": "q2", "task": "count", "options": ["1", "2", "3", "4"], "answer": "A"},
...       {"id": "q3", "task": "order", "options": ["ab", "ba", "aa", "bb"], "answer": "C"}]
>>> recs = score(qs, [{"id": "q1", "prediction": "B"}, {"id": "q2", "prediction": "C"},
...                   {"id": "q3", "prediction": "C"}])
>>> [r["correct"] for r in recs]
[True, False, True]
>>> round(accuracy_table(recs)["overall"]["accuracy"], 1), m_avg(recs)
(66.7, 75.0)
>>> random_baseline(qs)
25.0

Video-MMMU's **knowledge gain** compares two accuracies on the same questions, before and after the model watched
the lecture video, as the share of the headroom it closed (:func:`delta_knowledge`):

>>> delta_knowledge(40.0, 55.0)
25.0

Lecture: `lectures/09_evaluation.ipynb` §4, §6, §10, §11.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from numbers import Real

import numpy as np
from videollm.choices import LETTERS
from videollm.eval.parsing import parse_answer

PARSERS = ("new", "legacy")  # lmms-eval's shared extractor (2026-04 on) and the per-task regexes before it

# Natural display orders for fields whose values are not meant to sort alphabetically.
FIELD_ORDER = {
    "duration": ("short", "medium", "long"),
    "reasoning": ("descriptive", "explanatory", "predictive", "counterfactual"),
}
NO_VALUE = "(none)"  # group label for records that lack the grouping field

Parse = Callable[[str, Mapping], str]  # parse(raw model text, question dict) -> option letter or ""


# ---------------------------------------------------------------------------------------------- parsing hook


def make_parser(name: str = "new") -> Parse:
    """A ``parse(text, question) -> letter`` callable backed by :func:`videollm.eval.parsing.parse_answer`;
    predictions that already carry a letter (``"prediction": "B"``) never reach it.

    Args:
        name: ``"new"`` (lmms-eval's ranked ``extract_mcq_answer``) or ``"legacy"`` (the per-task regexes
            behind the 2024-2025 published numbers).
    """
    if name not in PARSERS:
        raise ValueError(f"unknown parser {name!r}; choose one of {list(PARSERS)}")

    def parse(text: str, question: Mapping) -> str:
        return parse_answer(text, question["suite"], len(question["options"]), parser=name)

    parse.__name__ = f"parse_answer_{name}"
    return parse


# ---------------------------------------------------------------------------------------------- scoring


def _check_question(q: Mapping, position: int) -> int:
    """Validate one question dict; return its answer's option index."""
    for key in ("id", "options", "answer"):
        if key not in q:
            raise ValueError(f"question #{position} has no {key!r} field: {dict(q)!r:.200}")
    options, answer = q["options"], q["answer"]
    if not isinstance(options, Sequence) or isinstance(options, str) or len(options) < 2:
        raise ValueError(f"question {q['id']!r}: 'options' must be a list of at least 2 texts; got {options!r:.200}")
    if len(options) > len(LETTERS):
        raise ValueError(f"question {q['id']!r} has {len(options)} options; at most {len(LETTERS)} are supported")
    letters = LETTERS[: len(options)]
    if not isinstance(answer, str) or len(answer) != 1 or answer not in letters:
        raise ValueError(
            f"question {q['id']!r}: answer {answer!r} is not one of its {len(options)} option letters {letters}"
        )
    return letters.index(answer)


def _index_predictions(predictions) -> dict[str, Mapping]:
    """``{id: prediction dict}`` from a list of prediction dicts, or from a mapping ``{id: dict or text}``."""
    if isinstance(predictions, Mapping):
        return {
            str(pid): (p if isinstance(p, Mapping) else {"id": pid, "response": p}) for pid, p in predictions.items()
        }
    indexed: dict[str, Mapping] = {}
    for position, p in enumerate(predictions):
        if not isinstance(p, Mapping) or "id" not in p:
            raise ValueError(f"prediction #{position} must be a dict with an 'id' field; got {p!r:.200}")
        pid = str(p["id"])
        if pid in indexed:
            raise ValueError(f"two predictions for question id {pid!r}; keep one per question")
        indexed[pid] = p
    return indexed


def _unknown_id_error(pid: str, known: dict) -> ValueError:
    examples = ", ".join(repr(k) for k in list(known)[:3])
    hint = "check the suite and --split, or that the ids were not renamed"
    if any("@" in k for k in known):
        hint += "; in circular mode every rotation has its own id, 'ID@0', 'ID@1', ..."
    return ValueError(
        f"prediction for unknown question id {pid!r}: it is not among the {len(known)} questions "
        f"(e.g. {examples}); {hint}"
    )


def _letter_of(prediction: Mapping, question: Mapping, parse: Parse | None) -> str:
    """The option letter a prediction chose: its ``prediction`` field as given, else ``parse(response)``."""
    if "prediction" in prediction and prediction["prediction"] is not None:
        letter = prediction["prediction"]
        if not isinstance(letter, str):
            raise ValueError(f"prediction for {question['id']!r}: 'prediction' must be a letter; got {letter!r}")
        return letter.strip().upper()
    if "response" not in prediction:
        raise ValueError(
            f"prediction for {question['id']!r} has neither 'response' (raw model text) "
            f"nor 'prediction' (a letter): {dict(prediction)!r:.200}"
        )
    text = prediction["response"]
    if not isinstance(text, str):
        raise ValueError(f"prediction for {question['id']!r}: 'response' must be text; got {text!r:.200}")
    letter = parse(text, question)
    if not isinstance(letter, str):
        raise TypeError(f"the parser returned {letter!r} for {question['id']!r}; it must return a letter or ''")
    return letter.strip().upper()


def score(questions: Sequence[Mapping], predictions, parse: Parse | None = None) -> list[dict]:
    """Score predictions against multiple-choice questions: one record per question, in question order.

    Args:
        questions: question dicts with ``id``, ``options`` and ``answer``; ``task``, ``duration``, ``clip``,
            ``suite``, ``area``, ``reasoning``, ``subtitles`` are copied into the records when present.
        predictions: a list of ``{"id", "response" | "prediction"}`` dicts, or a mapping ``{id: dict or text}``.
            ``prediction`` (a letter) is used as given; ``response`` (raw text) goes through ``parse``.
        parse: ``parse(text, question) -> letter or ""``; default :func:`make_parser` ``("new")``.

    Returns:
        list of dicts with ``id``, the copied fields, ``num_options``, ``answer``, ``parsed`` (the letter read
        from the prediction, ``""`` when none), ``correct`` (bool) and ``missing`` (bool). A question without
        a prediction is kept, counted wrong and flagged ``missing=True`` (dropping it would inflate accuracy).

    Raises:
        ValueError: a malformed question, duplicate ids, or a prediction whose id is not a question's
            (the message names the id).
    """
    by_id: dict[str, tuple[int, Mapping]] = {}
    for position, q in enumerate(questions):
        answer_index = _check_question(q, position)
        qid = str(q["id"])
        if qid in by_id:
            raise ValueError(f"two questions share the id {qid!r}; ids must be unique")
        by_id[qid] = (answer_index, q)
    preds = _index_predictions(predictions)
    for pid in preds:
        if pid not in by_id:
            raise _unknown_id_error(pid, by_id)
    if parse is None:
        parse = make_parser("new")

    records = []
    for qid, (_, q) in by_id.items():
        p = preds.get(qid)
        parsed = "" if p is None else _letter_of(p, q, parse)
        record = {"id": qid}
        for key in ("suite", "split", "clip", "task", "duration", "area", "reasoning", "subtitles"):
            if key in q:
                record[key] = q[key]
        record.update(
            num_options=len(q["options"]),
            answer=q["answer"],
            parsed=parsed,
            correct=parsed == q["answer"],
            missing=p is None,
        )
        if p is not None and "response" in p:
            record["response"] = p["response"]
        records.append(record)
    return records


def missing_ids(records: Iterable[Mapping]) -> list[str]:
    """Ids of the records that had no prediction (scored wrong)."""
    return [r["id"] for r in records if r.get("missing")]


# ---------------------------------------------------------------------------------------------- aggregation


def _correct_array(records: Sequence[Mapping]) -> np.ndarray:
    if len(records) == 0:
        raise ValueError("no records to aggregate; score at least one question")
    return np.fromiter((bool(r["correct"]) for r in records), dtype=bool, count=len(records))


def group_key(record: Mapping, by: Sequence[str]) -> tuple[str, ...]:
    """A record's values of the ``by`` fields, as strings (:data:`NO_VALUE` where absent)."""
    return tuple(NO_VALUE if record.get(f) is None else str(record[f]) for f in by)


def _group_keys(records: Sequence[Mapping], by: Sequence[str]) -> list[tuple[str, ...]]:
    for field in by:
        if all(r.get(field) is None for r in records):
            present = sorted({k for r in records for k in r} - {"correct", "missing", "parsed", "response"})
            raise ValueError(f"no record has a {field!r} field to group by; these records have {present}")
    return [group_key(r, by) for r in records]


def _sort_key(key: tuple[str, ...], by: Sequence[str]):
    out = []
    for field, value in zip(by, key):
        order = FIELD_ORDER.get(field, ())
        out.append((order.index(value) if value in order else len(order), value))
    return out


def _summary(correct: np.ndarray, missing: np.ndarray, chance: np.ndarray) -> dict:
    n = int(correct.size)
    return {
        "n": n,
        "correct": int(correct.sum()),
        "missing": int(missing.sum()),
        "accuracy": 100.0 * float(correct.mean()),
        "chance": 100.0 * float(chance.mean()),
    }


def accuracy_table(records: Sequence[Mapping], by: Sequence[str] | str = ("task",)) -> dict:
    """Accuracy (%) per group of records, with counts, plus the overall (question-weighted) row.

    Args:
        records: output of :func:`score` (or :func:`circular_score`).
        by: field name(s) to group by, e.g. ``("task",)``, ``("duration",)``, ``("duration", "subtitles")``.

    Returns:
        ``{"by": [...], "rows": [row, ...], "overall": row}`` where a row is
        ``{"group": label, <by fields>, "n", "correct", "missing", "accuracy", "chance"}``; ``accuracy`` and
        ``chance`` (expected accuracy of uniform guessing, mean of 100/num_options) are in %. Rows follow the
        natural order of the field (short, medium, long) or else alphabetical order.
    """
    by = [by] if isinstance(by, str) else list(by)
    if not by:
        raise ValueError("give at least one field to group by, e.g. by=('task',)")
    correct = _correct_array(records)
    missing = np.fromiter((bool(r.get("missing")) for r in records), dtype=bool, count=len(records))
    chance = np.array([1.0 / _num_options(r) for r in records])
    keys = _group_keys(records, by)
    groups = sorted(set(keys), key=lambda key: _sort_key(key, by))
    position = {key: g for g, key in enumerate(groups)}
    inverse = np.fromiter((position[key] for key in keys), dtype=np.int64, count=len(keys))
    # Per-group sums in one pass each (bincount), not one Python filter per group.
    n = np.bincount(inverse, minlength=len(groups))
    n_correct = np.bincount(inverse, weights=correct, minlength=len(groups))
    n_missing = np.bincount(inverse, weights=missing, minlength=len(groups))
    chance_sum = np.bincount(inverse, weights=chance, minlength=len(groups))
    rows = []
    for g, key in enumerate(groups):
        row = {"group": " / ".join(key), **dict(zip(by, key))}
        row.update(
            n=int(n[g]),
            correct=int(n_correct[g]),
            missing=int(n_missing[g]),
            accuracy=100.0 * float(n_correct[g]) / int(n[g]),
            chance=100.0 * float(chance_sum[g]) / int(n[g]),
        )
        rows.append(row)
    overall = {"group": "overall", **_summary(correct, missing, chance)}
    return {"by": by, "rows": rows, "overall": overall}


def accuracy(records: Sequence[Mapping]) -> float:
    """Overall accuracy in %: correct records / all records (missing predictions count as wrong)."""
    return 100.0 * float(_correct_array(records).mean())


def m_avg(records: Sequence[Mapping], by: str = "task") -> float:
    """MLVU's M-Avg: the unweighted mean of per-task accuracies, in %.

    Unlike the overall accuracy (every question weighs the same), every *task* weighs the same here, so a
    model cannot hide a weak small task behind a strong large one. The two agree when tasks are equally big.
    """
    rows = accuracy_table(records, by=(by,))["rows"]
    return float(np.mean([row["accuracy"] for row in rows]))


# ---------------------------------------------------------------------------------------------- random baselines


def _num_options(item: Mapping) -> int:
    return int(item["num_options"]) if "num_options" in item else len(item["options"])


def random_baseline(questions: Sequence[Mapping]) -> float:
    """Expected accuracy (%) of guessing uniformly among each question's options: ``100 * mean(1 / n_i)``.

    25.0 for 4 options (Video-MME, MLVU dev), 33.3 for 3 (PerceptionTest), 16.7 for 6 (MLVU test).
    Accepts question dicts or score records.
    """
    if len(questions) == 0:
        raise ValueError("no questions: the random baseline of an empty set is undefined")
    return 100.0 * float(np.mean([1.0 / _num_options(q) for q in questions]))


def simulate_random(
    questions: Sequence[Mapping],
    n_draws: int = 2000,
    seed: int = 0,
    *,
    circular: bool = False,
    max_elements: int = 1 << 22,
) -> tuple[float, float]:
    """Accuracy (%) of a uniformly guessing model over ``n_draws`` seeded runs: ``(mean, std)``.

    The mean approaches :func:`random_baseline`; the std is how far from chance a single run may land by
    luck on *this many* questions (about ``100 * sqrt(p(1-p)/N)``), i.e. how much above chance a real model
    must score before the gap means anything.

    With ``circular=True`` a question counts only if the guesses for all ``n`` rotations are right. The
    rotations are guessed independently, so that is one uniform draw among ``n**n`` equally likely guess
    tuples, exactly one of them all right; it is simulated that way (mean -> :func:`circular_random_baseline`).

    Vectorised: a ``(draws, N)`` array of guesses per chunk of at most ``max_elements`` entries.
    Accepts question dicts or score records.
    """
    if len(questions) == 0:
        raise ValueError("no questions to guess on")
    if n_draws < 2:
        raise ValueError(f"n_draws must be at least 2 to have a spread; got {n_draws}")
    n_options = np.array([_num_options(q) for q in questions], dtype=np.int64)
    if circular:
        n_options = n_options**n_options  # 3**3 = 27, 4**4 = 256, 6**6 = 46656 outcomes
    answers = np.array([LETTERS.index(q["answer"]) for q in questions])
    rng = np.random.default_rng(seed)
    chunk = max(1, max_elements // len(questions))
    scores = []
    for start in range(0, n_draws, chunk):
        rows = min(chunk, n_draws - start)
        guesses = rng.integers(0, n_options, size=(rows, len(questions)))  # per-column upper bound
        scores.append((guesses == answers).mean(axis=1))
    scores = 100.0 * np.concatenate(scores)
    return float(scores.mean()), float(scores.std(ddof=1))


# ---------------------------------------------------------------------------------------------- circular evaluation


def circular_variants(question: Mapping) -> list[dict]:
    """The ``n`` rotations of an ``n``-option question (MMBench's CircularEval).

    Variant ``k`` shifts the options left by ``k`` (option ``j`` of the variant is option ``(j + k) % n`` of
    the original), so the correct text moves from letter ``a`` to letter ``(a - k) % n``. Its id is
    ``f"{id}@{k}"``; ``k = 0`` is the original question. Each variant also records ``circular_of`` (the
    original id) and ``rotation`` (``k``).

    >>> [(v["id"], v["options"], v["answer"]) for v in circular_variants(
    ...     {"id": "q", "options": ["x", "y", "z"], "answer": "B"})]
    [('q@0', ['x', 'y', 'z'], 'B'), ('q@1', ['y', 'z', 'x'], 'A'), ('q@2', ['z', 'x', 'y'], 'C')]
    """
    answer_index = _check_question(question, 0)
    options = list(question["options"])
    n = len(options)
    variants = []
    for k in range(n):
        variant = dict(question)
        variant.update(
            id=f"{question['id']}@{k}",
            options=options[k:] + options[:k],
            answer=LETTERS[(answer_index - k) % n],
            circular_of=str(question["id"]),
            rotation=k,
        )
        variants.append(variant)
    return variants


def circular_questions(questions: Iterable[Mapping]) -> list[dict]:
    """All rotations of all questions, flattened: the list to send to the model in circular mode."""
    return [v for q in questions for v in circular_variants(q)]


def circular_score(questions: Sequence[Mapping], predictions, parse: Parse | None = None) -> list[dict]:
    """One record per *original* question, right only if the answer is right in every rotation.

    ``predictions`` are keyed by the variant ids ``"ID@k"`` (see :func:`circular_variants`). Records carry
    the fields of :func:`score` plus ``rotations_correct`` (how many rotations were right) and ``choices``:
    the letter picked in each rotation mapped back to the original option order (``""`` when unparsed), so a
    model that always names the same option text shows the same letter ``n`` times.
    A rotation without a prediction makes the question ``missing`` (and wrong).
    """
    variants = circular_questions(questions)
    variant_records = score(variants, predictions, parse)
    records, cursor = [], 0
    for q in questions:
        n = len(q["options"])
        group = variant_records[cursor : cursor + n]
        cursor += n
        choices = []
        for k, r in enumerate(group):
            letter = r["parsed"]
            if len(letter) == 1 and letter in LETTERS[:n]:
                letter = LETTERS[(LETTERS.index(letter) + k) % n]  # undo the rotation
            choices.append(letter)
        record = {key: value for key, value in group[0].items() if key not in ("response", "parsed")}
        record.update(
            id=str(q["id"]),
            answer=q["answer"],
            parsed=choices[0],
            choices=choices,
            rotations_correct=sum(r["correct"] for r in group),
            correct=all(r["correct"] for r in group),
            missing=any(r["missing"] for r in group),
        )
        records.append(record)
    return records


def circular_accuracy(questions: Sequence[Mapping], predictions, parse: Parse | None = None) -> float:
    """Circular accuracy in %: the share of questions answered right under every rotation of their options."""
    return accuracy(circular_score(questions, predictions, parse))


def circular_random_baseline(questions: Sequence[Mapping]) -> float:
    """Expected circular accuracy (%) of uniform guessing: ``100 * mean((1/n)^n)`` (0.39% for 4 options).

    The ``n`` rotations are guessed independently and all must be right.
    """
    if len(questions) == 0:
        raise ValueError("no questions: the random baseline of an empty set is undefined")
    n = np.array([_num_options(q) for q in questions], dtype=float)
    return 100.0 * float(np.mean((1.0 / n) ** n))


# ---------------------------------------------------------------------------------------------- bootstrap


def bootstrap_draws(
    correct, n_boot: int = 2000, seed: int | tuple[int, ...] = 0, clusters=None, *, max_elements: int = 1 << 22
) -> np.ndarray:
    """Bootstrap replicates of accuracy (%), shape ``(n_boot,)``.

    Args:
        correct: ``(N,)`` bool or 0/1, one entry per question.
        n_boot: number of resamples.
        seed: seed of ``numpy.random.default_rng`` (an int, or a tuple such as ``(seed, group)`` to give
            groups independent streams).
        clusters: optional ``(N,)`` labels (e.g. each question's clip). When given, whole clusters are
            resampled with replacement and accuracy is ``sum(correct) / count`` over the drawn clusters.
        max_elements: largest index array built at once; resamples are drawn in chunks of
            ``max_elements // N`` rows so memory stays bounded for big N.
    """
    correct = np.asarray(correct, dtype=float).reshape(-1)
    if correct.size == 0:
        raise ValueError("no questions: cannot bootstrap an empty list of results")
    if n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer; got {n_boot}")
    rng = np.random.default_rng(seed)
    if clusters is None:
        values, weights = correct, None
    else:
        clusters = np.asarray(clusters, dtype=object).reshape(-1)
        if clusters.size != correct.size:
            raise ValueError(f"clusters has {clusters.size} labels but there are {correct.size} questions")
        _, inverse = np.unique(clusters, return_inverse=True)
        values = np.bincount(inverse, weights=correct)  # correct answers per cluster
        weights = np.bincount(inverse).astype(float)  # questions per cluster
    m = values.size
    chunk = max(1, max_elements // m)
    out = np.empty(n_boot)
    for start in range(0, n_boot, chunk):
        rows = min(chunk, n_boot - start)
        idx = rng.integers(0, m, size=(rows, m))  # (rows, m): one resample per row
        if weights is None:
            out[start : start + rows] = values[idx].mean(axis=1)
        else:
            out[start : start + rows] = values[idx].sum(axis=1) / weights[idx].sum(axis=1)
    return 100.0 * out


def bootstrap_ci(
    correct, n_boot: int = 2000, alpha: float = 0.05, seed: int = 0, clusters=None
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of accuracy, ``(low, high)`` in %.

    Resample the questions with replacement ``n_boot`` times, recompute accuracy each time, and take the
    ``alpha/2`` and ``1 - alpha/2`` quantiles. With 300 questions at 60% the 95% interval is about +-5.5
    points, so leaderboard gaps of one or two points are usually noise.

    Pass ``clusters`` (each question's clip) for the *cluster* bootstrap. Questions about one video are
    correlated: a model that misreads a clip tends to miss all of its questions (Video-MME asks 3 per video).
    The plain bootstrap treats them as independent evidence and gives intervals that are too narrow;
    resampling whole clips keeps each clip's questions together, so the interval reflects the number of
    videos as well as the number of questions.

    Args:
        correct: ``(N,)`` bool or 0/1.
        n_boot, seed, clusters: see :func:`bootstrap_draws`.
        alpha: 1 - confidence level, in (0, 1).
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), e.g. 0.05 for a 95% interval; got {alpha}")
    draws = bootstrap_draws(correct, n_boot=n_boot, seed=seed, clusters=clusters)
    low, high = np.percentile(draws, [50.0 * alpha, 100.0 - 50.0 * alpha])
    return float(low), float(high)


# ---------------------------------------------------------------------------------------------- knowledge gain


def delta_knowledge(acc_before: float, acc_after: float) -> float:
    """Video-MMMU's knowledge gain Δknowledge, in %: the share of the headroom that watching the video closed.

    ``Δknowledge = (acc_after - acc_before) / (100 - acc_before) * 100`` (arXiv 2501.13826; the formula as stated in
    ``EvolvingLMMs-Lab/VideoMMMU`` README). Video-MMMU computes it on the Adaptation track: ``acc_before`` is the
    accuracy with the question alone (lmms-eval's ``video_mmmu_adaptation_question_only``), ``acc_after`` the
    accuracy on the same questions after the lecture video (``video_mmmu_adaptation``).

    Normalising by the headroom makes gains comparable across starting points: 40 -> 55 and 80 -> 85 both close a
    quarter of what was left, 25.0. The value is at most 100 (everything right after watching) and negative when
    watching made the model worse (down to ``-100 * acc_before / (100 - acc_before)``).

    Args:
        acc_before: accuracy in percent (0 to 100) without the video.
        acc_after: accuracy in percent (0 to 100) with the video.

    Returns:
        Δknowledge in percent, a float.

    Raises:
        TypeError: an argument is not a real number.
        ValueError: an accuracy outside [0, 100] or NaN, or ``acc_before == 100`` (no headroom: the gain is
            undefined).

    >>> delta_knowledge(80.0, 85.0), delta_knowledge(50.0, 40.0)
    (25.0, -20.0)
    """
    for name, value in (("acc_before", acc_before), ("acc_after", acc_after)):
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f"{name} must be an accuracy in percent (a number from 0 to 100); got {value!r}")
        if math.isnan(value) or not 0.0 <= value <= 100.0:
            raise ValueError(
                f"{name} must be an accuracy in percent, from 0 to 100; got {value!r} (percentages: 55.0 means 55%)"
            )
    if acc_before == 100.0:
        raise ValueError(
            "acc_before is 100%: there is no headroom left to close, so the normalised gain Δknowledge is undefined; "
            "report the two accuracies instead"
        )
    return float((acc_after - acc_before) / (100.0 - acc_before) * 100.0)
