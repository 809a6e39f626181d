"""Unit 00 — subtitles: SubRip (``.srt``) files and the lines a video LLM is shown with its frames.

Video-MME is scored twice, without and with subtitles. In the "with subtitles" setting lmms-eval does not give
the model the whole transcript: it keeps only the subtitle lines on screen at the frames it samples, and puts
them before the question. Some questions can only be answered from those lines, so which lines are kept matters.

- :class:`Cue`: one subtitle line, ``start``/``end`` in seconds;
- :func:`write_srt` / :func:`read_srt`: the SubRip format (index line, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, text
  lines, a blank line), UTF-8;
- :func:`cues_for_frames`: the cues shown with a set of sampled frames (lmms-eval's Video-MME rule);
- :func:`subtitle_prompt`: the text block that goes before the question.

Upstream: ``EvolvingLMMs-Lab/lmms-eval`` @ 75571cf (2026-08-06), ``lmms_eval/tasks/videomme/utils.py``:
``videomme_doc_to_text_subtitle``, ``extract_subtitles``, ``load_subtitles``, ``parse_subtitle_time``; the rule
is unchanged since 2024-06 (commit e6055890). With the default task kwargs (``frame_num: 32``) it

1. reads the video's frame count ``N`` and frame rate ``fps`` with OpenCV and samples
   ``np.linspace(0, N - 1, frame_num, dtype=int)`` (truncating; ``frame_num = -1`` means every frame). These
   are *not* the frames the model is given: the model's own loader samples separately;
2. turns each cue's times into frame numbers by truncation, ``int(seconds * fps)``, and keeps cue ``c`` if some
   sampled frame ``i`` has ``start_frame <= i < end_frame``;
3. de-duplicates the kept cue numbers with ``list(set(...))`` (so their order is CPython's set order: ascending
   while the numbers are small, but e.g. cues 3 and 8 come out as ``[8, 3]``);
4. keeps from each cue's text (its lines joined with spaces) only the first
   ``<font color="white" size=".72c">...</font>`` span, as Video-MME's files wrap every line in one, and drops
   cues without such a span;
5. writes ``"This video's subtitles are listed below: \\n" + "\\n".join(lines) + "\\n"`` before the question
   (``"No subtitles available"`` in place of the lines when the video has no ``.srt``).

Its ``.srt`` reader keys cues by ``(start, end)``, so two cues with the same span collapse into the later text.
:func:`cues_for_frames` with ``fps`` reproduces steps 2-3 and the collapse exactly; without ``fps`` it states
the rule in seconds (``start <= t < end``) and keeps the cues in time order. Step 4 is mirrored for texts that
carry the font tag; texts without it (ours) are kept whole rather than dropped.

Lecture: `lectures/00_video_as_data.ipynb` §6; `lectures/09_evaluation.ipynb` §5.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

#: lmms-eval's default number of sampled frames for Video-MME with subtitles (``frame_num`` in the task yaml).
VIDEOMME_FRAME_NUM = 32
#: The first line of the subtitle block (note the space before the newline, as upstream writes it).
SUBTITLE_HEADER = "This video's subtitles are listed below: \n"
#: What upstream writes in place of the lines when a video has no subtitle file.
NO_SUBTITLES = "No subtitles available"

# Video-MME's .srt files wrap each line in this tag; lmms-eval keeps the first span's content.
_FONT_TAG = re.compile(r'<font color="white" size=".72c">(.*?)</font>')
_TIMESTAMP = r"(\d+):([0-5]\d):([0-5]\d)[,.](\d{3})"
# "HH:MM:SS,mmm --> HH:MM:SS,mmm", optionally followed by position hints (an SRT extension) that we ignore.
_TIMING = re.compile(rf"^\s*{_TIMESTAMP}\s*-->\s*{_TIMESTAMP}(?:\s.*)?$")
_FORMAT_HINT = (
    "each SubRip block is a cue number, a 'HH:MM:SS,mmm --> HH:MM:SS,mmm' line, one or more text lines "
    "and a blank line"
)


@dataclass(frozen=True)
class Cue:
    """One subtitle line: ``text`` is shown from ``start`` to ``end`` seconds (``end`` exclusive).

    Attributes:
        start: seconds from the start of the video, ``>= 0``.
        end: seconds, ``> start``.
        text: what is shown; may span several lines (``"\\n"``), none of them blank (a blank line ends a
            SubRip block). SubRip stores milliseconds, so times written by :func:`write_srt` are rounded to 1 ms.
    """

    start: float
    end: float
    text: str

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise ValueError(f"cue {name} must be a number of seconds; got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"cue {name} must be finite; got {value!r}")
            object.__setattr__(self, name, float(value))
        if self.start < 0:
            raise ValueError(f"cue start must be >= 0 seconds; got {self.start}")
        if self.end <= self.start:
            raise ValueError(
                f"cue end must come after its start; got start={self.start}, end={self.end} for {self.text!r}"
            )
        if not isinstance(self.text, str):
            raise ValueError(f"cue text must be a str; got {type(self.text).__name__}")
        if "\r" in self.text:
            raise ValueError(f"cue text must use '\\n' line breaks, not '\\r'; got {self.text!r}")
        if not self.text.strip() or any(not line.strip() for line in self.text.split("\n")):
            raise ValueError(
                f"cue text must be non-empty with no blank lines (a blank line ends a SubRip block); got {self.text!r}"
            )


# ----------------------------------------------------------------------------------------------------------------
# Timestamps


def _milliseconds(seconds: float) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float, np.integer, np.floating)):
        raise ValueError(f"a timestamp must be a number of seconds; got {seconds!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a timestamp must be finite and >= 0 seconds; got {seconds!r}")
    return int(round(float(seconds) * 1000))


def format_timestamp(seconds: float) -> str:
    """Seconds to SubRip's ``HH:MM:SS,mmm``, rounded to the nearest millisecond.

    >>> format_timestamp(3723.4)
    '01:02:03,400'
    """
    hours, rest = divmod(_milliseconds(seconds), 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{millis:03d}"


def parse_timestamp(text: str) -> float:
    """SubRip's ``HH:MM:SS,mmm`` to seconds: ``total_milliseconds / 1000``, the float nearest the written value.

    >>> parse_timestamp("01:02:03,400")
    3723.4
    """
    match = re.fullmatch(_TIMESTAMP, text.strip())
    if match is None:
        raise ValueError(f"expected a timestamp 'HH:MM:SS,mmm'; got {text!r}")
    return _groups_to_seconds(match.groups())


def _groups_to_seconds(groups: Sequence[str]) -> float:
    hours, minutes, secs, millis = (int(g) for g in groups)
    return (((hours * 60 + minutes) * 60 + secs) * 1000 + millis) / 1000


# ----------------------------------------------------------------------------------------------------------------
# Files


def write_srt(cues: Iterable[Cue], path: str | Path) -> Path:
    """Write ``cues`` to ``path`` as SubRip, numbered from 1 in the order given; UTF-8, ``\\n`` line breaks.

    Times are rounded to the millisecond, so :func:`read_srt` gives back the same cues exactly when their times
    are whole milliseconds (``round(t, 3) == t``). An empty list writes an empty file.

    Raises:
        ValueError: something other than a :class:`Cue`, or a cue that rounding to 1 ms would make empty.
    """
    blocks = []
    for number, cue in enumerate(cues, start=1):
        if not isinstance(cue, Cue):
            raise ValueError(f"cue {number} must be a videollm.world.subtitles.Cue; got {type(cue).__name__}")
        start, end = format_timestamp(cue.start), format_timestamp(cue.end)
        if _milliseconds(cue.end) <= _milliseconds(cue.start):
            raise ValueError(
                f"cue {number} ({cue.start} to {cue.end} s) is shorter than SubRip's 1 ms resolution; lengthen it"
            )
        blocks.append(f"{number}\n{start} --> {end}\n{cue.text}\n\n")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(blocks).encode("utf-8"))  # bytes, so no platform turns "\n" into "\r\n"
    return path


def read_srt(path: str | Path) -> list[Cue]:
    """Read a SubRip file.

    Tolerates a UTF-8 byte-order mark, CRLF or CR line breaks, extra blank lines between blocks, a ``.`` instead
    of ``,`` before the milliseconds, and position hints after the end time. Cue numbers are read but not
    checked for order (players ignore them too).

    Returns:
        The cues in file order; multi-line texts keep their ``"\\n"``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not UTF-8, or a malformed block; the message names the line (1-based).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"file not found: {path}")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 text ({error}); re-save it as UTF-8") from None
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines[-1] == "":  # the final line break ends the last line; it does not start a new one
        lines.pop()
    cues: list[Cue] = []
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        number = lines[i].strip()
        if not number.isdigit():
            raise ValueError(f"{path}, line {i + 1}: expected a cue number, got {lines[i]!r}; {_FORMAT_HINT}")
        i += 1
        timing = _TIMING.match(lines[i]) if i < len(lines) else None
        if timing is None:
            got = repr(lines[i]) if i < len(lines) else "the end of the file"
            raise ValueError(
                f"{path}, line {i + 1}: expected 'HH:MM:SS,mmm --> HH:MM:SS,mmm' after cue number {number}, "
                f"got {got}; {_FORMAT_HINT}"
            )
        timing_line = i + 1
        i += 1
        text_lines = []
        while i < len(lines) and lines[i].strip():
            text_lines.append(lines[i])
            i += 1
        if not text_lines:
            raise ValueError(f"{path}, line {timing_line}: cue {number} has no text; {_FORMAT_HINT}")
        groups = timing.groups()
        try:
            cues.append(Cue(_groups_to_seconds(groups[:4]), _groups_to_seconds(groups[4:]), "\n".join(text_lines)))
        except ValueError as error:
            raise ValueError(f"{path}, line {timing_line}: cue {number}: {error}") from None
    return cues


