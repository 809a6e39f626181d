"""Tests for videollm.eval.knowledge (per-track accuracy and Δknowledge), its place in ``python -m videollm.eval`` and
in the baselines table, and option letters up to J. Expected numbers are worked by hand in the comments."""

from __future__ import annotations

import json

import pytest

from videollm.eval import knowledge, oracle
from videollm.eval.parsing import parse_answer
from videollm.eval.report import build_report, format_table, main
from videollm.world.suites import LETTERS, load_questions

TEN = [f"outcome {i}" for i in range(10)]


def question(qid, track, answer, n):
    return {"id": qid, "suite": "videommmu", "split": "test", "clip": qid[:2], "task": track, "track": track,
            "options": (TEN if n == 10 else TEN[:n]), "answer": answer}


# Two lessons (clips c1, c2): 2 perception, 2 comprehension, 4 adaptation questions (two quiz variants per lesson).
QUESTIONS = [
    question("c1p", "perception", "A", 5), question("c2p", "perception", "E", 5),
    question("c1c", "comprehension", "B", 5), question("c2c", "comprehension", "C", 5),
    question("c1a", "adaptation", "J", 10), question("c1b", "adaptation", "A", 10),
    question("c2a", "adaptation", "E", 10), question("c2b", "adaptation", "G", 10),
]
# After watching: perception 1/2, comprehension 2/2, adaptation 3/4 (c2b missing); overall 6/8.
AFTER = [{"id": "c1p", "prediction": "A"}, {"id": "c2p", "prediction": "B"}, {"id": "c1c", "prediction": "B"},
         {"id": "c2c", "prediction": "C"}, {"id": "c1a", "response": "The answer is J."},
         {"id": "c1b", "prediction": "A"}, {"id": "c2a", "prediction": "E"}]
# Without the video: adaptation 1/4 (c1a right; c2b missing counts wrong).
BEFORE = [{"id": "c1a", "prediction": "J"}, {"id": "c1b", "prediction": "B"}, {"id": "c2a", "prediction": "F"}]


def test_knowledge_scores_hand_worked():
    result = knowledge.knowledge_scores(QUESTIONS, AFTER, BEFORE)
    assert result["tracks"] == pytest.approx({"perception": 50.0, "comprehension": 100.0, "adaptation": 75.0})
    assert result["overall"] == pytest.approx(75.0)  # 6 / 8: every question weighs the same
    assert result["n"] == {"perception": 2, "comprehension": 2, "adaptation": 4}
    assert result["before"] == pytest.approx(25.0) and result["after"] == pytest.approx(75.0)
    assert result["delta_knowledge"] == pytest.approx(100 * (75 - 25) / (100 - 25))  # 66.7: 50 of 75 points closed
    assert knowledge.knowledge_scores(QUESTIONS, AFTER)["delta_knowledge"] is None


def test_knowledge_scores_refuse_what_is_not_an_adaptation_answer_without_the_video():
    with pytest.raises(ValueError, match="adaptation questions only.*'c1p' is a perception question"):
        knowledge.knowledge_scores(QUESTIONS, AFTER, BEFORE + [{"id": "c1p", "prediction": "A"}])
    with pytest.raises(ValueError, match="unknown question id 'zz'"):
        knowledge.knowledge_scores(QUESTIONS, AFTER, [{"id": "zz", "prediction": "A"}])
    with pytest.raises(ValueError, match="tracks"):
        knowledge.knowledge_scores([dict(QUESTIONS[0], track="count", task="count")], [])
    with pytest.raises(ValueError, match="no adaptation question"):
        knowledge.knowledge_scores(QUESTIONS[:4], AFTER[:4])


def test_letters_up_to_j_are_parsed_for_ten_options():
    assert LETTERS[9] == "J"
    assert parse_answer("The answer is J.", "videommmu", 10) == "J"
    assert parse_answer("(I) the blue square vanishes", "videommmu", 10) == "I"
    assert parse_answer("J. outcome 9", "videommmu", 10, parser="legacy", options=TEN) == "J"
    # With ten options "I" is a letter too: a reply that opens with the pronoun reads as option I.
    assert parse_answer("I think it grows", "videommmu", 10) == "I"
    assert parse_answer("I think it grows", "videommmu", 4) == ""


def test_the_results_command_adds_the_knowledge_gain(tmp_path, capsys):
    after, before = tmp_path / "after.jsonl", tmp_path / "before.jsonl"
    after.write_text("".join(json.dumps(p) + "\n" for p in AFTER))
    before.write_text("".join(json.dumps(p) + "\n" for p in BEFORE))
    assert main(["videommmu", str(after), "--before", str(before)], questions=QUESTIONS) == 0
    out = capsys.readouterr().out
    assert out.startswith("Video-MMMU · split test · 8 questions")
    rows = [line.split()[0] for line in out.splitlines()[3:6]]
    assert rows == ["perception", "comprehension", "adaptation"]  # in the order of learning
    assert "Δknowledge +66.7%: adaptation 25.0% without the video, 75.0% with it" in out
    assert main(["videommmu", str(after), "--before", str(before), "--circular"], questions=QUESTIONS) == 2
    assert "cannot be combined" in capsys.readouterr().err


def test_the_legacy_video_mmmu_parser_reads_the_option_texts():
    # More than five words and no letter: the legacy MMMU parser matches an option's text, the new one finds nothing.
    reply = {"id": "c1a", "response": "my guess is that in the end it is outcome 9 here"}
    legacy = build_report(QUESTIONS, [reply], "videommmu", parser="legacy")
    new = build_report(QUESTIONS, [reply], "videommmu", parser="new")
    pick = {r["id"]: r["parsed"] for r in legacy["records"]}
    assert pick["c1a"] == "J" and {r["id"]: r["parsed"] for r in new["records"]}["c1a"] == ""
    assert "knowledge" not in legacy and "Δknowledge" not in format_table(legacy)


def test_the_question_image_oracle_can_only_guess_on_adaptation():
    records = [r for r in load_questions("videommmu", "val") if r["track"] == "adaptation"]
    before = knowledge.question_image_predictions(records)
    assert set(before) == {r["id"] for r in records}
    assert oracle.accuracy(records, before) < 30  # chance is 10%: 60 guesses stay well below 30%


def test_the_baseline_table_on_the_validation_split():
    table = knowledge.knowledge_table("val")
    assert list(table) == ["random (expected)", "blind (question only)", "oracle, 4 frames", "oracle, 16 frames",
                           "oracle, 64 frames", "oracle, all frames"]
    random_row = table["random (expected)"]
    # 5, 5 and 10 options: 20, 20, 10; overall (20 + 20 + 10) / 3 with equally many questions per track.
    assert [random_row[c] for c in knowledge.COLUMNS] == pytest.approx([20, 20, 10, 50 / 3, 10, 0])
    blind = table["blind (question only)"]
    assert blind["adaptation, no video"] == blind["adaptation"] and blind["Δknowledge"] == 0  # never sees a video
    everything = table["oracle, all frames"]
    assert all(everything[t] == 100 for t in ("perception", "comprehension", "adaptation", "overall"))
    assert everything["Δknowledge"] == 100 and everything["adaptation, no video"] < 30
    text = knowledge.format_knowledge_table(table)
    assert text.splitlines()[0].startswith("| baseline | perception | comprehension | adaptation | overall")
    assert "| oracle, all frames | 100.0 | 100.0 | 100.0 | 100.0 |" in text
