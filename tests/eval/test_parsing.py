"""Tests for ``videollm.eval.parsing``: agreement with lmms-eval's answer parsers, quirk by quirk.

Upstream versions checked against (EvolvingLMMs-Lab/lmms-eval):
- legacy parsers @ bd51fabcd70c7426b64249a805ed50f346370d67 (2026-02-27)
- new parser     @ 75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3 (2026-08-06; introduced by 9ca4445d, 2026-04-11)

The expected values in ``tests/data/model_outputs.jsonl`` were produced by running those upstream functions
(never this module) over every line; see ``tests/data/README.md``. Hand-worked examples below were also
checked against the upstream functions when they were written.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from functools import cache
from pathlib import Path

import pytest

from videollm.eval import parsing
from videollm.eval.parsing import (
    DISAGREEMENTS,
    FORMAT_PRIORITY,
    LETTERS,
    SUITES,
    extract_mcq_answer,
    mcq_candidates,
    mlvu_legacy,
    mmmu_legacy,
    mmmu_new,
    parse_answer,
    parse_both,
    perceptiontest_legacy,
    videomme_legacy,
)

CORPUS = Path(__file__).resolve().parents[1] / "data" / "model_outputs.jsonl"

# How many corpus lines each suite's legacy and new parsers score differently (out of the lines tagged
# with that suite). Changing the corpus or the parsers changes these; update them, the module docstring of
# videollm/eval/parsing.py and tests/data/README.md together.
EXPECTED_DISAGREEMENTS = {"videomme": 53, "perception": 0, "mlvu": 182, "videommmu": 83}
EXPECTED_TAGGED = {"videomme": 253, "perception": 41, "mlvu": 289, "videommmu": 330}


@cache
def _corpus() -> tuple[dict, tuple[dict, ...]]:
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    meta = json.loads(lines[0])["_meta"]
    return meta, tuple(json.loads(line) for line in lines[1:] if line.strip())


def _records() -> tuple[dict, ...]:
    return _corpus()[1]


# Our function for each stored upstream result (raw return values, not normalised).
OURS = {
    "videomme_legacy": lambda r: videomme_legacy(r["text"]),
    "videomme_new": lambda r: extract_mcq_answer(r["text"], ["A", "B", "C", "D"]),
    "perception_legacy": lambda r: perceptiontest_legacy(r["text"]),
    "perception_new": lambda r: perceptiontest_legacy(r["text"]),
    "mlvu_legacy": lambda r: mlvu_legacy(r["text"]),
    "mlvu_new": lambda r: extract_mcq_answer(r["text"], ["A", "B", "C", "D"]),
    "mcq_extract_default": lambda r: extract_mcq_answer(r["text"]),
    "mcq_extract_faithful": lambda r: extract_mcq_answer(r["text"], LETTERS[: r["num_options"]]),
    "videommmu_legacy": lambda r: mmmu_legacy(r["text"], r["options"]),
    "videommmu_new": lambda r: mmmu_new(r["text"], r["options"]),
}


def _scored(raw: str) -> str:
    """What lmms-eval's comparison can match, independently of the module: one capital letter or ''."""
    return raw if len(raw) == 1 and raw.isascii() and raw.isupper() else ""


# ---------------------------------------------------------------------------------------------- the corpus


def test_corpus_header_names_the_commits_the_module_mirrors():
    meta, records = _corpus()
    assert meta["lmms_eval_legacy_commit"] == parsing.LEGACY_COMMIT
    assert meta["lmms_eval_new_commit"] == parsing.NEW_COMMIT
    assert meta["parser_change_commit"] == parsing.CHANGE_COMMIT
    assert set(meta["upstream_keys"]) == set(OURS)
    assert len(records) >= 200


