"""Tests for videollm.io: probing, decoding with decord and PyAV, timestamps, errors, to_tensor.

Clips are written at test time with ``write_video`` (30 frames of 64x96 at 10 fps, a white square moving
over a smooth colour gradient). Checked with decord 0.6.0 and PyAV 18.1 (FFmpeg libavcodec 62).
"""

import sys

import numpy as np
import pytest

from videollm.io import BACKENDS, VideoDecodeError, VideoInfo, load_video, probe_video, to_tensor, write_video
from videollm.sampling import fps_indices, uniform_indices

T, H, W, FPS = 30, 64, 96, 10

try:
    import decord  # noqa: F401

    HAVE_DECORD = True
except ImportError:
    HAVE_DECORD = False
needs_decord = pytest.mark.skipif(not HAVE_DECORD, reason="decord is not installed (no wheel for this platform)")
DECODERS = ["pyav", pytest.param("decord", marks=needs_decord)]


def make_frames(num_frames=T, height=H, width=W):
    """``(T, H, W, 3)`` uint8: a horizontal red and vertical green gradient, blue 128, a 16x16 white square
    moving 3 pixels right per frame."""
    yy, xx = np.mgrid[:height, :width]
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    frames[..., 0] = xx * 255 // (width - 1)
    frames[..., 1] = yy * 255 // (height - 1)
    frames[..., 2] = 128
    for t in range(num_frames):
        x = 3 * t % (width - 16)
        frames[t, 20:36, x : x + 16] = 255
    return frames


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Paths of the test clip in three encodings (h264 mp4, mpeg4 mp4, h264 mkv) and the frames written."""
    folder = tmp_path_factory.mktemp("clips")
    frames = make_frames()
    paths = {
        "h264": write_video(folder / "h264.mp4", frames, FPS, codec="h264"),
        "mpeg4": write_video(folder / "mpeg4.mp4", frames, FPS, codec="mpeg4"),
        # Matroska stores no frame count, so probe_video must count packets.
        "mkv": write_video(folder / "h264.mkv", frames, FPS, codec="h264"),
    }
    return paths, frames


@pytest.fixture(scope="module")
def decoded(clips):
    """All frames and timestamps of every clip, per backend: {(clip, backend): (frames, timestamps)}."""
    paths, _ = clips
    backends = ["pyav"] + (["decord"] if HAVE_DECORD else [])
    return {(name, b): load_video(path, backend=b) for name, path in paths.items() for b in backends}


# ---------------------------------------------------------------- probe_video


@pytest.mark.parametrize("name", ["h264", "mpeg4", "mkv"])
def test_probe_video(clips, name):
    paths, _ = clips
    info = probe_video(paths[name])
    assert isinstance(info, VideoInfo)
    assert info.num_frames == T and info.fps == pytest.approx(FPS)
    assert (info.width, info.height) == (W, H)
    assert info.duration == pytest.approx(T / FPS, abs=1 / FPS)
    assert info.codec == {"h264": "h264", "mpeg4": "mpeg4", "mkv": "h264"}[name]
    assert info.path == paths[name]
    with pytest.raises(AttributeError):
        info.num_frames = 3  # frozen


def test_probe_video_29_97(tmp_path):
    path = write_video(tmp_path / "ntsc.mp4", make_frames(12), 30000 / 1001)
    info = probe_video(path)
    assert info.num_frames == 12 and info.fps == pytest.approx(29.97, abs=1e-3)


# ---------------------------------------------------------------- load_video: what comes back


@pytest.mark.parametrize("backend", DECODERS)
@pytest.mark.parametrize("name", ["h264", "mpeg4", "mkv"])
def test_all_frames_shape_and_timestamps(decoded, name, backend):
    frames, seconds = decoded[name, backend]
    assert frames.shape == (T, H, W, 3) and frames.dtype == np.uint8 and frames.flags.c_contiguous
    assert seconds.shape == (T,) and seconds.dtype == np.float64
    np.testing.assert_allclose(seconds, np.arange(T) / FPS, rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", ["h264", "mpeg4", "mkv"])
def test_round_trip_error_small(decoded, clips, name):
    _, original = clips
    frames, _ = decoded[name, "pyav"]
    error = np.abs(frames.astype(np.int16) - original).mean()
    assert error < 8, f"mean abs error {error:.2f}: yuv420p on smooth content should stay well under 8"
    # Per frame too: a frame order or off-by-one bug would put the square in the wrong place.
    per_frame = np.abs(frames.astype(np.int16) - original).mean(axis=(1, 2, 3))
    assert per_frame.max() < 8


@needs_decord
@pytest.mark.parametrize("name", ["h264", "mpeg4", "mkv"])
def test_decord_and_pyav_agree_exactly(decoded, name):
    frames_pyav, t_pyav = decoded[name, "pyav"]
    frames_decord, t_decord = decoded[name, "decord"]
    assert np.array_equal(frames_pyav, frames_decord), "the two decoders should give identical pixels"
    np.testing.assert_allclose(t_decord, t_pyav, rtol=0, atol=1e-6)


@needs_decord
@pytest.mark.parametrize("kwargs", [{"num_frames": 7}, {"fps": 2.0}, {"fps": 4.0, "max_frames": 8}])
def test_decord_and_pyav_agree_when_sampling(clips, kwargs):
    paths, _ = clips
    frames_pyav, t_pyav = load_video(paths["h264"], backend="pyav", **kwargs)
    frames_decord, t_decord = load_video(paths["h264"], backend="decord", **kwargs)
    assert np.array_equal(frames_pyav, frames_decord)
    np.testing.assert_allclose(t_decord, t_pyav, rtol=0, atol=1e-6)


@pytest.mark.parametrize("backend", DECODERS)
def test_num_frames(clips, decoded, backend):
    paths, _ = clips
    all_frames, _ = decoded["h264", "pyav"]
    frames, seconds = load_video(paths["h264"], num_frames=4, backend=backend)
    assert frames.shape == (4, H, W, 3)
    expected = [0, 10, 19, 29]
    assert uniform_indices(T, 4).tolist() == expected
    np.testing.assert_allclose(seconds, np.array(expected) / FPS, atol=1e-9)
    assert np.array_equal(frames, all_frames[expected]), "the kept frames are exactly those indices"


@pytest.mark.parametrize("backend", DECODERS)
def test_fps_sampling(clips, decoded, backend):
    paths, _ = clips
    all_frames, _ = decoded["mkv", "pyav"]
    frames, seconds = load_video(paths["mkv"], fps=2.0, backend=backend)
    expected = [0, 6, 12, 17, 23, 29]  # 3 s at 2 fps = 6 frames, spread over 0..29
    assert fps_indices(T, FPS).tolist() == expected
    assert len(frames) == 6
    np.testing.assert_allclose(seconds, np.array(expected) / FPS, atol=1e-9)
    assert np.array_equal(frames, all_frames[expected])


@pytest.mark.parametrize("backend", DECODERS)
def test_fps_sampling_clamps(clips, backend):
    paths, _ = clips
    assert len(load_video(paths["h264"], fps=0.5, backend=backend)[0]) == 4  # 1.5 frames -> min_frames 4
    assert len(load_video(paths["h264"], fps=0.5, min_frames=10, backend=backend)[0]) == 10
    assert len(load_video(paths["h264"], fps=8.0, max_frames=10, backend=backend)[0]) == 10
    assert len(load_video(paths["h264"], fps=30.0, backend=backend)[0]) == 30  # capped at the video's frames


def test_auto_backend(clips, decoded):
    paths, _ = clips
    frames, seconds = load_video(paths["mpeg4"])
    assert np.array_equal(frames, decoded["mpeg4", "pyav"][0])
    np.testing.assert_allclose(seconds, decoded["mpeg4", "pyav"][1], atol=1e-6)


def test_auto_falls_back_to_pyav_without_decord(clips, decoded, monkeypatch):
    monkeypatch.setitem(sys.modules, "decord", None)  # makes `import decord` raise ImportError
    paths, _ = clips
    frames, _ = load_video(paths["h264"], backend="auto")
    assert np.array_equal(frames, decoded["h264", "pyav"][0])
    with pytest.raises(ImportError, match=r"pip install decord.*backend='pyav'"):
        load_video(paths["h264"], backend="decord")


@pytest.mark.parametrize("backend", DECODERS)
def test_timestamps_at_29_97_and_odd_size(tmp_path, backend):
    # 29.97 fps has no exact float step, and yuv444p allows odd sizes.
    frames = make_frames(10, 33, 47)
    path = write_video(tmp_path / "ntsc.mp4", frames, 30000 / 1001, pix_fmt="yuv444p")
    got, seconds = load_video(path, backend=backend)
    assert got.shape == (10, 33, 47, 3)
    np.testing.assert_allclose(seconds, np.arange(10) * 1001 / 30000, rtol=0, atol=1e-6)
    assert np.abs(got.astype(np.int16) - frames).mean() < 4


def _remux_with_offset(src, dst, seconds):
    """Copy ``src`` to ``dst`` without re-encoding, shifting every timestamp by ``seconds``."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        stream_in = inp.streams.video[0]
        stream_out = out.add_stream_from_template(stream_in)
        shift = round(seconds / stream_in.time_base)
        for packet in inp.demux(stream_in):
            if packet.dts is None:  # the demuxer's final empty packet
                continue
            packet.pts += shift
            packet.dts += shift
            packet.stream = stream_out
            out.mux(packet)
    return dst


