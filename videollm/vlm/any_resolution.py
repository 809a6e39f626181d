"""Unit 05 — VideoLLaMA3's any-resolution vision tokens and its Differential Frame Pruner (DiffFP).

VideoLLaMA3 (Zhang et al., 2025, arXiv 2501.13106) starts from SigLIP so400m-patch14-384, but its vision encoder
has no fixed grid of position embeddings: every 14x14 patch gets a 2D rotary position (its row and column), so the
encoder reads an image at (nearly) its own size, like Qwen2-VL. The paper calls this *Any-resolution Vision
Tokenization* (AVT). The size rule below follows the reference code, ``DAMO-NLP-SG/VideoLLaMA3`` @ 05cee23
(``videollama3/model/videollama3_encoder/image_processing_videollama3.py``, ``simple_batched_resize``; the
transformers port in ``inference/transformers_api/`` has the same rule):

1. ``factor = patch * merge``: 14 for images (``merge=1``, one token per 14x14 patch) and 28 for video frames
   (``merge=2``: the encoder's output is shrunk 2x2 to one token per 28x28 pixels).
2. Round each side to the nearest multiple of ``factor`` (Python ``round``: ties to even).
3. The pixel budget ``max_tokens * factor**2`` is shared by all frames: if the rounded size has more than
   ``budget // num_frames`` pixels, scale the original by ``beta = sqrt(h w / (budget // num_frames))`` and round
   each side *down*.
4. Then (an ``if``, not an ``elif``) if it has fewer than ``min_tokens * factor**2`` pixels, scale up and round
   *up*.

The LLM then sees ``(h / factor) * (w / factor)`` tokens per image or frame. Defaults: ``min_tokens = 16``,
``max_tokens = 16384`` (the processor's; the training scripts set 10,240 through ``--mm_max_length``).

For video, DiffFP drops the tokens of a frame whose pixels barely changed since the previous frame
(``videollama3_arch.py``, ``_get_compression_mask``): for every 28x28 token, the mean absolute difference of its
normalised pixel values to the same token of the previous frame, times 255, must exceed ``threshold = 0.1``; the
first frame is kept whole, and a frame keeps at least ``min_tokens = 1`` token.

    >>> resize_for_encoder(1080, 1920)                  # an image: multiples of 14
    (1078, 1918)
    >>> num_image_tokens(1080, 1920)                    # 77 * 137
    10549
    >>> num_video_tokens(128, 720, 1280)                # 128 frames of 224x420: 8 * 15 tokens each
    15360

Lecture: `lectures/05_llava_ov_qwen2_vl.ipynb` §15.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from videollm.validate import positive_int

PATCH_SIZE = 14  # SigLIP's patch side
IMAGE_MERGE = 1  # images: one token per 14x14 patch
VIDEO_MERGE = 2  # video frames: one token per 2x2 patches (28x28 pixels)
MIN_TOKENS = 16  # the image processor's min_tokens (4 * 4)
MAX_TOKENS = 16384  # the image processor's max_tokens (the inference default)
TRAIN_MAX_TOKENS = 10240  # --mm_max_length in scripts/train/stage*_2b.sh
VIDEO_FPS = 1.0  # the processor's default sampling rate (frames per second)
MAX_FRAMES = 128  # the processor's default max_frames (the training scripts use 180)
DIFF_THRESHOLD = 0.1  # DiffFP's threshold on mean |difference| * 255 of normalised pixels
DIFF_MIN_TOKENS = 1  # DiffFP keeps at least this many tokens of every frame
#: transformers' OPENAI_CLIP_MEAN / _STD, the image processor's defaults when its config names none. The released
#: checkpoints' preprocessor configs were not checked here.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

__all__ = [
    "CLIP_MEAN", "CLIP_STD", "DIFF_MIN_TOKENS", "DIFF_THRESHOLD", "IMAGE_MERGE", "MAX_FRAMES", "MAX_TOKENS",
    "MIN_TOKENS", "PATCH_SIZE", "TRAIN_MAX_TOKENS", "VIDEO_FPS", "VIDEO_MERGE", "diff_frame_prune",
    "normalise_frames", "num_image_tokens", "num_video_tokens", "resize_for_encoder", "sampled_frame_count",
    "sampled_frame_indices", "token_differences",
]


# ----------------------------------------------------------------------------------------------- token counts
def resize_for_encoder(height: int, width: int, num_frames: int = 1, merge: int = IMAGE_MERGE,
                       patch: int = PATCH_SIZE, min_tokens: int = MIN_TOKENS,
                       max_tokens: int = MAX_TOKENS) -> tuple[int, int]:
    """The size VideoLLaMA3 resizes an image, or each of ``num_frames`` frames of a video, to (module docstring).

    Args:
        height, width: the input's size in pixels.
        num_frames: how many images share the pixel budget (the frames of a video; 1 for an image).
        merge: 1 for images, 2 for video frames (``VIDEO_MERGE``); ``factor = patch * merge``.
        patch: the encoder's patch side (14).
        min_tokens, max_tokens: token bounds; the pixel bounds are ``tokens * factor**2``.

    Returns:
        ``(h, w)``, multiples of ``patch * merge``.

    >>> resize_for_encoder(4000, 6000)                  # over 16,384 tokens: scaled down, rounded down
    (1456, 2184)
    >>> resize_for_encoder(20, 30)                      # under 16 tokens: scaled up, rounded up
    (56, 70)
    """
    height, width = positive_int(height, "height"), positive_int(width, "width")
    num_frames = positive_int(num_frames, "num_frames", "frames sharing the pixel budget")
    factor = positive_int(patch, "patch") * positive_int(merge, "merge", "1 for images, 2 for video")
    min_pixels = positive_int(min_tokens, "min_tokens") * factor * factor
    budget = positive_int(max_tokens, "max_tokens") * factor * factor // num_frames
    if budget < factor * factor:
        raise ValueError(f"max_tokens={max_tokens} shared by {num_frames} frames leaves less than one token per "
                         f"frame; sample fewer frames or raise max_tokens")
    h_bar, w_bar = round(height / factor) * factor, round(width / factor) * factor
    if h_bar * w_bar > budget:
        beta = math.sqrt(height * width / budget)
        h_bar, w_bar = math.floor(height / beta / factor) * factor, math.floor(width / beta / factor) * factor
    if h_bar * w_bar < min_pixels:  # upstream checks this after the budget, not instead of it
        beta = math.sqrt(min_pixels / (height * width))
        h_bar, w_bar = math.ceil(height * beta / factor) * factor, math.ceil(width * beta / factor) * factor
    return int(h_bar), int(w_bar)


def num_image_tokens(height: int, width: int, min_tokens: int = MIN_TOKENS, max_tokens: int = MAX_TOKENS) -> int:
    """LLM tokens of one ``height x width`` image in VideoLLaMA3: ``(h / 14) * (w / 14)`` after
    :func:`resize_for_encoder` (no 2x2 merge for images).

    >>> num_image_tokens(384, 384)                      # 27 * 27, as many as one LLaVA-OneVision crop
    729
    """
    h, w = resize_for_encoder(height, width, 1, IMAGE_MERGE, PATCH_SIZE, min_tokens, max_tokens)
    return (h // PATCH_SIZE) * (w // PATCH_SIZE)


def sampled_frame_indices(num_frames: int, video_fps: float, fps: float = VIDEO_FPS,
                          max_frames: int = MAX_FRAMES) -> np.ndarray:
    """The frames the VideoLLaMA3 processor samples from a video of ``num_frames`` frames at ``video_fps``.

    Shorter than ``max_frames`` seconds (at ``fps = 1``): one frame from every ``video_fps // fps`` frames, starting
    in the middle of the first segment (``np.arange(seg // 2, num_frames, seg)``); otherwise ``max_frames`` frames
    spread uniformly (``np.linspace(0, num_frames - 1, max_frames)``; all frames if there are fewer).

    Returns:
        ``(n,)`` int64 frame indices, increasing.

    >>> sampled_frame_indices(30, 4.0).tolist()                               # 7.5 s at 4 fps: 1 frame a second
    [2, 6, 10, 14, 18, 22, 26]
    """
    num_frames = positive_int(num_frames, "num_frames", "frames in the video")
    max_frames = positive_int(max_frames, "max_frames")
    if not (video_fps > 0 and fps > 0):
        raise ValueError(f"video_fps and fps must be positive; got {video_fps} and {fps}")
    if num_frames / video_fps < max_frames:
        segment = min(video_fps // fps, num_frames)
        if segment < 1:
            raise ValueError(f"fps={fps} is above the video's own rate ({video_fps}); sample at most {video_fps} fps")
        return np.arange(segment // 2, num_frames, segment).astype(np.int64)
    if num_frames <= max_frames:
        return np.arange(num_frames, dtype=np.int64)
    return np.linspace(0, num_frames - 1, max_frames).astype(np.int64)


def sampled_frame_count(num_frames: int, video_fps: float, fps: float = VIDEO_FPS, max_frames: int = MAX_FRAMES) -> int:
    """How many frames :func:`sampled_frame_indices` takes.

    >>> sampled_frame_count(1800, 30.0), sampled_frame_count(18000, 30.0)     # 60 s and 10 min at 30 fps
    (60, 128)
    """
    return len(sampled_frame_indices(num_frames, video_fps, fps, max_frames))


def num_video_tokens(num_frames: int, height: int, width: int, min_tokens: int = MIN_TOKENS,
                     max_tokens: int = MAX_TOKENS) -> int:
    """LLM tokens of ``num_frames`` *sampled* frames of ``height x width`` before DiffFP: every frame gets
    ``(h / 28) * (w / 28)`` tokens, the frames sharing ``max_tokens`` (:func:`resize_for_encoder` with ``merge=2``).

    >>> num_video_tokens(60, 96, 128)                   # a course clip's 96x128 frames: 112x140, 4 * 5 each
    1200
    """
    num_frames = positive_int(num_frames, "num_frames", "sampled frames")
    factor = PATCH_SIZE * VIDEO_MERGE
    h, w = resize_for_encoder(height, width, num_frames, VIDEO_MERGE, PATCH_SIZE, min_tokens, max_tokens)
    return num_frames * (h // factor) * (w // factor)


# ------------------------------------------------------------------------------------------------------ DiffFP
def normalise_frames(frames, mean=CLIP_MEAN, std=CLIP_STD, device: str | torch.device = "cpu") -> Tensor:
    """``(T, H, W, 3)`` uint8 RGB frames (NumPy or torch) as the encoder's input: ``(T, 3, H, W)`` float32
    ``(x / 255 - mean) / std`` per channel, on ``device``."""
    x = torch.as_tensor(np.asarray(frames) if not isinstance(frames, Tensor) else frames, device=device)
    if x.ndim != 4 or x.shape[-1] != 3 or x.dtype != torch.uint8:
        raise ValueError(f"frames must be (T, H, W, 3) uint8 RGB; got {tuple(x.shape)} {x.dtype}")
    m = torch.tensor(mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    return (x.permute(0, 3, 1, 2).float() / 255 - m) / s


def token_differences(frames: Tensor, token_size: int = PATCH_SIZE * VIDEO_MERGE) -> Tensor:
    """How much each token's pixels changed since the previous frame.

    Args:
        frames: ``(T, C, H, W)`` float, ``H`` and ``W`` multiples of ``token_size`` (a resized video).
        token_size: the pixels one token covers per side (28 for VideoLLaMA3's video tokens).

    Returns:
        ``(T, H / token_size, W / token_size)`` float: the mean of ``|frames[t] - frames[t - 1]|`` over each token's
        ``C * token_size**2`` values; ``inf`` for frame 0, which has no previous frame.
    """
    if not isinstance(frames, Tensor) or frames.ndim != 4 or not frames.is_floating_point():
        raise ValueError(f"frames must be a (T, C, H, W) float tensor; got {getattr(frames, 'shape', type(frames))}")
    size = positive_int(token_size, "token_size")
    T, _, H, W = frames.shape
    if T < 1 or H % size or W % size:
        raise ValueError(f"frames of {H}x{W} do not split into {size}x{size} tokens; resize them to multiples of "
                         f"{size} first (resize_for_encoder with merge=2)")
    change = (frames[1:] - frames[:-1]).abs().mean(dim=1)  # (T - 1, H, W): channels averaged here
    per_token = torch.nn.functional.avg_pool2d(change[:, None], size)[:, 0]  # (T - 1, H / size, W / size)
    first = torch.full((1, H // size, W // size), float("inf"), dtype=frames.dtype, device=frames.device)
    return torch.cat([first, per_token], dim=0)


def diff_frame_prune(frames: Tensor, token_size: int = PATCH_SIZE * VIDEO_MERGE, threshold: float = DIFF_THRESHOLD,
                     min_tokens: int = DIFF_MIN_TOKENS, scale: float = 255.0) -> Tensor:
    """DiffFP's keep mask: which tokens of a video reach the LLM.

    A token is kept when ``scale * token_differences(frames) > threshold`` (strictly). Frame 0 is kept whole.
    A frame with fewer than ``min_tokens`` kept tokens keeps its first ``min_tokens`` tokens instead (row-major),
    so every frame stays in the sequence.

    Args:
        frames: ``(T, C, H, W)`` float; pass :func:`normalise_frames` output for upstream's units.
        token_size, threshold, min_tokens: 28, 0.1 and 1 upstream.
        scale: upstream multiplies the normalised difference by 255.

    Returns:
        ``(T, (H / token_size) * (W / token_size))`` bool, row-major within a frame.
    """
    if not threshold >= 0:
        raise ValueError(f"threshold must be >= 0; got {threshold}")
    diff = token_differences(frames, token_size).flatten(1) * scale  # (T, n)
    keep = diff > threshold
    n = keep.shape[1]
    floor = min(positive_int(min_tokens, "min_tokens"), n)
    short = keep.sum(dim=1) < floor
    keep[short, :floor] = True
    return keep