def test_corpus_lines_are_well_formed():
    records = _records()
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)), "duplicate ids"
    keys = Counter((r["text"], r["num_options"]) for r in records)
    assert not [k for k, n in keys.items() if n > 1], "duplicate (text, num_options) lines"
    for r in records:
        assert set(r) >= {"id", "category", "text", "num_options", "options", "suites", "intended", "upstream"}, r["id"]
        assert len(r["options"]) == r["num_options"], r["id"]
        assert set(r["suites"]) <= set(SUITES), r["id"]
        assert set(r["upstream"]) == set(OURS), r["id"]
        assert r["intended"] == "" or r["intended"] in LETTERS[: r["num_options"]], r["id"]
    # the corpus covers what it claims to
    assert {r["num_options"] for r in records} == {3, 4, 6}
    assert {"cjk", "empty", "refusal", "truncated", "six_options", "article", "markdown", "cot"} <= {
        r["category"] for r in records
    }


@pytest.mark.parametrize("key", sorted(OURS))
def test_matches_upstream_on_every_corpus_line(key):
    mismatches = []
    for r in _records():
        ours = OURS[key](r)
        if ours != r["upstream"][key]:
            mismatches.append(f"{r['id']} {r['text']!r}: upstream {r['upstream'][key]!r}, ours {ours!r}")
    assert not mismatches, f"{len(mismatches)} mismatches for {key}:\n" + "\n".join(mismatches[:25])


def test_parse_answer_scores_like_upstream_on_every_corpus_line():
    mismatches = []
    for r in _records():
        u, n, opts = r["upstream"], r["num_options"], r["options"]
        for suite in r["suites"]:
            for parser in ("legacy", "new"):
                want = _scored(u[f"{suite}_{parser}"])
                got = parse_answer(r["text"], suite, n, parser, options=opts)
                if got != want:
                    mismatches.append(f"{r['id']} {suite}/{parser} {r['text']!r}: upstream {want!r}, ours {got!r}")
            got = parse_answer(r["text"], suite, n, "new", faithful_choices=True)
            if got != u["mcq_extract_faithful"]:
                mismatches.append(f"{r['id']} {suite}/faithful {r['text']!r}: {u['mcq_extract_faithful']!r} vs {got!r}")
    assert not mismatches, f"{len(mismatches)} mismatches:\n" + "\n".join(mismatches[:25])


def test_new_parser_reads_the_intended_letter_more_often_than_legacy():
    """Not an upstream-agreement check: on the corpus, the new parser is closer to a human reader."""
    hits = defaultdict(Counter)
    for r in _records():
        for suite in r["suites"]:
            for parser in ("legacy", "new"):
                got = parse_answer(r["text"], suite, r["num_options"], parser, options=r["options"])
                hits[suite][parser] += got == r["intended"]
            hits[suite]["faithful"] += parse_answer(r["text"], suite, r["num_options"], faithful_choices=True) == r[
                "intended"
            ]
    for suite in ("videomme", "mlvu", "videommmu"):
        assert hits[suite]["new"] > hits[suite]["legacy"], (suite, hits[suite])
    assert hits["mlvu"]["faithful"] > hits["mlvu"]["new"], hits["mlvu"]  # E/F become readable


# ------------------------------------------------------------------------------------ legacy vs new


def _disagreements() -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {s: [] for s in SUITES}
    for r in _records():
        for suite in r["suites"]:
            if not parse_both(r["text"], suite, r["num_options"], options=r["options"])["agree"]:
                found[suite].append(r)
    return found


def test_disagreement_counts_per_suite():
    tagged = Counter(s for r in _records() for s in r["suites"])
    assert dict(tagged) == EXPECTED_TAGGED
    counts = {s: len(rows) for s, rows in _disagreements().items()}
    assert counts == EXPECTED_DISAGREEMENTS
    assert counts["perception"] == 0  # PerceptionTest's parser was not changed by 9ca4445d
    assert all(counts[s] > 0 for s in ("videomme", "mlvu", "videommmu"))


