"""Unit 00 — lessons: clips of the world that *teach* a rule, and three questions on each (the Video-MMMU-like suite).

Video-MMMU (Hu et al., arXiv 2501.13826) asks three questions about each of its 300 lecture videos, one per stage of
learning: **Perception** (was the information seen or heard), **Comprehension** (was the concept understood) and
**Adaptation** (can it be applied to a new case, whose picture is placed at the end of the video). Its knowledge gain
Δknowledge compares Adaptation accuracy with the video and without it
(:func:`videollm.eval.metrics.delta_knowledge`).

A lesson of the course's world teaches one rule: what happens when two shapes meet. Each clip's rule is one of
:data:`RULES`, ten of them: one of five effects (:data:`EFFECTS`) befalls the smaller or the larger shape of the pair,
while the other stops where they met. Nothing in the text says which: only the demonstrations show it, so the rule
cannot be guessed without watching.

A lesson's timeline (4 fps, 96 x 128, 30-42 s; :func:`build_lesson`):

- **Three demonstrations**, one after another, filling all but the last 3 s: a small shape (10-14 px) and a large one
  (20-24 px) slide towards each other, meet, the rule acts, and a few seconds later both leave. The narrator says
  "Watch what happens when they meet." as each begins.
- Somewhere in them, a **caption** with a key word for 2-3 s (what an OCR question reads) and the narrator's
  credit line, "This lesson is brought to you by <name>." (what an ASR question hears, from the subtitles).
- **The quiz**, the last 3 s: the word QUIZ and a new pair sliding towards each other; the clip ends before they
  meet. Its last frame is the question's image, as Video-MMMU places the Adaptation question's image at the end of
  the video (lmms-eval's prompt says so: "The image for this question is at the end of the video.").

The three questions (:func:`lesson_item`), with a ``qa_type`` after Video-MMMU's question types:

- ``perception`` (``ocr`` or ``asr``, half each): the caption's word, or the narrator's name;
- ``comprehension`` (``concept``): which rule the lesson teaches, among rule statements;
- ``adaptation`` (``case_study``): what happens when the quiz pair meets, among the five effects on either shape
  ("the red circle turns blue", "the blue square vanishes", ...): ten outcomes, so up to ten options (A-J).
  Answering needs the rule *and* the quiz image (which of the two is smaller); the image alone leaves all ten open.

A lesson is a pure function of ``(seed, seconds, rule)``, a question of the lesson and ``(track, qa_type, option
count, answer position)``. :func:`rules_consistent_with` says which rules would have produced exactly what some frames
show: how the annotation oracles (:mod:`videollm.eval.oracle`) answer the comprehension and adaptation questions.

Lecture: `lectures/00_video_as_data.ipynb` §6; `lectures/09_evaluation.ipynb` §11, §12.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from videollm.world.scenarios import NAMES, WORDS, Item
from videollm.world.scenes import Scene, SceneBuilder
from videollm.world.shapes import COLOR_NAMES, SHAPES

#: Bump whenever a lesson (scene or question) would come out differently from the same seed, seconds and rule:
#: rendered lesson clips in the cache are keyed on it.
LESSONS_VERSION = 1

TRACKS = ("perception", "comprehension", "adaptation")
#: What happens to the shape a rule picks, once the two meet.
EFFECTS = ("vanishes", "colour", "bounces", "grows", "shrinks")
#: Which shape of the pair the effect befalls.
WHO = ("smaller", "larger")
#: The rule family: (effect, who). A lesson teaches one of them.
RULES: tuple[tuple[str, str], ...] = tuple((effect, who) for effect in EFFECTS for who in WHO)
#: A rule's name in the manifests, e.g. ``"smaller:vanishes"``.
RULE_NAMES = tuple(f"{who}:{effect}" for effect, who in RULES)
_VERBS = {"vanishes": "vanishes", "colour": "takes the other one's colour", "bounces": "bounces back",
          "grows": "grows", "shrinks": "shrinks"}

FPS = 4.0
QUIZ_FRAMES = 12  # the last 3 s
SMALL, LARGE = (10, 14), (20, 24)  # side in pixels of the two shapes of a pair
GROWTH = {"grows": 1.5, "shrinks": 0.6}  # final scale; reached over RAMP frames
RAMP = 4
WATCH_LINE = "Watch what happens when they meet."
CREDIT_LINE = "This lesson is brought to you by {}."
QUIZ_LINE = "Now it is your turn."
QUIZ_WORD = "QUIZ"


def rule_statement(rule: int) -> str:
    """``"When two shapes meet, the smaller one vanishes."``: what a comprehension option says of rule ``rule``."""
    effect, who = RULES[rule]
    return f"When two shapes meet, the {who} one {_VERBS[effect]}."


def outcome_text(effect: str, shape: str, other: str, other_colour: str) -> str:
    """``"the red circle turns blue"``: an adaptation option, ``effect`` befalling ``shape`` (met by ``other``)."""
    if effect == "colour":
        return f"{shape} turns {other_colour}"
    return f"{shape} {_VERBS[effect]}"


@dataclass
class Lesson:
    """A lesson clip and what its questions ask about.

    Attributes:
        scene: the clip's :class:`~videollm.world.scenes.Scene`.
        rule: index into :data:`RULES`.
        word, name: the caption's word and the name in the narrator's credit line.
        case: the quiz pair's object indices in the order the adaptation question names them.
        meetings: per demonstration ``(left, right, target, meeting frame)``, object indices and a frame.
        seed, seconds: what rebuilds it.
    """

    scene: Scene
    rule: int
    word: str
    name: str
    case: tuple[int, int]
    meetings: list[tuple[int, int, int, int]]
    seed: int
    seconds: int

    def describe(self, k: int) -> str:
        return f"the {self.scene.describe(k)}"


def _pair(rng: np.random.Generator) -> tuple[list[str], list[str], list[int]]:
    """Two different colours, two shapes, and a small and a large size in random left/right order."""
    colours = [str(c) for c in rng.permutation(COLOR_NAMES)[:2]]
    shapes = [str(s) for s in rng.choice(SHAPES, size=2)]
    sizes = [int(rng.integers(SMALL[0], SMALL[1] + 1)), int(rng.integers(LARGE[0], LARGE[1] + 1))]
    if rng.random() < 0.5:
        sizes.reverse()
    return colours, shapes, sizes


def _apply_effect(scene: Scene, effect: str, target: int, other: int, meet: int, end: int, speed: float,
                  direction: int) -> None:
    """Write the rule's effect into the scene's per-frame arrays for frames ``meet + 1 .. end - 1``.

    The builder scripts straight-line motion that stops at ``meet`` for both shapes; what the rule does to
    ``target`` afterwards (``direction``: -1 if it came from the left, +1 from the right) is set here.
    """
    frames = np.arange(meet + 1, end)
    after = frames - meet  # (F,) frames since the meeting
    if effect == "vanishes":
        scene.present[frames, target] = False
    elif effect == "colour":
        scene.color[frames, target] = scene.color[meet, other]
    elif effect == "bounces":  # back the way it came, at the speed it came
        scene.centre[frames, target, 0] = scene.centre[meet, target, 0] + direction * speed * after
    else:  # grows / shrinks about the point where they touch, so the two stay in contact
        scale = 1 + (GROWTH[effect] - 1) * np.minimum(after / RAMP, 1.0)
        contact = scene.centre[meet, target, 0] - direction * scene.sizes[target] / 2
        scene.scale[frames, target] = scale
        scene.centre[frames, target, 0] = contact + direction * scene.sizes[target] * scale / 2


def build_lesson(seed: int, seconds: int, rule: int) -> Lesson:
    """The lesson clip of ``seed`` (``seconds`` long, 4 fps) that teaches rule ``rule`` (index into :data:`RULES`).

    Every random draw comes from ``seed`` and none depends on the rule, so the same seed under another rule gives the
    same clip except what happens after each meeting (what :func:`rules_consistent_with` relies on).
    """
    if not 0 <= rule < len(RULES):
        raise ValueError(f"rule must be an index into RULES (0..{len(RULES) - 1}); got {rule}")
    if seconds < 24:
        raise ValueError(f"a lesson needs at least 24 s for three demonstrations and the quiz; got {seconds}")
    rng = np.random.default_rng([seed, 0])
    T = int(round(seconds * FPS))
    b = SceneBuilder(T, FPS, 96, 128, str(rng.choice(["plain", "gradient"])), rng,
                     {"scenario": "lesson", "seed": seed, "rule": RULE_NAMES[rule]})
    effect, who = RULES[rule]
    window = (T - QUIZ_FRAMES) // 3
    plans = []
    for d in range(3):
        start = d * window + 1  # one empty frame between demonstrations
        end = (d + 1) * window  # both leave here
        approach = int(round(rng.uniform(0.5, 0.65) * (end - start)))  # frames until they meet
        meet = start + approach
        colours, shapes, sizes = _pair(rng)
        travel = float(rng.uniform(24, 36))
        speed = travel / approach
        x = float(rng.uniform(travel + sizes[0], 128 - travel - sizes[1]))  # where they touch
        y = float(rng.uniform(40, 76))
        left = b.add_object(shapes[0], colours[0], sizes[0], (x - sizes[0] / 2 - speed * meet, y), (speed, 0),
                            dynamics="stop", stop=meet, appear=start, leave=end)
        right = b.add_object(shapes[1], colours[1], sizes[1], (x + sizes[1] / 2 + speed * meet, y), (-speed, 0),
                             dynamics="stop", stop=meet, appear=start, leave=end)
        b.say(WATCH_LINE, start / FPS + 0.25, start / FPS + 2.75)
        plans.append((left, right, sizes, meet, end, speed))
    # The caption (2-3 s, anywhere in the demonstrations) and the credit line (3 s, clear of the "watch" lines).
    length = int(rng.integers(8, 13))
    shown = int(rng.integers(0, 3 * window - length))
    word = str(rng.choice(WORDS))
    b.show_text(word, shown, shown + length, y=4)
    name = str(rng.choice(NAMES))
    said = float(rng.integers(3) * window / FPS + rng.uniform(3.25, window / FPS - 3.5))
    b.say(CREDIT_LINE.format(name), said, said + 3.0)
    # The quiz: a new pair, sliding 1 px per frame towards each other, 8-16 px apart at the last frame.
    colours, shapes, sizes = _pair(rng)
    gap = float(rng.uniform(8, 16))
    x = float(rng.uniform(sizes[0] + gap / 2 + 14, 128 - sizes[1] - gap / 2 - 14))
    y = float(rng.uniform(40, 76))
    quiz = T - QUIZ_FRAMES
    first = b.add_object(shapes[0], colours[0], sizes[0], (x - gap / 2 - sizes[0] / 2 - (T - 1), y), (1, 0),
                         dynamics="linear", appear=quiz)
    second = b.add_object(shapes[1], colours[1], sizes[1], (x + gap / 2 + sizes[1] / 2 + (T - 1), y), (-1, 0),
                          dynamics="linear", appear=quiz)
    b.show_text(QUIZ_WORD, quiz, T, y=4)
    b.say(QUIZ_LINE, quiz / FPS, T / FPS)
    case = (first, second) if rng.random() < 0.5 else (second, first)

    scene = b.build()
    meetings = []
    for left, right, sizes, meet, end, speed in plans:
        smaller = left if sizes[0] < sizes[1] else right
        target = smaller if who == "smaller" else left + right - smaller
        other = left + right - target
        _apply_effect(scene, effect, target, other, meet, end, speed, -1 if target == left else 1)
        scene.events.append({"kind": "meet", "frame": meet, "time": round(meet / FPS, 4), "objects": [left, right],
                             "object": target, "effect": effect, "description": scene.describe(target, meet)})
        meetings.append((left, right, target, meet))
    scene.events.sort(key=lambda e: (e["frame"], e["kind"], e.get("object", -1)))
    return Lesson(scene, rule, word, name, case, meetings, seed, seconds)


def _place(rng: np.random.Generator, answer: Any, pool: list, num_options: int, position: int) -> list:
    """``num_options`` options: ``answer`` at ``position`` and distractors drawn from ``pool`` (answer excluded) in
    random order. The draw does not depend on ``position``, so moving the answer moves nothing else."""
    if not 2 <= num_options <= len(pool) or not 0 <= position < num_options:
        raise ValueError(f"need 2 <= num_options <= {len(pool)} and 0 <= position < num_options; "
                         f"got {num_options}, {position}")
    others = [pool[i] for i in rng.permutation(len(pool)) if pool[i] != answer][: num_options - 1]
    return others[:position] + [answer] + others[position:]


def lesson_item(lesson: Lesson, track: str, qa_type: str, num_options: int, answer: int) -> Item:
    """One question on ``lesson``: ``track`` in :data:`TRACKS`; ``qa_type`` ``"ocr"`` or ``"asr"`` for perception
    (``"concept"`` and ``"case_study"`` for the others); the answer at option ``answer``.

    The ``query`` tells the oracles what is asked: ``ocr`` (a word on screen), ``narration`` (a subtitle line made
    from ``template``), ``lesson_rule`` (``rules``: each option's rule) or ``lesson_case`` (``case``: the quiz pair's
    objects; ``outcomes``: each option's ``[effect index, 0 for the first named shape or 1 for the second]``).
    """
    expected = {"perception": ("ocr", "asr"), "comprehension": ("concept",), "adaptation": ("case_study",)}
    if track not in expected or qa_type not in expected[track]:
        raise ValueError(f"track {track!r} with qa_type {qa_type!r}: choose one of {expected}")
    rng = np.random.default_rng([lesson.seed, 1 + TRACKS.index(track)])
    fields = {"track": track, "qa_type": qa_type, "subtitles": qa_type == "asr"}
    if qa_type == "ocr":
        options = _place(rng, lesson.word, list(WORDS), num_options, answer)
        return Item(lesson.scene, "A caption with a word appears during the lesson. What is the word?", options,
                    answer, {"kind": "ocr"}, fields)
    if qa_type == "asr":
        options = _place(rng, lesson.name, list(NAMES), num_options, answer)
        return Item(lesson.scene, "According to the narrator, who brings you this lesson?", options, answer,
                    {"kind": "narration", "template": CREDIT_LINE}, fields)
    if track == "comprehension":
        rules = _place(rng, lesson.rule, list(range(len(RULES))), num_options, answer)
        return Item(lesson.scene, "Which rule does this lesson teach?", [rule_statement(r) for r in rules], answer,
                    {"kind": "lesson_rule", "rules": rules}, fields)
    scene, (kx, ky) = lesson.scene, lesson.case
    effect, who = RULES[lesson.rule]
    smaller = 0 if scene.sizes[kx] < scene.sizes[ky] else 1
    truth = (EFFECTS.index(effect), smaller if who == "smaller" else 1 - smaller)
    pool = [(e, slot) for e in range(len(EFFECTS)) for slot in (0, 1)]
    outcomes = _place(rng, truth, pool, num_options, answer)
    names = (lesson.describe(kx), lesson.describe(ky))
    colours = (COLOR_NAMES[scene.color[-1, kx]], COLOR_NAMES[scene.color[-1, ky]])
    options = [outcome_text(EFFECTS[e], names[s], names[1 - s], colours[1 - s]) for e, s in outcomes]
    question = (f"At the end of the video, {names[0]} and {names[1]} slide towards each other. By the rule the "
                f"lesson teaches, what will happen when they meet?")
    return Item(scene, question, options, answer,
                {"kind": "lesson_case", "case": [kx, ky], "outcomes": [list(o) for o in outcomes]}, fields)


# ----------------------------------------------------------------------------------------------------------------
# What frames show: which rules are consistent with them


def appearance(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """What a viewer sees of every object in every frame: ``(boxes (T, K, 4) float32, colour (T, K) int64)``, the
    screen box (NaN where not visible) and the colour index (-1 where not visible)."""
    boxes = scene.boxes()
    colour = np.where(np.isnan(boxes[..., 0]), -1, scene.color)
    return boxes, colour


@lru_cache(maxsize=64)
def _appearance_under(seed: int, seconds: int, rule: int) -> tuple[np.ndarray, np.ndarray]:
    return appearance(build_lesson(seed, seconds, rule).scene)


def rules_consistent_with(record: dict[str, Any], scene: Scene, frames: np.ndarray) -> list[int]:
    """The rules (indices into :data:`RULES`) under which frames ``frames`` of this lesson would look exactly as they
    do in ``scene``: the lesson rebuilt from the record's seed under each rule, compared frame by frame.

    Before a demonstration's meeting every rule looks the same; after it, the rules differ in which shape changes and
    how, so one observed frame after a meeting settles the rule, and none leaves all ten open.
    """
    frames = np.asarray(frames, dtype=np.int64)
    boxes, colour = appearance(scene)
    kept = []
    for rule in range(len(RULES)):
        other_boxes, other_colour = _appearance_under(int(record["seed"]), int(record["seconds"]), rule)
        if (np.allclose(other_boxes[frames], boxes[frames], atol=1e-3, equal_nan=True)
                and np.array_equal(other_colour[frames], colour[frames])):
            kept.append(rule)
    return kept


def options_consistent(record: dict[str, Any], scene: Scene, frames: np.ndarray) -> set[int]:
    """The options of a comprehension (``lesson_rule``) or adaptation (``lesson_case``) question that frames
    ``frames`` leave open. For adaptation the frames must also show the quiz pair to tell which one is smaller."""
    rules = rules_consistent_with(record, scene, frames)
    query = record["query"]
    everything = set(range(len(record["options"])))
    if query["kind"] == "lesson_rule":
        return {i for i, r in enumerate(query["rules"]) if r in rules} or everything
    if query["kind"] != "lesson_case":
        raise ValueError(f"question {record.get('id')}: not a lesson question (query kind {query['kind']!r})")
    kx, ky = query["case"]
    view = scene.in_view()[np.asarray(frames, dtype=np.int64)]
    if (view[:, kx] & view[:, ky]).any():
        smaller_slots = [0 if scene.sizes[kx] < scene.sizes[ky] else 1]
    else:  # the quiz pair was not seen: either could be the smaller
        smaller_slots = [0, 1]
    open_ = {(EFFECTS.index(effect), s if who == "smaller" else 1 - s)
             for effect, who in (RULES[r] for r in rules) for s in smaller_slots}
    return {i for i, outcome in enumerate(query["outcomes"]) if tuple(outcome) in open_} or everything


__all__ = ["CREDIT_LINE", "EFFECTS", "LESSONS_VERSION", "Lesson", "RULES", "RULE_NAMES", "TRACKS", "WHO",
           "appearance", "build_lesson", "lesson_item", "options_consistent", "outcome_text", "rule_statement",
           "rules_consistent_with"]
