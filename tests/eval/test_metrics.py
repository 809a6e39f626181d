"""Tests for videollm.eval.metrics.

Expected numbers are worked by hand in the comments next to them. The answer parser of
``videollm.eval.parsing`` is replaced by small stand-ins, so these tests do not depend on it.
"""

import doctest
import inspect
import re
import time

import numpy as np
import pytest

import videollm.eval.metrics as metrics
from videollm.eval.metrics import (
    accuracy,
    accuracy_table,
    bootstrap_ci,
    bootstrap_draws,
    circular_accuracy,
    circular_questions,
    circular_random_baseline,
    circular_score,
    circular_variants,
    delta_knowledge,
    m_avg,
    make_parser,
    missing_ids,
    random_baseline,
    score,
    simulate_random,
)


def first_capital(text, question):
    """Stand-in parser: the first capital letter among the question's option letters, else ""."""
    m = re.search(f"[A-{'ABCDEFGHIJ'[len(question['options']) - 1]}]", text)
    return m[0] if m else ""


def q(qid, answer="A", n=4, task="t", duration="short", clip=None, **extra):
    """A question dict with ``n`` options named o0..o{n-1}."""
    out = {"id": qid, "suite": "mlvu", "task": task, "duration": duration, "options": [f"o{i}" for i in range(n)]}
    out.update(answer=answer, clip=clip or f"clip-{qid}", **extra)
    return out


def test_docstring_examples():
    result = doctest.testmod(metrics)
    assert result.attempted >= 6 and result.failed == 0


# ---------------------------------------------------------------------------------------------- score


def test_score_hand_worked_with_stand_in_parser():
    questions = [q("a", "B"), q("b", "C"), q("c", "A", n=3), q("d", "D")]
    predictions = [
        {"id": "a", "response": "The answer is B."},  # first capital: T -> not an option letter; B
        {"id": "b", "response": "(A) because ..."},  # A, wrong
        {"id": "c", "prediction": " a "},  # a given letter is stripped and upper-cased: A, right
    ]  # "d" has no prediction
    records = score(questions, predictions, parse=first_capital)
    assert [r["id"] for r in records] == ["a", "b", "c", "d"], "one record per question, in question order"
    assert [r["parsed"] for r in records] == ["B", "A", "A", ""]
    assert [r["correct"] for r in records] == [True, False, True, False]
    assert [r["missing"] for r in records] == [False, False, False, True]
    assert missing_ids(records) == ["d"]
    assert records[2]["num_options"] == 3 and records[0]["task"] == "t" and records[0]["clip"] == "clip-a"
    assert records[0]["response"] == "The answer is B."
    assert accuracy(records) == 50.0  # 2 of 4: the missing one counts wrong, it is not dropped (2/3 = 66.7)


def test_score_accepts_a_mapping_of_texts():
    records = score([q("a", "B"), q("b", "A")], {"a": "B", "b": "C"}, parse=first_capital)
    assert [r["correct"] for r in records] == [True, False]


def test_prediction_letter_skips_the_parser():
    def must_not_run(text, question):
        raise AssertionError("the parser ran although the prediction was a letter")

    assert score([q("a", "B")], [{"id": "a", "prediction": "B"}], parse=must_not_run)[0]["correct"]


def test_unknown_prediction_id_is_an_error_naming_it():
    with pytest.raises(ValueError, match=r"unknown question id 'zzz'"):
        score([q("a")], [{"id": "a", "prediction": "A"}, {"id": "zzz", "prediction": "A"}], parse=first_capital)


@pytest.mark.parametrize(
    ("questions", "predictions", "message"),
    [
        ([q("a"), q("a")], [], r"two questions share the id 'a'"),
        ([q("a")], [{"id": "a", "prediction": "A"}, {"id": "a", "prediction": "B"}], r"two predictions .* 'a'"),
        ([q("a", answer="E")], [], r"answer 'E' is not one of its 4 option letters ABCD"),
        ([q("a", answer="b")], [], r"answer 'b'"),
        ([{"id": "a", "answer": "A"}], [], r"no 'options' field"),
        ([q("a", n=1)], [], r"at least 2"),
        ([q("a")], [{"id": "a", "text": "A"}], r"neither 'response' .* nor 'prediction'"),
        ([q("a")], [{"response": "A"}], r"prediction #0 must be a dict with an 'id'"),
        ([q("a")], [{"id": "a", "prediction": 1}], r"must be a letter"),
    ],
)
def test_bad_input_messages(questions, predictions, message):
    with pytest.raises(ValueError, match=message):
        score(questions, predictions, parse=first_capital)


