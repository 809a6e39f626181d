"""Unit 00 — one scene and one multiple-choice question per call, for every task of the course's suites.

Every task follows the same recipe, which is what keeps a *blind* model (question text only) at chance:

1. draw the option set from the task's pool, independently of everything else;
2. draw the answer uniformly among the options;
3. build a scene in which that answer is true, with distractors (other objects, other actions, other words).

A task returns an :class:`Item`: the :class:`~videollm.world.scenes.Scene`, the question, the option texts, the answer's
index, and a structured ``query`` saying what is asked (which object, which action), so that the oracles in
:mod:`videollm.eval.oracle` can answer from the scene's annotations without parsing English.

Lecture: `lectures/00_video_as_data.ipynb` §6.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import permutations
from typing import Any, Callable

import numpy as np

from videollm.world.scenes import ACTION_FRAMES, ACTIONS, TEXTURES, TOPICS, Scene, SceneBuilder
from videollm.world.shapes import COLOR_NAMES, SHAPES

#: Bump whenever a task would build a different scene (or question) from the same seed: rendered clips in the
#: cache, the training sets and the models trained on them are keyed on it (and on
#: :data:`videollm.world.shapes.WORLD_VERSION`).
SCENARIOS_VERSION = 1

#: Words for signs and needle cards (4-6 letters, no two alike at a glance).
WORDS = ("APPLE", "RIVER", "TIGER", "CLOUD", "PIANO", "LEMON", "ROBOT", "CANDLE", "GARDEN", "PLANET", "MANGO",
         "OCEAN", "PENCIL", "ROCKET", "SPOON", "WINTER", "BRIDGE", "CASTLE", "FOREST", "HONEY", "JACKET", "KETTLE",
         "MIRROR", "ORANGE")
#: Names the narrator gives objects in the subtitles.
NAMES = ("Pip", "Milo", "Nora", "Otto", "Luna", "Felix", "Ivy", "Hugo", "Ada", "Rex", "Zoe", "Theo", "Mabel",
         "Gus", "Iris", "Leo")
#: Option phrases for "what does it do?" and verbs for "how many times does it ...?" / "in which order ...".
ACTION_PHRASES = {"jump": "it jumps", "spin": "it spins around", "grow": "it grows and shrinks back",
                  "blink": "it vanishes for a moment and comes back"}
ACTION_VERBS = {"jump": "jump", "spin": "spin around", "grow": "grow and shrink", "blink": "vanish and come back"}
ACTION_THIRD = {"jump": "jumps", "spin": "spins around", "grow": "grows and shrinks", "blink": "vanishes"}
EDGE_OUTCOMES = ("it bounces back", "it slides out of view", "it stops before reaching the edge")
EDGES = ("the left edge", "the right edge", "the top edge", "the bottom edge")
SCENE_BACKGROUNDS = ("plain", "gradient", "photo:astronaut", "photo:coffee", "photo:chelsea")
FILLER_LINES = ("Let us watch the table.", "The shapes keep moving.", "Keep your eyes on the screen.",
                "Things are about to change.", "Look closely now.", "What a busy table.")


@dataclass
class Item:
    """A generated question and the scene it is about."""

    scene: Scene
    question: str
    options: list[str]
    answer: int
    query: dict[str, Any]
    fields: dict[str, Any] = field(default_factory=dict)  # suite-specific tags (reasoning, needs subtitles)


@dataclass(frozen=True)
class Context:
    """What a task may use: randomness, option count, the clip's length and size."""

    rng: np.random.Generator
    num_options: int
    seconds: float
    fps: float = 4.0
    height: int = 96
    width: int = 128
    meta: dict[str, Any] = field(default_factory=dict)

    answer: int | None = None  # the answer's position, when the suite balances positions itself

    @property
    def num_frames(self) -> int:
        return int(round(self.seconds * self.fps))

    def pick_answer(self) -> int:
        """The answer's index: ``answer`` when given, else uniform (the draw is made either way, so a scene is
        the same function of the seed whichever way the position was chosen)."""
        drawn = int(self.rng.integers(self.num_options))
        return drawn if self.answer is None else self.answer

    def builder(self, background: str | None = None) -> SceneBuilder:
        background = background or str(self.rng.choice(SCENE_BACKGROUNDS))
        return SceneBuilder(self.num_frames, self.fps, self.height, self.width, background, self.rng, self.meta)


