"""Unit 08 — VideoPoet's sequence builder: every task, one layout of special tokens, conditioning first and outputs
last.

The paper's layout (Table 4), with ``_i`` the input (conditioning) segments and ``_o`` the output segments::

    <bos> <task> <bot_i> text <eot_i> <bov_i> video <eov_i> <boa_i> audio <eoa_i> <source> <res>
          <bov_o> video <eov_o> <boa_o> audio <eoa_o> <eos>

- A modality the task does not have is **dropped with its boundary tokens** (text-to-video has no ``<bov_i>`` …
  ``<eov_i>``), so no position is spent on nothing.
- ``<task>`` says what to produce. Its value depends on the output, not on the conditioning: text-to-video,
  image-to-video and unconditional generation share one (``video``); the model reads *which* conditioning it has.
- Text is not tokens of the vocabulary: it enters as a frozen text encoder's per-token embeddings, projected to the
  model width. The builder reserves its positions with the ``<text>`` placeholder id and marks them in
  :attr:`Sequence.text` so the model can put the embeddings there.
- ``<source>`` (the source of the video to generate) and ``<res>`` (an output size other than the default) are
  optional: VideoPoet gives ``<res>`` only for its portrait 128 x 224 output. The course's world has one source and a
  default size of 32 x 32 (:data:`SOURCES`, :data:`RESOLUTIONS`).
- The **prefix** is everything up to and including the first output's begin token: the model reads it both ways
  and the loss never sees it (:mod:`videollm.videopoet.prefix_lm`). Generation starts right after it, so a prompt
  is a sequence built without outputs.
- Text-to-image leaves ``<eov_o>`` and ``<eos>`` out, so a picture can run on into a video.

Ids: special tokens first (:data:`~videollm.videopoet.tokens.SPECIAL_TOKENS`, their ids are their places), then
visual codes, then level-major audio codes (:class:`videollm.videopoet.tokens.Vocabulary`). Visual codes are laid
out in raster order of their ``(t, h, w)`` grid; audio codes ``(F, L)`` level-major (all of level 0, then level 1,
...).

Shapes: visual codes ``(t, h, w)`` (or already flat ``(n,)``) int64; audio codes ``(F, L)`` int64; a
:class:`Sequence` holds ``ids`` ``(S,)`` int64 and ``text`` ``(S,)`` bool; :func:`collate` pads a batch on the right.

Facts: ``../shared/reference/08-videopoet.md`` §6.

Lecture: `lectures/08_videopoet.ipynb` §1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

# The special-token tables live in tokens.py, beside the Vocabulary that reserves their ids (and checks that they
# fit); they are re-exported here, where the layout uses them.
from videollm.videopoet.tokens import PAD, RESOLUTIONS, SOURCES, SPECIAL, SPECIAL_TOKENS, TASK_TOKENS, Vocabulary


@dataclass(frozen=True)
class Task:
    """What a task reads and writes: its ``<task>`` value, the inputs it needs and may have, its outputs in order,
    and whether its output is left open (no ``<eov_o>`` / ``<eos>``)."""

    token: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    outputs: tuple[str, ...]
    open_end: bool = False


#: The tasks of VideoPoet's mixture that the course's world supports. Image-to-video reads the first frame's tokens
#: (one latent frame) and writes the whole clip; continuation reads the first latent frames and writes the rest;
#: in- and outpainting read the tokens of the clip with a region blanked and write the whole clip.
TASKS = {
    "unconditional": Task("video", (), (), ("video",)),
    "text_to_video": Task("video", ("text",), (), ("video",)),
    "image_to_video": Task("video", ("video",), ("text",), ("video",)),
    "text_to_image": Task("image", ("text",), (), ("video",), open_end=True),
    "continuation": Task("continuation", ("video",), ("text",), ("video",)),
    "inpainting": Task("inpainting", ("video",), ("text",), ("video",)),
    "outpainting": Task("outpainting", ("video",), ("text",), ("video",)),
    "video_to_audio": Task("video_to_audio", ("video",), (), ("audio",)),
}


@dataclass
class Sequence:
    """One example: ``ids`` ``(S,)`` int64 and ``text`` ``(S,)`` bool (the ``<text>`` slots), with ``prefix`` the
    number of conditioning tokens (the loss and causal attention start there; ``prefix == S`` for a prompt)."""

    ids: torch.Tensor
    text: torch.Tensor
    prefix: int

    def tokens(self, vocab: Vocabulary) -> list[str]:
        """The sequence as readable strings: special tokens by name, ``v<code>`` and ``a<level>:<code>``."""
        return [describe(int(i), vocab) for i in self.ids]


def describe(token: int, vocab: Vocabulary) -> str:
    """A readable name for one id of ``vocab``: ``<bos>``, ``v17`` (visual code 17), ``a2:5`` (audio level 2,
    code 5)."""
    if 0 <= token < len(SPECIAL_TOKENS):
        return SPECIAL_TOKENS[token]
    if vocab.visual_offset <= token < vocab.audio_offset:
        return f"v{token - vocab.visual_offset}"
    if vocab.audio_offset <= token < vocab.size:
        level, code = divmod(token - vocab.audio_offset, vocab.audio_codes)
        return f"a{level}:{code}"
    return f"?{token}"


def _codes(name: str, codes: torch.Tensor | None) -> torch.Tensor | None:
    if codes is None:
        return None
    if not isinstance(codes, torch.Tensor) or codes.dtype.is_floating_point or codes.dtype == torch.bool:
        raise ValueError(f"{name} must be an integer tensor of codes (not ids: the builder adds the offsets); got "
                         f"{type(codes).__name__} {getattr(codes, 'dtype', '')}")
    if codes.numel() == 0:
        raise ValueError(f"{name} is empty: leave it out (None) to drop the modality")
    return codes.long().cpu()


def build(task: str, vocab: Vocabulary, *, text: int = 0, video_in: torch.Tensor | None = None,
          audio_in: torch.Tensor | None = None, video_out: torch.Tensor | None = None,
          audio_out: torch.Tensor | None = None, source: str | None = None,
          resolution: tuple[int, int] = (32, 32)) -> Sequence:
    """The sequence of one example of ``task`` (a key of :data:`TASKS`).

    Args:
        vocab: where visual and audio codes live among the ids.
        text: how many text embeddings the conditioning has (0: no text).
        video_in, audio_in: the conditioning's visual codes ``(t, h, w)`` or ``(n,)`` in ``[0, vocab.visual)`` and
            audio codes ``(F, L)`` in ``[0, vocab.audio_codes)``; ``None`` drops the segment.
        video_out, audio_out: the outputs' codes (training), or all ``None`` (a prompt: the sequence stops after
            the first output's begin token).
        source: a :data:`SOURCES` value, or ``None`` for no ``<source>``.
        resolution: the output's ``(height, width)``, one of :data:`RESOLUTIONS` (the default has no ``<res>``).

    Raises:
        ValueError: an unknown task, source or resolution; inputs the task does not take or lacks; some but not all
            outputs; codes that are floats, empty or out of range.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; the tasks are {sorted(TASKS)}")
    spec = TASKS[task]
    if isinstance(text, bool) or not isinstance(text, int) or text < 0:
        raise ValueError(f"text is the number of text embeddings, an int >= 0; got {text!r}")
    given = {"text": text > 0, "video": video_in is not None, "audio": audio_in is not None}
    have = {name for name, present in given.items() if present}
    missing, extra = set(spec.required) - have, have - set(spec.required) - set(spec.optional)
    if missing or extra:
        raise ValueError(f"{task} reads {list(spec.required)} (and may read {list(spec.optional)}); got "
                         f"{sorted(have)}: " + (f"add {sorted(missing)}" if missing else f"drop {sorted(extra)}"))
    outputs = {"video": _codes("video_out", video_out), "audio": _codes("audio_out", audio_out)}
    wanted = [outputs[m] is not None for m in spec.outputs]
    if any(outputs[m] is not None for m in outputs if m not in spec.outputs):
        raise ValueError(f"{task} writes {list(spec.outputs)} only; leave the other output out")
    if any(wanted) and not all(wanted):
        raise ValueError(f"{task} writes {list(spec.outputs)}: give all of their codes (training) or none (a prompt)")
    if source is not None and source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; the sources are {SOURCES} (or None for no <source>)")
    if tuple(resolution) not in RESOLUTIONS:
        raise ValueError(f"no <res> token for {tuple(resolution)}; the sizes are {list(RESOLUTIONS)}")

    def visual(codes: torch.Tensor) -> torch.Tensor:
        return vocab.visual_ids(codes.reshape(-1))

    def audio(codes: torch.Tensor) -> torch.Tensor:
        if codes.ndim != 2:
            raise ValueError(f"audio codes must be (F, L) frames x levels; got shape {tuple(codes.shape)}")
        return vocab.audio_ids(codes)

    pieces: list[torch.Tensor | str] = ["<bos>", f"<task:{spec.token}>"]
    if text:
        pieces += ["<bot_i>", *["<text>"] * text, "<eot_i>"]
    if video_in is not None:
        pieces += ["<bov_i>", visual(_codes("video_in", video_in)), "<eov_i>"]
    if audio_in is not None:
        pieces += ["<boa_i>", audio(_codes("audio_in", audio_in)), "<eoa_i>"]
    if source is not None:
        pieces.append(f"<source:{source}>")
    if RESOLUTIONS[tuple(resolution)]:
        pieces.append(f"<res:{RESOLUTIONS[tuple(resolution)]}>")
    prefix = None
    for modality in spec.outputs:
        begin, end = ("<bov_o>", "<eov_o>") if modality == "video" else ("<boa_o>", "<eoa_o>")
        pieces.append(begin)
        if prefix is None:
            prefix = sum(1 if isinstance(p, str) else len(p) for p in pieces)
        if outputs[modality] is None:
            break                                            # a prompt: generation starts here
        pieces.append(visual(outputs[modality]) if modality == "video" else audio(outputs[modality]))
        if not spec.open_end:
            pieces.append(end)
    else:
        if not spec.open_end:
            pieces.append("<eos>")
    ids = torch.cat([torch.tensor([SPECIAL[p]]) if isinstance(p, str) else p for p in pieces])
    return Sequence(ids=ids, text=ids == SPECIAL["<text>"], prefix=prefix)