def test_parser_must_return_text():
    with pytest.raises(TypeError, match="must return a letter"):
        score([q("a")], [{"id": "a", "response": "A"}], parse=lambda text, question: None)


def test_letter_predictions_never_reach_the_parser():
    def parse(text, question):
        raise AssertionError("a letter prediction was sent to the parser")

    assert score([q("a")], [{"id": "a", "prediction": "A"}], parse=parse)[0]["correct"]


def test_make_parser_forwards_suite_option_count_and_version(monkeypatch):
    calls = []

    def parse_answer(text, suite, num_options, parser="new"):
        calls.append((text, suite, num_options, parser))
        return "C"

    monkeypatch.setattr(metrics, "parse_answer", parse_answer)
    records = score([q("a", "C", n=6)], [{"id": "a", "response": "Best option: (C"}], parse=make_parser("legacy"))
    assert records[0]["correct"] and calls == [("Best option: (C", "mlvu", 6, "legacy")]
    with pytest.raises(ValueError, match="unknown parser 'old'"):
        make_parser("old")


# ---------------------------------------------------------------------------------------------- accuracy tables


def _records(rows):
    """Records straight from (task, duration, n_options, correct) tuples."""
    return [
        {"id": str(i), "task": t, "duration": d, "num_options": n, "correct": c, "missing": False}
        for i, (t, d, n, c) in enumerate(rows)
    ]


HAND = _records(
    [
        ("count", "long", 4, True),
        ("count", "short", 4, True),
        ("count", "medium", 4, False),
        ("order", "short", 3, True),
        ("order", "short", 3, False),
        ("order", "long", 3, False),
        ("order", "long", 3, False),
    ]
)


def test_accuracy_table_by_task_hand_worked():
    table = accuracy_table(HAND, by=("task",))
    count, order = table["rows"]
    assert (count["group"], count["n"], count["correct"]) == ("count", 3, 2)
    assert count["accuracy"] == pytest.approx(200 / 3)  # 2/3
    assert count["chance"] == pytest.approx(25.0)
    assert (order["group"], order["n"], order["correct"], order["accuracy"]) == ("order", 4, 1, 25.0)
    assert order["chance"] == pytest.approx(100 / 3)
    overall = table["overall"]
    assert (overall["n"], overall["correct"]) == (7, 3)
    assert overall["accuracy"] == pytest.approx(300 / 7)  # 42.857
    assert overall["chance"] == pytest.approx(100 * (3 / 4 + 4 / 3) / 7)  # 29.762


def test_accuracy_table_by_duration_keeps_the_natural_order():
    rows = accuracy_table(HAND, by="duration")["rows"]
    assert [r["duration"] for r in rows] == ["short", "medium", "long"]  # not alphabetical (long, medium, short)
    assert [(r["n"], r["correct"]) for r in rows] == [(3, 2), (1, 0), (3, 1)]


def test_accuracy_table_by_two_fields():
    rows = accuracy_table(HAND, by=("task", "duration"))["rows"]
    groups = [r["group"] for r in rows]
    assert groups == ["count / short", "count / medium", "count / long", "order / short", "order / long"]
    assert rows[3]["accuracy"] == 50.0 and rows[4]["accuracy"] == 0.0


def test_accuracy_table_errors():
    with pytest.raises(ValueError, match="no record has a 'area' field"):
        accuracy_table(HAND, by=("area",))
    with pytest.raises(ValueError, match="no records"):
        accuracy_table([], by=("task",))


def test_missing_counts_per_group():
    records = score([q("a", task="x"), q("b", task="x"), q("c", task="y")], [{"id": "a", "prediction": "A"}])
    rows = accuracy_table(records)["rows"]
    assert [(r["group"], r["correct"], r["missing"]) for r in rows] == [("x", 1, 1), ("y", 0, 1)]


def test_m_avg_versus_overall():
    # count 2/3 = 66.67 %, order 1/4 = 25 %: M-Avg = (66.67 + 25) / 2 = 45.83; overall 3/7 = 42.86.
    assert m_avg(HAND) == pytest.approx((200 / 3 + 25) / 2)
    assert accuracy(HAND) == pytest.approx(300 / 7)
    # Equal task sizes: the two agree.
    balanced = _records(
        [("a", "short", 4, True), ("a", "long", 4, False), ("b", "short", 4, True), ("b", "long", 4, True)]
    )  # a: 1/2 = 50 %, b: 2/2 = 100 %; M-Avg (50 + 100) / 2 = 75 = overall 3/4
    assert m_avg(balanced) == accuracy(balanced) == 75.0


