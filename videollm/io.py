"""Video decoding and encoding.

Frames are ``(T, H, W, 3)`` uint8 RGB arrays throughout the course; timestamps are seconds from the start.
Decoding uses decord (fast random access) or PyAV (the FFmpeg bindings the field is moving to); encoding
uses PyAV with H.264 or MPEG-4 Part 2.

- :func:`probe_video` reads the header (and, when the container does not say, counts the frames).
- :func:`load_video` decodes all frames, ``num_frames`` uniform ones, or Qwen-style ``fps`` sampling
  (see :mod:`videollm.sampling`), with each kept frame's presentation time.
- :func:`to_tensor` turns frames into a ``(T, 3, H, W)`` float tensor in [0, 1].
- :func:`write_video` encodes frames to a file, with a mono AAC sound track when given samples.
- :func:`load_audio` decodes a file's sound track to mono float32 samples.

Both decoders give the same pixels (bit for bit) and the same timestamps on the course's clips.

Lecture: `lectures/00_video_as_data.ipynb` §1–2.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from videollm.sampling import FPS_MAX_FRAMES, FPS_MIN_FRAMES, fps_indices, uniform_indices
from videollm.validate import positive_int

# Encoder names PyAV/FFmpeg understand, keyed by the names the course uses.
CODECS = {"h264": "libx264", "mpeg4": "mpeg4"}

# Decoding back ends accepted by load_video.
BACKENDS = ("auto", "decord", "pyav")

# Sound tracks are AAC-LC from FFmpeg's native encoder (bundled with PyAV's wheels), the audio codec MP4 players
# expect. 64 kbit/s is generous for 16 kHz mono: tones come back with their timing and level intact.
AUDIO_CODEC = "aac"
AUDIO_BIT_RATE = 64_000


class VideoDecodeError(ValueError):
    """A file exists but cannot be read as a video (empty, corrupt, not a video, no video stream), or, for
    :func:`load_audio`, has no readable audio stream."""


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` learns about a video's first video stream.

    Attributes:
        path: the file.
        num_frames: number of frames (from the container, or counted by demuxing when it does not say).
        fps: average frame rate, frames per second.
        duration: stream duration in seconds.
        width, height: frame size in pixels.
        codec: FFmpeg decoder name, e.g. ``"h264"``, ``"mpeg4"``, ``"vp9"``.
        has_audio: whether the file also has an audio stream (decode it with :func:`load_audio`).
    """

    path: Path
    num_frames: int
    fps: float
    duration: float
    width: int
    height: int
    codec: str
    has_audio: bool = False


def _check_file(path: str | Path) -> Path:
    """Raise the course's errors for a missing, non-regular or empty file; return it as a Path."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"file not found: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not a video file")
    if path.stat().st_size == 0:
        raise VideoDecodeError(
            f"{path} is empty (0 bytes): the download or the encoding that made it failed; recreate it"
        )
    return path


def _short(error: BaseException) -> str:
    """The first line of an exception's message, at most 200 characters, without decord's C++ log prefixes."""
    text = re.sub(r"\[\d\d:\d\d:\d\d\] \S+:\d+: ", "", str(error))  # "[10:21:32] /src/video_reader.cc:486: "
    lines = text.strip().splitlines()
    text = lines[0] if lines else type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _open_pyav(path: Path):
    """Open ``path`` with PyAV and return ``(container, video_stream)``; wrap FFmpeg errors."""
    import av

    try:
        container = av.open(str(path))
    except av.error.FFmpegError as error:
        raise VideoDecodeError(
            f"could not decode {path}: {_short(error)}; is it a video file? "
            f"Check it with `ffprobe {path}` or re-encode it"
        ) from error
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["none"]
        container.close()
        raise VideoDecodeError(f"could not decode {path}: it has no video stream (streams: {', '.join(kinds)})")
    stream = container.streams.video[0]
    if stream.codec_context is None:  # e.g. a truncated MP4 whose header lost the codec parameters
        container.close()
        raise VideoDecodeError(
            f"could not decode {path}: its video stream has no codec FFmpeg can decode; the file may be truncated "
            "or use an unsupported codec: re-encode or re-download it"
        )
    return container, stream


def _count_frames(path: Path, container, stream) -> int:
    """Frames in ``stream``: the container's count when it has one (MP4 does), else demux and count packets.

    Matroska and WebM store no frame count (``stream.frames == 0``); demuxing reads packets without decoding
    them, so it costs about a file read. Leaves the container at its end: reopen it before decoding.
    """
    if stream.frames > 0:
        return int(stream.frames)
    import av

    try:
        return sum(1 for packet in container.demux(stream) if packet.size > 0)
    except av.error.FFmpegError as error:
        raise VideoDecodeError(f"could not decode {path}: {_short(error)} (while counting its frames)") from error


def _average_fps(stream, num_frames: int, duration: float | None) -> float:
    """The stream's average frame rate; falls back to the guessed rate, then to frames / duration."""
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return float(rate)
    if duration:
        return num_frames / duration
    raise VideoDecodeError("the video stream states no frame rate and no duration")