@pytest.mark.parametrize("backend", DECODERS)
def test_timestamps_are_relative_to_stream_start(clips, tmp_path, backend):
    # Clips cut from a longer recording often start at a non-zero time; timestamps count from the stream start.
    paths, _ = clips
    path = _remux_with_offset(paths["h264"], tmp_path / "late.mp4", 1.5)
    _, seconds = load_video(path, num_frames=4, backend=backend)
    np.testing.assert_allclose(seconds, np.array([0, 10, 19, 29]) / FPS, atol=1e-9)


@pytest.mark.parametrize("backend", DECODERS)
def test_b_frames_come_back_in_presentation_order(tmp_path, backend):
    # With B-frames the file stores frames out of order; both decoders must return them in display order.
    import av

    frames = make_frames()
    path = tmp_path / "bframes.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.options = {"bf": "2", "crf": "18"}
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    got, seconds = load_video(path, backend=backend)
    np.testing.assert_allclose(seconds, np.arange(T) / FPS, atol=1e-9)
    assert np.abs(got.astype(np.int16) - frames).mean(axis=(1, 2, 3)).max() < 8


# ---------------------------------------------------------------- to_tensor


def test_to_tensor(decoded):
    import torch

    frames, _ = decoded["h264", "pyav"]
    x = to_tensor(frames)
    assert x.shape == (T, 3, H, W) and x.dtype == torch.float32 and x.is_contiguous()
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    torch.testing.assert_close(x, torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255)
    assert to_tensor(frames[:2], dtype=torch.float16).dtype == torch.float16
    assert to_tensor(frames[:2], device="cpu").device.type == "cpu"
    with pytest.raises(ValueError, match="must be uint8"):
        to_tensor(frames.astype(np.float32))
    with pytest.raises(ValueError, match=r"shape \(T, H, W, 3\)"):
        to_tensor(frames[0])
    with pytest.raises(ValueError, match="floating"):
        to_tensor(frames, dtype=torch.int64)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("backend", BACKENDS)