# ---------------------------------------------------------------------------------------------- random baselines


@pytest.mark.parametrize(("n", "expected"), [(4, 25.0), (3, 100 / 3), (6, 100 / 6), (2, 50.0)])
def test_random_baseline_analytic(n, expected):
    assert random_baseline([q(str(i), n=n) for i in range(5)]) == pytest.approx(expected)


def test_random_baseline_mixed_option_counts():
    # (1/3 + 1/4) / 2 = 7/24 = 29.17 %, not 1/3.5 = 28.57 %
    assert random_baseline([q("a", n=3), q("b", n=4)]) == pytest.approx(700 / 24)


def test_simulated_random_matches_analytic():
    rng = np.random.default_rng(0)
    questions = [q(str(i), answer="ABCDEF"[rng.integers(n)], n=n) for i, n in enumerate(rng.choice([3, 4, 6], 300))]
    n_draws = 4000
    mean, std = simulate_random(questions, n_draws=n_draws, seed=1)
    analytic = random_baseline(questions)
    assert abs(mean - analytic) < 3 * std / np.sqrt(n_draws), "mean within 3 standard errors of the analytic value"
    p = np.array([1 / len(x["options"]) for x in questions])
    expected_std = 100 * np.sqrt((p * (1 - p)).sum()) / len(questions)  # independent Bernoulli questions
    assert std == pytest.approx(expected_std, rel=0.1)
    assert simulate_random(questions, n_draws=50, seed=7) == simulate_random(questions, n_draws=50, seed=7)


def test_simulated_random_is_chunked_without_changing_the_result():
    questions = [q(str(i), answer="B") for i in range(50)]
    assert simulate_random(questions, 300, seed=2) == simulate_random(questions, 300, seed=2, max_elements=120)


# ---------------------------------------------------------------------------------------------- circular evaluation


def test_circular_variants_hand_worked():
    original = {"id": "q7", "options": ["cat", "dog", "cow", "fox"], "answer": "C", "task": "t"}
    variants = circular_variants(original)
    assert [v["id"] for v in variants] == ["q7@0", "q7@1", "q7@2", "q7@3"]
    assert variants[1]["options"] == ["dog", "cow", "fox", "cat"] and variants[1]["answer"] == "B"
    assert variants[2]["options"] == ["cow", "fox", "cat", "dog"] and variants[2]["answer"] == "A"
    assert variants[3]["options"] == ["fox", "cat", "dog", "cow"] and variants[3]["answer"] == "D"
    assert variants[0]["options"] == original["options"] and variants[0]["answer"] == "C"
    for v in variants:  # the right answer is always the same text, and the other fields are kept
        assert v["options"]["ABCD".index(v["answer"])] == "cow"
        assert v["circular_of"] == "q7" and v["task"] == "t"
    assert [v["answer"] for v in variants] == ["C", "B", "A", "D"], "every letter is right exactly once"
    assert original["id"] == "q7" and original["answer"] == "C", "the original is not modified"


@pytest.mark.parametrize("n", [3, 4, 6])
def test_position_biased_model_scores_zero_circularly(n):
    questions = [q(str(i), answer="ABCDEF"[i % n], n=n) for i in range(12)]
    variants = circular_questions(questions)
    always_a = [{"id": v["id"], "prediction": "A"} for v in variants]
    # Plain accuracy on all rotations: exactly one of the n rotations has its answer at A.
    assert accuracy(score(variants, always_a)) == pytest.approx(100 / n)
    assert circular_accuracy(questions, always_a) == 0.0
    records = circular_score(questions, always_a)
    assert all(r["rotations_correct"] == 1 for r in records)


def test_consistent_model_keeps_its_circular_score():
    questions = [q("x", answer="B"), q("y", answer="D")]
    # Always picks the option text "o1" wherever it is shown: right on x (o1 is B), wrong on y.
    picks = [
        {"id": v["id"], "prediction": "ABCD"[v["options"].index("o1")]} for v in circular_questions(questions)
    ]
    records = circular_score(questions, picks)
    assert [r["correct"] for r in records] == [True, False]
    assert records[0]["choices"] == ["B"] * 4 and records[1]["choices"] == ["B"] * 4  # same option every time
    assert circular_accuracy(questions, picks) == 50.0


def test_circular_missing_rotation_counts_wrong():
    questions = [q("x", answer="A", n=3)]
    right = [{"id": v["id"], "prediction": v["answer"]} for v in circular_questions(questions)]
    assert circular_accuracy(questions, right) == 100.0
    records = circular_score(questions, right[:2])
    assert records[0]["missing"] and not records[0]["correct"] and records[0]["rotations_correct"] == 2