def collate(batch: list[Sequence], device=None) -> dict[str, torch.Tensor]:
    """Right-pad a batch: ``input_ids`` ``(B, S)`` (``<pad>`` after the end), ``text`` ``(B, S)`` bool,
    ``attention_mask`` ``(B, S)`` long, ``prefix`` ``(B,)`` long."""
    if not batch:
        raise ValueError("collate needs at least one sequence")
    longest = max(len(s.ids) for s in batch)
    ids = torch.full((len(batch), longest), PAD, dtype=torch.long)
    text = torch.zeros((len(batch), longest), dtype=torch.bool)
    mask = torch.zeros((len(batch), longest), dtype=torch.long)
    for row, s in enumerate(batch):
        ids[row, : len(s.ids)], text[row, : len(s.ids)], mask[row, : len(s.ids)] = s.ids, s.text, 1
    prefix = torch.tensor([s.prefix for s in batch])
    return {name: t.to(device) for name, t in
            {"input_ids": ids, "text": text, "attention_mask": mask, "prefix": prefix}.items()}


__all__ = ["PAD", "RESOLUTIONS", "SOURCES", "SPECIAL", "SPECIAL_TOKENS", "Sequence", "TASKS", "TASK_TOKENS", "Task",
           "build", "collate", "describe"]
