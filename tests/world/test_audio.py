"""Tests for videollm.world.audio (tone tracks, tone detection) and the audio side of videollm.io (write_video's
sound track, load_audio, probe_video's has_audio). Checked with PyAV 18.1 (FFmpeg libavcodec 62, native AAC)."""

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest

from videollm.io import VideoDecodeError, load_audio, load_video, probe_video, write_video
from videollm.world.audio import FADE_SECONDS, detect_tones, tone_track

RATE = 16000
FREQS = [220.0, 330.0, 440.0, 660.0, 880.0, 1100.0]  # the world's event tones
# Tones at the start, overlapping in time (different frequencies), back to back, and cut by the end of the track.
EVENTS = [(0.0, 0.1, 330.0), (0.5, 0.2, 440.0), (1.0, 0.2, 660.0), (1.05, 0.3, 220.0), (1.7, 0.2, 880.0),
          (2.85, 0.3, 1100.0)]
T, H, W, FPS = 30, 32, 48, 10  # a 3-second clip
# The detector's edges: within hop/2 (5 ms) plus half a fade, inwards. Allow one hop (10 ms).
TOLERANCE = 0.010


def expected_spans(events, duration):
    return sorted((s, min(s + d, duration), f) for s, d, f in events)


def assert_detected(found, events, duration):
    want = expected_spans(events, duration)
    assert [f for _, _, f in found] == [f for _, _, f in want], f"found {found}, wanted {want}"
    for (s, e, _), (ws, we, _) in zip(found, want):
        assert abs(s - ws) <= TOLERANCE and abs(e - we) <= TOLERANCE, f"found {found}, wanted {want}"


# ---------------------------------------------------------------- tone_track


def test_tone_track_shape_values_and_silence():
    x = tone_track(EVENTS, 3.0)
    assert x.shape == (3 * RATE,) and x.dtype == np.float32
    assert np.array_equal(x * 32768, np.round(x * 32768)), "samples are 16-bit PCM values"
    # Silence exactly where no tone sounds.
    t = np.arange(len(x)) / RATE
    sounding = np.zeros(len(x), bool)
    for s, d, _ in EVENTS:
        sounding |= (t >= s - 1e-9) & (t < s + d)
    assert not x[~sounding].any()
    # The 440 Hz tone alone: its peak is the amplitude, and its spectrum peaks at 440 Hz.
    tone = x[int(0.5 * RATE) : int(0.7 * RATE)]
    assert abs(np.abs(tone).max() - 0.5) < 1e-3
    spectrum = np.abs(np.fft.rfft(tone * np.hanning(len(tone))))
    assert np.fft.rfftfreq(len(tone), 1 / RATE)[spectrum.argmax()] == pytest.approx(440, abs=5)


def test_tone_track_fades_in_and_out():
    x = tone_track([(0.1, 0.1, 1000.0)], 0.3)
    fade = round(FADE_SECONDS * RATE)
    s0, s1 = int(0.1 * RATE), int(0.2 * RATE)
    assert x[s0] == 0 and x[s1 - 1] == 0
    # Inside the fade the envelope grows linearly, so no sample exceeds amplitude * k / fade.
    k = np.arange(fade)
    assert np.all(np.abs(x[s0 : s0 + fade]) <= 0.5 * k / fade + 1 / 32768)
    assert np.all(np.abs(x[s1 - fade : s1]) <= 0.5 * k[::-1] / fade + 1 / 32768)
    # No click: neighbouring samples never jump by more than a 1 kHz sine at full amplitude can.
    assert np.abs(np.diff(x)).max() <= 0.5 * 2 * np.pi * 1000 / RATE + 1e-3


def test_tone_track_is_byte_identical():
    # Integer synthesis: the same arguments give the same bytes on every machine. A change to the generator
    # changes every clip's sound track: update this checksum deliberately.
    x = tone_track([(0.1, 0.25, 440.0), (0.2, 0.1, 1000.5)], 0.5)
    assert hashlib.sha256(x.tobytes()).hexdigest() == "d98382f6e0ef5fdf708b1233c92fa25c1c6ef92b2c7bb8df395a3f8a565fac95"
    assert np.array_equal(x, tone_track([(0.1, 0.25, 440.0), (0.2, 0.1, 1000.5)], 0.5))