def test_missing_file(tmp_path, backend):
    path = tmp_path / "x.mp4"
    with pytest.raises(FileNotFoundError, match=r"^file not found: .*x\.mp4$"):
        load_video(path, backend=backend)
    with pytest.raises(FileNotFoundError, match="file not found"):
        probe_video(path)


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_file(tmp_path, backend):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(VideoDecodeError, match=r"empty\.mp4 is empty \(0 bytes\)"):
        load_video(path, backend=backend)


@pytest.mark.parametrize("backend", DECODERS)
def test_not_a_video(tmp_path, backend):
    path = tmp_path / "notes.mp4"
    path.write_text("these are lecture notes, not a video\n" * 20)
    with pytest.raises(VideoDecodeError, match=r"^could not decode .*notes\.mp4: .+"):
        load_video(path, backend=backend)
    assert issubclass(VideoDecodeError, ValueError)


@pytest.mark.parametrize("backend", DECODERS)
def test_truncated_mp4(clips, tmp_path, backend):
    # write_video puts the MP4 index at the end: cutting the file loses it, and nothing can be decoded.
    paths, _ = clips
    data = paths["h264"].read_bytes()
    for fraction in (0.5, 0.9):
        path = tmp_path / f"cut{fraction}.mp4"
        path.write_bytes(data[: int(len(data) * fraction)])
        with pytest.raises(VideoDecodeError, match=rf"could not decode .*cut{fraction}\.mp4: "):
            load_video(path, backend=backend)