def test_circular_mode_rejects_plain_ids_with_a_hint():
    with pytest.raises(ValueError, match=r"unknown question id 'x'.*'ID@0'"):
        circular_score([q("x")], [{"id": "x", "prediction": "A"}])


@pytest.mark.parametrize("n", [3, 4])
def test_random_guessing_circular_accuracy_is_one_over_n_to_the_n(n):
    # Guess every rotation independently and uniformly: all n right with probability (1/n)^n.
    questions = [q(str(i), answer="ABCD"[i % n], n=n) for i in range(6_000 if n == 3 else 15_000)]
    variants = circular_questions(questions)
    guesses = np.random.default_rng(n).integers(0, n, size=len(variants))
    predictions = [{"id": v["id"], "prediction": "ABCD"[g]} for v, g in zip(variants, guesses)]
    p = (1 / n) ** n  # 1/27 = 3.70 %, 1/256 = 0.39 %
    assert circular_random_baseline(questions) == pytest.approx(100 * p)
    standard_error = 100 * np.sqrt(p * (1 - p) / len(questions))
    assert abs(circular_accuracy(questions, predictions) - 100 * p) < 3 * standard_error
    mean, _ = simulate_random(questions[:500], n_draws=4000, seed=0, circular=True)
    assert mean == pytest.approx(100 * p, abs=3 * 100 * np.sqrt(p * (1 - p) / (500 * 4000)))


# ---------------------------------------------------------------------------------------------- bootstrap


def test_bootstrap_degenerate_cases():
    assert bootstrap_ci(np.ones(50, bool)) == (100.0, 100.0)
    assert bootstrap_ci(np.zeros(50, bool)) == (0.0, 0.0)


def test_bootstrap_two_questions_hand_worked():
    # Resampling [1, 0]: accuracy 0 (p 1/4), 50 (p 1/2), 100 (p 1/4).
    draws = bootstrap_draws([1, 0], n_boot=20_000, seed=0)
    assert set(np.unique(draws)) == {0.0, 50.0, 100.0}
    assert np.mean(draws == 50.0) == pytest.approx(0.5, abs=0.02)
    assert bootstrap_ci([1, 0], n_boot=20_000) == (0.0, 100.0)  # 2.5 % and 97.5 % quantiles
    assert bootstrap_ci([1, 0], n_boot=20_000, alpha=0.6) == (50.0, 50.0)  # 30 % and 70 % quantiles


def test_cluster_bootstrap_hand_worked():
    # Clip a: two right answers, clip b: one wrong. Drawing 2 clips: (a, a) -> 4/4 = 100 (p 1/4),
    # (a, b) -> 2/3 = 66.7 (p 1/2), (b, b) -> 0/2 = 0 (p 1/4): pooled ratio, not the mean of clip means (50).
    draws = bootstrap_draws([1, 1, 0], n_boot=20_000, clusters=["a", "a", "b"])
    assert np.allclose(np.unique(draws), [0.0, 200 / 3, 100.0])
    assert bootstrap_ci([1, 1, 0], n_boot=20_000, alpha=0.6, clusters=["a", "a", "b"]) == pytest.approx((200 / 3,) * 2)


def test_bootstrap_ci_contains_the_estimate_and_matches_the_normal_width():
    rng = np.random.default_rng(0)
    for trial in range(20):
        correct = rng.random(400) < rng.uniform(0.2, 0.9)
        low, high = bootstrap_ci(correct, seed=trial)
        point = 100 * correct.mean()
        assert low <= point <= high
        p = correct.mean()
        assert high - low == pytest.approx(2 * 1.96 * 100 * np.sqrt(p * (1 - p) / 400), rel=0.2)


def test_bootstrap_ci_narrows_with_more_questions():
    rng = np.random.default_rng(1)
    widths = []
    for n in (100, 400, 1600):
        low, high = bootstrap_ci(rng.random(n) < 0.6)
        widths.append(high - low)
    # Width ~ 1/sqrt(N): quadrupling N halves it.
    assert widths[0] > widths[1] > widths[2]
    assert widths[0] / widths[2] == pytest.approx(4, rel=0.3)