def probe_video(path: str | Path) -> VideoInfo:
    """Read a video's frame count, frame rate, duration, size and codec (PyAV; decodes nothing).

    >>> info = probe_video("clip.mp4")          # doctest: +SKIP
    >>> info.num_frames, info.fps, info.width, info.height
    (30, 10.0, 96, 64)

    Raises:
        FileNotFoundError: no such file.
        VideoDecodeError: the file is empty, not a video, or has no video stream.
    """
    path = _check_file(path)
    container, stream = _open_pyav(path)
    with container:
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000  # container durations are in microseconds
        else:
            duration = None
        num_frames = _count_frames(path, container, stream)
        try:
            fps = _average_fps(stream, num_frames, duration)
        except VideoDecodeError as error:
            raise VideoDecodeError(f"could not decode {path}: {error}") from None
        return VideoInfo(
            path=path,
            num_frames=num_frames,
            fps=fps,
            duration=duration if duration is not None else num_frames / fps,
            width=int(stream.codec_context.width),
            height=int(stream.codec_context.height),
            codec=stream.codec_context.name,
            has_audio=bool(container.streams.audio),
        )


def _choose_indices(path, total_frames, video_fps, num_frames, fps, min_frames, max_frames) -> np.ndarray:
    """Indices of the frames to keep; sampling errors are re-raised with the file name in front."""
    if total_frames == 0:
        raise VideoDecodeError(f"could not decode {path}: its video stream has no frames")
    try:
        if num_frames is not None:
            return uniform_indices(total_frames, num_frames)
        if fps is not None:
            return fps_indices(total_frames, video_fps, fps=fps, min_frames=min_frames, max_frames=max_frames)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    return np.arange(total_frames, dtype=np.int64)


def _import_decord():
    try:
        import decord
    except ImportError as error:
        raise ImportError(
            "backend='decord' needs the decord package: `pip install decord` (wheels exist for x86-64 Linux and "
            "Windows only), or use backend='pyav'"
        ) from error
    return decord


def _snap_to_time_base(seconds: np.ndarray, time_base: Fraction | None) -> np.ndarray:
    """Undo decord's float32 rounding by moving each time to the nearest tick of the stream's time base.

    Only done while the float32 error (half a unit in the last place) is below a quarter tick, so the nearest
    tick is the true one: up to about 90 s for a 1/90000 time base, 800 s for 1/10240. Beyond that the
    float32 times are returned as they are (off by at most ``t * 6e-8`` seconds).
    """
    if not time_base or len(seconds) == 0:
        return seconds
    tick = float(time_base)
    if float(np.spacing(np.float32(np.abs(seconds).max()))) >= tick / 2:
        return seconds
    return np.round(seconds / tick) * tick


def _load_decord(path, num_frames, fps, min_frames, max_frames):
    decord = _import_decord()
    # Open with PyAV first: it names the problem with a non-video file clearly, and gives the time base.
    container, stream = _open_pyav(path)
    with container:
        time_base = stream.time_base
    try:
        reader = decord.VideoReader(str(path), ctx=decord.cpu(0))
        total, video_fps = len(reader), float(reader.get_avg_fps())
    except Exception as error:  # decord raises RuntimeError or its own DECORDError
        raise VideoDecodeError(
            f"could not decode {path}: {_short(error)} (decord); backend='pyav' may say more, or re-encode the file"
        ) from error
    indices = _choose_indices(path, total, video_fps, num_frames, fps, min_frames, max_frames)
    try:
        batch = reader.get_batch(indices.tolist())
        seconds = reader.get_frame_timestamp(indices.tolist())[:, 0].astype(np.float64)
    except Exception as error:
        raise VideoDecodeError(
            f"could not decode {path}: {_short(error)} (decord); backend='pyav' names the frame that fails"
        ) from error
    # The active decord bridge may hand back a torch/tf tensor instead of a decord NDArray.
    if hasattr(batch, "asnumpy"):
        frames = batch.asnumpy()
    else:
        frames = np.asarray(batch.cpu() if hasattr(batch, "cpu") else batch)
    # decord stores times as float32, already measured from the stream's start.
    return np.ascontiguousarray(frames, dtype=np.uint8), _snap_to_time_base(seconds, time_base)


