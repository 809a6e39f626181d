"""Unit 09 — turn a model's free-text reply into an option letter, exactly the way lmms-eval does.

A video LLM asked a multiple-choice question answers in prose: ``"B"``, ``"The answer is (B)."``,
``"Based on the video, C"``, ``"答案是B"``, a paragraph of reasoning, a refusal. Before anything can be scored
the reply has to become a letter, and *that step is part of the benchmark*: two parsers fed the same replies
give different accuracies. This module re-implements, in our own code, the parsers of the evaluation harness
most papers use, `lmms-eval <https://github.com/EvolvingLMMs-Lab/lmms-eval>`_, in both of their generations.

What changed upstream
---------------------
Until April 2026 every lmms-eval task carried its own extractor:

- **Video-MME** took the first capital ``A``-``D`` anywhere in the reply, after deleting a few answer
  prefixes. Because the deletion list misses a comma, ``"Best answer:"`` is never deleted, so
  ``"Best answer: C"`` parses as ``"B"``, and so does every reply that opens with "Based on ...".
- **MLVU** took the character just before the first ``")"``, and otherwise returned the *whole* reply, so a
  reply of ``"B."`` or ``"The answer is B"`` was compared verbatim with ``"B"`` and counted wrong.
- **Video-MMMU** used an MMMU-style parser (``X.``/``X:`` first, then ``(X)``, then ``X``-space, then matching
  the option texts; the last occurrence wins), answering ``"No Answer Found."`` when nothing matched and
  ``"API Error"`` for an empty reply (those are dropped from the denominator).
- **PerceptionTest** (val, generative MC) took the first stand-alone ``A``-``D`` (regex ``\\b([A-D])\\b``).

Commit ``9ca4445d`` (2026-04-11, PR #1274, "improve evaluation logic across 10+ existing benchmarks") routed
Video-MME, MLVU (dev *and* test) and Video-MMMU through one shared ranking extractor,
``lmms_eval/tasks/_task_utils/mcq_extract.py::extract_mcq_answer`` (added the same day in ``d0c1eae7``; its
Korean/Chinese/Japanese phrases in ``7a69a9a1``). It collects every place a choice letter could be the
answer, gives each a format priority and returns the best (:func:`extract_mcq_answer`). PerceptionTest's
regex was **not** changed: at ``75571cf`` it is still the legacy one, so for that suite "new" == "legacy".

Why it matters for published numbers: results from 2024-2025 papers were produced by the legacy parsers.
Re-running the same model today gives a different number even with identical generations. On this
module's deliberately varied test corpus (330 replies) the two generations disagree on 53 of 253
Video-MME-style replies, 182 of 289 MLVU-style ones, 83 of 330 Video-MMMU-style ones and none of the
PerceptionTest ones; :data:`DISAGREEMENTS` lists the kinds, with an example each. Always report the
lmms-eval commit (or, here, ``parser=``) next to an accuracy, and compare only numbers produced by the same
parser.

Upstream versions mirrored (checked by ``tests/eval/test_parsing.py`` against the real functions' outputs
stored in ``tests/data/model_outputs.jsonl``):

- legacy: ``bd51fabcd70c7426b64249a805ed50f346370d67`` (2026-02-27, before the change),
- new:    ``75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3`` (2026-08-06, newest stored; the parser code is as
  introduced by ``9ca4445d``).

Which function to call
----------------------
- :func:`parse_answer` -- the course's entry point: ``(text, suite, num_options, parser)`` -> ``"A"``... or ``""``.
  It returns the letter lmms-eval would *score*: a single capital letter, or ``""`` when lmms-eval's
  prediction could never equal an answer letter (``"b"``, ``"The answer is B"``, ``"No Answer Found."``).
  A returned letter may lie outside the question's options (PerceptionTest's ``"D"``); it then scores wrong,
  as upstream.
- :func:`parse_both` -- both generations side by side, to see where they disagree.
- The mirrors, returning exactly what the upstream function returns (raw strings, not normalised):
  :func:`extract_mcq_answer`, :func:`videomme_legacy`, :func:`perceptiontest_legacy`, :func:`mlvu_legacy`,
  :func:`mmmu_legacy`, :func:`mmmu_new`.

The course's suites and the upstream tasks they mirror (:data:`SUITE_TASKS`):

- ``"videomme"``   -> ``videomme`` / ``videomme_w_subtitle`` (4 options).
  legacy: :func:`videomme_legacy`; new: ``extract_mcq_answer`` with choices A-D.
- ``"perception"`` -> ``perceptiontest_val_mc`` (3 options).
  legacy and new: :func:`perceptiontest_legacy` (the regex was not changed).
- ``"mlvu"``       -> ``mlvu_dev`` (4 options) and ``mlvu_test`` (6 options).
  legacy: :func:`mlvu_legacy`; new: ``extract_mcq_answer`` with choices A-D, *also for 6 options*.
- ``"videommmu"``  -> ``video_mmmu_{perception,comprehension,adaptation}``, multiple-choice questions.
  legacy: :func:`mmmu_legacy` (needs the option texts); new: :func:`mmmu_new`.

``faithful_choices=True`` (with ``parser="new"``) is the course's fix: it calls the ranking extractor with
exactly the question's letters (``A``..``F`` for a 6-option MLVU test question, ``A``..``C`` for
PerceptionTest) instead of what lmms-eval passes, so ``E`` and ``F`` become parseable. Numbers computed that
way are *not* lmms-eval numbers; label them.

Everything is pure Python on strings; no network, no model.

>>> parse_answer("Based on the video, C", "videomme", 4, parser="legacy")
'B'
>>> parse_answer("Based on the video, C", "videomme", 4)
'C'
>>> parse_answer("E) the pink hexagon", "mlvu", 6)          # lmms-eval's mlvu_test passes only A-D
''
>>> parse_answer("E) the pink hexagon", "mlvu", 6, faithful_choices=True)
'E'
>>> parse_both("Best answer: C", "videomme", 4)
{'legacy': 'B', 'new': 'C', 'faithful': 'C', 'agree': False}

Lecture: `lectures/09_evaluation.ipynb` §3.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from videollm.choices import LETTERS

# ------------------------------------------------------------------------------------------------ constants

LMMS_EVAL_REPO = "EvolvingLMMs-Lab/lmms-eval"
LEGACY_COMMIT = "bd51fabcd70c7426b64249a805ed50f346370d67"  # 2026-02-27, last stored commit before the change
CHANGE_COMMIT = "9ca4445d0c1c4bcb4964eca6137fecd34ff5084e"  # 2026-04-11, per-task parsers -> extract_mcq_answer
NEW_COMMIT = "75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3"  # 2026-08-06, newest stored; the "new" parsers

SUITES = ("videomme", "perception", "mlvu", "videommmu")
PARSERS = ("new", "legacy")
MAX_OPTIONS = len(LETTERS)

#: Which lmms-eval task each course suite mirrors, and the upstream function behind each parser.
SUITE_TASKS: dict[str, dict[str, str]] = {
    "videomme": {
        "task": "videomme, videomme_w_subtitle (4 options)",
        "legacy": "lmms_eval/tasks/videomme/utils.py::extract_characters_regex @ bd51fabc",
        "new": "extract_characters_regex -> extract_mcq_answer(s, choices=['A','B','C','D']) @ 9ca4445d..75571cf",
    },
    "perception": {
        "task": "perceptiontest_val_mc (3 options)",
        "legacy": "lmms_eval/tasks/perceptiontest/val/utils.py::perceptiontest_val_process_results_mc @ bd51fabc",
        "new": "the same regex: 9ca4445d did not touch PerceptionTest (still so @ 75571cf)",
    },
    "mlvu": {
        "task": "mlvu_dev (4 options), mlvu_test (6 options)",
        "legacy": "lmms_eval/tasks/mlvu/utils.py::extract_characters_regex @ bd51fabc",
        "new": "extract_characters_regex -> extract_mcq_answer(s, choices=['A','B','C','D']) @ 9ca4445d..75571cf "
        "(also for mlvu_test's 6 options)",
    },
    "videommmu": {
        "task": "video_mmmu_{perception,comprehension,adaptation}, multiple-choice questions",
        "legacy": "lmms_eval/tasks/videommmu/utils.py::parse_multi_choice_response @ bd51fabc",
        "new": "parse_multi_choice_response -> extract_mcq_answer(response, choices=all_choices) "
        "or 'No Answer Found.' @ 9ca4445d..75571cf",
    },
}

# What the MMMU-style parsers answer when they find nothing, and for an empty reply (legacy only).
NO_ANSWER = "No Answer Found."
API_ERROR = "API Error"

# ---------------------------------------------------------------------------------------- input checking


def _as_text(text: object, what: str = "model output") -> str:
    """``None`` (no generation) -> ``""``; a string passes; anything else is a clear error."""
    if text is None:
        return ""
    if not isinstance(text, str):
        raise TypeError(
            f"{what} must be a string (or None for an empty generation); got {type(text).__name__} {text!r:.80}"
        )
    return text


def _check_num_options(num_options: object) -> int:
    if isinstance(num_options, bool) or not isinstance(num_options, int):
        raise TypeError(f"num_options must be an int between 2 and {MAX_OPTIONS}; got {num_options!r}")
    if not 2 <= num_options <= MAX_OPTIONS:
        raise ValueError(f"num_options must be between 2 and {MAX_OPTIONS}; got {num_options}")
    return num_options


def _check_suite(suite: object) -> str:
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; choose one of {', '.join(SUITES)}")
    return suite  # type: ignore[return-value]


def _check_parser(parser: object) -> str:
    if parser not in PARSERS:
        raise ValueError(f"unknown parser {parser!r}; choose 'new' (lmms-eval after 9ca4445d) or 'legacy' (before)")
    return parser  # type: ignore[return-value]


def _check_choices(choices: Iterable[str] | None) -> tuple[str, ...]:
    if choices is None:
        return MCQ_DEFAULT_CHOICES
    if isinstance(choices, str):  # "ABCD" is accepted as the four letters
        choices = tuple(choices)
    out = tuple(choices)
    if not out:
        raise ValueError(
            "choices is empty; pass the option letters, e.g. ('A', 'B', 'C', 'D'), or None for lmms-eval's A-H"
        )
    bad = [c for c in out if not (isinstance(c, str) and len(c) == 1 and not c.isspace())]
    if bad:
        raise ValueError(f"every choice must be a single non-space character such as 'A'; got {bad!r}")
    return out


def _check_options(options: Sequence[str], num_options: int | None = None) -> list[str]:
    if isinstance(options, str) or not isinstance(options, Sequence):
        raise TypeError(f"options must be a list of option texts; got {type(options).__name__}")
    texts = list(options)
    if not 2 <= len(texts) <= MAX_OPTIONS:
        raise ValueError(f"options must hold between 2 and {MAX_OPTIONS} texts; got {len(texts)}")
    bad = [t for t in texts if not isinstance(t, str)]
    if bad:
        raise TypeError(f"every option must be a string; got {bad!r:.120}")
    if num_options is not None and len(texts) != num_options:
        raise ValueError(f"num_options is {num_options} but {len(texts)} option texts were given")
    return texts


# ------------------------------------------------------------------------- the new parser: ranked candidates

#: Letters ``extract_mcq_answer`` considers when the caller passes no choices (upstream's default).
MCQ_DEFAULT_CHOICES: tuple[str, ...] = tuple("ABCDEFGH")

#: Phrases after which a choice letter counts as stated ("phrase" format). Matched case-insensitively; the
#: letter after them is matched case-sensitively. Upstream's list, in its order (order does not matter).
ANSWER_PHRASES: tuple[str, ...] = (
    "the answer is", "answer is", "the correct answer is", "correct answer is",
    "the best answer is", "best answer is", "the correct option is", "correct option is",
    "the best option is", "best option is", "the choice is", "choice is",
    "the correct choice is", "correct choice is", "i choose", "i select", "i pick",
    "my answer is", "my choice is",
    "옵션", "정답은", "답은", "답:",  # Korean: "option", "the correct answer is", "the answer is", "answer:"
    "答案是", "答案为", "选",  # Chinese: "the answer is" (x2), "choose"
    "答えは",  # Japanese: "the answer is"
)  # fmt: skip

#: Format -> priority; the highest-priority candidate wins, ties go to the later position in the reply.
FORMAT_PRIORITY: dict[str, int] = {
    "start": 10,  # the reply begins with the letter, not followed by another letter ("B", "B) ...", "B. ...")
    "end": 9,  # the reply ends with the letter, not preceded by another letter ("... so B")
    "phrase": 7,  # the first occurrence of the letter after an answer phrase ("the answer is B")
    "parentheses": 6,  # "(B)"
    "period": 5,  # "B."
    "colon": 4,  # "B:"
    "right_paren": 3,  # "B)"
    "space": 2,  # "B " (also matches "DNA " -> "A")
    "fallback": 0,  # the letter anywhere, only when no other candidate exists at all
}

# Token that marks each positional format; {} is the letter.
_TOKEN_FORMATS = (
    ("parentheses", "({})"), ("period", "{}."), ("colon", "{}:"), ("right_paren", "{})"), ("space", "{} "),
)  # fmt: skip
# Characters peeled off both ends, one kind at a time and in this order: 'C."' -> 'C.' (the double quote goes
# last, so the period it uncovers stays, and "C." is then no "end" candidate).
_MCQ_EDGE_CHARS = ",.!?;:'\""


def _peel(text: str, chars: str) -> str:
    """Strip each of ``chars`` from both ends in turn (one ``str.strip`` per character, as upstream)."""
    for ch in chars:
        text = text.strip(ch)
    return text


def mcq_candidates(text: str | None, choices: Iterable[str] | None = None) -> list[tuple[str, int, str]]:
    """Every ``(letter, position, format)`` the ranking parser considers, in no particular order.

    Positions index the padded reply (one space added at each end after the edge punctuation is peeled),
    as upstream. Useful to see *why* :func:`extract_mcq_answer` chose a letter.

    Two phrases ("the answer is" and "answer is") match below, so the phrase candidate appears twice.

    >>> sorted(mcq_candidates("Not A. The answer is (D)", "ABCD"))  # doctest: +NORMALIZE_WHITESPACE
    [('A', 5, 'period'), ('D', 22, 'parentheses'), ('D', 23, 'phrase'), ('D', 23, 'phrase'),
     ('D', 23, 'right_paren')]
    """
    text = _as_text(text)
    letters = _check_choices(choices)
    if not text.strip():
        return []
    padded = " " + _peel(text.strip(), _MCQ_EDGE_CHARS) + " "
    found: list[tuple[str, int, str]] = []

    for fmt, pattern in _TOKEN_FORMATS:
        for letter in letters:
            where = padded.rfind(pattern.format(letter))  # the last occurrence of this format
            if where >= 0:
                found.append((letter, where, fmt))

    # Quirk kept on purpose: the phrase is searched in a lower-cased copy and its offset is then used in the
    # original. Both have the same length except for rare characters whose lower case is longer ("İ" -> "i̇"),
    # where the search for the letter starts too late.
    lowered = padded.lower()
    for phrase in ANSWER_PHRASES:
        at = lowered.find(phrase)  # the first occurrence of the phrase
        if at < 0:
            continue
        for letter in letters:
            where = padded.find(letter, at + len(phrase))  # anywhere after it, even inside a word
            if where >= 0:
                found.append((letter, where, "phrase"))

    core = padded.strip()
    for letter in letters:
        if core.startswith(letter) and (len(core) == 1 or not core[1].isalpha()):
            found.append((letter, 0, "start"))
        if core.endswith(letter) and (len(core) == 1 or not core[-2].isalpha()):
            found.append((letter, len(padded) - 1, "end"))

    if not found:
        for letter in letters:
            where = padded.rfind(letter)
            if where >= 0:
                found.append((letter, where, "fallback"))
    return found


def extract_mcq_answer(text: str | None, choices: Iterable[str] | None = None) -> str:
    """lmms-eval's shared ranking extractor: the letter in the best-ranked format, or ``""``.

    Mirrors ``lmms_eval/tasks/_task_utils/mcq_extract.py::extract_mcq_answer`` at ``75571cf`` (unchanged since
    ``7a69a9a1``, 2026-04-11). Steps: drop surrounding whitespace and, one kind at a time, the characters
    ``, . ! ? ; : ' "``; collect candidates (:func:`mcq_candidates`); return the letter of the candidate with
    the highest :data:`FORMAT_PRIORITY`, the later position breaking ties::

        start 10 > end 9 > phrase 7 > parentheses 6 > period 5 > colon 4 > right_paren 3 > space 2 > fallback 0

    Quirks (all upstream behaviour): matching is case-sensitive, so ``"b"`` gives ``""``; a reply starting
    with the article "A" (``"A cat jumps, then B"``) gives ``"A"``; after an answer phrase the letter found
    *last* wins (``"The answer is B (not A or C)"`` -> ``"C"``); letters inside words count as a fallback
    (``"Can't tell"`` -> ``"C"``).

    Args:
        text: the model's reply (str; ``None`` is treated as an empty reply).
        choices: the letters that may be returned, e.g. ``("A", "B", "C", "D")`` or ``"ABCD"``; ``None`` means
            upstream's default ``A``..``H``. Each must be one character.

    Returns:
        One of ``choices`` (str of length 1), or ``""`` when none is found.

    >>> extract_mcq_answer("The correct answer is (B).")
    'B'
    >>> extract_mcq_answer("Let's see: A is wrong, so the answer is C", choices="ABCD")
    'C'
    >>> extract_mcq_answer("E) the pink hexagon", choices="ABCD")
    ''
    """
    found = mcq_candidates(text, choices)
    if not found:
        return ""
    # With one-character choices no two different letters can share (format, position), so max() is exact.
    letter, _, _ = max(found, key=lambda c: (FORMAT_PRIORITY[c[2]], c[1]))
    return letter


# ------------------------------------------------------------------------------------ the legacy parsers

# Video-MME's prefix list, as written upstream: two commas are missing, so Python glued four entries into two
# strings that never occur in a reply. "Best answer:" / "Best option:" are therefore never deleted.
VIDEOMME_PREFIXES: tuple[str, ...] = (
    "The best answer is",
    "The correct answer is",
    "The answer is",
    "The answer",
    "The best option is" + "The correct option is",
    "Best answer:" + "Best option:",
)
_VIDEOMME_LETTER = re.compile("[ABCD]")


def videomme_legacy(text: str | None) -> str:
    """Video-MME's extractor before the change: the first capital A-D after deleting answer prefixes.

    Mirrors ``lmms_eval/tasks/videomme/utils.py::extract_characters_regex`` at ``bd51fabc`` (Video-MME and
    Video-MME with subtitles). The prefixes (:data:`VIDEOMME_PREFIXES`) contain no ``A``-``D`` except the
    glued ``"Best answer:Best option:"``, so deleting them only matters for that literal; the upstream rule
    "more than 10 words and no A-D -> ''" gives the same answer as the search itself and is implied.

    Quirks: any capital A-D counts, even inside a word: ``"Based on the video, C"`` -> ``"B"``,
    ``"Answer: D"`` -> ``"A"``, ``"Clearly, B"`` -> ``"C"``; lowercase letters are never found.

    Args:
        text: the model's reply (``None`` = empty).

    Returns:
        ``"A"``, ``"B"``, ``"C"``, ``"D"`` or ``""``.

    >>> videomme_legacy("Best answer: C"), videomme_legacy("The answer is C")
    ('B', 'C')
    """
    reply = _as_text(text).strip()
    for prefix in VIDEOMME_PREFIXES:
        reply = reply.replace(prefix, "")
    hit = _VIDEOMME_LETTER.search(reply)
    return hit.group() if hit else ""


_PERCEPTION_LETTER = re.compile(r"\b([A-D])\b")


def perceptiontest_legacy(text: str | None) -> str:
    """PerceptionTest's extractor: the first capital A-D standing alone as a word (still current upstream).

    Mirrors the letter step of ``lmms_eval/tasks/perceptiontest/val/utils.py::perceptiontest_val_process_results_mc``
    at ``bd51fabc`` and, unchanged, at ``75571cf`` (it then maps A/B/C/D to 0..3 and compares with
    ``answer_id``; an unparsed reply becomes -1).

    Quirks: ``D`` is accepted although the questions have 3 options (it maps to index 3 and scores wrong);
    ``\\b`` is Unicode-aware, so a letter glued to CJK text has no word boundary: ``"答案是B"`` -> ``""``;
    the first stand-alone letter wins: ``"A man walks in ... Answer: B"`` -> ``"A"``.

    Args:
        text: the model's reply (``None`` = empty).

    Returns:
        ``"A"``, ``"B"``, ``"C"``, ``"D"`` or ``""``.

    >>> perceptiontest_legacy("D"), perceptiontest_legacy("答案是B"), perceptiontest_legacy("答案是 B")
    ('D', '', 'B')
    """
    hit = _PERCEPTION_LETTER.search(_as_text(text).strip())
    return hit.group(1) if hit else ""


def mlvu_legacy(text: str | None) -> str:
    """MLVU's extractor before the change: the character before the first ``")"``, else the whole reply.

    Mirrors ``lmms_eval/tasks/mlvu/utils.py::extract_characters_regex`` at ``bd51fabc`` (``mlvu_dev`` and
    ``mlvu_test``). The prompt ends in ``"Best option: ("`` so a model that continues it writes ``"B) ..."``.
    The result is compared verbatim (case-sensitive) with the answer letter.

    Quirks: without a ``")"`` the whole stripped reply comes back, so only a bare letter scores
    (``"B."``, ``"The answer is B"`` are wrong); ``"b)"`` -> ``"b"`` (wrong); a leading ``")"`` gives ``""``;
    ``E`` and ``F`` *are* found (``"E) ..."`` -> ``"E"``), unlike the new parser on ``mlvu_test``.

    Args:
        text: the model's reply (``None`` = empty).

    Returns:
        str: one character, ``""``, or the whole stripped reply (not necessarily a letter).

    >>> mlvu_legacy("B) the blue circle"), mlvu_legacy("B."), mlvu_legacy(" C ")
    ('B', 'B.', 'C')
    """
    reply = _as_text(text).strip()
    paren = reply.find(")")
    if paren < 0:
        return reply
    return reply[paren - 1] if paren > 0 else ""


_MMMU_EDGE_CHARS = ",.!?;:'"  # unlike extract_mcq_answer, no double quote


def _last_of(candidates: list[str], where) -> str:
    """The candidate whose ``where(candidate)`` is largest; the earlier candidate on ties (numpy argmax)."""
    best, best_at = candidates[0], where(candidates[0])
    for cand in candidates[1:]:
        at = where(cand)
        if at > best_at:
            best, best_at = cand, at
    return best


def mmmu_legacy(text: str | None, options: Sequence[str]) -> str:
    """Video-MMMU's MMMU-style parser before the change.

    Mirrors ``lmms_eval/tasks/videommmu/utils.py::parse_multi_choice_response`` at ``bd51fabc`` (moved
    verbatim to ``_task_utils/mmmu_mcq_utils.py::parse_videommmu_multi_choice_response`` on 2026-03-01, then
    replaced by ``9ca4445d``). With letters ``A``.. for the ``len(options)`` options, after peeling
    ``, . ! ? ; : '`` off the ends (one kind at a time) and padding with a space:

    1. letters written ``X.`` or ``X:`` (period ones listed first);
    2. else letters written ``(X)``;
    3. else letters followed by a space;
    4. else, if the reply has more than 5 words, the options whose text occurs in it (case-insensitive);
    5. none -> ``"No Answer Found."``; one -> it; several -> the one whose marker occurs last (for step 1 the
       position of ``X.`` is used whenever any period candidate exists, and ``" X "`` for step 3),
       the first listed on ties.

    Quirks: an empty reply (``""`` exactly, or the string ``"API Error"``) returns ``"API Error"``, which the
    Video-MMMU aggregation *drops from the denominator*; ``"B)"`` and ``"**B**"`` find nothing; ``"A or B"``
    -> ``"B"``.

    Args:
        text: the model's reply (``None`` = empty).
        options: the option texts, in order (list of str, 2-26 of them).

    Returns:
        A letter, ``"No Answer Found."`` or ``"API Error"``.

    >>> mmmu_legacy("A person opens the door, so the answer is C.", ["door", "cup", "chair", "dog"])
    'C'
    >>> mmmu_legacy("It is the blue circle that moves first here.", ["red square", "blue circle"])
    'B'
    """
    texts = _check_options(options)
    reply = _as_text(text)
    if reply in ("", API_ERROR):
        return API_ERROR
    padded = " " + _peel(reply, _MMMU_EDGE_CHARS) + " "
    letters = LETTERS[: len(texts)]

    with_period = [x for x in letters if x + "." in padded]
    with_colon = [x for x in letters if x + ":" in padded]
    if with_period or with_colon:
        marker = "{}." if with_period else "{}:"
        return _last_of(with_period + with_colon, lambda x: padded.rfind(marker.format(x)))

    in_parens = [x for x in letters if f"({x})" in padded]
    if in_parens:
        return _last_of(in_parens, lambda x: padded.rfind(f"({x})"))

    before_space = [x for x in letters if x + " " in padded]
    if before_space:
        return _last_of(before_space, lambda x: padded.rfind(f" {x} "))

    if len(padded.split()) > 5:
        low = padded.lower()
        by_content = [x for x, option in zip(letters, texts) if option.lower() in low]
        if by_content:
            return _last_of(by_content, lambda x: low.rfind(texts[letters.index(x)].lower()))
    return NO_ANSWER


def mmmu_new(text: str | None, options: Sequence[str] | int) -> str:
    """Video-MMMU's multiple-choice parser after the change: the ranking extractor, or ``"No Answer Found."``.

    Mirrors ``lmms_eval/tasks/videommmu/utils.py::parse_multi_choice_response`` at ``75571cf``:
    ``extract_mcq_answer(response, choices=<one letter per option>)``; an empty result becomes
    ``"No Answer Found."`` (counted wrong; empty replies are no longer dropped).

    Args:
        text: the model's reply (``None`` = empty).
        options: the option texts, or just their number (the texts are not used).

    >>> mmmu_new("", 4), mmmu_new("**E**", 5)
    ('No Answer Found.', 'E')
    """
    n = _check_num_options(options) if isinstance(options, int) else len(_check_options(options))
    return extract_mcq_answer(text, LETTERS[:n]) or NO_ANSWER


# ---------------------------------------------------------------------------------------- the entry point


def _scored_letter(raw: str) -> str:
    """What lmms-eval's comparison can match: a single capital letter passes, anything else becomes ``""``."""
    return raw if len(raw) == 1 and raw in LETTERS else ""


