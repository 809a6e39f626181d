"""Unit 00 — the course's offline text tokenizer: a small byte-level BPE trained in code on the course's own text.

Real video LLMs ship a tokenizer with their checkpoint (Qwen2-VL: a byte-level BPE of 151 k tokens). The course
runs offline and builds its models from tiny configs, so it needs a tokenizer that exists without a download.
:func:`course_tokenizer` trains one with the ``tokenizers`` library on

- every question and option of the benchmark manifests of :data:`CORPUS_SUITES` (``data/benchmarks/<suite>/*.jsonl``;
  the answers play no part: only the texts, as any tokenizer sees its corpus),
- the lettered options as prompts write them (``"A. the red square"``), the letters alone,
- the chat-template words (``system``, ``user``, ``assistant``, the instruction lines),

and wraps it as a :class:`transformers.PreTrainedTokenizerFast` with the special tokens Qwen2-VL uses
(:data:`QWEN_SPECIAL_TOKENS`) and LLaVA's ``<image>`` / ``<video>``. Being byte-level, it encodes *any* text
(unseen words fall back to bytes); the small vocabulary (:data:`VOCAB_SIZE`, about 1500) keeps embedding tables of
tiny models small.

The trained files are cached under ``data_dir()/tokenizer/<name>-<hash>/`` (``save_pretrained`` layout), keyed by
a hash of the corpus and the settings: a changed manifest trains a new tokenizer, an unchanged one is loaded.
Training takes well under a second.

>>> tok = course_tokenizer()                                                    # doctest: +SKIP
>>> tok.convert_tokens_to_ids("<|video_pad|>") in tok.all_special_ids           # doctest: +SKIP
True

Lecture: `lectures/03_early_fusion.ipynb` §2.
"""

from __future__ import annotations

import json
import os
import shutil
from functools import lru_cache
from pathlib import Path

from videollm.cache import data_dir, spec_hash, staging_dir
from videollm.choices import LETTERS
from videollm.offline import set_offline
from videollm.world import scenarios, scenes as world
from videollm.world.shapes import COLOR_NAMES, SHAPES
from videollm.world.suites import BENCHMARK_DIR

set_offline()

#: Bump when the corpus recipe or the training settings change what the tokenizer becomes.
TOKENIZER_VERSION = 1
#: Target vocabulary size (bytes + merges + special tokens); the trainer stops earlier if merges run out.
VOCAB_SIZE = 1536
#: The suites whose manifests the tokenizer is trained on, and how many option letters its corpus spells out (the
#: most those suites use). Fixed, not read from ``videollm.world.suites``: the trained models are keyed on this
#: corpus's hash, so a suite added later (``videommmu``, ten options) must not change the vocabulary under them.
#: Being byte-level, the tokenizer encodes the later suites' text all the same.
CORPUS_SUITES = ("videomme", "perception", "mlvu")
CORPUS_LETTERS = 6

#: Qwen2-VL's special tokens: ChatML turns, end of text (also the pad token), the vision span and placeholders.
QWEN_SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                       "<|image_pad|>", "<|video_pad|>")
#: LLaVA(-OneVision)'s placeholders.
LLAVA_SPECIAL_TOKENS = ("<image>", "<video>")
SPECIAL_TOKENS = QWEN_SPECIAL_TOKENS + LLAVA_SPECIAL_TOKENS
PAD_TOKEN = "<|endoftext|>"
EOS_TOKEN = "<|im_end|>"

#: Text-only ChatML template (Qwen's turn format); the vision models' processors carry their own templates.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

#: Words and lines of chat templates and answer prompts (the models' templates, lmms-eval-style instructions).
TEMPLATE_TEXT = (
    "system", "user", "assistant", "You are a helpful assistant.",
    "Answer with the option's letter from the given choices directly.",
    "Select the best answer to the following multiple-choice question based on the video.",
    "Respond with only the letter of the correct option.",
    "Options:", "Question:", "Answer:", "The answer is", "Best option: (", "Best option:",
    "Picture 1:", "Video:", "Image:", "video", "image", "frame", "frames", "subtitles", "Subtitles:",
    "yes", "no", "Yes", "No", "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20",
)