def _write_faststart_mp4(path, frames, fps):
    """An MP4 with its index first (``movflags=+faststart``), as streaming sites serve them."""
    import av

    with av.open(str(path), "w", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = {"bf": "0", "crf": "18"}
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return path


@pytest.mark.parametrize("backend", DECODERS)
def test_truncated_faststart_mp4_names_the_frame(tmp_path, backend):
    # With the index first, the header promises 30 frames but the data stops partway.
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (T, H, W, 3), dtype=np.uint8)  # incompressible: bytes spread evenly over frames
    full = _write_faststart_mp4(tmp_path / "full.mp4", noise, FPS)
    assert probe_video(full).num_frames == T
    path = tmp_path / "cut.mp4"
    data = full.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    pattern = r"could not decode frame \d+ of .*cut\.mp4" if backend == "pyav" else r"could not decode .*cut\.mp4: "
    with pytest.raises(VideoDecodeError, match=pattern):
        load_video(path, backend=backend)


@pytest.mark.parametrize("backend", DECODERS)
def test_no_video_stream(tmp_path, backend):
    import av

    path = tmp_path / "speech.m4a"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        for i in range(5):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, i * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    with pytest.raises(VideoDecodeError, match=r"could not decode .*speech\.m4a: it has no video stream \(streams: audio\)"):
        load_video(path, backend=backend)


def test_directory(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory, not a video file"):
        load_video(tmp_path)


@pytest.mark.parametrize("backend", DECODERS)
def test_too_many_frames(clips, backend):
    paths, _ = clips
    with pytest.raises(ValueError, match=r"h264\.mp4: requested 64 frames but the video has only 30; ask for at most 30"):
        load_video(paths["h264"], num_frames=64, backend=backend)


@pytest.mark.parametrize("num_frames", [0, -1, 2.5])
def test_bad_num_frames(clips, num_frames):
    paths, _ = clips
    with pytest.raises(ValueError, match="num_frames must be"):
        load_video(paths["h264"], num_frames=num_frames, backend="pyav")


def test_num_frames_and_fps_together(clips):
    paths, _ = clips
    with pytest.raises(ValueError, match="give either num_frames or fps, not both"):
        load_video(paths["h264"], num_frames=4, fps=2.0)


def test_unknown_backend(clips):
    paths, _ = clips
    with pytest.raises(ValueError, match=r"unknown backend 'ffmpeg'; choose one of \['auto', 'decord', 'pyav'\]"):
        load_video(paths["h264"], backend="ffmpeg")


@needs_decord
def test_decord_errors_are_wrapped(tmp_path, monkeypatch):
    # A file PyAV opens but decord rejects must not leak decord's own exception type.
    import decord

    class Broken:
        def __init__(self, *args, **kwargs):
            raise decord._ffi.base.DECORDError("[10:21:32] /src/video/video_reader.cc:486: Error: av_read_frame failed")

    path = write_video(tmp_path / "ok.mp4", make_frames(4), FPS)
    monkeypatch.setattr(decord, "VideoReader", Broken)
    with pytest.raises(VideoDecodeError, match=r"could not decode .*ok\.mp4: Error: av_read_frame failed \(decord\)"):
        load_video(path, backend="decord")


def test_write_video_mpeg4_rejects_yuv444p(tmp_path):
    frames = np.zeros((2, 16, 16, 3), np.uint8)
    with pytest.raises(ValueError, match="MPEG-4 Part 2 encodes only yuv420p"):
        write_video(tmp_path / "x.mp4", frames, 10, codec="mpeg4", pix_fmt="yuv444p")