def parse_answer(
    text: str | None,
    suite: str,
    num_options: int,
    parser: str = "new",
    *,
    faithful_choices: bool = False,
    options: Sequence[str] | None = None,
) -> str:
    """The option letter lmms-eval scores for ``text`` on the course suite ``suite``.

    Args:
        text: the model's reply (str); ``None`` or ``""`` is a legitimate (empty) reply and gives ``""``.
        suite: ``"videomme"``, ``"perception"``, ``"mlvu"`` or ``"videommmu"`` (see :data:`SUITE_TASKS`).
        num_options: how many options the question has (int, 2-26), e.g. 6 for the MLVU-like test split.
        parser: ``"new"`` (lmms-eval after ``9ca4445d``) or ``"legacy"`` (before it, as in 2024-2025 papers).
        faithful_choices: only with ``parser="new"``: rank with exactly this question's letters
            (``LETTERS[:num_options]``) instead of what lmms-eval passes -- the course's fix for mlvu_test's
            A-D (and it also replaces PerceptionTest's regex by the ranking extractor with A-C).
        options: the option texts; required for ``suite="videommmu", parser="legacy"`` (its last resort
            matches option texts), ignored otherwise.

    Returns:
        A capital letter (str of length 1) or ``""`` when lmms-eval's prediction could not match any answer
        letter. The letter may be outside ``A``..``LETTERS[num_options-1]`` (PerceptionTest returns ``"D"``
        for 3 options), which then scores wrong, exactly as upstream. A legacy Video-MMMU ``"API Error"``
        (empty reply) also gives ``""`` here; upstream drops such questions from the denominator instead.

    Raises:
        ValueError / TypeError naming the bad argument (unknown suite or parser, ``num_options`` out of range,
        a reply that is not a string, ``faithful_choices`` with the legacy parser, missing ``options``).

    >>> parse_answer("Answer: D.", "videomme", 4, parser="legacy"), parse_answer("Answer: D.", "videomme", 4)
    ('A', 'D')
    >>> parse_answer("B.", "mlvu", 4, parser="legacy")   # compared verbatim upstream: "B." != "B"
    ''
    >>> parse_answer("D", "perception", 3)                # accepted, and scored wrong
    'D'
    """
    reply = _as_text(text)
    _check_suite(suite)
    n = _check_num_options(num_options)
    _check_parser(parser)
    if options is not None:
        _check_options(options, n)

    if parser == "legacy":
        if faithful_choices:
            raise ValueError("faithful_choices applies to parser='new' only; the legacy parsers had no choices list")
        if suite == "videomme":
            raw = videomme_legacy(reply)
        elif suite == "perception":
            raw = perceptiontest_legacy(reply)
        elif suite == "mlvu":
            raw = mlvu_legacy(reply)
        else:
            if options is None:
                raise ValueError(
                    "suite 'videommmu' with parser='legacy' needs options=[...] (the option texts): "
                    "its last resort matches them against the reply"
                )
            raw = mmmu_legacy(reply, options)
        return _scored_letter(raw)

    if faithful_choices:
        return extract_mcq_answer(reply, LETTERS[:n])
    if suite == "perception":
        return perceptiontest_legacy(reply)  # unchanged upstream
    if suite == "videommmu":
        return _scored_letter(mmmu_new(reply, n))
    return extract_mcq_answer(reply, "ABCD")  # videomme and mlvu (dev and test) pass A-D


