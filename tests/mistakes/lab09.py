"""Typical wrong implementations for lab09 (evaluating video LLMs): at least one per contract clause, the
reference called from an answer (one per task) and the reference patched so that in-kernel checks would pass."""

from tests.mistakes import Mistake, filler

# The ranking parser, written so that each mistake changes one step: {check}, {clean}, {find}, {phrase_find},
# {start_ok}, {fallback} and {pick} are filled in below (the correct pieces first).
PARSER = '''
def extract_answer(text, num_options):
    {check}
    letters = LETTERS[:num_options]
    {clean}
    padded = " " + text + " "
    candidates = []
    for priority, pattern in ((6, "({{}})"), (5, "{{}}."), (4, "{{}}:"), (3, "{{}})"), (2, "{{}} ")):
        for letter in letters:
            where = padded.{find}(pattern.format(letter))
            if where >= 0:
                candidates.append((priority, where, letter))
    lowered = padded.lower()
    for phrase in ANSWER_PHRASES:
        at = lowered.find(phrase)
        if at >= 0:
            for letter in letters:
                {phrase_find}
                if where >= 0:
                    candidates.append((7, where, letter))
    core = padded.strip()
    for letter in letters:
        if core.startswith(letter) and (len(core) == 1 or {start_ok}(core[1])):
            candidates.append((10, 0, letter))
        if core.endswith(letter) and (len(core) == 1 or {start_ok}(core[-2])):
            candidates.append((9, len(padded) - 1, letter))
    {fallback}
    {pick}
'''
RIGHT = dict(
    check='if not 2 <= num_options <= 6:\n        raise ValueError("num_options must be between 2 and 6")',
    clean='text = text.strip()\n    for ch in ",.!?;:\'\\"":\n        text = text.strip(ch)',
    find="rfind",
    phrase_find="where = padded.find(letter, at + len(phrase))",
    start_ok="not str.isalpha",
    fallback=("if not candidates:\n        for letter in letters:\n            where = padded.rfind(letter)\n"
              "            if where >= 0:\n                candidates.append((0, where, letter))"),
    pick='return max(candidates)[2] if candidates else ""',
)


parser = filler(PARSER, RIGHT)


METRICS = '''
def accuracy_by(records, key):
    groups = {{}}
    for r in records:
        groups.setdefault({group}, []).append(bool(r["correct"]))
    return {{group: {scale} * {to_float}(np.mean(flags)) for group, flags in groups.items()}}


def m_avg(records):
    {m_avg_check}
    return {m_avg}


def random_baseline(questions):
    if len(questions) == 0:
        raise ValueError("no questions")
    return {random}
'''
METRICS_RIGHT = dict(
    group="r[key]", scale="100.0", to_float="float",
    m_avg_check='if len(records) == 0:\n        raise ValueError("no records")',
    m_avg='float(np.mean(list(accuracy_by(records, "task").values())))',
    random='100.0 * float(np.mean([1.0 / len(q["options"]) for q in questions]))',
)


metrics_cell = filler(METRICS, METRICS_RIGHT)


CIRCULAR = '''
def rotate(question, k):
    {head}
    answer = {answer}
    {build}


def circular_accuracy(questions, predict):
    if len(questions) == 0:
        raise ValueError("no questions")
    right = [{combine}(predict(v) == v["answer"] for v in (rotate(q, k) for k in {ks})) for q in questions]
    return {result}
'''
CIRCULAR_RIGHT = dict(
    head=('options = list(question["options"])\n    n = len(options)\n'
          '    if len(question["answer"]) != 1 or question["answer"] not in LETTERS[:n]:\n'
          '        raise ValueError("answer is not an option letter")\n    k %= n'),
    answer='(LETTERS.index(question["answer"]) - k) % n',
    build=('return {**question, "id": f"{question[\'id\']}@{k}", "options": options[k:] + options[:k], '
           '"answer": LETTERS[answer]}'),
    combine="all", ks='range(len(q["options"]))', result="100.0 * float(np.mean(right))",
)


circular_cell = filler(CIRCULAR, CIRCULAR_RIGHT)


BASIC, RANKING = ("test_extract_basic",), ("test_extract_ranking",)