def test_every_disagreement_is_of_a_documented_kind():
    undocumented = []
    for suite, rows in _disagreements().items():
        for r in rows:
            if r["category"] not in DISAGREEMENTS[suite]:
                undocumented.append(f"{suite}: {r['id']} [{r['category']}] {r['text']!r}")
    assert not undocumented, "document these kinds in parsing.DISAGREEMENTS:\n" + "\n".join(undocumented)
    # and no documented kind is stale
    for suite, rows in _disagreements().items():
        assert set(DISAGREEMENTS[suite]) == {r["category"] for r in rows}, suite


def test_documented_disagreement_examples_are_upstream_backed():
    by_key = {(r["text"], r["num_options"]): r for r in _records()}
    for suite, kinds in DISAGREEMENTS.items():
        for kind, (text, n, legacy, new, why) in kinds.items():
            assert why, (suite, kind)
            r = by_key.get((text, n))
            assert r is not None, f"{suite}/{kind}: example {text!r} is not a corpus line"
            assert r["category"] == kind and suite in r["suites"], (suite, kind)
            assert _scored(r["upstream"][f"{suite}_legacy"]) == legacy, (suite, kind)
            assert _scored(r["upstream"][f"{suite}_new"]) == new, (suite, kind)
            assert legacy != new
            got = parse_both(text, suite, n, options=r["options"])
            assert (got["legacy"], got["new"]) == (legacy, new), (suite, kind, got)


# ------------------------------------------------------------------------- ranking of the new parser


# (reply, letter returned, format that wins, letter the next-lower format would have given)
PRIORITY_EXAMPLES = [
    ("A or B", "A", "start", "B"),  # start 10 > end 9
    ("The answer is D, not B, so D", "D", "end", "B"),  # end 9 > phrase 7 (phrase alone: B, found later)
    ("(A) is wrong; the answer is B really", "B", "phrase", "A"),  # phrase 7 > parentheses 6
    ("(B), because D. was ruled out earlier", "B", "parentheses", "D"),  # parentheses 6 > period 5
    ("Check D: no; B. yes, clearly", "B", "period", "D"),  # period 5 > colon 4
    ("Check A) first, then C: yes, clearly", "C", "colon", "A"),  # colon 4 > right_paren 3
    ("Check D first, then B) wins, clearly", "B", "right_paren", "D"),  # right_paren 3 > space 2
]  # space 2 > fallback 0: see test_fallback_only_without_other_candidates


@pytest.mark.parametrize("text, letter, fmt, loser", PRIORITY_EXAMPLES)
def test_ranking_priority(text, letter, fmt, loser):
    assert extract_mcq_answer(text, "ABCD") == letter
    cands = mcq_candidates(text, "ABCD")
    best = max(FORMAT_PRIORITY[f] for _, _, f in cands)
    assert FORMAT_PRIORITY[fmt] == best and (letter, fmt) in {(x, f) for x, _, f in cands}
    # the losing letter really was a candidate, only in lower-priority formats
    loser_formats = [f for x, _, f in cands if x == loser]
    assert loser_formats and max(FORMAT_PRIORITY[f] for f in loser_formats) < FORMAT_PRIORITY[fmt]


def test_priority_order_is_as_documented():
    order = sorted(FORMAT_PRIORITY, key=FORMAT_PRIORITY.get, reverse=True)
    assert order == ["start", "end", "phrase", "parentheses", "period", "colon", "right_paren", "space", "fallback"]


def test_fallback_only_without_other_candidates():
    # the D of "Definitely" is a fallback candidate only when nothing else is found
    assert extract_mcq_answer("Definitely B here", "ABCD") == "B"
    assert extract_mcq_answer("Definitely", "ABCD") == "D"
    assert extract_mcq_answer("Can't tell", "ABCD") == "C"
    assert [f for _, _, f in mcq_candidates("Definitely B here", "ABCD")] == ["space"]


def test_ties_in_a_format_go_to_the_last_position():
    assert extract_mcq_answer("Maybe (A) or (C) then", "ABCD") == "C"
    assert extract_mcq_answer("Maybe (C) or (A) then", "ABCD") == "A"
    # after an answer phrase the letter that occurs later wins, even when it is negated
    assert extract_mcq_answer("The answer is B (not A or C).", "ABC") == "C"
    assert extract_mcq_answer("The answer is D, not B, so", "ABCD") == "B"


