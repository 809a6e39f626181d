"""Tests for videollm.world.subtitles: cues, SubRip files, and lmms-eval's Video-MME subtitle selection.

The selection is checked against a loop-by-loop restatement of lmms-eval's rule
(EvolvingLMMs-Lab/lmms-eval @ 75571cf, lmms_eval/tasks/videomme/utils.py, ``videomme_doc_to_text_subtitle``).
"""

import numpy as np
import pytest

from videollm.sampling import uniform_indices
from videollm.world.subtitles import (
    Cue,
    cues_for_frames,
    format_timestamp,
    parse_timestamp,
    read_srt,
    subtitle_prompt,
    videomme_frame_indices,
    write_srt,
)

CUES = [
    Cue(0.0, 2.0, "Meet Pip, the red square."),
    Cue(2.0, 4.5, "Pip likes to jump.\nVery high!"),
    Cue(5.0, 6.0, "Ça va? Très bien."),
    Cue(3725.25, 3726.001, "An hour later."),
]


# ---------------------------------------------------------------- Cue and timestamps


def test_timestamps():
    assert format_timestamp(0) == "00:00:00,000"
    assert format_timestamp(3723.4) == "01:02:03,400"
    assert format_timestamp(1.0004) == "00:00:01,000" and format_timestamp(1.0006) == "00:00:01,001"
    assert format_timestamp(100 * 3600) == "100:00:00,000"
    assert parse_timestamp("01:02:03,400") == 3723.4 and parse_timestamp("00:00:00.250") == 0.25
    with pytest.raises(ValueError, match="finite and >= 0"):
        format_timestamp(-1)
    with pytest.raises(ValueError, match="expected a timestamp 'HH:MM:SS,mmm'"):
        parse_timestamp("1:2:3")


@pytest.mark.parametrize(
    "args, message",
    [
        ((-0.5, 1.0, "x"), "start must be >= 0"),
        ((2.0, 2.0, "x"), "end must come after its start"),
        ((3.0, 1.0, "x"), "end must come after its start"),
        ((float("nan"), 1.0, "x"), "must be finite"),
        (("0", 1.0, "x"), "must be a number of seconds"),
        ((0.0, 1.0, ""), "non-empty with no blank lines"),
        ((0.0, 1.0, "one\n\ntwo"), "non-empty with no blank lines"),
        ((0.0, 1.0, "dos\r\nline"), "line breaks"),
    ],
)
def test_cue_validation(args, message):
    with pytest.raises(ValueError, match=message):
        Cue(*args)


# ---------------------------------------------------------------- files


def test_round_trip_is_exact(tmp_path):
    path = write_srt(CUES, tmp_path / "sub" / "clip.srt")
    assert read_srt(path) == CUES


def test_written_bytes(tmp_path):
    path = write_srt(CUES[:2], tmp_path / "a.srt")
    assert path.read_bytes() == (
        b"1\n00:00:00,000 --> 00:00:02,000\nMeet Pip, the red square.\n\n"
        b"2\n00:00:02,000 --> 00:00:04,500\nPip likes to jump.\nVery high!\n\n"
    )
    assert write_srt([], tmp_path / "empty.srt").read_bytes() == b""
    assert read_srt(tmp_path / "empty.srt") == []


def test_times_are_rounded_to_milliseconds(tmp_path):
    path = write_srt([Cue(1 / 3, 2 / 3, "third")], tmp_path / "a.srt")
    assert read_srt(path) == [Cue(0.333, 0.667, "third")]
    with pytest.raises(ValueError, match="shorter than SubRip's 1 ms resolution"):
        write_srt([Cue(1.0001, 1.0003, "blink")], tmp_path / "b.srt")
    with pytest.raises(ValueError, match="must be a videollm.world.subtitles.Cue"):
        write_srt([(0, 1, "tuple")], tmp_path / "c.srt")