# ----------------------------------------------------------------------------------------------------------------
# Helpers


def _choose(ctx: Context, pool) -> tuple[list, int]:
    """``ctx.num_options`` distinct options from ``pool`` in random order, and the answer's index."""
    n = ctx.num_options
    if n > len(pool):
        raise ValueError(f"cannot draw {n} options from a pool of {len(pool)}")
    picked = [pool[i] for i in ctx.rng.permutation(len(pool))[:n]]
    return picked, ctx.pick_answer()


def _numbers(ctx: Context, low: int = 1, high: int = 8) -> tuple[list[int], int]:
    """Distinct counts from ``low..high`` in increasing order (as benchmarks list them), and the answer's index."""
    values = sorted(int(v) for v in ctx.rng.choice(np.arange(low, high + 1), size=ctx.num_options, replace=False))
    return values, ctx.pick_answer()


def _velocity(rng: np.random.Generator, speed: int = 2) -> tuple[int, int]:
    while True:
        v = rng.integers(-speed, speed + 1, size=2)
        if v.any():
            return int(v[0]), int(v[1])


def _place(rng: np.random.Generator, ctx: Context, size: int) -> tuple[int, int]:
    """A random centre keeping the object (and a jump above it) on the table."""
    margin = size // 2 + 1
    x = int(rng.integers(margin, ctx.width - margin))
    y = int(rng.integers(margin + 10, ctx.height - margin))
    return x, y


def _size(rng: np.random.Generator) -> int:
    return int(rng.integers(14, 21))


def _action_starts(rng: np.random.Generator, count: int, lo: int, hi: int, length: int = 8) -> list[int]:
    """``count`` sorted, non-overlapping start frames in ``[lo, hi - length]`` (slots of ``length`` frames)."""
    slots = (hi - lo) // length
    if count > slots:
        raise ValueError(f"{count} actions of {length} frames do not fit in frames {lo}..{hi}")
    chosen = np.sort(rng.choice(slots, size=count, replace=False))
    return [int(lo + s * length + rng.integers(0, length - max(ACTION_FRAMES.values()) + 1)) for s in chosen]


def add_mover(b: SceneBuilder, rng: np.random.Generator, ctx: Context, color: str, shape: str | None = None,
              **kwargs) -> int:
    """A bouncing object at a random place, solid half the time, else striped or checked, 14-20 pixels (a random
    shape unless ``shape``); its index in ``b``. The suites' objects are made this way."""
    shape = shape or str(rng.choice(SHAPES))
    size = _size(rng)
    kwargs.setdefault("texture", str(rng.choice(TEXTURES, p=[0.5, 0.25, 0.25])))
    return b.add_object(shape, color, size, _place(rng, ctx, size), _velocity(rng), **kwargs)