MISTAKES = {
    # ---- Task 1: extract_answer
    "all_six_letters": Mistake(
        "extract_answer", parser(find="rfind", pick='return max(candidates)[2] if candidates else ""').replace(
            "letters = LETTERS[:num_options]", "letters = LETTERS"),
        BASIC,
        "accepts every letter A-F whatever the number of options",
    ),
    "none_when_nothing_found": Mistake(
        "extract_answer", parser(pick="return max(candidates)[2] if candidates else None"),
        BASIC,
        "returns None instead of the empty string when no letter is found",
    ),
    "no_num_options_check": Mistake(
        "extract_answer", parser(check="pass  # trusts num_options"),
        BASIC,
        "never raises for a num_options outside 2..6 (LETTERS[:7] silently allows A-F)",
    ),
    "upper_cases_reply": Mistake(
        "extract_answer", parser(clean=RIGHT["clean"] + "\n    text = text.upper()"),
        BASIC,
        "upper-cases the reply 'to be robust', so 'b' reads as B",
    ),
    "peels_before_whitespace": Mistake(
        "extract_answer", parser(clean='for ch in ",.!?;:\'\\"":\n        text = text.strip(ch)\n    text = text.strip()'),
        RANKING,
        "peels the punctuation before stripping whitespace, so 'B. \\n' keeps its period",
    ),
    "phrase_first_letter_only": Mistake(
        "extract_answer",
        parser(phrase_find=("where = padded.find(letter, at + len(phrase))\n"
                            "                after = padded[at + len(phrase):].lstrip()\n"
                            "                where = where if after[:1] == letter else -1")),
        RANKING,
        "counts only the letter right after an answer phrase, not every letter after it",
    ),
    "start_end_ascii_letters": Mistake(
        "extract_answer", parser(start_ok='(lambda c: c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")'),
        RANKING,
        "treats only ASCII letters as letters next to a start/end letter ('Aún' starts with A)",
    ),
    "no_fallback": Mistake(
        "extract_answer", parser(fallback="pass  # no fallback"),
        RANKING,
        "leaves out the fallback, so 'Can't tell' gives '' instead of C",
    ),
    "ties_to_first_position": Mistake(
        "extract_answer", parser(pick="return max(candidates, key=lambda c: (c[0], -c[1]))[2] if candidates else ''"),
        RANKING,
        "breaks ties between equal formats by the earlier position instead of the later",
    ),
    "no_priorities": Mistake(
        "extract_answer", parser(pick="return max(candidates, key=lambda c: c[1])[2] if candidates else ''"),
        RANKING,
        "ignores the format priorities and takes the letter found last",
    ),
    "calls_reference_extract": Mistake(
        "extract_answer",
        '''
def extract_answer(text, num_options):
    if not 2 <= num_options <= 6:
        raise ValueError("num_options must be between 2 and 6")
    return parsing.extract_mcq_answer(text, LETTERS[:num_options])
''',
        BASIC + RANKING,
        "wraps the course's reference extractor instead of implementing it",
    ),
    "patches_reference_parsing": Mistake(
        "extract_answer",
        parser(clean='text = text.strip().strip(",.!?;:\'\\"")')
        + '''

parsing.extract_mcq_answer = lambda text, choices=None: extract_answer(text, len(choices or "ABCDEF"))
''',
        RANKING,
        "strips all punctuation kinds at once (not one kind at a time in upstream's order) and replaces the "
        "course's extractor with itself so that comparisons with it agree",
    ),
    # ---- Task 2: accuracy_by, m_avg, random_baseline
    "accuracy_as_fraction": Mistake(
        "metrics", metrics_cell(scale="1.0"),
        ("test_accuracy_by",),
        "returns accuracy as a fraction where % was asked for",
    ),
    "numpy_floats": Mistake(
        "metrics", metrics_cell(to_float="np.float64", random='100.0 * np.mean([1.0 / len(q["options"]) for q in questions])'),
        ("test_accuracy_by", "test_m_avg_random"),
        "returns NumPy float64 scalars where plain Python floats were asked for",
    ),
    "m_avg_nan_when_empty": Mistake(
        "metrics", metrics_cell(m_avg_check="pass  # np.mean([]) is nan, with a warning"),
        ("test_m_avg_random",),
        "returns nan for no records instead of raising ValueError",
    ),
    "random_from_mean_options": Mistake(
        "metrics", metrics_cell(random='100.0 / float(np.mean([len(q["options"]) for q in questions]))'),
        ("test_m_avg_random",),
        "divides 100 by the mean option count, which differs from the mean of 100 / n when counts differ",
    ),
    "calls_reference_metrics": Mistake(
        "metrics", metrics_cell(m_avg="metrics.m_avg(records)"),
        ("test_m_avg_random",),
        "calls the course's m_avg instead of averaging the per-task accuracies itself",
    ),
    "patches_reference_metrics": Mistake(
        "metrics",
        metrics_cell(m_avg='100.0 * float(np.mean([r["correct"] for r in records]))') + '''

metrics.m_avg = lambda records, by="task": m_avg(records)
''',
        ("test_m_avg_random",),
        "reports the question-weighted accuracy as M-Avg and replaces the course's m_avg with it so that "
        "comparisons with it agree",
    ),
    # ---- Task 3: rotate, circular_accuracy
    "answer_letter_not_moved": Mistake(
        "circular", circular_cell(answer='LETTERS.index(question["answer"])'),
        ("test_rotate", "test_circular_accuracy"),
        "rotates the options but leaves the answer letter where it was",
    ),
    "k_not_reduced": Mistake(
        "circular", circular_cell(head=CIRCULAR_RIGHT["head"].replace("    k %= n", "    pass")),
        ("test_rotate",),
        "does not take k modulo n, so k = n + 1 keeps the original order and the id says @4",
    ),
    "rotate_mutates_input": Mistake(
        "circular",
        circular_cell(build=('question.update(id=f"{question[\'id\']}@{k}", options=options[k:] + options[:k], '
                             'answer=LETTERS[answer])\n    return question')),
        ("test_rotate",),
        "writes the rotation into the input question instead of a new dict",
    ),
    "no_answer_check": Mistake(
        "circular", circular_cell(head=('options = list(question["options"])\n    n = len(options)\n    k %= n')),
        ("test_rotate",),
        "accepts an answer letter past the options (D with 3 options) and wraps it silently",
    ),
    "circular_any_rotation": Mistake(
        "circular", circular_cell(combine="any"),
        ("test_circular_accuracy",),
        "counts a question right when any rotation is right, instead of every one",
    ),
    "skips_last_rotation": Mistake(
        "circular", circular_cell(ks='range(len(q["options"]) - 1)'),
        ("test_circular_accuracy",),
        "asks only rotations 0 .. n - 2, never the last one",
    ),
    "calls_reference_circular": Mistake(
        "circular",
        circular_cell() + '''

def circular_accuracy(questions, predict):
    variants = metrics.circular_questions(questions)
    return metrics.circular_accuracy(questions, {v["id"]: {"prediction": predict(v)} for v in variants})
''',
        ("test_circular_accuracy",),
        "builds the rotations and the score with the course's circular evaluation",
    ),
    # ---- added by a red-team pass: each one kept full marks before its check was added
    "fallback_first_occurrence": Mistake(
        "extract_answer", parser().replace("where = padded.rfind(letter)", "where = padded.find(letter)"),
        RANKING,
        "takes each letter's first occurrence in the fallback instead of its last ('DADDY' gives A, not D)",
    ),
    "phrase_only_first_found": Mistake(
        "extract_answer", parser().replace(
            "                    candidates.append((7, where, letter))",
            "                    candidates.append((7, where, letter))\n            break  # one phrase is enough"),
        RANKING,
        "stops at the first answer phrase found instead of letting every phrase add its candidates",
    ),
    "phrase_letters_from_phrase_start": Mistake(
        "extract_answer", parser(phrase_find="where = padded.find(letter, at)"),
        RANKING,
        "searches for letters from the start of the phrase, so the A of 'ANSWER IS' becomes a candidate",
    ),
    "strips_whitespace_every_round": Mistake(
        "extract_answer", parser(clean='text = text.strip()\n    for ch in ",.!?;:\'\\"":\n        text = text.strip(ch).strip()'),
        RANKING,
        "strips whitespace again after every punctuation kind, so '(A) C. ,' ends in C. and then in C",
    ),
    "accuracy_by_sorts_input": Mistake(
        "metrics", '''
from itertools import groupby


def accuracy_by(records, key):
    records.sort(key=lambda r: str(r[key]))  # groupby needs sorted input: sorts the caller's list
    return {k: 100.0 * float(np.mean([bool(r["correct"]) for r in g])) for k, g in groupby(records, key=lambda r: r[key])}
''' + "\n\n" + metrics_cell()[metrics_cell().index("def m_avg"):],
        ("test_accuracy_by",),
        "sorts the caller's list of records in place to group them with itertools.groupby",
    ),
    "m_avg_sorts_input": Mistake(
        "metrics", metrics_cell(m_avg_check='if len(records) == 0:\n        raise ValueError("no records")\n'
                                            '    records.sort(key=lambda r: r["task"])  # in place'),
        ("test_m_avg_random",),
        "sorts the caller's records in place before averaging",
    ),
    "random_baseline_writes_num_options": Mistake(
        "metrics", metrics_cell(random='100.0 * float(np.mean([1.0 / q.setdefault("num_options", len(q["options"])) '
                                       'for q in questions]))'),
        ("test_m_avg_random",),
        "caches each question's option count in the question dict (setdefault), changing the caller's questions",
    ),
    "rotate_accepts_lower_case_answer": Mistake(
        "circular", circular_cell(head=CIRCULAR_RIGHT["head"].replace(
            'options = list(question["options"])',
            'options = list(question["options"])\n    question = {**question, "answer": question["answer"].upper()}')),
        ("test_rotate",),
        "upper-cases the answer letter 'to be robust', so 'b' is accepted instead of raising ValueError",
    ),
    "rotate_substring_answer_check": Mistake(
        "circular", circular_cell(head=('options = list(question["options"])\n    n = len(options)\n'
                                        '    if question["answer"] not in LETTERS[:n]:  # a substring test: "AB" and "" pass\n'
                                        '        raise ValueError("answer is not an option letter")\n    k %= n')),
        ("test_rotate",),
        "checks the answer with a substring test, so 'AB' and '' are accepted instead of raising ValueError",
    ),
}