def test_tone_track_overlapping_tones_add_and_clip():
    one = tone_track([(0.0, 0.1, 500.0)], 0.1, amplitude=0.75)
    two = tone_track([(0.0, 0.1, 500.0), (0.0, 0.1, 500.0)], 0.1, amplitude=0.75)
    assert np.abs(two).max() == pytest.approx(1.0, abs=1e-4) and np.abs(one).max() == pytest.approx(0.75, abs=1e-3)
    assert two.max() < 1 and two.min() >= -1


def test_tone_track_lengths():
    assert len(tone_track([], 2.5)) == 40000 and not tone_track([], 2.5).any()
    assert len(tone_track([], 1.0, sample_rate=8000)) == 8000
    x = tone_track([(0.9, 0.5, 440.0)], 1.0)  # cut at the end of the track
    assert len(x) == RATE and x[-10:].any()


@pytest.mark.parametrize(
    "events, kwargs, message",
    [
        ([(3.0, 0.1, 440.0)], {}, r"event 0 starts at 3.0 s, outside the track \[0, 3.0\) s"),
        ([(-0.1, 0.1, 440.0)], {}, "outside the track"),
        ([(0.0, 0.0, 440.0)], {}, "event 0 duration_s must be positive"),
        ([(0.0, 0.1, 9000.0)], {}, "not below the Nyquist frequency 8000.0 Hz"),
        ([(0.0, 0.1)], {}, r"event 0 must be \(start_s, duration_s, frequency_hz\)"),
        ([], {"amplitude": 1.5}, r"amplitude must be in \(0, 1\]"),
        ([], {"sample_rate": 16000.0}, "sample_rate must be a positive integer"),
    ],
)
def test_tone_track_errors(events, kwargs, message):
    with pytest.raises(ValueError, match=message):
        tone_track(events, 3.0, **kwargs)


# ---------------------------------------------------------------- detect_tones


def test_detect_tones_on_the_written_track():
    assert_detected(detect_tones(tone_track(EVENTS, 3.0), RATE, FREQS), EVENTS, 3.0)


def test_detect_tones_finds_nothing_in_silence_or_at_other_frequencies():
    assert detect_tones(np.zeros(RATE, np.float32), RATE, FREQS) == []
    x = tone_track([(0.2, 0.5, 550.0)], 1.0)  # between 440 and 660: 110 Hz from each
    assert detect_tones(x, RATE, FREQS) == []
    assert [f for _, _, f in detect_tones(x, RATE, [550.0])] == [550.0]


def test_detect_tones_resolution_follows_hop():
    x = tone_track([(0.3333, 0.4, 440.0)], 1.0)
    for hop in (0.005, 0.01, 0.02):
        ((start, end, _),) = detect_tones(x, RATE, [440.0], hop=hop)
        assert abs(start - 0.3333) <= hop / 2 + FADE_SECONDS / 2 + 1e-9
        assert abs(end - 0.7333) <= hop / 2 + FADE_SECONDS / 2 + 1e-9


def test_detect_tones_errors():
    with pytest.raises(ValueError, match="1-D float array"):
        detect_tones(np.zeros((2, 100)), RATE, FREQS)
    with pytest.raises(ValueError, match="below the Nyquist frequency"):
        detect_tones(np.zeros(100), RATE, [8000.0])
    with pytest.raises(ValueError, match="hop must be positive"):
        detect_tones(np.zeros(100), RATE, FREQS, hop=0)


# ---------------------------------------------------------------- write_video with sound, load_audio


def make_frames():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (T, H, W, 3), dtype=np.uint8)


# Each clip is written by a fresh interpreter. Inside a long test process (pytest-xdist, after the torch-heavy
# tests) libx264 was seen to encode the same frames to different bytes, which these byte-identity checks would
# blame on the sound track; in a fresh process the bytes are reproducible (checked 40 times under load).
WRITER = """
import json, sys
import numpy as np
from videollm.world.audio import tone_track
from videollm.io import write_video
path, T, H, W, fps, events = json.loads(sys.argv[1])
frames = np.random.default_rng(0).integers(0, 256, (T, H, W, 3), dtype=np.uint8)
audio = tone_track([tuple(e) for e in events], T / fps) if events else None
write_video(path, frames, fps, audio=audio)
"""