def test_reads_a_hand_made_file_with_bom_crlf_and_oddities(tmp_path):
    text = (
        "\ufeff1\r\n00:00:01,500 --> 00:00:03,000\r\nHello\r\n\r\n\r\n"  # BOM, CRLF, two blank lines
        "2\r\n00:00:03.000 --> 00:00:04,250 X1:10 X2:100\r\n  two lines  \r\nsecond\r\n\r\n"  # '.', position hints
        "7\n00:01:00,000-->00:01:01,000\n<font color=\"white\" size=\".72c\">tagged</font>"  # LF, no final newline
    )
    path = tmp_path / "hand.srt"
    path.write_bytes(text.encode("utf-8"))
    assert read_srt(path) == [
        Cue(1.5, 3.0, "Hello"),
        Cue(3.0, 4.25, "  two lines  \nsecond"),
        Cue(60.0, 61.0, '<font color="white" size=".72c">tagged</font>'),
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "1\n00:00:01,000 -> 00:00:02,000\nx\n",
            r"line 2: expected 'HH:MM:SS,mmm --> HH:MM:SS,mmm' after cue number 1",
        ),
        ("1\n00:00:01,000 --> 00:00:02,000\nok\n\nhello\n", r"line 5: expected a cue number, got 'hello'"),
        ("1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n", r"line 6: expected .* got the end of the file"),
        ("1\n00:00:01,000 --> 00:00:02,000\n\n", r"line 2: cue 1 has no text"),
        ("\n\n1\n00:00:03,000 --> 00:00:02,000\nbackwards\n", r"line 4: cue 1: cue end must come after its start"),
        ("1\n00:00:61,000 --> 00:01:02,000\nx\n", r"line 2: expected 'HH:MM:SS,mmm"),
    ],
)
def test_malformed_blocks_name_the_line(tmp_path, text, message):
    path = tmp_path / "bad.srt"
    path.write_text(text)
    with pytest.raises(ValueError, match=rf"bad\.srt, {message}"):
        read_srt(path)


def test_read_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^file not found: .*missing\.srt$"):
        read_srt(tmp_path / "missing.srt")
    path = tmp_path / "latin1.srt"
    path.write_bytes("1\n00:00:01,000 --> 00:00:02,000\nÇa\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1\.srt is not UTF-8 text .* re-save it as UTF-8"):
        read_srt(path)


# ---------------------------------------------------------------- selection: the rule in seconds


def test_selection_in_seconds_hand_worked():
    cues = [Cue(0.0, 2.0, "zero"), Cue(2.0, 4.5, "one"), Cue(5.0, 6.0, "two"), Cue(7.25, 8.0, "three")]
    # 1.0 lies in "zero"; 4.5 is the (exclusive) end of "one" and before "two"; 6.0 the end of "two";
    # 7.25 the (inclusive) start of "three".
    assert cues_for_frames(cues, [1.0, 4.5, 6.0, 7.25]) == [cues[0], cues[3]]
    assert cues_for_frames(cues, np.array([7.5, 1.5, 0.5])) == [cues[0], cues[3]], "time order, each once"
    assert cues_for_frames(cues, []) == [] and cues_for_frames([], [1.0]) == []


# ---------------------------------------------------------------- selection: lmms-eval exactly


def test_lmms_eval_truncates_cue_times_to_frames():
    # fps 2: frames every 0.5 s. A cue 1.3-2.2 s spans frames int(2.6)=2 to int(4.4)=4 (exclusive), so the
    # frame at 1.0 s (frame 2) counts although it is shown before the cue starts, and the frame at 2.0 s
    # (frame 4) does not although the cue is still on screen.
    cue = Cue(1.3, 2.2, "late")
    assert cues_for_frames([cue], [1.0], fps=2) == [cue] and cues_for_frames([cue], [1.0]) == []
    assert cues_for_frames([cue], [2.0], fps=2) == [] and cues_for_frames([cue], [2.0]) == [cue]
    # A cue inside one frame interval spans no frame at all: int(1.0) == int(1.8).
    short = Cue(0.5, 0.9, "short")
    assert cues_for_frames([short], [0.5], fps=2) == [] and cues_for_frames([short], [0.5]) == [short]


def test_lmms_eval_order_is_set_order():
    # Upstream de-duplicates with list(set(...)): with cues 3 and 8 kept, CPython's set yields 8 first.
    cues = [Cue(k, k + 1, f"cue {k}") for k in range(10)]
    assert [c.text for c in cues_for_frames(cues, [3.0, 8.0], fps=1)] == ["cue 8", "cue 3"]
    assert [c.text for c in cues_for_frames(cues, [3.0, 8.0])] == ["cue 3", "cue 8"]


