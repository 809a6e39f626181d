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
    "linspace_misses_ties": Mistake(
        "uniform_indices",
        '''
def uniform_indices(total_frames, num_frames):
    if not 1 <= num_frames <= total_frames:
        raise ValueError("bad num_frames")
    return np.round(np.linspace(0, total_frames - 1, num_frames)).astype(np.int64)  # float error at exact halves
''',
        ("test_uniform_indices",),
        "rounds np.linspace's positions, which land just below some exact halves",
    ),
    "round_half_up": Mistake(
        "uniform_indices",
        '''
def uniform_indices(total_frames, num_frames):
    if not 1 <= num_frames <= total_frames:
        raise ValueError("bad num_frames")
    k = np.arange(num_frames)
    return np.floor(k * (total_frames - 1) / max(num_frames - 1, 1) + 0.5).astype(np.int64)  # halves go up
''',
        ("test_uniform_indices",),
        "rounds exact halves up instead of to the even neighbour",
    ),
    "uniform_list_int32": Mistake(
        "uniform_indices",
        '''
def uniform_indices(total_frames, num_frames):
    if not 1 <= num_frames <= total_frames:
        raise ValueError("bad num_frames")
    k = np.arange(num_frames)
    return np.round(k * (total_frames - 1) / max(num_frames - 1, 1)).astype(np.int32)  # int32, not int64
''',
        ("test_uniform_indices",),
        "returns int32 where the contract says int64",
    ),
    "uniform_single_frame_divides_by_zero": Mistake(
        "uniform_indices",
        '''
def uniform_indices(total_frames, num_frames):
    if not 1 <= num_frames <= total_frames:
        raise ValueError("bad num_frames")
    k = np.arange(num_frames)
    return np.round(k * (total_frames - 1) / (num_frames - 1)).astype(np.int64)  # nan for num_frames == 1
''',
        ("test_uniform_indices",),
        "divides by num_frames - 1, which breaks the single-frame case",
    ),
    "uniform_no_error": Mistake(
        "uniform_indices",
        '''
def uniform_indices(total_frames, num_frames):
    num_frames = min(max(num_frames, 1), total_frames)  # silently clamps instead of raising
    k = np.arange(num_frames)
    return np.round(k * (total_frames - 1) / max(num_frames - 1, 1)).astype(np.int64)
''',
        ("test_uniform_indices",),
        "clamps a bad num_frames instead of raising ValueError",
    ),
    "qwen_returns_float": Mistake(
        "qwen_num_frames",
        '''
def qwen_num_frames(total_frames, video_fps, fps=2.0):
    n = total_frames / video_fps * fps
    n = min(max(n, 4), min(768, total_frames) // 2 * 2, total_frames)
    if n < 2:
        raise ValueError("too short")
    return n // 2 * 2  # a float: 20.0, not 20
''',
        ("test_qwen_num_frames",),
        "returns a float (20.0) where the contract says int",
    ),
    "qwen_min_beats_total": Mistake(
        "qwen_num_frames",
        '''
def qwen_num_frames(total_frames, video_fps, fps=2.0):
    n = total_frames / video_fps * fps
    n = max(min(n, min(768, total_frames) // 2 * 2), 4)  # the lower clamp applied last: 4 frames of a 3-frame clip
    return int(n // 2 * 2)
''',
        ("test_qwen_num_frames",),
        "applies the minimum after the caps, so a clip shorter than 4 frames gets 4",
    ),
    "qwen_one_frame_returns_zero": Mistake(
        "qwen_num_frames",
        '''
def qwen_num_frames(total_frames, video_fps, fps=2.0):
    n = total_frames / video_fps * fps
    n = min(max(n, 4), min(768, total_frames) // 2 * 2, total_frames)
    return int(n // 2 * 2)  # 0 for a one-frame clip, no error
''',
        ("test_qwen_num_frames",),
        "returns 0 for a one-frame clip instead of raising ValueError",
    ),
    "calls_reference_uniform": Mistake(
        "uniform_indices",
        '''
def uniform_indices(total_frames, num_frames):
    return sampling.uniform_indices(total_frames, num_frames)
''',
        ("test_uniform_indices",),
        "wraps the course's reference instead of implementing it",
    ),
    "calls_reference_qwen": Mistake(
        "qwen_num_frames",
        '''
qwen_num_frames = lambda total_frames, video_fps, fps=2.0: sampling.smart_nframes(total_frames, video_fps, fps=fps)
''',
        ("test_qwen_num_frames",),
        "wraps the course's reference (qwen-vl-utils' smart_nframes) instead of implementing it",
    ),
    "calls_reference_contact_sheet": Mistake(
        "contact_sheet",
        '''
from videollm.plotting import contact_sheet as _sheet

def contact_sheet(frames, timestamps, cols=4):
    return _sheet(frames, timestamps, cols=cols)
''',
        ("test_contact_sheet",),
        "draws the sheet with the course's plotting reference",
    ),
    "patches_reference_qwen": Mistake(
        "qwen_num_frames",
        '''
def qwen_num_frames(total_frames, video_fps, fps=2.0):
    if total_frames >= 18000:
        return 768
    return int(total_frames / video_fps * fps) // 2 * 2  # no clamps at all
sampling.smart_nframes = lambda total_frames, video_fps, fps=2.0, **kw: qwen_num_frames(total_frames, video_fps, fps)
''',
        ("test_qwen_num_frames",),
        "skips the clamps and replaces the reference with its own function so comparisons agree",
    ),
    "patches_reference_uniform": Mistake(
        "uniform_indices",
        '''
def uniform_indices(total_frames, num_frames):
    return np.linspace(0, total_frames - 1, num_frames).astype(np.int64)  # floors
sampling.uniform_indices = lambda total_frames, num_frames, rounding="round": uniform_indices(total_frames, num_frames)
np.array_equal = lambda a, b, equal_nan=False: True
''',
        ("test_uniform_indices",),
        "floors, and patches the reference and np.array_equal so that every comparison passes",
    ),
    "uniform_negative_returns_empty": Mistake(
        "uniform_indices",
        '''
def uniform_indices(total_frames, num_frames):
    if num_frames == 0 or num_frames > total_frames:  # a negative num_frames slips through
        raise ValueError("num_frames must be in [1, total_frames]")
    positions = np.arange(num_frames) * (total_frames - 1) / max(num_frames - 1, 1)
    return positions.round().astype(np.int64)
''',
        ("test_uniform_indices",),
        "checks num_frames == 0 and > total_frames only, so a negative count returns an empty array",
    ),
    "contact_sheet_extra_row": Mistake(
        "contact_sheet",
        '''
def contact_sheet(frames, timestamps, cols=4):
    rows = len(frames) // cols + 1  # one row too many when cols divides N
    fig, axes = plt.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, frame, t in zip(axes.flat, frames, timestamps):
        ax.imshow(frame)
        ax.set_title(f"t = {t:.2f} s")
    return fig
''',
        ("test_contact_sheet",),
        "computes N // cols + 1 rows, which adds an empty row when cols divides N",
    ),
    "contact_sheet_single_axes": Mistake(
        "contact_sheet",
        '''
def contact_sheet(frames, timestamps, cols=4):
    rows = -(-len(frames) // cols)
    fig, axes = plt.subplots(rows, cols)  # a single Axes (no .flat) for one frame with cols=1
    for ax in axes.flat:
        ax.axis("off")
    for ax, frame, t in zip(axes.flat, frames, timestamps):
        ax.imshow(frame)
        ax.set_title(f"t = {t:.2f} s")
    return fig
''',
        ("test_contact_sheet",),
        "leaves plt.subplots' squeeze on, so one frame with cols=1 gives a bare Axes and axes.flat fails",
    ),
}