def _load_pyav(path, num_frames, fps, min_frames, max_frames):
    import av

    info = probe_video(path)
    indices = _choose_indices(path, info.num_frames, info.fps, num_frames, fps, min_frames, max_frames)
    frames, seconds = [], []
    container, stream = _open_pyav(path)
    with container:
        stream.thread_type = "AUTO"
        start = stream.start_time or 0
        time_base = stream.time_base
        position, k = -1, 0  # index of the last decoded frame; how many wanted frames we have
        try:
            for frame in container.decode(stream):
                position += 1
                if position != indices[k]:
                    continue
                frames.append(frame.to_ndarray(format="rgb24"))
                if frame.pts is not None and time_base is not None:
                    seconds.append(float((frame.pts - start) * time_base))
                else:  # raw elementary streams carry no timestamps: assume a constant frame rate
                    seconds.append(position / info.fps)
                k += 1
                if k == len(indices):
                    break
        except av.error.FFmpegError as error:
            raise VideoDecodeError(f"could not decode frame {position + 1} of {path}: {_short(error)}") from error
    if k < len(indices):
        raise VideoDecodeError(
            f"could not decode frame {indices[k]} of {path}: the stream ended after {position + 1} frames although "
            f"it reports {info.num_frames}; the file is probably truncated: re-encode or re-download it"
        )
    return np.stack(frames), np.asarray(seconds, dtype=np.float64)