def write_fresh(path, with_audio: bool):
    """``write_video(path, make_frames(), FPS[, audio])`` in a new Python process; returns ``path``."""
    args = json.dumps([str(path), T, H, W, FPS, EVENTS if with_audio else []])
    subprocess.run([sys.executable, "-c", WRITER, args], check=True, timeout=120)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """The same frames written without and with a tone track."""
    folder = tmp_path_factory.mktemp("audio")
    return {
        "silent": write_fresh(folder / "silent.mp4", with_audio=False),
        "sound": write_fresh(folder / "sound.mp4", with_audio=True),
        "audio": tone_track(EVENTS, T / FPS),
        "folder": folder,
    }


def test_video_is_unchanged_by_the_sound_track(clips):
    silent, _ = load_video(clips["silent"], backend="pyav")
    sound, seconds = load_video(clips["sound"], backend="pyav")
    assert np.array_equal(silent, sound)
    np.testing.assert_allclose(seconds, np.arange(T) / FPS, atol=1e-9)
    info = probe_video(clips["sound"])
    assert info.has_audio and info.num_frames == T and info.codec == "h264"
    assert not probe_video(clips["silent"]).has_audio


def test_video_bytes_are_unchanged_without_audio(clips, tmp_path):
    # audio=None takes exactly the old path: the file is byte-identical to one written again.
    again = write_fresh(tmp_path / "silent.mp4", with_audio=False)
    assert again.read_bytes() == clips["silent"].read_bytes()
    again = write_fresh(tmp_path / "sound.mp4", with_audio=True)
    assert again.read_bytes() == clips["sound"].read_bytes(), "same machine, same bytes (AAC included)"


def test_audio_round_trip(clips):
    samples, rate = load_audio(clips["sound"])
    assert rate == RATE and samples.dtype == np.float32 and samples.ndim == 1
    assert abs(len(samples) / rate - T / FPS) <= 1 / FPS
    assert len(samples) == len(clips["audio"]), "MP4 states the duration, so AAC's padding is cut off"
    # Lossy, but close: the waveform comes back with a signal-to-noise ratio of about 29 dB.
    error = samples - clips["audio"]
    assert 10 * np.log10(np.mean(clips["audio"] ** 2) / np.mean(error**2)) > 20
    assert_detected(detect_tones(samples, rate, FREQS), EVENTS, T / FPS)


def test_load_audio_resamples(clips):
    samples, rate = load_audio(clips["sound"], sample_rate=8000)
    assert rate == 8000 and abs(len(samples) - len(clips["audio"]) // 2) <= 1
    # At 8 kHz (Nyquist 4 kHz) every tone is still there and found.
    assert_detected(detect_tones(samples, rate, FREQS), EVENTS, T / FPS)


def test_load_audio_errors(clips, tmp_path):
    with pytest.raises(VideoDecodeError, match=r"^no audio stream in .*silent\.mp4 \(streams: video\)"):
        load_audio(clips["silent"])
    assert issubclass(VideoDecodeError, ValueError)
    with pytest.raises(FileNotFoundError, match=r"^file not found: .*nothing\.mp4$"):
        load_audio(tmp_path / "nothing.mp4")
    path = tmp_path / "notes.mp4"
    path.write_text("not a video\n" * 50)
    with pytest.raises(VideoDecodeError, match=r"could not decode .*notes\.mp4"):
        load_audio(path)
    with pytest.raises(ValueError, match="sample_rate must be a positive integer"):
        load_audio(clips["sound"], sample_rate=0)


@pytest.mark.parametrize(
    "audio, kwargs, message",
    [
        (np.zeros((2, 100), np.float32), {}, r"mono float samples of shape \(N,\); .* mix the channels down"),
        (np.zeros(100, np.int16), {}, "mono float samples"),
        (np.full(100, 1.5, np.float32), {}, r"must lie in \[-1, 1\]; the largest is 1.5"),
        (np.full(100, np.nan, np.float32), {}, "NaN or infinite"),
        (np.zeros(0, np.float32), {}, "pass audio=None"),
        (np.zeros(100, np.float32), {"sample_rate": 12345}, "AAC cannot encode 12345 Hz audio"),
    ],
)
def test_write_video_audio_errors(tmp_path, audio, kwargs, message):
    with pytest.raises(ValueError, match=message):
        write_video(tmp_path / "x.mp4", np.zeros((2, 16, 16, 3), np.uint8), FPS, audio=audio, **kwargs)
    assert not (tmp_path / "x.mp4").exists(), "arguments are checked before anything is written"