def _distractors(b: SceneBuilder, rng: np.random.Generator, ctx: Context, colors, count: int,
                 actions: bool = True, shapes=SHAPES) -> list[int]:
    """``count`` bouncing objects in the given colours that do random things now and then."""
    made = []
    for color in list(colors)[:count]:
        shape = str(rng.choice(shapes))
        spin = 0.0 if shape == "circle" else float(rng.choice([0.0, 0.0, 0.12, -0.12]))  # some turn steadily
        k = add_mover(b, rng, ctx, color, shape, spin=spin)
        made.append(k)
        if actions:
            n = int(rng.integers(0, 1 + max(1, ctx.num_frames // 80)))
            for s in _action_starts(rng, min(n, ctx.num_frames // 8), 0, ctx.num_frames):
                b.act(k, str(rng.choice(ACTIONS)), s)
    return made


def _other_colors(rng: np.random.Generator, exclude) -> list[str]:
    return [c for c in rng.permutation(COLOR_NAMES) if c not in set(exclude)]


def _narrate(b: SceneBuilder, rng: np.random.Generator, ctx: Context, busy: list[tuple[float, float]]) -> None:
    """Filler subtitles every 8-20 s, avoiding the time spans in ``busy``."""
    t = float(rng.uniform(1, 6))
    while t + 3 < ctx.seconds:
        if not any(t < e and t + 3 > s for s, e in busy):
            b.say(str(rng.choice(FILLER_LINES)), t, t + 3)
        t += float(rng.uniform(8, 20))


def _maybe_zoom(b: SceneBuilder, rng: np.random.Generator, ctx: Context) -> None:
    """Half the time, the camera slowly zooms in (1.15-1.4x) over a stretch of the clip."""
    if rng.random() < 0.5:
        start = int(rng.integers(0, ctx.num_frames // 2))
        end = int(rng.integers(start + 1, ctx.num_frames + 1))
        b.zoom(start, end, float(rng.uniform(1.15, 1.4)))


def _desc(color: str, shape: str) -> str:
    return f"the {color} {shape}"


# ----------------------------------------------------------------------------------------------------------------
# Tasks: each returns an Item. ``ctx.num_options`` options; the answer drawn uniformly among them.


def count_objects(ctx: Context) -> Item:
    """How many different shapes appear? Each stays for a while and leaves, so sparse frames miss some."""
    rng = ctx.rng
    values, answer = _numbers(ctx)
    n = values[answer]
    b = ctx.builder()
    T = ctx.num_frames
    stay_lo = min(T, max(int(6 * ctx.fps), T // 8))
    stay_hi = max(stay_lo, int(0.3 * T))
    for color in list(rng.permutation(COLOR_NAMES))[:n]:
        stay = int(rng.integers(stay_lo, stay_hi + 1))
        appear = int(rng.integers(0, T - stay + 1))
        add_mover(b, rng, ctx, str(color), appear=appear, leave=appear + stay)
    _narrate(b, rng, ctx, [])
    return Item(b.build(), "How many different shapes appear in the video?", [str(v) for v in values], answer,
                {"kind": "count_objects"})


def attribute_color(ctx: Context) -> Item:
    """What colour is the <shape>? The shape is unique in the scene; distractors have other shapes."""
    rng = ctx.rng
    colors, answer = _choose(ctx, COLOR_NAMES)
    b = ctx.builder()
    shape = str(rng.choice(SHAPES))
    k = add_mover(b, rng, ctx, colors[answer], shape)
    others = [s for s in SHAPES if s != shape]
    _distractors(b, rng, ctx, _other_colors(rng, [colors[answer]]), int(rng.integers(1, 4)), shapes=others)
    _maybe_zoom(b, rng, ctx)
    _narrate(b, rng, ctx, [])
    return Item(b.build(), f"What colour is the {shape}?", colors, answer, {"kind": "attribute_color", "object": k})


def temporal_first(ctx: Context) -> Item:
    """Which of these shapes appears first? Objects enter one by one and stay."""
    rng = ctx.rng
    n = ctx.num_options
    colors = [str(c) for c in rng.permutation(COLOR_NAMES)[:n]]
    shapes = [str(s) for s in rng.choice(SHAPES, size=n)]
    answer = ctx.pick_answer()
    T = ctx.num_frames
    times = np.sort(rng.choice(np.arange(0, int(0.7 * T), 2), size=n, replace=False))
    order = [answer] + [int(i) for i in rng.permutation([i for i in range(n) if i != answer])]
    b = ctx.builder()
    for rank, i in enumerate(order):
        add_mover(b, rng, ctx, colors[i], shapes[i], appear=int(times[rank]))
    _narrate(b, rng, ctx, [])
    options = [_desc(c, s) for c, s in zip(colors, shapes)]
    return Item(b.build(), "Which of these shapes appears first in the video?", options, answer,
                {"kind": "first_to_appear", "objects": [order.index(i) for i in range(n)]})


def ocr(ctx: Context) -> Item:
    """What word is on the sign? A sign shows one word for 2-6 s at a random time."""
    rng = ctx.rng
    words, answer = _choose(ctx, WORDS)
    b = ctx.builder()
    T = ctx.num_frames
    length = int(rng.integers(int(2 * ctx.fps), int(6 * ctx.fps) + 1))
    start = int(rng.integers(0, T - length + 1))
    b.show_text(words[answer], start, start + length, y=int(rng.integers(4, ctx.height - 24)))
    _distractors(b, rng, ctx, rng.permutation(COLOR_NAMES), int(rng.integers(1, 4)))
    _maybe_zoom(b, rng, ctx)
    _narrate(b, rng, ctx, [])
    return Item(b.build(), "What word is written on the sign that appears in the video?", words, answer,
                {"kind": "ocr"})


def action(ctx: Context) -> Item:
    """What does the <colour> <shape> do? The target performs one kind of action; others do other things."""
    rng = ctx.rng
    acts, answer = _choose(ctx, ACTIONS)
    b = ctx.builder()
    color = str(rng.choice(COLOR_NAMES))
    shape = str(rng.choice([s for s in SHAPES if s != "circle"]))  # a spinning circle looks still
    k = add_mover(b, rng, ctx, color, shape)
    T = ctx.num_frames
    for s in _action_starts(rng, int(rng.integers(1, 3)), 0, T):
        b.act(k, acts[answer], s)
    _distractors(b, rng, ctx, _other_colors(rng, [color]), int(rng.integers(1, 3)))
    _narrate(b, rng, ctx, [])
    return Item(b.build(), f"What does the {color} {shape} do in the video?", [ACTION_PHRASES[a] for a in acts],
                answer, {"kind": "action", "object": k, "options": acts})


def subtitle_name(ctx: Context) -> Item:
    """What is the name of the <colour> <shape>? Only the subtitles say it (Video-MME's subtitle setting)."""
    rng = ctx.rng
    names, answer = _choose(ctx, NAMES)
    b = ctx.builder()
    count = int(rng.integers(2, 4))
    colors = [str(c) for c in rng.permutation(COLOR_NAMES)[:count]]
    shapes = [str(s) for s in rng.choice(SHAPES, size=count)]
    objects = [add_mover(b, rng, ctx, c, s) for c, s in zip(colors, shapes)]
    # The target carries the answer; the others carry other option names (so reading matters), or fresh ones.
    spare = [nm for i, nm in enumerate(names) if i != answer] + [nm for nm in NAMES if nm not in names]
    given = [names[answer]] + spare[: count - 1]
    slots = rng.permutation(int(max(1, (ctx.seconds - 4) // 5)))[:count]
    busy = []
    for name, c, s, slot in zip(given, colors, shapes, slots):
        start = float(1 + 5 * slot + rng.uniform(0, 1))
        b.say(f"Meet {name}, the {c} {s}.", start, start + 3)
        busy.append((start - 1, start + 4))
    _narrate(b, rng, ctx, busy)
    return Item(b.build(), f"What is the name of the {colors[0]} {shapes[0]}?", names, answer,
                {"kind": "subtitle_name", "object": objects[0]}, {"subtitles": True})


def count_actions(ctx: Context) -> Item:
    """How many times does the <colour> <shape> <action>? Others do the same action too, the target others too."""
    rng = ctx.rng
    values, answer = _numbers(ctx)
    n = values[answer]
    b = ctx.builder()
    kind = str(rng.choice(ACTIONS))
    color = str(rng.choice(COLOR_NAMES))
    shape = str(rng.choice([s for s in SHAPES if s != "circle"]))
    k = add_mover(b, rng, ctx, color, shape)
    T = ctx.num_frames
    extra = int(rng.integers(0, 3))
    starts = _action_starts(rng, n + extra, 0, T)
    kinds = [kind] * n + [str(rng.choice([a for a in ACTIONS if a != kind])) for _ in range(extra)]
    for s, i in zip(starts, rng.permutation(len(kinds))):
        b.act(k, kinds[i], s)
    for j in _distractors(b, rng, ctx, _other_colors(rng, [color]), int(rng.integers(1, 3)), actions=False):
        for s in _action_starts(rng, int(rng.integers(0, 5)), 0, T):
            b.act(j, kind, s)
    _narrate(b, rng, ctx, [])
    return Item(b.build(), f"How many times does the {color} {shape} {ACTION_VERBS[kind]}?",
                [str(v) for v in values], answer, {"kind": "count_actions", "object": k, "action": kind})


def action_order(ctx: Context) -> Item:
    """In which order do these happen? Three objects each perform a different action once."""
    rng = ctx.rng
    orders, answer = _choose(ctx, list(permutations(range(3))))
    b = ctx.builder()
    colors = [str(c) for c in rng.permutation(COLOR_NAMES)[:3]]
    shapes = [str(rng.choice([s for s in SHAPES if s != "circle"])) for _ in range(3)]
    acts = [str(a) for a in rng.permutation(ACTIONS)[:3]]
    objects = [add_mover(b, rng, ctx, c, s) for c, s in zip(colors, shapes)]
    T = ctx.num_frames
    starts = _action_starts(rng, 3, 0, T)
    for rank, i in enumerate(orders[answer]):
        b.act(objects[i], acts[i], starts[rank])
    _distractors(b, rng, ctx, _other_colors(rng, colors), int(rng.integers(0, 2)), actions=False)
    _narrate(b, rng, ctx, [])
    phrase = [f"the {c} {s} {ACTION_THIRD[a]}" for c, s, a in zip(colors, shapes, acts)]
    options = [", then ".join(phrase[i] for i in order) for order in orders]
    return Item(b.build(), "In which order do these things happen in the video?", options, answer,
                {"kind": "action_order", "objects": objects, "actions": acts, "orders": [list(o) for o in orders]})


def needle(ctx: Context) -> Item:
    """A 2-3 s cut-away (MLVU's needle) shows one large shape, or a card with a word: what colour / word?"""
    rng = ctx.rng
    b = ctx.builder()
    _distractors(b, rng, ctx, rng.permutation(COLOR_NAMES), int(rng.integers(2, 5)))
    T = ctx.num_frames
    length = int(rng.integers(int(2 * ctx.fps), int(3 * ctx.fps) + 1))
    start = int(rng.integers(T // 10, T - T // 10 - length))
    inner = SceneBuilder(length, ctx.fps, ctx.height, ctx.width, "plain", rng)
    if rng.random() < 0.5:
        pool, question = COLOR_NAMES, "At one point the video cuts away to a single large shape. What colour is it?"
        options, answer = _choose(ctx, pool)
        inner.add_object(str(rng.choice(SHAPES)), options[answer], 44, (ctx.width // 2, ctx.height // 2))
        content = {"color": options[answer]}
    else:
        question = "At one point the video cuts away to a card with a word on it. What is the word?"
        options, answer = _choose(ctx, WORDS)
        inner.show_text(options[answer], 0, length, y=ctx.height // 2 - 7)
        content = {"word": options[answer]}
    inner.meta["content"] = content
    b.insert(start, inner.build())
    _narrate(b, rng, ctx, [])
    return Item(b.build(), question, options, answer, {"kind": "needle", "field": next(iter(content))})


def topic(ctx: Context) -> Item:
    """What is in the background? (MLVU's topic reasoning, made literal.)"""
    rng = ctx.rng
    topics, answer = _choose(ctx, list(TOPICS))
    b = ctx.builder(background=topics[answer])
    _distractors(b, rng, ctx, rng.permutation(COLOR_NAMES), int(rng.integers(2, 5)))
    _maybe_zoom(b, rng, ctx)
    _narrate(b, rng, ctx, [])
    return Item(b.build(), "What is in the background of this video?", [TOPICS[t] for t in topics], answer,
                {"kind": "topic", "options": topics})


def memory(ctx: Context, variant: str | None = None) -> Item:
    """The camera turns away; meanwhile an object is taken off the table (or put on it). Which one?"""
    rng = ctx.rng
    n = ctx.num_options
    variant = variant or str(rng.choice(["removed", "added", "counterfactual"]))
    colors = [str(c) for c in rng.permutation(COLOR_NAMES)[:n + 1]]
    shapes = [str(s) for s in rng.choice(SHAPES, size=n + 1)]
    answer = ctx.pick_answer()
    T = ctx.num_frames
    away = int(rng.integers(int(4 * ctx.fps), int(7 * ctx.fps) + 1))
    start = int(rng.integers(T // 4, T - away - T // 5))
    b = ctx.builder()
    b.look_away(start, start + away)
    change = start + away // 2
    for i in range(n + 1):  # the last object is on the table throughout and never an option
        size = _size(rng)
        kwargs = {}
        if i == answer:
            kwargs = {"appear": change} if variant == "added" else {"leave": change}
        b.add_object(shapes[i], colors[i], size, _place(rng, ctx, size), _velocity(rng, 1), **kwargs)
    _narrate(b, rng, ctx, [])
    question = {
        "removed": "While the camera was turned away, which object was taken off the table?",
        "added": "While the camera was turned away, which object was put on the table?",
        "counterfactual": "Had the camera not turned away, which object would we have seen being taken off the table?",
    }[variant]
    reasoning = "counterfactual" if variant == "counterfactual" else "descriptive"
    options = [_desc(c, s) for c, s in zip(colors[:n], shapes[:n])]
    return Item(b.build(), question, options, answer,
                {"kind": "memory", "change": "added" if variant == "added" else "removed", "objects": list(range(n))},
                {"reasoning": reasoning})


def physics_edge(ctx: Context) -> Item:
    """What happens when the object reaches the edge: it bounces, leaves the view, or stops short?"""
    rng = ctx.rng
    outcomes, answer = _choose(ctx, EDGE_OUTCOMES)
    outcome = outcomes[answer]
    b = ctx.builder()
    color, shape = str(rng.choice(COLOR_NAMES)), str(rng.choice(SHAPES))
    size = _size(rng)
    direction = int(rng.choice([-1, 1]))
    speed = 2
    x0 = ctx.width // 2 + int(rng.integers(-10, 11))
    y0 = int(rng.integers(size, ctx.height - size))
    edge_x = ctx.width - size / 2 if direction > 0 else size / 2
    reach = int(abs(edge_x - x0) // speed)  # frames until it touches the edge
    kwargs: dict[str, Any] = {"dynamics": "bounce"}
    if outcome == "it slides out of view":
        kwargs = {"dynamics": "linear"}
    elif outcome == "it stops before reaching the edge":
        kwargs = {"dynamics": "stop", "stop": reach - int(rng.integers(3, 6))}
    k = b.add_object(shape, color, size, (x0, y0), (direction * speed, 0), **kwargs)
    _narrate(b, rng, ctx, [])
    return Item(b.build(), f"What happens when {_desc(color, shape)} gets to the edge of the table?", outcomes,
                answer, {"kind": "edge", "object": k, "options": outcomes}, {"reasoning": "explanatory"})


def physics_predict(ctx: Context) -> Item:
    """If the video went on, which edge would the object reach first? It drifts in a straight line."""
    rng = ctx.rng
    edges, answer = _choose(ctx, EDGES)
    b = ctx.builder()
    color, shape = str(rng.choice(COLOR_NAMES)), str(rng.choice(SHAPES))
    size = _size(rng)
    T = ctx.num_frames
    half = size / 2
    lo, hi = np.array([half, half]), np.array([ctx.width - half, ctx.height - half])
    while True:  # rejection sampling: few tries, all drawn from rng, so still deterministic
        end = rng.uniform(lo + 8, hi - 8)
        v = rng.uniform(-1, 1, size=2) * 0.6
        begin = end - v * (T - 1)
        if np.all(begin >= lo) and np.all(begin <= hi) and np.abs(v).max() > 0.1:
            times = first_edge_times(end, v, lo, hi)
            if EDGES[int(np.argmin(times))] == edges[answer]:
                break
    k = b.add_object(shape, color, size, tuple(begin), tuple(v), dynamics="linear")
    _narrate(b, rng, ctx, [])
    return Item(b.build(), f"If the video went on, which edge of the table would {_desc(color, shape)} reach first?",
                edges, answer, {"kind": "predict_edge", "object": k}, {"reasoning": "predictive"})


def first_edge_times(position: np.ndarray, velocity: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Frames until ``position`` moving at ``velocity`` reaches each edge, in :data:`EDGES` order (inf if never)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(velocity[0] < 0, (lo[0] - position[0]) / velocity[0], np.inf)
        right = np.where(velocity[0] > 0, (hi[0] - position[0]) / velocity[0], np.inf)
        top = np.where(velocity[1] < 0, (lo[1] - position[1]) / velocity[1], np.inf)
        bottom = np.where(velocity[1] > 0, (hi[1] - position[1]) / velocity[1], np.inf)
    return np.array([left, right, top, bottom], dtype=np.float64)


#: Every task by name.
TASKS: dict[str, Callable[[Context], Item]] = {
    "count_objects": count_objects,
    "attribute_color": attribute_color,
    "temporal_first": temporal_first,
    "ocr": ocr,
    "action": action,
    "subtitle_name": subtitle_name,
    "count_actions": count_actions,
    "action_order": action_order,
    "needle": needle,
    "topic": topic,
    "memory": memory,
    "physics_edge": physics_edge,
    "physics_predict": physics_predict,
}
