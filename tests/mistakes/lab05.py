"""Typical wrong implementations for lab05 (AnyRes selection, unpadding, frame pooling, smart_resize,
smart_nframes, M-RoPE position ids): one per contract clause, the reference called from an answer (one per task)
and the reference patched so that in-kernel comparisons with it would pass."""

from tests.mistakes import Mistake, filler

SELECT = '''
def select_best_resolution(original_size, possible_resolutions):
    {unpack}
    best, best_key = None, None
    for h, w in possible_resolutions:
        scale = min(w / w0, h / h0)
        effective = {effective}
        key = {key}
        if best_key is None or {better}:
            best, best_key = {keep}, key
    {empty}
    return best
'''
SELECT_RIGHT = dict(
    unpack="h0, w0 = original_size",
    effective="min(int(w0 * scale) * int(h0 * scale), w0 * h0)",
    key="(-effective, h * w - effective)",
    better="key < best_key",
    keep="(int(h), int(w))",
    empty='if best is None:\n        raise ValueError("possible_resolutions is empty")',
)


select = filler(SELECT, SELECT_RIGHT)


UNPAD = '''
def unpad_features(features, original_size):
    h0, w0 = original_size
    {prepare}
    _, H, W = features.shape
    if {condition}:
        new_h = {new_h}
        pad = (H - new_h) // 2
        return {rows}
    new_w = {new_w}
    pad = (W - new_w) // 2
    return {cols}
'''
UNPAD_RIGHT = dict(
    prepare="pass",
    condition="w0 / h0 > W / H",
    new_h="int(round(h0 * (W / w0), 7))",
    new_w="int(round(w0 * (H / h0), 7))",
    rows="features[:, pad:H - pad, :]",
    cols="features[:, :, pad:W - pad]",
)


unpad = filler(UNPAD, UNPAD_RIGHT)


POOL = '''
def pool_video_frames(features, stride=2):
    n, P, C = features.shape
    side = {side}
    {check}
    grid = {grid}
    out = {out}
    pooled = {pool}
    return pooled.permute(0, 2, 3, 1).reshape(n, -1, C)
'''
POOL_RIGHT = dict(
    side="math.isqrt(P)",
    check='if side * side != P:\n        raise ValueError("not a square grid")',
    grid="features.reshape(n, side, side, C).permute(0, 3, 1, 2)",
    out="math.ceil(side / stride)",
    pool='F.interpolate(grid, size=(out, out), mode="bilinear", align_corners=False)',
)


pool = filler(POOL, POOL_RIGHT)


RESIZE = '''
def smart_resize(height, width, factor=28, min_pixels=56 * 56, max_pixels=16384 * 28 * 28):
    if {ratio}:
        raise ValueError("aspect ratio exceeds 200")
    h_bar = max(factor, {round}(height / factor) * factor)
    w_bar = max(factor, {round}(width / factor) * factor)
    if {max_branch}:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = {down_h}
        w_bar = {down_w}
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return {result}
'''
RESIZE_RIGHT = dict(
    ratio="max(height, width) / min(height, width) > 200",
    round="round",
    max_branch="h_bar * w_bar > max_pixels",
    down_h="math.floor(height / beta / factor) * factor",
    down_w="math.floor(width / beta / factor) * factor",
    result="int(h_bar), int(w_bar)",
)


resize = filler(RESIZE, RESIZE_RIGHT)


NFRAMES = '''
def smart_nframes(total_frames, video_fps, fps=2.0, min_frames=4, max_frames=768):
    lower = {lower}
    upper = math.floor(min(max_frames, total_frames) / 2) * 2
    n = total_frames / video_fps * fps
    n = {final}
    {check}
    return {result}
'''
NFRAMES_RIGHT = dict(
    lower="math.ceil(min_frames / 2) * 2",
    final="math.floor(min(max(n, lower), upper, total_frames) / 2) * 2",
    check='if not 2 <= n <= total_frames:\n        raise ValueError("cannot sample")',
    result="int(n)",
)


nframes = filler(NFRAMES, NFRAMES_RIGHT)


MROPE = '''
def mrope_position_ids(segments, spatial_merge_size=2, second_per_grid_ts=None, tokens_per_second=None):
    pieces, pos, video = [], 0, 0
    for index, (kind, size) in enumerate(segments):
        if kind == "text":
            pieces.append(torch.arange(pos, pos + size).expand(3, -1))
            pos += size
            continue
        t, h, w = size
        hh, ww = h // spatial_merge_size, w // spatial_merge_size
        times = torch.arange(t)
        if kind == "video":
            if tokens_per_second is not None:
                second = 1.0 if second_per_grid_ts is None else second_per_grid_ts[{which}]
                times = {time_ids}
            video += 1
        tt, rr, cc = torch.meshgrid(times, torch.arange(hh), torch.arange(ww), indexing="ij")
        block = torch.stack([{axes}]) + pos
        pieces.append(block)
        pos = {next_pos}
    {result}
'''
MROPE_RIGHT = dict(
    which="video",
    time_ids="(times * second * tokens_per_second).long()",
    axes="tt.reshape(-1), rr.reshape(-1), cc.reshape(-1)",
    next_pos="int(block.max()) + 1",
    result="return torch.cat(pieces, dim=1).long() if pieces else torch.zeros(3, 0, dtype=torch.long)",
)