def test_lmms_eval_collapses_cues_with_the_same_span():
    cues = [Cue(1.0, 2.0, "first"), Cue(0.0, 1.0, "before"), Cue(1.0, 2.0, "second")]
    # The span 1-2 s keeps its first place (number 0) with the later text; "before" is number 1.
    assert cues_for_frames(cues, [0.0, 1.0], fps=1) == [cues[2], cues[1]]
    assert cues_for_frames(cues, [0.0, 1.0]) == cues


def _lmms_eval_reference(srt_text, total_frames, fps, frame_num):
    """lmms-eval's rule restated with plain loops, from the .srt text: parse blocks, key them by (start, end),
    truncate times to frames, test every (sampled frame, cue) pair, de-duplicate with a set."""

    def seconds(stamp):
        h, m, rest = stamp.split(":")
        s, ms = rest.split(",")
        return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000

    spans = {}
    for block in srt_text.split("\n\n"):
        if block.strip():
            lines = block.split("\n")
            start, end = lines[1].split(" --> ")
            spans[seconds(start), seconds(end)] = " ".join(lines[2:])
    by_frame = [(int(s * fps), int(e * fps), text) for (s, e), text in spans.items()]
    sampled = np.linspace(0, total_frames - 1, frame_num, dtype=int).tolist()
    kept = []
    for frame in sampled:
        for number, (first, last, _) in enumerate(by_frame):
            if first <= frame < last:
                kept.append(number)
    return [by_frame[number][2] for number in list(set(kept))]


@pytest.mark.parametrize("fps", [1, 2, 4, 10, 25, 30000 / 1001])
def test_lmms_eval_agreement_on_random_subtitles(tmp_path, fps):
    rng = np.random.default_rng(int(fps * 1000))
    for trial in range(20):
        total = int(rng.integers(40, 3000))
        duration = total / fps
        n = int(rng.integers(1, 30))
        starts_ms = np.sort(rng.integers(0, int(duration * 1000), n))
        lengths_ms = rng.integers(1, 8000, n)
        cues = [Cue(s / 1000, (s + l) / 1000, f"line {i}") for i, (s, l) in enumerate(zip(starts_ms, lengths_ms))]
        if n > 2:  # a repeated span, as real files sometimes have
            cues.append(Cue(cues[1].start, cues[1].end, "repeat"))
        path = write_srt(cues, tmp_path / "r.srt")
        frame_num = int(rng.choice([8, 32, 64]))
        indices = videomme_frame_indices(total, frame_num)
        got = [c.text for c in cues_for_frames(read_srt(path), indices / fps, fps=fps)]
        assert got == _lmms_eval_reference(path.read_text(), total, fps, frame_num), (fps, trial)


def test_videomme_frame_indices():
    assert videomme_frame_indices(100, 4).tolist() == [0, 33, 66, 99]
    assert np.array_equal(videomme_frame_indices(1234), uniform_indices(1234, 32, rounding="floor"))
    assert videomme_frame_indices(5, -1).tolist() == [0, 1, 2, 3, 4]
    assert videomme_frame_indices(3, 5).tolist() == [0, 0, 1, 1, 2], "upstream repeats frames rather than failing"
    with pytest.raises(ValueError, match="frame_num must be >= 1, or -1"):
        videomme_frame_indices(10, 0)
    with pytest.raises(ValueError, match="total_frames must be >= 1"):
        videomme_frame_indices(0)


def test_selection_errors():
    with pytest.raises(ValueError, match="1-D array of seconds"):
        cues_for_frames(CUES, [[1.0]])
    with pytest.raises(ValueError, match="must be a videollm.world.subtitles.Cue"):
        cues_for_frames([(0, 1, "x")], [0.5])
    with pytest.raises(ValueError, match="fps must be positive"):
        cues_for_frames(CUES, [0.5], fps=0)


# ---------------------------------------------------------------- the prompt block


def test_subtitle_prompt():
    header = "This video's subtitles are listed below: \n"
    assert subtitle_prompt(CUES[:2]) == header + "Meet Pip, the red square.\nPip likes to jump. Very high!\n"
    tagged = Cue(0, 1, '<font color="white" size=".72c">Hi there</font> <font color="white" size=".72c">x</font>')
    assert subtitle_prompt([tagged]) == header + "Hi there\n"
    assert subtitle_prompt([]) == header + "\n", "no line at the sampled frames: an empty line, as upstream"
    assert subtitle_prompt(None) == header + "No subtitles available\n"
