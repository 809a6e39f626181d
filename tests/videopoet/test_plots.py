"""Smoke tests for videollm.videopoet.plots: each figure builds from small inputs with the axes it promises."""

from io import BytesIO

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from videollm.videopoet import plots  # noqa: E402
from videollm.videopoet.prefix_lm import prefix_lm_mask  # noqa: E402
from videollm.videopoet.sequence import build  # noqa: E402
from videollm.videopoet.tokens import Vocabulary, level_major  # noqa: E402
from videollm.vq.scalar_quant import lfq, lfq_codebook  # noqa: E402

VOCAB = Vocabulary(visual=64, audio_levels=4, audio_codes=8)


def _check(fig, axes: int) -> None:
    assert isinstance(fig, Figure)
    assert len(fig.axes) == axes
    fig.savefig(BytesIO(), format="png")                # draw once: layout errors only show at draw time


def _gids(fig: Figure) -> list[str]:
    return [a.get_gid() for ax in fig.axes for a in ax.get_children() if a.get_gid()]


def test_token_kinds_and_task_layouts():
    video, sound = torch.zeros(2, 2, 2, dtype=torch.long), torch.zeros(3, 4, dtype=torch.long)
    sequences = {"t2v": build("text_to_video", VOCAB, text=3, video_out=video),
                 "v2a": build("video_to_audio", VOCAB, video_in=video, audio_out=sound)}
    kinds = plots.token_kinds(sequences["v2a"], VOCAB)
    assert kinds.count("visual") == 8 and kinds.count("audio") == 12 and kinds[0] == "special"
    assert plots.token_kinds(sequences["t2v"], VOCAB).count("text") == 3
    fig = plots.task_layouts(sequences, VOCAB)
    _check(fig, 1)
    assert _gids(fig).count("prefix") == 2


def test_clip_and_sound_one_axes_per_shown_frame_and_the_waveform():
    frames = np.zeros((9, 8, 8, 3), dtype=np.uint8)
    _check(plots.clip_and_sound(frames, np.zeros(1000), 1000, 8, "a clip", every=4), 3 + 1)
    _check(plots.clip_and_sound(torch.rand(9, 3, 8, 8), torch.zeros(1000), 1000, 8, every=2), 5 + 1)


def test_temporal_reads_one_axes_per_convolution():
    reads = {"square": torch.eye(5, dtype=torch.bool), "strided": np.ones((2, 5))}
    _check(plots.temporal_reads(reads, pad={"square": (1, 1)}), 2)


def test_clip_rows_rows_times_frames():
    _check(plots.clip_rows({"a": torch.rand(5, 3, 8, 8), "b": np.random.rand(5, 3, 8, 8)}, frames=[0, 2, 4]), 6)


def test_lfq_cube_one_3d_axes_per_labelling():
    corners = lfq_codebook(3)
    fig = plots.lfq_cube(corners, {"lsb": lfq(corners)[1], "msb": torch.tensor([0, 4, 2, 6, 1, 5, 3, 7])})
    _check(fig, 2)
    assert all(ax.name == "3d" for ax in fig.axes)


def test_level_major_layout_two_axes():
    codes = torch.randint(0, 8, (5, 4))
    fig = plots.level_major_layout(codes, level_major(codes, 8), 8)
    _check(fig, 2)
    assert _gids(fig).count("level") == 20


@pytest.mark.parametrize("additive", [True, False])
def test_attention_mask_one_axes(additive):
    seq = build("text_to_video", VOCAB, text=2, video_out=torch.arange(3))
    mask = prefix_lm_mask(torch.tensor([seq.prefix]), torch.ones(1, len(seq.ids), dtype=torch.long))[0, 0]
    fig = plots.attention_mask(mask if additive else mask == 0, seq.tokens(VOCAB), seq.prefix)
    _check(fig, 1)
    shown = fig.axes[0].get_images()[0].get_array()
    assert shown[0, seq.prefix - 1] and not shown[0, seq.prefix], "the prefix reads itself, not the outputs"


def test_spectrogram_rows_and_sequence_costs():
    _check(plots.spectrogram_rows({"a": np.random.rand(10, 6), "b": torch.rand(10, 6), "c": np.zeros((10, 6))},
                                  seconds=2.0), 3)
    _check(plots.sequence_costs({"small": 80, "large": 35_840}), 2)


def test_task_losses_draws_one_line_per_task():
    history = {"task": ["a", "b"] * 60, "loss": list(range(120))}
    fig = plots.task_losses(history, window=5)
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 2
