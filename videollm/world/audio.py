"""Unit 00 — sound tracks of pure tones that mark events, and a detector that finds them again.

The synthetic world marks events on its sound track (a 440 Hz beep when an object jumps, ...), so a question
can be answered from sound alone and a model that binds audio to video can be tested. Two functions:

- :func:`tone_track` writes the track: sine tones with short linear fades, byte-identical on every machine;
- :func:`detect_tones` reads it back (after lossy encoding too) by measuring, every ``hop`` seconds, the
  amplitude at each frequency of interest: a short-time Fourier transform evaluated only at those frequencies
  (one matrix product, as the Goertzel algorithm does per frequency).

Samples are ``(N,)`` float32 in [-1, 1], mono; times are seconds from the start of the track.

Lecture: `lectures/00_video_as_data.ipynb` §6.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

from videollm.validate import positive_int

#: Default sample rate (Hz): what speech models (Whisper, ImageBind's audio branch) take.
SAMPLE_RATE = 16000
#: Length of the linear fade-in and fade-out of every tone: long enough to avoid an audible click (a hard edge
#: spreads energy over all frequencies), short enough not to blur the onset.
FADE_SECONDS = 0.005

# Determinism: the tone generator works in integers, like a hardware oscillator (direct digital synthesis).
# The phase advances by an exact rational step, a sine table gives the 16-bit value, and the fade and amplitude
# are integer products. Only the table uses floating point: every entry of 32767 * sin(.) lies at least 1e-4
# away from a rounding boundary, so any libm rounds it to the same integer.
_TABLE_SIZE = 1 << 14
_SINE = np.round(32767 * np.sin(2 * np.pi * np.arange(_TABLE_SIZE) / _TABLE_SIZE)).astype(np.int64)
_SINE.setflags(write=False)
_FULL_SCALE = 32768  # output samples are integers / 32768, exactly representable in float32


def _positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number; got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be positive and finite; got {value!r}")
    return float(value)


def _sample_rate(value) -> int:
    return positive_int(value, "sample_rate", "Hz")


def tone_track(
    events: Iterable[tuple[float, float, float]],
    duration: float,
    sample_rate: int = SAMPLE_RATE,
    amplitude: float = 0.5,
) -> np.ndarray:
    """A silent track of ``duration`` seconds with a sine tone for each event.

    Each tone starts at phase 0 at sample ``round(start * sample_rate)``, lasts ``round(duration_s *
    sample_rate)`` samples (cut at the end of the track), and fades in and out linearly over
    :data:`FADE_SECONDS` (at most half the tone). Overlapping tones add; the sum is clipped to [-1, 1).

    Args:
        events: ``(start_s, duration_s, frequency_hz)`` tuples; ``0 <= start_s < duration``,
            ``duration_s > 0``, ``0 < frequency_hz < sample_rate / 2`` (below Nyquist, or it would alias).
            Frequencies are used to 1 mHz.
        duration: track length in seconds (``round(duration * sample_rate)`` samples).
        sample_rate: samples per second.
        amplitude: peak of each tone, in (0, 1].

    Returns:
        ``(round(duration * sample_rate),)`` float32; every sample is a multiple of 1/32768 (16-bit PCM values),
        and the same arguments give the same bytes on every machine.
    """
    duration = _positive(duration, "duration")
    sample_rate = _sample_rate(sample_rate)
    amplitude = _positive(amplitude, "amplitude")
    if amplitude > 1:
        raise ValueError(f"amplitude must be in (0, 1] (samples live in [-1, 1]); got {amplitude}")
    total = int(round(duration * sample_rate))
    gain = int(round(amplitude * _FULL_SCALE))
    fade = max(1, int(round(FADE_SECONDS * sample_rate)))
    track = np.zeros(total, dtype=np.int64)
    for number, event in enumerate(events):
        try:
            start, length, frequency = event
        except (TypeError, ValueError):
            raise ValueError(f"event {number} must be (start_s, duration_s, frequency_hz); got {event!r}") from None
        if isinstance(start, bool) or not isinstance(start, (int, float, np.integer, np.floating)) or not (
            math.isfinite(start) and 0 <= start < duration
        ):
            raise ValueError(f"event {number} starts at {start!r} s, outside the track [0, {duration}) s")
        length = _positive(length, f"event {number} duration_s")
        frequency = _positive(frequency, f"event {number} frequency_hz")
        if frequency >= sample_rate / 2:
            raise ValueError(
                f"event {number}: {frequency} Hz is not below the Nyquist frequency {sample_rate / 2} Hz of "
                f"{sample_rate} Hz audio; lower the tone or raise sample_rate"
            )
        s0 = int(round(float(start) * sample_rate))
        n = min(int(round(length * sample_rate)), total - s0)
        if n <= 0:
            continue
        k = np.arange(n, dtype=np.int64)
        # Phase as a fraction of a cycle: frac(k * f / rate), in exact integers (f in millihertz).
        step_den = sample_rate * 1000
        phase = (k * int(round(frequency * 1000))) % step_den * _TABLE_SIZE // step_den
        f = min(fade, n // 2) or 1
        ramp = np.minimum(np.minimum(k, n - 1 - k), f)  # 0 at both ends, f in the middle
        den = 32767 * f
        track[s0 : s0 + n] += (_SINE[phase] * gain * ramp + den // 2) // den
    np.clip(track, -_FULL_SCALE, _FULL_SCALE - 1, out=track)
    return (track / _FULL_SCALE).astype(np.float32)


def detect_tones(
    samples: np.ndarray,
    sample_rate: int,
    frequencies: Sequence[float],
    hop: float = 0.01,
    window: float = 0.032,
    threshold: float = 0.25,
    min_duration: float = 0.05,
) -> list[tuple[float, float, float]]:
    """Find the time spans where a tone at one of ``frequencies`` sounds.

    Every ``hop`` seconds a Hann window of ``window`` seconds is centred on the track (zero-padded at the ends)
    and the amplitude of each frequency is measured as ``2 |sum_n w[n] x[n] exp(-2 pi i f n / rate)| / sum(w)``:
    a pure tone of amplitude ``A`` at ``f`` reads ``A``. A frequency is "on" at a hop where this exceeds
    ``threshold``; a run of on-hops ``m0 .. m1 - 1`` is reported as ``((m0 - 1/2) hop, (m1 - 1/2) hop)``.

    Time resolution: with ``threshold`` at half the tones' amplitude (the default suits :func:`tone_track`'s
    default 0.5), a hop is on when its window centre lies inside the tone, so each reported edge is within
    ``hop / 2`` of the written one, plus up to ``FADE_SECONDS / 2`` inwards for the fades (measured: within
    7.5 ms at the defaults, also after AAC encoding). Frequency resolution: the Hann window's main lobe is
    ``2 / window`` = 62.5 Hz either side, so frequencies should be at least that far apart; tones closer than
    ``window`` in time at the same frequency merge.

    Args:
        samples: ``(N,)`` float mono samples.
        sample_rate: samples per second.
        frequencies: the tone frequencies (Hz) to look for, each below ``sample_rate / 2``.
        hop: seconds between measurements (the time resolution).
        window: analysis window in seconds (longer: finer frequency resolution, blurrier edges).
        threshold: amplitude above which a tone counts as present.
        min_duration: runs shorter than this (seconds) are dropped as glitches.

    Returns:
        ``(start_s, end_s, frequency_hz)`` tuples sorted by start time, then frequency.
    """
    samples = np.asarray(samples)
    if samples.ndim != 1 or not np.issubdtype(samples.dtype, np.floating):
        raise ValueError(f"samples must be a 1-D float array (mono); got {samples.dtype} of shape {samples.shape}")
    sample_rate = _sample_rate(sample_rate)
    freqs = np.array([_positive(f, "each frequency") for f in frequencies], dtype=np.float64)
    if np.any(freqs >= sample_rate / 2):
        raise ValueError(f"frequencies must be below the Nyquist frequency {sample_rate / 2} Hz; got {freqs.tolist()}")
    hop_n = max(1, int(round(_positive(hop, "hop") * sample_rate)))
    win_n = max(2, int(round(_positive(window, "window") * sample_rate)))
    threshold = _positive(threshold, "threshold")
    if not len(samples) or not len(freqs):
        return []
    # Pad half a window on each side so that measurement m is centred on sample m * hop_n.
    padded = np.pad(samples.astype(np.float64), (win_n // 2, win_n - win_n // 2))
    frames = np.lib.stride_tricks.sliding_window_view(padded, win_n)[::hop_n]  # (M, L) view, no copy
    frames = frames[: (len(samples) - 1) // hop_n + 1]
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win_n) / win_n)
    n = np.arange(win_n)
    basis = hann[:, None] * np.exp(-2j * np.pi * freqs[None, :] * n[:, None] / sample_rate)  # (L, F)
    scale = 2 / hann.sum()
    # Blocks of measurements keep the working copy small on long tracks.
    block = max(1, (1 << 22) // win_n)
    amplitude = np.concatenate(
        [np.abs(frames[i : i + block] @ basis) * scale for i in range(0, len(frames), block)]
    )  # (M, F)
    on = amplitude > threshold
    # Run edges per frequency: +1 where a run starts, -1 one past where it ends.
    edges = np.diff(on.astype(np.int8), axis=0, prepend=np.int8(0), append=np.int8(0))  # (M + 1, F)
    start_f, start_m = np.nonzero(edges.T == 1)  # (F, M + 1): runs come out grouped by frequency, in time order
    _, end_m = np.nonzero(edges.T == -1)  # the same runs' ends, in the same order
    limit = len(samples) / sample_rate
    starts = np.clip((start_m - 0.5) * hop_n / sample_rate, 0, limit)
    ends = np.clip((end_m - 0.5) * hop_n / sample_rate, 0, limit)
    keep = ends - starts >= min_duration
    found = [(float(s), float(e), float(freqs[f])) for s, e, f in zip(starts[keep], ends[keep], start_f[keep])]
    return sorted(found, key=lambda event: (event[0], event[2]))
