"""Unit 06 — the needle reader: the mini video LLM taught one question, so that compressing its video can cost it.

Compression can only be judged on a model whose answers depend on *which* video tokens it keeps. Unit 05's mini
video LLM answers most of the suites' questions at chance (its README says why), so every budget would score
the same. One question type alone is within its reach on a CPU: MLVU's needle, "At one point the video cuts
away to a single large shape. What colour is it?" (:func:`videollm.world.scenarios.needle`), where a large
shape fills the cut-away's tokens for 2-3 seconds. The reader is the committed mini VLM instruction-tuned
further (:func:`videollm.vlm.mini.train.train`) on fresh needle questions of that kind, on short clips where the
sampled frames catch the cut-away. Its questions are the suites' own generator's (records that
:func:`videollm.world.suites.scene_for` rebuilds), from seed ranges no manifest and no training batch uses.

This is the course's stand-in for what AdaReTaKe is measured on: a needle that a fixed budget must not drop.

Lecture: `lectures/06_adaretake.ipynb` §8.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from videollm.cache import cached, load_or_train
from videollm.choices import LETTERS
from videollm.vlm.mini.data import scenes_batch
from videollm.vlm.mini.model import MiniVLMConfig, spec
from videollm.vlm.mini.train import checkpoint_loader, pretrained, save_checkpoint, train
from videollm.world.suites import scenario_item

CHECKPOINT_NAME = "needle_reader"
#: Scene seeds of the reader's questions: training from ``TRAIN_SEEDS`` up, evaluation from ``TEST_SEEDS`` up
#: (the manifests' seeds are 32-bit and the mini VLM's fresh draws random 62-bit ones from 2**32).
TRAIN_SEEDS, TEST_SEEDS = 3 * 2 ** 62, 3 * 2 ** 62 + 2 ** 40


@dataclass(frozen=True)
class ReaderConfig:
    """Everything that decides the reader's weights (with the mini VLM's config, :data:`BASE`).

    Attributes:
        steps, batch_size, lr, warmup: instruction tuning (AdamW, warm-up then cosine decay; the vision tower at
            the mini VLM's 0.1x rate).
        seconds: the training clips' lengths (uniform); a cut-away lasts 2-3 s of them.
        num_frames: frames per training clip.
        num_options: options per question (MLVU's test format).
        seed: the batches' seed.
    """

    steps: int = 300
    batch_size: int = 16
    lr: float = 1e-3
    warmup: int = 10
    seconds: tuple[int, int] = (8, 16)
    num_frames: int = 16
    num_options: int = 6
    seed: int = 1


#: The mini VLM the reader starts from.
BASE = MiniVLMConfig()


def reader_spec(config: ReaderConfig) -> dict:
    """What keys the reader's checkpoint: its config and the base model's spec (which holds the world's version)."""
    return {"reader": asdict(config), "base": spec(BASE)}


def needle_records(count: int, first_seed: int, seconds: tuple[int, int], num_options: int = 6,
                   split: str = "train") -> list[tuple[dict, object]]:
    """``count`` needle-colour questions ``(record, item)``: the scenes of seeds ``first_seed, first_seed + 1,
    ...`` whose cut-away shows a shape (the others show a word, skipped), each ``seconds`` long (uniform integers,
    drawn with the answer's position from ``np.random.default_rng(first_seed % 2**63)``)."""
    rng = np.random.default_rng(first_seed % 2 ** 63)
    out, seed = [], first_seed
    while len(out) < count:
        length, answer = int(rng.integers(seconds[0], seconds[1] + 1)), int(rng.integers(num_options))
        item = scenario_item("needle", seed, length, num_options, answer)
        if item.query["field"] == "color":
            record = {"id": f"needle-{split}-{seed - first_seed}", "suite": "needle", "split": split,
                      "clip": f"needle-{seed}", "task": "needle", "duration": "short", "question": item.question,
                      "options": item.options, "answer": LETTERS[item.answer], "scenario": "needle", "seed": seed,
                      "seconds": length, "query": item.query}
            out.append((record, item))
        seed += 1
    return out


def needle_questions(count: int = 200, seconds: tuple[int, int] = (8, 16), num_options: int = 6) -> list[dict]:
    """The held-out needle questions the unit's benchmark uses (seeds from :data:`TEST_SEEDS`)."""
    return [record for record, _ in needle_records(count, TEST_SEEDS, seconds, num_options, "test")]


def needle_batches(config: ReaderConfig, size=BASE.size, patch_size: int = BASE.patch_size):
    """``config.steps`` training batches of fresh needle questions (seeds from :data:`TRAIN_SEEDS`, each batch its
    own range), ``config.num_frames`` frames each."""
    last = TRAIN_SEEDS + (config.seed * 100_003 + config.steps) * 1_000
    if not 0 <= config.seed or last + 1_000 > TEST_SEEDS:
        raise ValueError(f"seed {config.seed} with {config.steps} steps would draw training scenes from the held-out "
                         "seed range: use a seed in [0, 10_000]")
    for step in range(config.steps):
        first = TRAIN_SEEDS + (config.seed * 100_003 + step) * 1_000  # about 2 scenes drawn per question kept
        pairs = needle_records(config.batch_size, first, config.seconds, config.num_options)
        yield scenes_batch([item.scene for _, item in pairs], [record for record, _ in pairs], config.num_frames,
                           size, patch_size)


def train_reader(config: ReaderConfig = ReaderConfig(), device="cpu", progress: bool = False):
    """The mini VLM (:func:`videollm.vlm.mini.train.pretrained`), instruction-tuned in place on
    :func:`needle_batches`. Returns ``((model, processor), history)``."""
    model, processor = pretrained(BASE, device=device, progress=progress)
    history = train(model, processor, needle_batches(config), steps=config.steps, lr=config.lr, warmup=config.warmup,
                    vision_lr=BASE.vision_lr, device=device, progress=progress)
    return (model.eval(), processor), history


def needle_reader(config: ReaderConfig = ReaderConfig(), device="cpu", retrain: bool = False,
                  progress: bool = True):
    """The trained reader ``(model, processor)``: loaded if cached (or committed in ``data/weights``), else
    trained (about eight minutes on a 2-core CPU, after the mini VLM) and cached. ``model.meta`` holds the
    training history."""
    def fit():
        artifact, history = train_reader(config, device, progress)
        return artifact, {"history": history}

    (model, processor), meta = load_or_train(CHECKPOINT_NAME, reader_spec(config), fit, save_checkpoint,
                                             checkpoint_loader(device), retrain=retrain)
    model.meta = meta
    return model.eval(), processor


def cached_reader(config: ReaderConfig = ReaderConfig(), device="cpu"):
    """``(model, processor)`` if the reader of ``config`` is cached or committed, else None (nothing trained)."""
    found = cached(CHECKPOINT_NAME, reader_spec(config), checkpoint_loader(device))
    if found is None:
        return None
    (model, processor), meta = found
    model.meta = meta
    return model.eval(), processor