# ----------------------------------------------------------------------------------------------------------------
# Which lines the model sees (lmms-eval's Video-MME rule)


def videomme_frame_indices(total_frames: int, frame_num: int = VIDEOMME_FRAME_NUM) -> np.ndarray:
    """The frames lmms-eval picks subtitles for: ``np.linspace(0, total_frames - 1, frame_num, dtype=int)``.

    Truncation, not rounding (compare :func:`videollm.sampling.uniform_indices` with ``rounding="floor"``);
    ``frame_num = -1`` means every frame. As upstream, asking for more frames than exist repeats indices
    instead of failing.

    Returns:
        ``(frame_num,)`` int64 (``(total_frames,)`` for ``-1``), non-decreasing.
    """
    for name, value in (("total_frames", total_frames), ("frame_num", frame_num)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be an integer; got {value!r}")
    if total_frames < 1:
        raise ValueError(f"total_frames must be >= 1; got {total_frames}")
    if frame_num == -1:
        frame_num = total_frames
    if frame_num < 1:
        raise ValueError(f"frame_num must be >= 1, or -1 for every frame; got {frame_num}")
    return np.linspace(0, total_frames - 1, int(frame_num), dtype=int).astype(np.int64)


def _lmms_eval_seconds(seconds: float) -> float:
    """The float lmms-eval's ``parse_subtitle_time`` gives for this time written as ``HH:MM:SS,mmm``.

    It sums ``h * 3600 + m * 60 + s + ms / 1000``, which can differ from ``total_ms / 1000`` in the last bit;
    that bit decides ``int(seconds * fps)`` when the product is a whole number.
    """
    hours, rest = divmod(_milliseconds(seconds), 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return hours * 3600 + minutes * 60 + secs + millis / 1000


def cues_for_frames(cues: Sequence[Cue], frame_times, fps: float | None = None) -> list[Cue]:
    """The cues a model is shown with frames at ``frame_times`` (lmms-eval's Video-MME subtitle rule).

    Args:
        cues: the video's subtitles, e.g. from :func:`read_srt`.
        frame_times: ``(T,)`` seconds of the sampled frames (e.g. ``videomme_frame_indices(N) / fps``).
        fps: None for the rule in seconds: a cue is kept if some frame time ``t`` has ``start <= t < end``;
            cues come back once each, in the order given. Or the video's frame rate, to reproduce lmms-eval
            exactly: frames are numbered ``round(t * fps)``, cue bounds ``int(seconds * fps)`` (truncated, so a
            frame up to ``1 / fps`` before a cue's start can count), cues with the same ``(start, end)`` collapse
            into the later cue (at the earlier one's place), and the kept cues come in ``list(set(numbers))``
            order (see the module docstring). The two agree when cue times are multiples of ``1 / fps``.

    Returns:
        The kept cues, a subset of ``cues`` (the same objects).
    """
    cues = list(cues)
    times = np.asarray(frame_times, dtype=np.float64)
    if times.ndim != 1:
        raise ValueError(f"frame_times must be a 1-D array of seconds; got shape {times.shape}")
    if not np.all(np.isfinite(times)):
        raise ValueError("frame_times must be finite seconds")
    for number, cue in enumerate(cues):
        if not isinstance(cue, Cue):
            raise ValueError(f"cues[{number}] must be a videollm.world.subtitles.Cue; got {type(cue).__name__}")
    if not cues or not len(times):
        return []
    if fps is None:
        starts = np.array([c.start for c in cues])
        ends = np.array([c.end for c in cues])
        covered = (starts[:, None] <= times[None, :]) & (times[None, :] < ends[:, None])  # (C, T)
        return [cue for cue, keep in zip(cues, covered.any(axis=1)) if keep]

    if not fps > 0:
        raise ValueError(f"fps must be positive; got {fps!r}")
    fps = float(fps)
    # Upstream's reader keeps a dict keyed by (start, end): a repeated span keeps its first place, later text.
    spans: dict[tuple[float, float], int] = {}
    for number, cue in enumerate(cues):
        spans[_lmms_eval_seconds(cue.start), _lmms_eval_seconds(cue.end)] = number
    merged = [cues[number] for number in spans.values()]
    start_frames = np.array([int(start * fps) for start, _ in spans])  # int() truncates, as upstream
    end_frames = np.array([int(end * fps) for _, end in spans])
    frames = np.round(times * fps).astype(np.int64)
    covered = (start_frames[None, :] <= frames[:, None]) & (frames[:, None] < end_frames[None, :])  # (T, C)
    # np.nonzero walks the (frame, cue) pairs in upstream's loop order; list(set(...)) then orders them as
    # upstream's does.
    numbers = np.nonzero(covered)[1].tolist()
    return [merged[k] for k in list(set(numbers))]


def _prompt_line(cue: Cue) -> str:
    line = " ".join(cue.text.split("\n"))  # upstream joins a block's text lines with spaces
    tagged = _FONT_TAG.findall(line)
    return tagged[0] if tagged else line


def subtitle_prompt(cues: Sequence[Cue] | None) -> str:
    """The subtitle block lmms-eval puts before a Video-MME question.

    ``"This video's subtitles are listed below: \\n"``, then one line per cue (its lines joined by spaces;
    only the first ``<font color="white" size=".72c">`` span when the text has one, as in Video-MME's files),
    then ``"\\n"``. ``cues=None`` means the video has no subtitle file: upstream writes
    ``"No subtitles available"`` in place of the lines. An empty list (no cue at the sampled frames) gives the
    header and an empty line, as upstream does.

    >>> subtitle_prompt([Cue(0.0, 1.0, "Hello"), Cue(1.0, 2.0, "big\\nworld")])
    "This video's subtitles are listed below: \\nHello\\nbig world\\n"
    """
    if cues is None:
        return SUBTITLE_HEADER + NO_SUBTITLES + "\n"
    return SUBTITLE_HEADER + "\n".join(_prompt_line(c) for c in cues) + "\n"
