"""Typical wrong implementations for lab05 (AnyRes selection, unpadding, frame pooling, smart_resize,
smart_nframes, M-RoPE position ids)."""

from tests.mistakes import Mistake

SELECT = '''
def select_best_resolution(original_size, possible_resolutions):
    {unpack}
    best, best_key = None, None
    for h, w in possible_resolutions:
        scale = min(w / w0, h / h0)
        effective = {effective}
        key = {key}
        if best_key is None or key < best_key:
            best, best_key = (int(h), int(w)), key
    return best
'''
SELECT_RIGHT = dict(
    unpack="h0, w0 = original_size",
    effective="min(int(w0 * scale) * int(h0 * scale), w0 * h0)",
    key="(-effective, h * w - effective)",
)


def select(**changes):
    return SELECT.format(**{**SELECT_RIGHT, **changes})


UNPAD = '''
def unpad_features(features, original_size):
    h0, w0 = original_size
    _, H, W = features.shape
    if {condition}:
        new_h = {new_h}
        pad = (H - new_h) // 2
        return features[:, pad:H - pad, :]
    new_w = {new_w}
    pad = (W - new_w) // 2
    return features[:, :, pad:W - pad]
'''
UNPAD_RIGHT = dict(
    condition="w0 / h0 > W / H",
    new_h="int(round(h0 * (W / w0), 7))",
    new_w="int(round(w0 * (H / h0), 7))",
)


def unpad(**changes):
    return UNPAD.format(**{**UNPAD_RIGHT, **changes})


POOL = '''
def pool_video_frames(features, stride=2):
    n, P, C = features.shape
    side = math.isqrt(P)
    grid = {grid}
    out = {out}
    pooled = {pool}
    return pooled.permute(0, 2, 3, 1).reshape(n, -1, C)
'''
POOL_RIGHT = dict(
    grid="features.reshape(n, side, side, C).permute(0, 3, 1, 2)",
    out="math.ceil(side / stride)",
    pool='F.interpolate(grid, size=(out, out), mode="bilinear", align_corners=False)',
)


def pool(**changes):
    return POOL.format(**{**POOL_RIGHT, **changes})


RESIZE = '''
def smart_resize(height, width, factor=28, min_pixels=56 * 56, max_pixels=16384 * 28 * 28):
    if max(height, width) / min(height, width) > 200:
        raise ValueError("aspect ratio exceeds 200")
    h_bar = max(factor, {round}(height / factor) * factor)
    w_bar = max(factor, {round}(width / factor) * factor)
    if {max_branch}:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = {down}(height / beta / factor) * factor
        w_bar = {down}(width / beta / factor) * factor
    elif {min_branch}:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return int(h_bar), int(w_bar)
'''
RESIZE_RIGHT = dict(
    round="round", down="math.floor", max_branch="h_bar * w_bar > max_pixels", min_branch="h_bar * w_bar < min_pixels"
)


def resize(**changes):
    return RESIZE.format(**{**RESIZE_RIGHT, **changes})


NFRAMES = '''
def smart_nframes(total_frames, video_fps, fps=2.0, min_frames=4, max_frames=768):
    lower = math.ceil(min_frames / 2) * 2
    upper = math.floor(min(max_frames, total_frames) / 2) * 2
    n = total_frames / video_fps * fps
    n = {final}
    if not 2 <= n <= total_frames:
        raise ValueError("cannot sample")
    return int(n)
'''
NFRAMES_RIGHT = dict(final="math.floor(min(max(n, lower), upper, total_frames) / 2) * 2")

MROPE = '''
def mrope_position_ids(segments, spatial_merge_size=2, second_per_grid_ts=None, tokens_per_second=None):
    pieces, pos, video = [], 0, 0
    for kind, size in segments:
        if kind == "text":
            pieces.append(torch.arange(pos, pos + size).expand(3, -1))
            pos += size
            continue
        t, h, w = size
        hh, ww = h // spatial_merge_size, w // spatial_merge_size
        times = torch.arange(t)
        if kind == "video":
            if tokens_per_second is not None:
                second = 1.0 if second_per_grid_ts is None else second_per_grid_ts[video]
                times = ({time_ids}).long()
            video += 1
        tt, rr, cc = torch.meshgrid(times, torch.arange(hh), torch.arange(ww), indexing="ij")
        block = torch.stack([{axes}]) + pos
        pieces.append(block)
        pos = {next_pos}
    return torch.cat(pieces, dim=1).long()
'''
MROPE_RIGHT = dict(
    time_ids="times * second * tokens_per_second",
    axes="tt.reshape(-1), rr.reshape(-1), cc.reshape(-1)",
    next_pos="int(block.max()) + 1",
)