def test_cluster_bootstrap_is_wider_for_correlated_questions():
    # 150 clips x 3 questions, all three right or all three wrong: 150 independent facts, not 450.
    rng = np.random.default_rng(2)
    correct = np.repeat(rng.random(150) < 0.6, 3)
    clips = np.repeat(np.arange(150), 3)
    iid = np.subtract(*bootstrap_ci(correct)[::-1])
    clustered = np.subtract(*bootstrap_ci(correct, clusters=clips)[::-1])
    assert clustered / iid == pytest.approx(np.sqrt(3), rel=0.2)
    # One question per clip: the cluster bootstrap is the plain one.
    single = rng.random(450) < 0.6
    a, b = np.subtract(*bootstrap_ci(single)[::-1]), np.subtract(*bootstrap_ci(single, clusters=np.arange(450))[::-1])
    assert a == pytest.approx(b, rel=0.15)


def test_bootstrap_is_seeded_and_chunking_does_not_change_it():
    correct = np.random.default_rng(3).random(500) < 0.5
    a = bootstrap_draws(correct, n_boot=300, seed=5)
    assert np.array_equal(a, bootstrap_draws(correct, n_boot=300, seed=5, max_elements=1700))
    assert not np.array_equal(a, bootstrap_draws(correct, n_boot=300, seed=6))


def test_bootstrap_is_vectorised():
    # 2,000 resamples of 5,000 questions: 10 million draws; a Python loop over resamples takes many seconds.
    start = time.perf_counter()
    bootstrap_ci(np.random.default_rng(4).random(5000) < 0.5, n_boot=2000)
    assert time.perf_counter() - start < 3.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"correct": []}, "empty"),
        ({"correct": [1, 0], "alpha": 1.5}, r"alpha must be in \(0, 1\)"),
        ({"correct": [1, 0], "n_boot": 0}, "n_boot must be a positive"),
        ({"correct": [1, 0, 1], "clusters": ["a", "b"]}, "clusters has 2 labels but there are 3 questions"),
    ],
)
def test_bootstrap_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        bootstrap_ci(**kwargs)


# ---------------------------------------------------------------------------------------------- knowledge gain


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (40.0, 55.0, 25.0),  # 15 of the 60 points left: a quarter
        (80.0, 85.0, 25.0),  # 5 of 20: the same quarter from a higher start
        (0.0, 30.0, 30.0),  # from nothing, the gain is the accuracy itself
        (50.0, 50.0, 0.0),  # no change
        (50.0, 40.0, -20.0),  # watching hurt: 10 points lost of 50 headroom
        (60.0, 100.0, 100.0),  # everything right after watching: the whole headroom
        (90.0, 0.0, -900.0),  # the floor: -100 * before / (100 - before)
        (20, 60, 50.0),  # integers are fine: 40 of 80
    ],
)
def test_delta_knowledge_hand_worked(before, after, expected):
    # Video-MMMU (arXiv 2501.13826): (Acc_after - Acc_before) / (100% - Acc_before) x 100%.
    result = delta_knowledge(before, after)
    assert isinstance(result, float)
    assert result == pytest.approx(expected, abs=1e-12)


def test_delta_knowledge_undoes_to_the_after_accuracy():
    # Invariant: before + delta * (100 - before) / 100 == after, for any pair of accuracies.
    rng = np.random.default_rng(0)
    for before, after in rng.uniform(0, 100, size=(200, 2)):
        gain = delta_knowledge(before, after)
        assert before + gain * (100 - before) / 100 == pytest.approx(after, abs=1e-9)
        assert gain <= 100.0


def test_delta_knowledge_accepts_numpy_scalars_and_keeps_its_signature():
    assert delta_knowledge(np.float32(40), np.int64(55)) == pytest.approx(25.0)
    params = inspect.signature(delta_knowledge).parameters
    assert list(params) == ["acc_before", "acc_after"]  # another suite calls it by these names


@pytest.mark.parametrize(
    ("before", "after", "error", "message"),
    [
        (100.0, 100.0, ValueError, "undefined"),
        (100, 90.0, ValueError, "undefined"),
        (-0.1, 50.0, ValueError, "acc_before must be an accuracy in percent, from 0 to 100"),
        (50.0, 100.5, ValueError, "acc_after must be an accuracy in percent, from 0 to 100"),
        (float("nan"), 50.0, ValueError, "acc_before must be"),
        (50.0, float("inf"), ValueError, "acc_after must be"),
        ("40", 55.0, TypeError, "acc_before must be an accuracy"),
        (40.0, None, TypeError, "acc_after must be an accuracy"),
        (True, 55.0, TypeError, "acc_before"),
    ],
)
def test_delta_knowledge_errors(before, after, error, message):
    with pytest.raises(error, match=message):
        delta_knowledge(before, after)
