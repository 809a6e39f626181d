"""Typical wrong implementations for lab00 (video warm-up)."""

from tests.mistakes import Mistake

MISTAKES = {
    "linspace_floor": Mistake(
        "uniform_indices",
        '''
def uniform_indices(total_frames, num_frames):
    if not 1 <= num_frames <= total_frames:
        raise ValueError("bad num_frames")
    return np.linspace(0, total_frames - 1, num_frames).astype(np.int64)  # floors instead of rounding
''',
        ("test_uniform_indices",),
        "floors the positions (LLaVA-OneVision's variant) where rounding was asked for",
    ),
    "arange_stride": Mistake(
        "uniform_indices",
        '''
def uniform_indices(total_frames, num_frames):
    step = total_frames // num_frames
    return np.arange(0, step * num_frames, step, dtype=np.int64)  # never reaches the last frame
''',
        ("test_uniform_indices",),
        "strides from 0 and never includes the last frame",
    ),
    "qwen_no_min_frames": Mistake(
        "qwen_num_frames",
        '''
def qwen_num_frames(total_frames, video_fps, fps=2.0):
    n = total_frames / video_fps * fps
    n = min(n, 768, total_frames)
    return int(n // 2 * 2)  # no lower bound of 4 frames
''',
        ("test_qwen_num_frames",),
        "forgets the minimum of 4 frames",
    ),
    "qwen_round_not_floor": Mistake(
        "qwen_num_frames",
        '''
def qwen_num_frames(total_frames, video_fps, fps=2.0):
    n = total_frames / video_fps * fps
    n = min(max(n, 4), min(768, total_frames) // 2 * 2, total_frames)
    return int(round(n / 2) * 2)  # rounds to nearest even instead of down
''',
        ("test_qwen_num_frames",),
        "rounds to the nearest even count instead of rounding down",
    ),
    "decode_every_frame": Mistake(
        "decode",
        '''
frames, timestamps = io.load_video(path)
frames, timestamps = frames[:8], timestamps[:8]  # the first 8 frames, not 8 spread over the clip
''',
        ("test_decode",),
        "takes the first 8 frames instead of 8 spread over the clip",
    ),
    "contact_sheet_frame_numbers": Mistake(
        "contact_sheet",
        '''
def contact_sheet(frames, timestamps, cols=4):
    rows = -(-len(frames) // cols)
    fig, axes = plt.subplots(rows, cols, squeeze=False)
    for i, (ax, frame) in enumerate(zip(axes.flat, frames)):
        ax.imshow(frame)
        ax.set_title(f"frame {i}")  # frame numbers, not times
    return fig
''',
        ("test_contact_sheet",),
        "titles frames with their position instead of their time",
    ),
}