def parse_both(
    text: str | None, suite: str, num_options: int, *, options: Sequence[str] | None = None
) -> dict[str, str | bool]:
    """Both generations of lmms-eval's parser on one reply, plus the course's faithful variant.

    Returns:
        ``{"legacy": str, "new": str, "faithful": str, "agree": bool}`` where ``agree`` compares legacy and
        new (each value as :func:`parse_answer` returns it).

    >>> parse_both("A cat jumps onto the table, then B.", "videomme", 4)
    {'legacy': 'A', 'new': 'A', 'faithful': 'A', 'agree': True}
    >>> parse_both("F) 6", "mlvu", 6)
    {'legacy': 'F', 'new': '', 'faithful': 'F', 'agree': False}
    """
    legacy = parse_answer(text, suite, num_options, "legacy", options=options)
    new = parse_answer(text, suite, num_options, "new", options=options)
    faithful = parse_answer(text, suite, num_options, "new", faithful_choices=True, options=options)
    return {"legacy": legacy, "new": new, "faithful": faithful, "agree": legacy == new}


# ------------------------------------------------------------------------------------- the disagreements

#: Where the legacy and new parsers disagree, per suite: ``kind -> (example reply, num_options, legacy, new, why)``
#: with results as :func:`parse_answer` returns them. The kinds are the ``category`` values of
#: ``tests/data/model_outputs.jsonl``; the tests check every example and that every corpus line on which a
#: suite's parsers disagree belongs to a kind listed here. PerceptionTest has none: its parser did not change.
DISAGREEMENTS: dict[str, dict[str, tuple[str, int, str, str, str]]] = {
    "videomme": {
        "label": ("Answer: D.", 4, "A", "D", "legacy takes the first capital A-D: the A of 'Answer'"),
        "based_on": ("Based on the video, C", 4, "B", "C", "the B of 'Based' comes first"),
        "article": ("An answer cannot be given; maybe D", 4, "A", "D", "the A of 'An'"),
        "letter_text": ("Answer: B. The blue circle moves faster.", 4, "A", "B", "'Answer' again"),
        "cot": ("Looking at each option: (A) is wrong because the square stays still. (B) is wrong as well. "
                "(D) never appears. Hence (C).", 4, "A", "C", "legacy: first letter discussed; new: the last '(X)'"),
        "several_letters": ("Not A. The answer is D.", 4, "A", "D", "first letter mentioned vs the stated one"),
        "markdown": ("**Answer:** C", 4, "A", "C", "'Answer' in bold is still an A"),
        "inside_words": ("DNA replication is shown, so C", 4, "D", "C", "capitals inside words count for legacy"),
        "refusal": ("CANNOT DETERMINE", 4, "C", "D", "both wrong: first capital vs last (fallback)"),
        "truncated": ("Answer: B. Explanation: In the video, the blue", 4, "A", "B", "'Answer'"),
        "unicode": ("Answer:\u00a0C", 4, "A", "C", "'Answer'"),
    },
    "perception": {},
    "mlvu": {
        "bare_letter": ("B.", 4, "", "B", "no ')': legacy returns the whole reply 'B.', compared verbatim"),
        "phrase": ("The answer is B", 4, "", "B", "whole reply returned"),
        "label": ("Answer: D.", 4, "", "D", "whole reply returned"),
        "based_on": ("Based on the video, C", 4, "", "C", "whole reply returned"),
        "article": ("A red square moves to the left.", 4, "", "A", "new: a leading 'A' is a 'start' candidate"),
        "letter_text": ("C. Three", 4, "", "C", "whole reply returned"),
        "mlvu_continuation": ("E) the pink hexagon", 6, "E", "", "mlvu_test: new passes choices A-D only"),
        "six_options": ("E", 6, "E", "", "E/F unparseable by new; legacy returns the bare letter"),
        "cot": ("First, I look at the start of the video: a red square and a blue circle. Then the circle moves "
                "right. So the correct option is B", 4, "", "B", "whole reply returned"),
        "several_letters": ("A or B", 4, "", "A", "new: 'start' wins over 'end'"),
        "option_is": ("Option B is correct", 4, "", "B", "whole reply returned"),
        "cjk": ("答案是B", 4, "", "B", "whole reply returned; new knows the phrase 答案是"),
        "markdown": ("**B**", 4, "", "B", "whole reply returned"),
        "structured": ('{"answer": "B"}', 4, "", "B", "whole reply returned"),
        "inside_words": ("DNA replication is shown, so C", 4, "", "C", "whole reply returned"),
        "refusal": ("N/A", 4, "", "A", "new finds a letter in a non-answer ('/A' ends the reply)"),
        "truncated": ("Based on the video, the correct answer is option", 4, "", "B",
                      "new: no candidate, so the fallback takes the B of 'Based'"),
        "unicode": ("Answer:\u00a0C", 4, "", "C", "whole reply returned"),
    },
    "videommmu": {
        "bare_letter": ("B\n", 4, "", "B", "legacy does not strip whitespace: 'B\\n ' has no 'B ' or 'B.'"),
        "phrase": ('The answer is "C".', 3, "", "C", "legacy does not peel double quotes"),
        "label": ("Answer: [B]", 4, "", "B", "legacy has no bracket or 'X)' format"),
        "article": ("A) the red square", 4, "", "A", "legacy has no 'X)' format"),
        "letter_text": ("B) sits down", 4, "", "B", "legacy has no 'X)' format"),
        "mlvu_continuation": ("B) the blue circle", 4, "", "B", "legacy has no 'X)' format"),
        "six_options": ("The answer is F, because six objects are visible.", 6, "", "F", "'F,' is no legacy format"),
        "cot": ("A and B can be ruled out since neither object moves. Between C and D, the triangle is the one "
                "that disappears. So the answer is C.", 4, "C", "A", "new: 'start' beats 'end'"),
        "several_letters": ("A or B", 4, "B", "A", "legacy: last 'X ' wins; new: 'start' wins"),
        "cjk": ("正确答案是 D。", 4, "", "D", "'D。' is no legacy format"),
        "markdown": ("**B**", 4, "", "B", "'B*' is no legacy format"),
        "structured": ('{"answer": "B"}', 4, "", "B", "'B\"' is no legacy format"),
        "content_only": ("It is the green triangle that disappears first in the clip.", 4, "C", "",
                         "legacy matches option texts (>5 words); new never does"),
        "inside_words": ("The CEO speaks first.", 4, "", "C", "new: fallback takes any capital letter"),
        "refusal": ("Can't tell from these frames.", 4, "", "C", "new: fallback takes the C of 'Can't'"),
        "truncated": ("Based on the video, the correct answer is option", 4, "", "B", "new: fallback"),
        "unicode": ("B\uff0e", 4, "", "B", "a full-width period is no legacy format"),
    },
}

__all__ = [
    "API_ERROR", "ANSWER_PHRASES", "CHANGE_COMMIT", "DISAGREEMENTS", "FORMAT_PRIORITY", "LEGACY_COMMIT",
    "LETTERS", "MCQ_DEFAULT_CHOICES", "NEW_COMMIT", "NO_ANSWER", "PARSERS", "SUITES", "SUITE_TASKS",
    "VIDEOMME_PREFIXES", "extract_mcq_answer", "mcq_candidates", "mlvu_legacy", "mmmu_legacy", "mmmu_new",
    "parse_answer", "parse_both", "perceptiontest_legacy", "videomme_legacy",
]  # fmt: skip