def load_video(
    path: str | Path,
    num_frames: int | None = None,
    fps: float | None = None,
    backend: str = "auto",
    *,
    min_frames: int = FPS_MIN_FRAMES,
    max_frames: int = FPS_MAX_FRAMES,
) -> tuple[np.ndarray, np.ndarray]:
    """Decode a video's frames, all of them or a sample, with their presentation times.

    Which frames:

    - neither ``num_frames`` nor ``fps``: every frame;
    - ``num_frames``: that many, evenly spaced, first and last included (:func:`~videollm.sampling.uniform_indices`);
    - ``fps``: Qwen2-VL's rule (:func:`~videollm.sampling.smart_nframes`: ``duration * fps`` frames, even,
      clamped to ``[min_frames, max_frames]``), spread uniformly. ``min_frames``/``max_frames`` apply only here.

    Args:
        path: a video file (anything FFmpeg reads: mp4, mkv, webm, avi, ...).
        num_frames: how many frames to keep, or None.
        fps: sampling rate in frames per second of video, or None. Not together with ``num_frames``.
        backend: ``"decord"`` (random access), ``"pyav"`` (sequential decode), or ``"auto"`` (decord when
            installed, else PyAV). Both give identical frames and timestamps.

    Returns:
        frames: ``(T, H, W, 3)`` uint8 RGB.
        timestamps: ``(T,)`` float64, seconds from the start of the video stream to each kept frame's
        presentation time (for a constant frame rate, ``index / video_fps``).

    Raises:
        FileNotFoundError: no such file.
        VideoDecodeError: empty, corrupt or non-video file, or a frame that fails to decode.
        ValueError: bad arguments, or more frames requested than the video has.
        ImportError: ``backend="decord"`` without decord installed.

    >>> frames, t = load_video("clip.mp4", num_frames=4)   # doctest: +SKIP
    >>> frames.shape, t                                    # a 30-frame clip at 10 fps
    ((4, 64, 96, 3), array([0. , 1. , 1.9, 2.9]))
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {list(BACKENDS)}")
    if num_frames is not None and fps is not None:
        raise ValueError(
            f"give either num_frames or fps, not both (got num_frames={num_frames}, fps={fps}): "
            "num_frames keeps a fixed count, fps derives the count from the duration"
        )
    path = _check_file(path)
    if backend == "auto":
        try:
            import decord  # noqa: F401
        except ImportError:
            backend = "pyav"
        else:
            backend = "decord"
    load = _load_decord if backend == "decord" else _load_pyav
    return load(path, num_frames, fps, min_frames, max_frames)


def to_tensor(frames: np.ndarray, device=None, dtype=None):
    """Frames ``(T, H, W, 3)`` uint8 to a ``(T, 3, H, W)`` torch tensor with values in [0, 1].

    The uint8 data is moved to ``device`` first (four times fewer bytes than float32), then converted.

    Args:
        frames: ``(T, H, W, 3)`` uint8 RGB, as returned by :func:`load_video`.
        device: torch device (default: CPU).
        dtype: a floating dtype (default ``torch.float32``).

    Returns:
        ``(T, 3, H, W)`` tensor of ``dtype`` on ``device``, contiguous.
    """
    import torch

    dtype = torch.float32 if dtype is None else dtype
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating type such as torch.float32; got {dtype}")
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must have shape (T, H, W, 3); got {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (0-255); got {frames.dtype}")
    tensor = torch.from_numpy(np.ascontiguousarray(frames)).to(device=device)
    tensor = tensor.permute(0, 3, 1, 2).to(dtype=dtype, memory_format=torch.contiguous_format)
    return tensor.div_(255)


def _check_audio(audio, sample_rate) -> np.ndarray:
    """Validate a sound track for :func:`write_video`; return it as contiguous float32."""
    import av

    positive_int(sample_rate, "sample_rate", "Hz")
    rates = av.codec.Codec(AUDIO_CODEC, "w").audio_rates or ()
    if rates and sample_rate not in rates:
        raise ValueError(f"AAC cannot encode {sample_rate} Hz audio; choose one of {sorted(rates)} (16000 is usual)")
    samples = np.asarray(audio)
    if samples.ndim != 1 or not np.issubdtype(samples.dtype, np.floating):
        raise ValueError(
            f"audio must be mono float samples of shape (N,); got {samples.dtype} of shape {samples.shape}"
            + (": mix the channels down first, e.g. audio.mean(axis=-1)" if samples.ndim == 2 else "")
        )
    if len(samples) == 0:
        raise ValueError("audio has no samples; pass audio=None for a video without sound")
    if not np.all(np.isfinite(samples)):
        raise ValueError("audio contains NaN or infinite samples")
    peak = float(np.abs(samples).max())
    if peak > 1:
        raise ValueError(f"audio samples must lie in [-1, 1]; the largest is {peak:.3g}: divide by the peak, or clip")
    return np.ascontiguousarray(samples, dtype=np.float32)


def _encode_audio(container, stream, samples: np.ndarray, sent: int, until: int, final: bool = False) -> int:
    """Send ``samples[sent:until]`` to the AAC encoder in whole 1024-sample frames (and, if ``final``, the rest
    as a shorter last frame, which AAC allows), mux what comes out; return how many samples have been sent."""
    import av

    size = stream.codec_context.frame_size or 1024  # AAC-LC frames are always 1024 samples
    until = min(until, len(samples))
    while sent < until and (until - sent >= size or final):
        chunk = samples[sent : min(sent + size, until)]
        frame = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")  # AAC takes planar float
        frame.sample_rate, frame.pts = stream.codec_context.sample_rate, sent  # pts counts samples (time base 1/rate)
        for packet in stream.encode(frame):
            container.mux(packet)
        sent += len(chunk)
    return sent


def write_video(
    path: str | Path,
    frames: np.ndarray,
    fps: float,
    codec: str = "h264",
    crf: int = 18,
    gop_size: int = 12,
    pix_fmt: str = "yuv420p",
    audio: np.ndarray | None = None,
    sample_rate: int = 16000,
) -> Path:
    """Encode ``frames`` (and optionally a mono sound track) to ``path`` with PyAV.

    Args:
        frames: ``(T, H, W, 3)`` uint8 RGB.
        fps: frame rate of the output (e.g. 12 or 29.97).
        codec: ``"h264"`` (libx264, quality set by ``crf``) or ``"mpeg4"`` (MPEG-4 Part 2, the codec whose
            motion vectors Video-LaVIT reads; encoded at a generous bit rate of 4 bits per pixel).
        crf: H.264 constant rate factor (0 lossless … 51 worst); 18 is visually lossless. Ignored for mpeg4.
        gop_size: distance between keyframes. No B-frames are used, so every non-key frame is a P-frame.
        pix_fmt: ``"yuv420p"`` (plays everywhere; needs even H and W) or ``"yuv444p"`` (no chroma loss).
        audio: None (no sound track), or ``(N,)`` float samples in [-1, 1], mono, starting with frame 0, e.g.
            from :func:`videollm.world.audio.tone_track`. Encoded as AAC-LC at 64 kbit/s, interleaved with the video.
            Its length is not checked against the video's (``T / fps`` seconds is usual).
        sample_rate: samples per second of ``audio`` (one of AAC's rates, e.g. 16000, 22050, 44100, 48000).

    The video stream is encoded the same way with or without audio: its packets, and so the decoded frames,
    are identical.

    Returns:
        The path written.
    """
    import av

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must have shape (T, H, W, 3); got {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (0-255); got {frames.dtype}: convert with (x * 255).round().astype(np.uint8)")
    if len(frames) == 0:
        raise ValueError("cannot write a video with no frames")
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; choose one of {sorted(CODECS)}")
    if fps <= 0:
        raise ValueError(f"fps must be positive; got {fps}")
    height, width = frames.shape[1:3]
    if codec == "mpeg4" and pix_fmt != "yuv420p":
        raise ValueError(f"MPEG-4 Part 2 encodes only yuv420p; got pix_fmt={pix_fmt!r}: use codec='h264' for {pix_fmt}")
    if pix_fmt == "yuv420p" and (height % 2 or width % 2):
        raise ValueError(
            f"{pix_fmt} needs even width and height; got {width}x{height}: crop or pad the frames, or use pix_fmt='yuv444p'"
        )
    samples = _check_audio(audio, sample_rate) if audio is not None else None

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(CODECS[codec], rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.codec_context.gop_size = gop_size
        stream.codec_context.max_b_frames = 0
        stream.codec_context.thread_count = 1  # single-threaded encoding keeps the bytes reproducible
        if codec == "h264":
            # sc_threshold=0 turns off scene-cut keyframes, so keyframes fall exactly every gop_size frames.
            stream.options = {"crf": str(crf), "bf": "0", "sc_threshold": "0"}
        else:
            # MPEG-4 Part 2 has no CRF; a high bit rate keeps the quantiser near its finest step.
            stream.bit_rate = max(1_000_000, int(4 * width * height * float(rate)))
        sound = None
        if samples is not None:
            sound = container.add_stream(AUDIO_CODEC, rate=int(sample_rate))
            sound.layout = "mono"
            sound.bit_rate = AUDIO_BIT_RATE
        sent = 0  # audio samples given to the encoder so far
        for index, image in enumerate(frames):
            # Convert to the codec's pixel format ourselves, on one thread (PyAV's implicit conversion lets
            # swscale choose its thread count).
            rgb = av.VideoFrame.from_ndarray(image, format="rgb24")
            yuv = rgb.reformat(format=pix_fmt, threads=1)
            for packet in stream.encode(yuv):
                container.mux(packet)
            if sound is not None:
                # Keep the streams interleaved in time: send the sound up to the end of this frame.
                sent = _encode_audio(container, sound, samples, sent, int((index + 1) * sample_rate / rate))
        for packet in stream.encode():  # flush the encoder
            container.mux(packet)
        if sound is not None:
            _encode_audio(container, sound, samples, sent, len(samples), final=True)
            for packet in sound.encode():
                container.mux(packet)
    return path


def load_audio(path: str | Path, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Decode the first audio stream of ``path`` to mono float32 samples (PyAV).

    Channels are mixed down and the rate converted by FFmpeg's resampler when needed. AAC pads its last frame
    to 1024 samples; the padding is cut off where the container states the stream's duration (MP4 does), so a
    track written by :func:`write_video` to ``.mp4`` comes back with its own length (from ``.mkv``, up to 1023
    samples longer).

    Args:
        path: a video or audio file.
        sample_rate: the rate to return, or None for the stream's own rate.

    Returns:
        samples: ``(N,)`` float32, nominally in [-1, 1] (lossy codecs can overshoot slightly).
        sample_rate: samples per second of ``samples``.

    Raises:
        FileNotFoundError: no such file.
        VideoDecodeError: empty or unreadable file, no audio stream, or audio that fails to decode.
    """
    import av

    path = _check_file(path)
    if sample_rate is not None:
        positive_int(sample_rate, "sample_rate", "Hz, or None for the file's own rate")
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as error:
        raise VideoDecodeError(f"could not decode {path}: {_short(error)}; is it a video or audio file?") from error
    with container:
        if not container.streams.audio:
            kinds = sorted({s.type for s in container.streams}) or ["none"]
            raise VideoDecodeError(
                f"no audio stream in {path} (streams: {', '.join(kinds)}); write one with "
                "write_video(..., audio=samples)"
            )
        stream = container.streams.audio[0]
        rate = int(sample_rate or stream.codec_context.sample_rate or stream.rate)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks = []
        try:
            for frame in container.decode(stream):
                chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
            chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))  # flush
        except av.error.FFmpegError as error:
            raise VideoDecodeError(f"could not decode the audio of {path}: {_short(error)}") from error
        samples = np.concatenate(chunks).astype(np.float32, copy=False) if chunks else np.zeros(0, np.float32)
        if stream.duration is not None and stream.time_base is not None:
            samples = samples[: int(round(stream.duration * stream.time_base * rate))]
    return np.ascontiguousarray(samples), rate