def corpus(benchmark_dir: str | Path | None = None) -> list[str]:
    """The training text: one string per line, in a fixed order (deterministic for fixed manifests).

    Args:
        benchmark_dir: where the manifests live (default ``videollm.world.suites.BENCHMARK_DIR``).

    Returns:
        list of str: the template lines (repeated, one copy per 8 questions), the event world's words (shapes,
        colours, sign words, subtitle names, narration), then for every manifest (sorted paths) each record's
        question, its lettered options ``"A. ..."`` and the plain options, then each letter in the forms prompts
        use.

    Raises:
        FileNotFoundError: no manifest found (run ``python -m videollm.world.suites build`` or ``make data``).
    """
    directory = Path(benchmark_dir or BENCHMARK_DIR)
    paths = sorted(p for p in directory.glob("*/*.jsonl") if p.parent.name in CORPUS_SUITES)
    if not paths:
        raise FileNotFoundError(f"no benchmark manifests under {directory}: run `python -m videollm.world.suites "
                                f"build` (or `make data`) first")

    # Every prompt carries the template words, so they weigh like the questions' words (one copy per 8 questions).
    records = [json.loads(line) for path in paths for line in path.read_text().splitlines()]
    lines = list(TEMPLATE_TEXT) * max(1, len(records) // 8)
    # The event world's vocabulary: shapes, colours, textures, words on signs, names in subtitles, narration.
    lines.extend(SHAPES + COLOR_NAMES + world.TEXTURES + tuple(world.TOPICS.values()))
    lines.extend(scenarios.WORDS + scenarios.NAMES + scenarios.FILLER_LINES + scenarios.EDGES
                 + scenarios.EDGE_OUTCOMES + tuple(scenarios.ACTION_PHRASES.values())
                 + tuple(scenarios.ACTION_THIRD.values()))
    lines.extend(f"the {c} {s}" for c in COLOR_NAMES for s in SHAPES)
    lines.extend(f"This is {name}." for name in scenarios.NAMES)
    for record in records:
        lines.append(record["question"])
        lines.extend(f"{LETTERS[i]}. {option}" for i, option in enumerate(record["options"]))
        lines.extend(record["options"])
    for letter in LETTERS[:CORPUS_LETTERS]:
        lines.extend([letter, f"{letter}.", f"({letter})", f"{letter})", f" {letter}", f"Answer: {letter}"])
    return lines


def _settings() -> dict:
    return {"version": TOKENIZER_VERSION, "vocab_size": VOCAB_SIZE, "special": list(SPECIAL_TOKENS),
            "pad": PAD_TOKEN, "eos": EOS_TOKEN, "template": CHATML_TEMPLATE}


def corpus_hash(lines: list[str]) -> str:
    """The cache key: :func:`videollm.cache.spec_hash` of the settings and the corpus lines."""
    return spec_hash({"settings": _settings(), "lines": list(lines)})


def train_bpe(lines: list[str], vocab_size: int = VOCAB_SIZE):
    """Train a byte-level BPE (``tokenizers.Tokenizer``) on ``lines``; special tokens get ids 0..8 in the order
    of :data:`SPECIAL_TOKENS`, then the 256 byte symbols, then the merges."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    if vocab_size < len(SPECIAL_TOKENS) + 256:
        raise ValueError(f"vocab_size must hold the {len(SPECIAL_TOKENS)} special tokens and 256 bytes "
                         f"(>= {len(SPECIAL_TOKENS) + 256}); got {vocab_size}")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(lines, trainer=trainer)
    return tok


def wrap(tok):
    """Wrap a trained ``tokenizers.Tokenizer`` as a ``PreTrainedTokenizerFast`` with pad/eos set, left padding
    (batched generation appends on the right) and the ChatML template."""
    from transformers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD_TOKEN, eos_token=EOS_TOKEN,
                                   unk_token=None, padding_side="left", model_max_length=32768,
                                   clean_up_tokenization_spaces=False)
    fast.add_special_tokens({"additional_special_tokens": [t for t in SPECIAL_TOKENS
                                                           if t not in (PAD_TOKEN, EOS_TOKEN)]})
    fast.chat_template = CHATML_TEMPLATE
    return fast


def tokenizer_dir() -> Path:
    """``data_dir()/tokenizer`` (git-ignored; ``$VIDEOLLM_DATA`` moves it)."""
    return data_dir() / "tokenizer"


@lru_cache(maxsize=4)
def _load_or_train(directory: str, digest: str, lines: tuple[str, ...]):
    from transformers import PreTrainedTokenizerFast

    folder = Path(directory) / f"course_bpe-{digest[:16]}"
    if (folder / "tokenizer.json").exists():
        try:
            return PreTrainedTokenizerFast.from_pretrained(str(folder))
        except Exception:  # a half-written or foreign folder: train again below
            shutil.rmtree(folder, ignore_errors=True)
    fast = wrap(train_bpe(list(lines)))
    staging = staging_dir(folder)
    try:
        fast.save_pretrained(str(staging))
        try:
            os.replace(staging, folder)
        except OSError:  # another process finished first: use its copy
            pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return PreTrainedTokenizerFast.from_pretrained(str(folder))


def course_tokenizer(benchmark_dir: str | Path | None = None, cache_dir: str | Path | None = None):
    """The course's offline tokenizer (a ``transformers.PreTrainedTokenizerFast``), loaded from the cache or
    trained (under a second) and cached.

    Args:
        benchmark_dir: manifests to train on (default: the committed ones).
        cache_dir: where to cache (default :func:`tokenizer_dir`).

    Returns:
        the tokenizer: byte-level BPE, ``len(tok)`` about 1500; special tokens :data:`SPECIAL_TOKENS` (never
        split, skipped by ``decode(..., skip_special_tokens=True)``); ``pad_token = "<|endoftext|>"``,
        ``eos_token = "<|im_end|>"``, ``padding_side = "left"``; ``chat_template`` = ChatML. The same manifests
        give the same vocabulary on every machine. Each call returns a fresh copy (callers may change it).
    """
    lines = tuple(corpus(benchmark_dir))
    digest = corpus_hash(list(lines))
    cached = _load_or_train(str(Path(cache_dir) if cache_dir is not None else tokenizer_dir()), digest, lines)
    import copy

    return copy.deepcopy(cached)


__all__ = ["CHATML_TEMPLATE", "CORPUS_LETTERS", "CORPUS_SUITES",
           "EOS_TOKEN", "LLAVA_SPECIAL_TOKENS", "PAD_TOKEN", "QWEN_SPECIAL_TOKENS",
           "SPECIAL_TOKENS", "TOKENIZER_VERSION", "VOCAB_SIZE", "corpus", "corpus_hash", "course_tokenizer",
           "tokenizer_dir", "train_bpe", "wrap"]