# ----------------------------------------------------------------------------------- documented quirks


def test_videomme_missing_comma_and_first_capital():
    assert videomme_legacy("Best answer: C") == "B"  # "Best answer:" is never deleted (missing comma)
    assert videomme_legacy("Best answer:Best option: C") == "C"  # only the glued literal is
    assert videomme_legacy("Based on the video, C") == "B"
    assert videomme_legacy("Clearly, B") == "C"
    assert videomme_legacy("The answer is C") == "C"
    assert videomme_legacy("b") == ""
    assert parsing.VIDEOMME_PREFIXES[4] == "The best option isThe correct option is"
    assert parse_answer("Best answer: C", "videomme", 4) == "C"


def test_perceptiontest_regex():
    assert perceptiontest_legacy("D") == "D"  # 3 options, yet D is accepted
    assert parse_answer("D", "perception", 3) == "D"
    assert parse_answer("D", "perception", 3, faithful_choices=True) == ""  # the course's fix: A-C only
    assert perceptiontest_legacy("答案是B") == ""  # no word boundary between 是 and B
    assert perceptiontest_legacy("答案是 B") == "B"
    assert perceptiontest_legacy("B_") == ""  # underscore is a word character
    assert perceptiontest_legacy("A man walks in. He sits down. Answer: B") == "A"
    for text in ("The answer is (B).", "答案是B", "D", ""):
        assert parse_answer(text, "perception", 3, "legacy") == parse_answer(text, "perception", 3, "new")


def test_mlvu_legacy_returns_the_reply_when_there_is_no_paren():
    assert mlvu_legacy("B) the blue circle") == "B"
    assert mlvu_legacy("(C)") == "C"
    assert mlvu_legacy("B.") == "B."
    assert mlvu_legacy("The answer is B") == "The answer is B"
    assert mlvu_legacy(" C ") == "C"
    assert mlvu_legacy("b)") == "b"
    assert mlvu_legacy(")") == ""
    assert mlvu_legacy("E) the pink hexagon") == "E"
    assert parse_answer("B.", "mlvu", 4, "legacy") == ""  # compared verbatim upstream: never equals "B"
    assert parse_answer("b)", "mlvu", 4, "legacy") == ""


def test_mlvu_test_new_parser_passes_only_a_to_d():
    for text, letter in [("E) the pink hexagon", "E"), ("F", "F"), ("(E)", "E"), ("The answer is F.", "F")]:
        assert parse_answer(text, "mlvu", 6) == ""
        assert parse_answer(text, "mlvu", 6, faithful_choices=True) == letter
        assert extract_mcq_answer(text) == letter  # upstream's own default (A-H) would have read it
    assert parse_answer("Answer: (E)", "mlvu", 6) == "A"  # worse than nothing: the A of "Answer"
    assert parse_both("F) 6", "mlvu", 6) == {"legacy": "F", "new": "", "faithful": "F", "agree": False}


def test_mmmu_legacy_quirks():
    four = ["the red square", "the blue circle", "the green triangle", "the yellow star"]
    assert mmmu_legacy("", four) == parsing.API_ERROR  # dropped from the denominator upstream
    assert mmmu_legacy(None, four) == parsing.API_ERROR
    assert mmmu_legacy("API Error", four) == parsing.API_ERROR
    assert mmmu_legacy("   ", four) == parsing.NO_ANSWER
    assert mmmu_legacy("B)", four) == parsing.NO_ANSWER  # no "X)" format
    assert mmmu_legacy("**B**", four) == parsing.NO_ANSWER
    assert mmmu_legacy("A or B", four) == "B"  # last "X " wins
    assert mmmu_legacy("It is the blue circle that moves first here.", four) == "B"  # option text, > 5 words
    assert mmmu_legacy("the blue circle moves faster", four) == parsing.NO_ANSWER  # only 5 words
    # content ties (one option's text starts another's) go to the earlier option, as numpy.argmax
    text = "He picks up the cup on the table in the end."
    assert mmmu_legacy(text, ["the cup", "the cup on the table", "the plate"]) == "A"
    assert mmmu_legacy(text, ["the cup on the table", "the cup", "the plate"]) == "A"
    assert mmmu_new("", four) == parsing.NO_ANSWER and mmmu_new("**E**", 5) == "E"
    assert parse_answer("", "videommmu", 4, "legacy", options=four) == ""


