"""Typical wrong implementations for lab09 (evaluating video LLMs)."""

from tests.mistakes import Mistake

# The ranking parser up to its last line; each mistake finishes (or replaces) it.
CANDIDATES = '''
def extract_answer(text, num_options):
    letters = {letters}
    text = (text or "").strip()
    for ch in ",.!?;:'\\"":
        text = text.strip(ch)
    padded = " " + text + " "
    candidates = []
    for priority, pattern in ((6, "({{}})"), (5, "{{}}."), (4, "{{}}:"), (3, "{{}})"), (2, "{{}} ")):
        for letter in letters:
            where = padded.rfind(pattern.format(letter))
            if where >= 0:
                candidates.append((priority, where, letter))
    lowered = padded.lower()
    for phrase in ANSWER_PHRASES:
        at = lowered.find(phrase)
        if at >= 0:
            for letter in letters:
                where = padded.find(letter, at + len(phrase))
                if where >= 0:
                    candidates.append((7, where, letter))
    core = padded.strip()
    for letter in letters:
        if core.startswith(letter) and (len(core) == 1 or not core[1].isalpha()):
            candidates.append((10, 0, letter))
        if core.endswith(letter) and (len(core) == 1 or not core[-2].isalpha()):
            candidates.append((9, len(padded) - 1, letter))
    if not candidates:
        for letter in letters:
            where = padded.rfind(letter)
            if where >= 0:
                candidates.append((0, where, letter))
'''

METRICS = '''
def accuracy_by(records, key):
    groups = {{}}
    for r in records:
        groups.setdefault(r[key], []).append(bool(r["correct"]))
    return {{group: {scale} * float(np.mean(flags)) for group, flags in groups.items()}}


def m_avg(records):
    return {m_avg}


def random_baseline(questions):
    return {random}
'''
CORRECT_M_AVG = 'float(np.mean(list(accuracy_by(records, "task").values())))'
CORRECT_RANDOM = '100.0 * float(np.mean([1.0 / len(q["options"]) for q in questions]))'

ROTATE = '''
def rotate(question, k):
    options = list(question["options"])
    n = len(options)
    k %= n
    answer = {answer}
    return {{**question, "id": f"{{question['id']}}@{{k}}", "options": {options}, "answer": LETTERS[answer]}}


def circular_accuracy(questions, predict):
    right = [{combine}(predict(v) == v["answer"] for v in (rotate(q, k) for k in range(len(q["options"])))) for q in questions]
    return 100.0 * float(np.mean(right))
'''
CORRECT_ANSWER = '(LETTERS.index(question["answer"]) - k) % n'
CORRECT_OPTIONS = "options[k:] + options[:k]"

MISTAKES = {
    "legacy_first_capital": Mistake(
        "extract_answer",
        '''
import re

def extract_answer(text, num_options):
    hit = re.search(f"[{LETTERS[:num_options]}]", text or "")  # Video-MME's parser before April 2026
    return hit.group() if hit else ""
''',
        ("test_extract_ranking",),
        "takes the first capital letter anywhere, so 'Based on the video, C' reads as B",
    ),
    "ties_to_first_position": Mistake(
        "extract_answer",
        CANDIDATES.format(letters="LETTERS[:num_options]")
        + "    return max(candidates, key=lambda c: (c[0], -c[1]))[2] if candidates else ''\n",
        ("test_extract_ranking",),
        "breaks ties between equal formats by the earlier position instead of the later",
    ),
    "no_priorities": Mistake(
        "extract_answer",
        CANDIDATES.format(letters="LETTERS[:num_options]")
        + "    return max(candidates, key=lambda c: c[1])[2] if candidates else ''\n",
        ("test_extract_ranking",),
        "ignores the format priorities and takes the letter found last",
    ),
    "all_six_letters": Mistake(
        "extract_answer",
        CANDIDATES.format(letters="LETTERS") + "    return max(candidates)[2] if candidates else ''\n",
        ("test_extract_basic",),
        "accepts every letter A-F whatever the number of options",
    ),
    "accuracy_as_fraction": Mistake(
        "metrics",
        METRICS.format(scale="1.0", m_avg=CORRECT_M_AVG, random=CORRECT_RANDOM),
        ("test_accuracy_by",),
        "returns accuracy as a fraction where % was asked for",
    ),
    "m_avg_question_weighted": Mistake(
        "metrics",
        METRICS.format(scale="100.0", m_avg='100.0 * float(np.mean([r["correct"] for r in records]))',
                       random=CORRECT_RANDOM),
        ("test_m_avg_random",),
        "reports the question-weighted overall accuracy as M-Avg",
    ),
    "random_always_25": Mistake(
        "metrics",
        METRICS.format(scale="100.0", m_avg=CORRECT_M_AVG, random="25.0"),
        ("test_m_avg_random",),
        "assumes four options everywhere (MLVU's test split has six)",
    ),
    "answer_letter_not_moved": Mistake(
        "circular",
        ROTATE.format(answer='LETTERS.index(question["answer"])', options=CORRECT_OPTIONS, combine="all"),
        ("test_rotate", "test_circular_accuracy"),
        "rotates the options but leaves the answer letter where it was",
    ),
    "rotates_right": Mistake(
        "circular",
        ROTATE.format(answer='(LETTERS.index(question["answer"]) + k) % n', options="options[n - k:] + options[:n - k]",
                      combine="all"),
        ("test_rotate",),
        "shifts the options right instead of left",
    ),
    "circular_any_rotation": Mistake(
        "circular",
        ROTATE.format(answer=CORRECT_ANSWER, options=CORRECT_OPTIONS, combine="any"),
        ("test_circular_accuracy",),
        "counts a question right when any rotation is right, instead of every one",
    ),
}