mrope = filler(MROPE, MROPE_RIGHT)


SELECT_T, UNPAD_T, POOL_T = ("test_select_best_resolution",), ("test_unpad_features",), ("test_pool_video_frames",)
RESIZE_T, NFRAMES_T = ("test_smart_resize",), ("test_smart_nframes",)
MROPE_T, TIME_T = ("test_mrope_position_ids",), ("test_mrope_time",)

MISTAKES = {
    # ---- Task 1: select_best_resolution
    "best_resolution_wh_swapped": Mistake(
        "select_best_resolution", select(unpack="w0, h0 = original_size"), SELECT_T,
        "reads the size as (width, height), LLaVA-NeXT's order, where transformers and this lab use (height, width)",
    ),
    "best_resolution_uncapped": Mistake(
        "select_best_resolution", select(effective="int(w0 * scale) * int(h0 * scale)"), SELECT_T,
        "does not cap the effective resolution at the original pixel count, so upscaling looks like a gain",
    ),
    "best_resolution_no_tie_break": Mistake(
        "select_best_resolution", select(key="-effective"), SELECT_T,
        "keeps the first candidate with the most effective pixels without comparing the wasted canvas",
    ),
    "best_resolution_returns_candidate_as_given": Mistake(
        "select_best_resolution", select(keep="(h, w)", empty="pass"), SELECT_T,
        "returns the candidate's own values (NumPy integers stay NumPy) and None for an empty list",
    ),
    "patches_reference_select": Mistake(
        "select_best_resolution",
        select(better="key <= best_key") + "\n\nref_ov.select_best_resolution = select_best_resolution\n",
        SELECT_T,
        "lets the last of exactly tied candidates win and replaces the course's function with itself",
    ),
    "calls_reference_select": Mistake(
        "select_best_resolution",
        '''
def select_best_resolution(original_size, possible_resolutions):
    return tuple(int(v) for v in ref_ov.select_best_resolution(original_size, possible_resolutions))
''',
        SELECT_T,
        "wraps the course's reference instead of implementing the rule",
    ),
    # ---- Task 2: unpad_features
    "unpad_wrong_axis": Mistake(
        "unpad_features", unpad(condition="w0 / h0 < W / H"), UNPAD_T,
        "cuts rows from a tall image and columns from a wide one (the aspect comparison reversed)",
    ),
    "unpad_int_without_round": Mistake(
        "unpad_features", unpad(new_h="int(h0 * (W / w0))", new_w="int(w0 * (H / h0))"), UNPAD_T,
        "truncates h0*W/w0 directly, so 14.999999999999998 becomes 14 and the cut moves by a cell",
    ),
    "unpad_keeps_exactly_new_rows": Mistake(
        "unpad_features", unpad(rows="features[:, pad:pad + new_h, :]", cols="features[:, :, pad:pad + new_w]"),
        UNPAD_T,
        "keeps exactly new_h rows, one fewer than upstream when the padding is odd",
    ),
    "unpad_upcasts_to_float32": Mistake(
        "unpad_features", unpad(prepare="features = features.float()"), UNPAD_T,
        "converts the map to float32 first, so fp16/bf16 features come back as float32",
    ),
    "calls_reference_unpad": Mistake(
        "unpad_features",
        '''
def unpad_features(features, original_size):
    return ref_ov.unpad_features(features, tuple(original_size))
''',
        UNPAD_T,
        "wraps the course's reference instead of implementing the cut",
    ),
    # ---- Task 3: pool_video_frames
    "pool_no_permute": Mistake(
        "pool_video_frames", pool(grid="features.reshape(n, C, side, side)"), POOL_T,
        "reshapes the channels-last tokens straight to (F, C, side, side), scrambling tokens and channels",
    ),
    "pool_hardcodes_27": Mistake(
        "pool_video_frames", pool(side="27", check="pass"), POOL_T,
        "assumes SigLIP's 27x27 grid: other sides break, and 728 tokens give a RuntimeError, not ValueError",
    ),
    "pool_upcasts_to_float32": Mistake(
        "pool_video_frames", pool(grid="features.float().reshape(n, side, side, C).permute(0, 3, 1, 2)"), POOL_T,
        "interpolates in float32 and returns float32 for fp16/bf16 frames",
    ),
    "patches_reference_pool": Mistake(
        "pool_video_frames",
        pool(pool='F.interpolate(grid, size=(out, out), mode="bilinear", align_corners=True)')
        + "\n\nref_ov.pool_video_frames = lambda features, stride=2, mode='bilinear': pool_video_frames(features, stride)\n",
        POOL_T,
        "uses align_corners=True and replaces the course's pooling, which the visible check compares with",
    ),
    "calls_reference_pool": Mistake(
        "pool_video_frames",
        '''
def pool_video_frames(features, stride=2):
    return ref_ov.pool_video_frames(features, stride)
''',
        POOL_T,
        "wraps the course's reference instead of pooling",
    ),
    # ---- Task 4: smart_resize
    "smart_resize_half_up": Mistake(
        "smart_resize", resize(round="(lambda x: math.floor(x + 0.5))"), RESIZE_T,
        "rounds halves up (70 / 28 = 2.5 -> 3) where Python's round goes to the even neighbour",
    ),
    "smart_resize_transformers_edges": Mistake(
        "smart_resize",
        resize(down_h="max(factor, math.floor(height / beta / factor) * factor)",
               down_w="max(factor, math.floor(width / beta / factor) * factor)").replace(
            "max(factor, round(", "(round(", 2),
        RESIZE_T,
        "copies transformers' edge rules (no floor at factor in step 1, one in step 2) instead of qwen-vl-utils'",
    ),
    "smart_resize_numpy_sides_inclusive_ratio": Mistake(
        "smart_resize", resize(result="np.int64(h_bar), np.int64(w_bar)",
                               ratio="max(height, width) / min(height, width) >= 200"),
        RESIZE_T,
        "returns NumPy integers and refuses an aspect ratio of exactly 200",
    ),
    "calls_reference_smart_resize": Mistake(
        "smart_resize",
        '''
def smart_resize(height, width, factor=28, min_pixels=56 * 56, max_pixels=16384 * 28 * 28):
    return ref_qwen.smart_resize(height, width, factor, min_pixels, max_pixels)
''',
        RESIZE_T,
        "wraps the course's reference instead of implementing the rule",
    ),
    # ---- Task 5: smart_nframes
    "nframes_round_not_floor": Mistake(
        "smart_nframes", nframes(final="round(min(max(n, lower), upper, total_frames) / 2) * 2"), NFRAMES_T,
        "rounds the frame count to the nearest even number instead of down",
    ),
    "nframes_lower_clamp_wins": Mistake(
        "smart_nframes", nframes(final="math.floor(max(min(n, upper, total_frames), lower) / 2) * 2"), NFRAMES_T,
        "applies min_frames last, so a 3-frame video asks for 4 frames and raises",
    ),
    "nframes_float_no_error": Mistake(
        "smart_nframes", nframes(final="min(max(n, lower), upper, total_frames) // 2 * 2", check="pass",
                                 result="n"),
        NFRAMES_T,
        "returns the float n // 2 * 2 (20.0) and never raises for a video too short to sample",
    ),
    "calls_reference_smart_nframes": Mistake(
        "smart_nframes",
        '''
def smart_nframes(total_frames, video_fps, fps=2.0, min_frames=4, max_frames=768):
    return ref_sampling.smart_nframes(total_frames, video_fps, fps=fps, min_frames=min_frames, max_frames=max_frames)
''',
        NFRAMES_T,
        "wraps the course's reference instead of implementing the rule",
    ),
    # ---- Task 6: mrope_position_ids
    "mrope_transformers_5_rule": Mistake(
        "mrope_position_ids", mrope(next_pos="pos + max(hh, ww)"), MROPE_T,
        "resumes text at start + max(h, w)/2 (transformers 5.23), not at the largest id + 1 the checkpoints use",
    ),
    "mrope_axes_swapped": Mistake(
        "mrope_position_ids", mrope(axes="tt.reshape(-1), cc.reshape(-1), rr.reshape(-1)"), MROPE_T,
        "puts the column ids on the height axis and the row ids on the width axis",
    ),
    "mrope_int32_no_empty": Mistake(
        "mrope_position_ids", mrope(result="return torch.cat(pieces, dim=1).int()"), MROPE_T,
        "returns int32 ids, and an empty layout fails in torch.cat",
    ),
    "mrope_time_rounded": Mistake(
        "mrope_position_ids", mrope(time_ids="torch.round(times * second * tokens_per_second).long()"), TIME_T,
        "rounds the absolute time ids instead of truncating them (1.25 s per patch: 0, 2, 5, 8)",
    ),
    "patches_reference_mrope": Mistake(
        "mrope_position_ids",
        mrope(which="index // 2") + '''

ref_qwen.mrope_position_ids = lambda segments, **kw: mrope_position_ids(
    segments, kw.get("spatial_merge_size", 2), kw.get("second_per_grid_ts"), kw.get("tokens_per_second"))
torch.equal = lambda a, b: True
''',
        TIME_T,
        "picks each video's seconds by its place among all segments, then patches the reference and torch.equal",
    ),
    "calls_reference_mrope": Mistake(
        "mrope_position_ids",
        '''
def mrope_position_ids(segments, spatial_merge_size=2, second_per_grid_ts=None, tokens_per_second=None):
    return ref_qwen.mrope_position_ids(segments, spatial_merge_size=spatial_merge_size,
                                       second_per_grid_ts=second_per_grid_ts, tokens_per_second=tokens_per_second)
''',
        MROPE_T + TIME_T,
        "wraps the course's reference instead of building the ids",
    ),
}