def test_new_parser_quirks():
    assert extract_mcq_answer("b", "ABCD") == ""  # case-sensitive
    assert extract_mcq_answer("A cat jumps onto the table, then B.", "ABCD") == "A"  # the article trap
    assert extract_mcq_answer("A red square moves to the left.", "ABCD") == "A"
    assert extract_mcq_answer("G") == "G"  # default choices are A-H
    assert extract_mcq_answer("G", "ABCD") == ""
    assert extract_mcq_answer("答案是B", "ABCD") == "B"
    assert extract_mcq_answer("选项 A", "ABCD") == "A"
    # edge characters are peeled one kind at a time: the quote goes last and uncovers "C.", no "end" candidate
    assert extract_mcq_answer('Not (A). I would go with "C."', "ABCD") == "A"
    assert extract_mcq_answer("Not (A). I would go with C.", "ABCD") == "C"
    # an "end" letter must not follow another letter: "DVD" ends in D but is a word
    assert extract_mcq_answer("(B) because the box is labelled DVD", "ABCD") == "B"
    # lower-cased offsets: "İ" lowers to two characters, so the letter after the phrase is missed
    assert extract_mcq_answer("İİİİİİİİ (A) looks wrong; the answer is B, surely", "ABCD") == "A"
    assert extract_mcq_answer("IIIIIIII (A) looks wrong; the answer is B, surely", "ABCD") == "B"


# ---------------------------------------------------------------------------- empty output and bad input


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("parser", ["legacy", "new"])
@pytest.mark.parametrize("text", [None, "", "   ", "\n"])
def test_empty_output_parses_to_nothing(text, suite, parser):
    assert parse_answer(text, suite, 4, parser, options=["w", "x", "y", "z"]) == ""


def test_bad_input_gives_clear_errors():
    with pytest.raises(ValueError, match="unknown suite 'mmbench'"):
        parse_answer("B", "mmbench", 4)
    with pytest.raises(ValueError, match="unknown parser 'old'"):
        parse_answer("B", "videomme", 4, parser="old")
    with pytest.raises(ValueError, match="num_options must be between 2 and 26; got 1"):
        parse_answer("B", "videomme", 1)
    with pytest.raises(ValueError, match="num_options must be between 2 and 26; got 27"):
        parse_answer("B", "mlvu", 27)
    with pytest.raises(TypeError, match="num_options must be an int"):
        parse_answer("B", "mlvu", "4")
    with pytest.raises(TypeError, match="model output must be a string.*got int 3"):
        parse_answer(3, "videomme", 4)
    with pytest.raises(TypeError, match="model output must be a string.*got list"):
        parse_both(["B"], "videomme", 4)
    with pytest.raises(ValueError, match="faithful_choices applies to parser='new' only"):
        parse_answer("B", "mlvu", 6, parser="legacy", faithful_choices=True)
    with pytest.raises(ValueError, match="videommmu' with parser='legacy' needs options"):
        parse_answer("B", "videommmu", 4, parser="legacy")
    with pytest.raises(ValueError, match="num_options is 4 but 3 option texts"):
        parse_answer("B", "videommmu", 4, options=["x", "y", "z"])
    with pytest.raises(ValueError, match="choices is empty"):
        extract_mcq_answer("B", [])
    with pytest.raises(ValueError, match="single non-space character"):
        extract_mcq_answer("B", ["AB", "C"])
    with pytest.raises(TypeError, match="options must be a list"):
        mmmu_legacy("B", "ABCD")