def mrope(**changes):
    return MROPE.format(**{**MROPE_RIGHT, **changes})


MISTAKES = {
    "best_resolution_wh_swapped": Mistake(
        "select_best_resolution", select(unpack="w0, h0 = original_size"),
        ("test_select_best_resolution",),
        "reads the size as (width, height), LLaVA-NeXT's order, where transformers and this lab use (height, width)",
    ),
    "best_resolution_no_tie_break": Mistake(
        "select_best_resolution", select(key="-effective"),
        ("test_select_best_resolution",),
        "keeps the first candidate with the most effective pixels without comparing the wasted canvas",
    ),
    "best_resolution_uncapped": Mistake(
        "select_best_resolution", select(effective="int(w0 * scale) * int(h0 * scale)"),
        ("test_select_best_resolution",),
        "does not cap the effective resolution at the original pixel count, so upscaling looks like a gain",
    ),
    "unpad_wrong_axis": Mistake(
        "unpad_features", unpad(condition="w0 / h0 < W / H"),
        ("test_unpad_features",),
        "cuts rows from a tall image and columns from a wide one (the aspect comparison reversed)",
    ),
    "unpad_int_without_round": Mistake(
        "unpad_features", unpad(new_h="int(h0 * (W / w0))", new_w="int(w0 * (H / h0))"),
        ("test_unpad_features",),
        "truncates h0*W/w0 directly, so 14.999999999999998 becomes 14 and the cut moves by a cell",
    ),
    "pool_average_13x13": Mistake(
        "pool_video_frames", pool(out="side // stride", pool="F.avg_pool2d(grid, kernel_size=stride, stride=stride)"),
        ("test_pool_video_frames",),
        "2x2 average pooling: 27 -> 13, 169 tokens per frame instead of LLaVA-OneVision's bilinear 14x14 = 196",
    ),
    "pool_no_permute": Mistake(
        "pool_video_frames", pool(grid="features.reshape(n, C, side, side)"),
        ("test_pool_video_frames",),
        "reshapes the channels-last tokens straight to (F, C, side, side), scrambling tokens and channels",
    ),
    "smart_resize_floor_not_round": Mistake(
        "smart_resize", resize(round="math.floor"),
        ("test_smart_resize",),
        "rounds the sides down to multiples of 28 in the first step instead of to the nearest (Python round)",
    ),
    "smart_resize_no_max_branch": Mistake(
        "smart_resize", resize(max_branch="False"),
        ("test_smart_resize",),
        "never scales down to max_pixels, so large images and video frames blow the token budget",
    ),
    "nframes_round_not_floor": Mistake(
        "smart_nframes",
        NFRAMES.format(final="round(min(max(n, lower), upper, total_frames) / 2) * 2"),
        ("test_smart_nframes",),
        "rounds the frame count to the nearest even number instead of down",
    ),
    "mrope_text_after_token_count": Mistake(
        "mrope_position_ids", mrope(next_pos="pos + block.shape[1]"),
        ("test_mrope_position_ids",),
        "advances the position by the block's number of tokens, as 1D RoPE would, instead of max id + 1",
    ),
    "mrope_transformers_5_rule": Mistake(
        "mrope_position_ids", mrope(next_pos="pos + max(hh, ww)"),
        ("test_mrope_position_ids",),
        "resumes text at start + max(h, w)/2 (transformers 5.23), not at the largest id + 1 the checkpoints use",
    ),
    "mrope_axes_swapped": Mistake(
        "mrope_position_ids", mrope(axes="tt.reshape(-1), cc.reshape(-1), rr.reshape(-1)"),
        ("test_mrope_position_ids",),
        "puts the column ids on the height axis and the row ids on the width axis",
    ),
    "mrope_time_not_scaled": Mistake(
        "mrope_position_ids", mrope(time_ids="times"),
        ("test_mrope_time",),
        "ignores Qwen2.5-VL's seconds per patch and tokens per second: time ids step by one patch",
    ),
}
