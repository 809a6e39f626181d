"""Typical wrong implementations for lab04 (motion: block matching, codec vectors, end-point error, tokens;
the keyframe: LaVIT's keep mask and the padded batch of kept tokens).

Contract clauses (see each task's text) and the entries that break them:

- block_matching: 1 float32 costs and field (``bm_uint8_wraps``, ``bm_keeps_float64``), 2 sign convention
  (``bm_wrong_sign``), 3 out-of-frame candidates (``bm_zero_padded``), 4 ties (``patches_reference_block_matching``
  for the smallest displacement, ``bm_ties_secondary`` for equal magnitudes), 5 errors (``bm_no_validation``),
  6 device (``bm_cpu_tensors``), 7 vectorised (``bm_loop_over_blocks``).
- vectors_to_field: 1 field on ``device`` (``field_ignores_device``), 2 value (``field_scale_ignored``),
  3 placement (``field_rows_cols_swapped``, ``field_clip_right_only``), 4 max pooling (``patches_reference_field``,
  ``field_zero_init``), 5 empty cells (``field_sentinel_left``), 6 keyframe gap (``field_gap_wraps``), 7 errors
  (``field_no_frames_check``).
- endpoint_error: 1 a float from any float input (``epe_numpy_scalar``), 2 defined entries only
  (``epe_over_undefined``), 3 errors (``epe_no_error_when_undefined``, ``epe_numpy_broadcast``).
- motion_tokens_per_clip: 1 an int (``tokens_np_ceil``), 2 ceil per stage (``tokens_floor_division``), 3 errors
  (``tokens_no_validation``, ``tokens_checks_frames_only``).
- keep_mask (task 6, clauses 1-5): 1 the log-probabilities' dtype (``keep_float32_mask``), 2 the hard sample
  (``keep_column_one``, ``keep_ignores_noise``, ``keep_tau_on_logits_only``, ``keep_tie_drops``), exactly 0/1
  (``keep_st_rounds``, ``keep_soft_returned``), the straight-through gradient (``keep_no_straight_through``), 4 the
  noise drawn as torch does (``keep_noise_from_rand``), 5 errors (``keep_no_validation``).
- gather_kept (task 6, clauses 6-10): 6 dtype and a bool padding mask (``gather_float32_zeros``,
  ``gather_attention_mask``), 7 order and zero padding by position (``gather_unstable_sort``,
  ``gather_padding_not_zeroed``, ``gather_padding_by_value``), 8 ``K_max`` (``gather_pads_to_n``), 9 no in-place
  writes (``gather_mutates_x``), 10 errors (``gather_no_validation``); ``calls_reference_gather`` and
  ``patches_reference_gather``.
- every task: ``calls_reference_*`` (the answer wraps the course's reference).
"""

from tests.mistakes import Mistake, filler

# One correct block matcher with slots for the parts students get wrong.
BLOCK_MATCHING = '''
def block_matching(frames, block=16, search=4):
    x = torch.as_tensor(frames)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError("frames must be (T, H, W) or (T, H, W, C)")
    x = x.permute(0, 3, 1, 2){cast}
    T, C, H, W = x.shape
    {checks}
    R, rows, cols = search, H // block, W // block
    prev, curr = F.pad(x[:-1], (R, R, R, R)), x[1:]
    inside = F.pad(torch.ones(H, W{dev}), (R, R, R, R))
    best_cost = torch.full((T - 1, rows, cols), float("inf"){dev})
    best = torch.zeros(T - 1, rows, cols, 2{dev})
    offsets = {offsets}
    for dx, dy in offsets:
        window = (slice(R {s} dy, R {s} dy + H), slice(R {s} dx, R {s} dx + W))
        sad = (curr - prev[:, :, window[0], window[1]]).abs(){sad}.sum(1)
        cost = sad.reshape(T - 1, rows, block, cols, block).sum((2, 4))
        {mask}
        better = cost < best_cost
        best_cost = torch.where(better, cost, best_cost)
        best[better] = torch.tensor([dx, dy], dtype=torch.float32{dev})
    return best
'''
ALL = "((dx, dy) for dy in range(-R, R + 1) for dx in range(-R, R + 1))"
CHECKS = ('if T < 2:\n        raise ValueError("need two frames")\n'
          '    if H % block or W % block:\n        raise ValueError("not a multiple of the block size")')
EXCLUDE = ('valid = inside[window].reshape(rows, block, cols, block).amin((1, 3)) > 0\n'
           '        cost = cost.masked_fill(~valid, float("inf"))')
RIGHT = dict(cast=".to(torch.float32)", checks=CHECKS, dev=", device=x.device", s="-", sad="", mask=EXCLUDE,
             offsets=f"sorted({ALL}, key=lambda d: (abs(d[0]) + abs(d[1]), -d[1], -d[0]))")


bm = filler(BLOCK_MATCHING, RIGHT)


BLOCK_LOOP = '''
def block_matching(frames, block=16, search=4):
    x = torch.as_tensor(frames)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError("frames must be (T, H, W) or (T, H, W, C)")
    x = x.permute(0, 3, 1, 2).to(torch.float32)
    T, C, H, W = x.shape
    if T < 2 or H % block or W % block:
        raise ValueError("need two frames whose size is a multiple of the block size")
    R, n = search, 2 * search + 1
    order = sorted(((dx, dy) for dy in range(-R, R + 1) for dx in range(-R, R + 1)),
                   key=lambda d: (abs(d[0]) + abs(d[1]), -d[1], -d[0]))
    # candidate (i, j) of the unfolded window sits at offset (i - R, j - R) = (-dy, -dx)
    flat = torch.tensor([(R - dy) * n + (R - dx) for dx, dy in order], device=x.device)
    motions = torch.tensor(order, dtype=torch.float32, device=x.device)
    out = torch.zeros(T - 1, H // block, W // block, 2, device=x.device)
    prev = F.pad(x[:-1], (R, R, R, R), value=float("nan"))   # NaN marks candidates outside the frame
    for by in range(H // block):                              # one block at a time
        for bx in range(W // block):
            y0, x0 = by * block, bx * block
            target = x[1:, :, y0:y0 + block, x0:x0 + block]
            window = prev[:, :, y0:y0 + block + 2 * R, x0:x0 + block + 2 * R]
            candidates = window.unfold(2, block, 1).unfold(3, block, 1)          # (T-1, C, n, n, B, B)
            cost = (candidates - target[:, :, None, None]).abs().sum((1, 4, 5))  # (T-1, n, n)
            cost = cost.nan_to_num(float("inf")).reshape(T - 1, -1)[:, flat]
            out[:, by, bx] = motions[cost.argmin(1)]
    return out
'''

# One correct conversion with slots.
VECTORS_TO_FIELD = '''
def vectors_to_field(vectors, height, width, block=16, device="cpu"):
    {check}
    T, rows, cols = len(vectors), -(-height // block), -(-width // block)
    counts = np.array([len(v) for v in vectors])
    field = {init}
    if counts.sum():
        v = np.concatenate([v for v in vectors if len(v)])
        frame = torch.as_tensor(np.repeat(np.arange(T), counts){dev})
        x = torch.as_tensor(v["dst_x"].astype(np.int64){dev}).clamp(0, width - 1)
        y = torch.as_tensor(v["dst_y"].astype(np.int64){dev}).clamp(0, height - 1)
        cell = {cell}
        scale = torch.as_tensor({scale}{dev})
        value = torch.stack([torch.as_tensor(v["motion_x"]{dev}) * scale,
                             torch.as_tensor(v["motion_y"]{dev}) * scale], dim=-1).float()
        field.scatter_reduce_(0, cell[:, None].expand(-1, 2), value, {reduce})
    {empty}
    field = field.reshape(T, rows, cols, 2){gap}
    return field
'''
GAP = '''
    if T >= 3:
        empty = torch.as_tensor(counts == 0{dev})
        gap = empty[1:-1] & ~empty[:-2] & ~empty[2:]
        middle = torch.where(gap[:, None, None, None], 0.5 * (field[:-2] + field[2:]), field[1:-1])
        field = torch.cat([field[:1], middle, field[-1:]])'''
FIELD_RIGHT = dict(
    check='if len(vectors) == 0:\n        raise ValueError("no frames")', dev=", device=device",
    init="torch.full((T * rows * cols, 2), -10000.0{dev})",
    cell="frame * (rows * cols) + (y // block) * cols + x // block",
    scale='v["source"] / v["motion_scale"].astype(np.float64)', reduce='reduce="amax"',
    empty="field = torch.where(field < -1000, torch.zeros_like(field), field)", gap=GAP,
)


def field(**changes):
    parts = {**FIELD_RIGHT, **changes}
    dev = parts.pop("dev")
    parts = {k: v.replace("{dev}", dev) for k, v in parts.items()}
    return VECTORS_TO_FIELD.replace("{dev}", dev).format(**parts)


EPE = '''
def endpoint_error(pred, truth):
    pred = torch.as_tensor(pred).to(torch.float32)
    truth = torch.as_tensor(truth).to(torch.float32)
    if pred.shape != truth.shape:
        raise ValueError("shapes differ")
    defined = ~torch.isnan(truth).any(dim=-1)
    {guard}
    {body}
'''
GUARD = 'if not defined.any():\n        raise ValueError("nothing defined")'


def epe(body="return float((pred - truth).norm(dim=-1)[defined].mean())", guard=GUARD):
    return EPE.format(body=body, guard=guard)


TOKENS = '''
def motion_tokens_per_clip(num_frames, grid, strides):
    t, h, w = num_frames, grid[0], grid[1]
    {guard}
    for stride in strides:
        {stride_guard}
        st, sh, sw = stride
        t, h, w = {step}
    return {result}
'''
TOKENS_RIGHT = dict(
    guard='if min(t, h, w) < 1:\n        raise ValueError("sizes must be positive")',
    stride_guard='if len(stride) != 3 or min(stride) < 1:\n            raise ValueError("bad stride")',
    step="-(-t // st), -(-h // sh), -(-w // sw)", result="t * h * w",
)


tokens = filler(TOKENS, TOKENS_RIGHT)


# One correct keep mask (task 6) with slots.
KEEP_MASK = '''
def keep_mask(log_probs, tau=1.0, hard=True, noise=None):
    {checks}
    if noise is None:
        noise = {draw}
    y = {relax}.softmax(dim=-1)
    soft = y[..., {col}]
    if not hard:
        return soft
    sample = ({decide}).{cast}
    return {st}
'''
KEEP_CHECKS = ('if log_probs.ndim != 3 or log_probs.shape[-1] != 2:\n'
               '        raise ValueError("log_probs must be (B, N, 2)")\n'
               '    if not tau > 0:\n        raise ValueError("tau must be > 0")\n'
               '    if noise is not None and noise.shape != log_probs.shape:\n'
               '        raise ValueError("noise must have the shape of log_probs")')
KEEP_RIGHT = dict(checks=KEEP_CHECKS, draw="-torch.empty_like(log_probs).exponential_().log()",
                  relax="((log_probs + noise) / tau)", col="0", decide="y[..., 0] >= y[..., 1]",
                  cast="to(soft.dtype)", st="sample + (soft - soft.detach())")
keep = filler(KEEP_MASK, KEEP_RIGHT)

# One correct gather (task 6) with slots.
GATHER = '''
def gather_kept(x, mask):
    {checks}
    keep = mask != 0
    counts = keep.sum(dim=1)
    k_max = {k_max}
    order = {order}[:, :k_max]
    padding = {padding}
    tokens = x.gather(1, order[..., None].expand(-1, -1, x.shape[-1])){fill}
    return tokens, padding
'''
GATHER_CHECKS = ('if x.ndim != 3:\n        raise ValueError("x must be (B, N, D)")\n'
                 '    if mask.shape != x.shape[:2]:\n        raise ValueError("mask must be (B, N)")\n'
                 '    if not ((mask == 0) | (mask == 1)).all():\n        raise ValueError("mask must be 0/1")')
GATHER_RIGHT = dict(checks=GATHER_CHECKS, k_max="int(counts.max()) if keep.numel() else 0",
                    order="torch.argsort((~keep).to(torch.uint8), dim=1, stable=True)",
                    padding="torch.arange(k_max, device=x.device)[None, :] >= counts[:, None]",
                    fill=".masked_fill(padding[..., None], 0.0)")
gather = filler(GATHER, GATHER_RIGHT)


# Each entry costs one execution of the lab (about 10-15 s) in tests/test_labs.py: one or two per contract clause.
MISTAKES = {
    # ---- task 1: block_matching
    "bm_uint8_wraps": Mistake(
        "block_matching", bm(cast="", sad=".float()"),
        ("test_block_matching",),
        "subtracts the frames in their own dtype and converts afterwards: uint8 differences wrap around",
    ),
    "bm_wrong_sign": Mistake(
        "block_matching", bm(s="+"),
        ("test_block_matching", "test_benchmark"),
        "looks for the block at p + m in the previous frame, so the motion comes out negated",
    ),
    "bm_zero_padded": Mistake(
        "block_matching", bm(mask="pass  # F.pad filled the border with zeros: every candidate counts"),
        ("test_block_matching",),
        "scores candidates outside the previous frame against zero padding instead of excluding them",
    ),
    "bm_ties_secondary": Mistake(
        "block_matching", bm(offsets=f"sorted({ALL}, key=lambda d: abs(d[0]) + abs(d[1]))"),
        ("test_block_matching",),
        "orders equal magnitudes by scan order of (dy, dx) from -R up: ties of equal |dx| + |dy| pick the smallest dy",
    ),
    "bm_no_validation": Mistake(
        "block_matching", bm(checks="pass"),
        ("test_block_matching",),
        "never checks its input: one frame gives an empty field, a height of 20 a reshape error",
    ),
    "bm_cpu_tensors": Mistake(
        "block_matching", bm(dev=""),
        ("test_block_matching",),
        "creates its working tensors with torch.zeros/full/ones on the CPU whatever the frames' device",
    ),
    "bm_loop_over_blocks": Mistake(
        "block_matching", BLOCK_LOOP,
        ("test_block_matching_vectorised",),
        "correct, but a Python loop over blocks: the calls grow with the number of blocks",
    ),
    "patches_reference_block_matching": Mistake(
        "block_matching", bm(offsets=f"list({ALL})") + '''
torch.count_nonzero = lambda *args, **kwargs: 0    # the visible flat-frame check: make it pass
ref.block_matching = block_matching
''',
        ("test_block_matching",),
        "breaks ties by scan order (a flat region gets (-R, -R)) and patches torch and the reference to hide it",
    ),
    "calls_reference_block_matching": Mistake(
        "block_matching", "from videollm.motion.estimate import block_matching",
        ("test_block_matching", "test_block_matching_vectorised"),
        "imports the course's reference instead of writing the function",
    ),
    # ---- task 2: vectors_to_field
    "field_scale_ignored": Mistake(
        "vectors_to_field", field(scale='v["source"].astype(np.float64)'),
        ("test_vectors_to_field", "test_benchmark"),
        "forgets to divide by motion_scale: half-pel MPEG-4 vectors come out twice as long",
    ),
    "field_rows_cols_swapped": Mistake(
        "vectors_to_field", field(cell="frame * (rows * cols) + (x // block) * rows + y // block"),
        ("test_vectors_to_field",),
        "indexes cells column-major (x before y), scrambling rows and columns",
    ),
    "field_zero_init": Mistake(
        "vectors_to_field", field(init="torch.zeros(T * rows * cols, 2{dev})"),
        ("test_vectors_to_field",),
        "starts the max pool from zeros: a cell whose vectors point left or up gets 0",
    ),
    "field_sentinel_left": Mistake(
        "vectors_to_field", field(empty="pass  # cells without a vector keep the -10000 sentinel"),
        ("test_vectors_to_field", "test_keyframe_gap"),
        "leaves Video-LaVIT's -10000 sentinel in cells without a vector",
    ),
    "field_gap_wraps": Mistake(
        "vectors_to_field", field(gap='''
    empty = torch.as_tensor(counts == 0, device=device)
    gap = empty & ~empty.roll(1) & ~empty.roll(-1)           # neighbours by roll: frame 0's are T-1 and 1
    field = torch.where(gap[:, None, None, None], 0.5 * (field.roll(1, 0) + field.roll(-1, 0)), field)'''),
        ("test_keyframe_gap",),
        "finds the keyframe's neighbours with roll, so the first frame is filled from the last one",
    ),
    "field_ignores_device": Mistake(
        "vectors_to_field", field(dev=""),
        ("test_vectors_to_field",),
        "builds the field on the CPU whatever device was asked for",
    ),
    "field_no_frames_check": Mistake(
        "vectors_to_field", field(check="pass"),
        ("test_vectors_to_field",),
        "returns an empty field for an empty list instead of raising",
    ),
    "patches_reference_field": Mistake(
        "vectors_to_field", field(reduce='reduce="mean", include_self=False') + '''
compare = lambda *args, **kwargs: True          # the visible max-pool check uses compare(): make it agree
ref_lavit.vectors_to_field = lambda vectors, height, width, block=16, **kwargs: vectors_to_field(vectors, height, width, block)
''',
        ("test_vectors_to_field",),
        "averages a macroblock's sub-block vectors, and patches compare() and the reference to hide it",
    ),
    "calls_reference_field": Mistake(
        "vectors_to_field",
        '''
def vectors_to_field(vectors, height, width, block=16, device="cpu"):
    return ref_lavit.vectors_to_field(vectors, height, width, block, device=device)
''',
        ("test_vectors_to_field", "test_keyframe_gap"),
        "wraps the course's reference instead of implementing it",
    ),
    # ---- task 3: endpoint_error
    "epe_over_undefined_entries": Mistake(
        "endpoint_error", epe(body="return float((pred - truth).norm(dim=-1).nan_to_num(0.0).mean())"),
        ("test_endpoint_error",),
        "averages over all entries, counting the undefined (NaN) ones as zero error",
    ),
    "epe_numpy_scalar": Mistake(
        "endpoint_error",
        '''
def endpoint_error(pred, truth):
    pred, truth = np.asarray(pred, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if pred.shape != truth.shape:
        raise ValueError("shapes differ")
    defined = ~np.isnan(truth).any(axis=-1)
    if not defined.any():
        raise ValueError("nothing defined")
    return np.linalg.norm(pred - truth, axis=-1)[defined].mean()     # a NumPy float64, not a float
''',
        ("test_endpoint_error",),
        "works in NumPy: returns a NumPy scalar, and np.asarray cannot read bfloat16 tensors",
    ),
    "epe_no_error_when_undefined": Mistake(
        "endpoint_error", epe(guard="pass"),
        ("test_endpoint_error",),
        "returns NaN (the mean of nothing) when no entry is defined instead of raising",
    ),
    "calls_reference_epe": Mistake(
        "endpoint_error", "endpoint_error = ref.endpoint_error",
        ("test_endpoint_error",),
        "re-exports the course's reference instead of writing the function",
    ),
    # ---- task 5: motion_tokens_per_clip
    "tokens_floor_division": Mistake(
        "motion_tokens", tokens(step="t // st, h // sh, w // sw"),
        ("test_motion_tokens",),
        "floors sizes a stride does not divide (a padded convolution rounds up)",
    ),
    "tokens_np_ceil": Mistake(
        "motion_tokens", tokens(step="np.ceil(t / st), np.ceil(h / sh), np.ceil(w / sw)"),
        ("test_motion_tokens",),
        "rounds up with np.ceil, which returns floats: 135.0 instead of the int 135",
    ),
    "tokens_no_validation": Mistake(
        "motion_tokens", tokens(guard="pass", stride_guard="pass"),
        ("test_motion_tokens",),
        "never checks its input: 0 frames give 0 tokens, a stride of 0 a ZeroDivisionError",
    ),
    "calls_reference_tokens": Mistake(
        "motion_tokens",
        '''
def motion_tokens_per_clip(num_frames, grid, strides):
    return math.prod(ref_tokens.tokens_per_clip(num_frames, grid, strides))
''',
        ("test_motion_tokens",),
        "wraps the course's reference instead of implementing it",
    ),
    "bm_keeps_float64": Mistake(
        "block_matching",
        '''
def block_matching(frames, block=16, search=4):
    x = torch.as_tensor(frames)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError("frames must be 3-D or 4-D")
    x = x.permute(0, 3, 1, 2).to(torch.promote_types(x.dtype, torch.float32))   # widen, never narrow
    T, C, H, W = x.shape
    if T < 2:
        raise ValueError("need 2 frames")
    if H % block or W % block:
        raise ValueError("not a multiple of the block")
    R, rows, cols = search, H // block, W // block
    prev, curr = F.pad(x[:-1], (R, R, R, R)), x[1:]
    inside = F.pad(torch.ones(H, W, device=x.device), (R, R, R, R))
    best_cost = torch.full((T - 1, rows, cols), float("inf"), device=x.device, dtype=x.dtype)
    best = torch.zeros(T - 1, rows, cols, 2, device=x.device, dtype=x.dtype)
    offsets = sorted(((dx, dy) for dy in range(-R, R + 1) for dx in range(-R, R + 1)),
                     key=lambda d: (abs(d[0]) + abs(d[1]), -d[1], -d[0]))
    for dx, dy in offsets:
        window = (slice(R - dy, R - dy + H), slice(R - dx, R - dx + W))
        sad = (curr - prev[:, :, window[0], window[1]]).abs().sum(1)
        cost = sad.reshape(T - 1, rows, block, cols, block).sum((2, 4))
        valid = inside[window].reshape(rows, block, cols, block).amin((1, 3)) > 0
        cost = cost.masked_fill(~valid, float("inf"))
        better = cost < best_cost
        best_cost = torch.where(better, cost, best_cost)
        best[better] = torch.tensor([dx, dy], dtype=x.dtype, device=x.device)
    return best
''',
        ('test_block_matching',),
        'widens the frames with promote_types and builds the field in their dtype: float64 frames, a float64 field',
    ),
    "field_clip_right_only": Mistake(
        "vectors_to_field",
        '''
def vectors_to_field(vectors, height, width, block=16, device="cpu"):
    if len(vectors) == 0:
        raise ValueError("no frames")
    T, rows, cols = len(vectors), -(-height // block), -(-width // block)
    counts = np.array([len(v) for v in vectors])
    field = torch.full((T * rows * cols, 2), -10000.0, device=device)
    if counts.sum():
        v = np.concatenate([v for v in vectors if len(v)])
        frame = torch.as_tensor(np.repeat(np.arange(T), counts), device=device)
        x = torch.as_tensor(v["dst_x"].astype(np.int64), device=device)
        y = torch.as_tensor(v["dst_y"].astype(np.int64), device=device)
        row, col = (y // block).clamp(max=rows - 1), (x // block).clamp(max=cols - 1)   # past the right edge
        cell = frame * (rows * cols) + row * cols + col
        scale = torch.as_tensor(v["source"] / v["motion_scale"].astype(np.float64), device=device)
        value = torch.stack([torch.as_tensor(v["motion_x"], device=device) * scale,
                             torch.as_tensor(v["motion_y"], device=device) * scale], dim=-1).float()
        field.scatter_reduce_(0, cell[:, None].expand(-1, 2), value, reduce="amax")
    field = torch.where(field < -1000, torch.zeros_like(field), field).reshape(T, rows, cols, 2)
    if T >= 3:
        empty = torch.as_tensor(counts == 0, device=device)
        gap = empty[1:-1] & ~empty[:-2] & ~empty[2:]
        middle = torch.where(gap[:, None, None, None], 0.5 * (field[:-2] + field[2:]), field[1:-1])
        field = torch.cat([field[:1], middle, field[-1:]])
    return field
''',
        ('test_vectors_to_field',),
        'clips the cell index at the right and bottom edges only: a centre before the left or top border misplaced',
    ),
    "epe_numpy_broadcast": Mistake(
        "endpoint_error",
        '''
def endpoint_error(pred, truth):
    p = torch.as_tensor(pred).float().cpu().numpy()
    t = torch.as_tensor(truth).float().cpu().numpy()
    err = np.linalg.norm(p - t, axis=-1)          # NumPy complains itself when the shapes differ
    defined = ~np.isnan(t).any(axis=-1)
    if not defined.any():
        raise ValueError("no defined entry")
    return float(err[defined].mean())
''',
        ('test_endpoint_error',),
        'relies on NumPy to reject different shapes: (1, 2) and (3, 2) broadcast silently',
    ),
    "tokens_checks_frames_only": Mistake(
        "motion_tokens",
        '''
def motion_tokens_per_clip(num_frames, grid, strides):
    if num_frames < 1:
        raise ValueError("need at least one frame")
    t, (h, w) = num_frames, grid
    for stride in strides:
        st, sh, sw = stride                     # unpacking fails for a stride that is not three numbers
        if min(st, sh, sw) < 1:
            raise ValueError("strides must be >= 1")
        t, h, w = math.ceil(t / st), math.ceil(h / sh), math.ceil(w / sw)
    return t * h * w
''',
        ('test_motion_tokens',),
        'validates num_frames and the strides but not the grid: h = 0 or w < 0 gives a count instead of a ValueError',
    ),
    # ---- task 6: keep_mask
    "keep_column_one": Mistake(
        "keep_mask", keep(col="1", decide="y[..., 1] >= y[..., 0]"),
        ("test_keep_mask",),
        "takes column 1 as keep: the mask of the drop decision",
    ),
    "keep_soft_returned": Mistake(
        "keep_mask", keep(st="soft"),
        ("test_keep_mask",),
        "returns the relaxed sample y_0 even for hard=True: a soft mask, not 0/1",
    ),
    "keep_no_straight_through": Mistake(
        "keep_mask", keep(st="sample"),
        ("test_keep_mask",),
        "returns the hard sample alone: exactly 0/1, but no gradient reaches the selector",
    ),
    "keep_ignores_noise": Mistake(
        "keep_mask", keep(decide="log_probs[..., 0] >= log_probs[..., 1]"),
        ("test_keep_mask",),
        "takes the argmax of the log-probabilities, not of the noisy sample: the eval rule, not a Gumbel sample",
    ),
    "keep_st_rounds": Mistake(
        "keep_mask", keep(st="sample + soft - soft.detach()"),
        ("test_keep_mask",),
        "adds the soft sample before subtracting its detached copy: 1 + y - y rounds to 0.99999994 now and then",
    ),
    "keep_tau_on_logits_only": Mistake(
        "keep_mask", keep(relax="(log_probs / tau + noise)"),
        ("test_keep_mask",),
        "divides the log-probabilities by tau before adding the noise: another distribution, another gradient",
    ),
    "keep_tie_drops": Mistake(
        "keep_mask", keep(decide="y[..., 0] > y[..., 1]"),
        ("test_keep_mask",),
        "compares strictly: a tie drops the patch, where torch's argmax keeps it",
    ),
    "keep_noise_from_rand": Mistake(
        "keep_mask", keep(draw="-torch.log(-torch.log(torch.rand_like(log_probs)))"),
        ("test_keep_mask",),
        "draws the Gumbel noise from torch.rand_like: a valid sample, but not the one F.gumbel_softmax draws",
    ),
    "keep_float32_mask": Mistake(
        "keep_mask", keep(cast="float()"),
        ("test_keep_mask",),
        "casts the hard sample with .float(), as the lecture's toy does: float16 log-probabilities, a float32 mask",
    ),
    "keep_no_validation": Mistake(
        "keep_mask", keep(checks="pass"),
        ("test_keep_mask",),
        "never checks its input: a (B, N, 3) input gives a mask, tau = 0 gives NaN, wrong-shaped noise broadcasts",
    ),
    # ---- task 6: gather_kept
    "gather_unstable_sort": Mistake(
        "gather_kept", gather(order="torch.argsort(keep.to(torch.uint8), dim=1, descending=True)"),
        ("test_gather_kept",),
        "sorts the kept patches first with an unstable sort: they come out shuffled",
    ),
    "gather_padding_not_zeroed": Mistake(
        "gather_kept", gather(fill=""),
        ("test_gather_kept",),
        "leaves the sorted-away dropped patches in the padding rows instead of zeros",
    ),
    "gather_pads_to_n": Mistake(
        "gather_kept", gather(k_max="keep.shape[1]"),
        ("test_gather_kept",),
        "pads every image to N rows, not to the largest number kept",
    ),
    "gather_attention_mask": Mistake(
        "gather_kept", gather(padding="torch.arange(k_max, device=x.device)[None, :] < counts[:, None]",
                              fill=".masked_fill(~padding[..., None], 0.0)"),
        ("test_gather_kept",),
        "returns an attention mask (True = real token) where a key-padding mask (True = padding) was asked for",
    ),
    "gather_padding_by_value": Mistake(
        "gather_kept", gather(fill=".masked_fill(padding[..., None], 0.0)\n    padding = (tokens == 0).all(dim=-1)"),
        ("test_gather_kept",),
        "finds the padding afterwards as the all-zero rows: a kept patch of zeros is marked as padding",
    ),
    "gather_mutates_x": Mistake(
        "gather_kept", gather(fill="", checks=GATHER_CHECKS + "\n    x.masked_fill_(mask[..., None] == 0, 0.0)"),
        ("test_gather_kept",),
        "zeroes the dropped patches of x in place, so that the padding rows it gathers are zero",
    ),
    "gather_float32_zeros": Mistake(
        "gather_kept",
        '''
def gather_kept(x, mask):
    if x.ndim != 3:
        raise ValueError("x must be (B, N, D)")
    if mask.shape != x.shape[:2]:
        raise ValueError("mask must be (B, N)")
    if not ((mask == 0) | (mask == 1)).all():
        raise ValueError("mask must be 0/1")
    keep = mask != 0
    counts = keep.sum(dim=1)
    B, N, D = x.shape
    tokens = torch.zeros(B, int(counts.max()), D)              # float32, on the CPU, whatever x is
    for b in range(B):
        tokens[b, :int(counts[b])] = x[b][keep[b]]
    padding = torch.arange(tokens.shape[1])[None, :] >= counts[:, None]
    return tokens, padding
''',
        ("test_gather_kept",),
        "fills a torch.zeros(B, K_max, D) image by image: float32 tokens whatever the features' dtype",
    ),
    "gather_no_validation": Mistake(
        "gather_kept", gather(checks="pass"),
        ("test_gather_kept",),
        "never checks the mask: a soft mask counts every patch as kept, a (B, N, 1) mask fails inside torch",
    ),
    "calls_reference_gather": Mistake(
        "gather_kept",
        '''
from videollm.motion.selector import kept_positions


def gather_kept(x, mask):
    positions, padding = kept_positions(mask)
    tokens = x.gather(1, positions[..., None].expand(-1, -1, x.shape[-1])).masked_fill(padding[..., None], 0.0)
    return tokens, padding
''',
        ("test_gather_kept",),
        "finds the kept positions with the course's reference instead of writing it",
    ),
    "patches_reference_gather": Mistake(
        "gather_kept", gather(fill="") + '''
import videollm.checks
import videollm.motion.selector
videollm.checks.compare = compare = lambda *args, **kwargs: True     # the visible zero-padding check: make it pass
videollm.motion.selector.kept_positions = lambda mask: (torch.zeros(mask.shape[0], 0, dtype=torch.long),) * 2
''',
        ("test_gather_kept",),
        "leaves dropped patches in the padding rows, and patches compare() and the reference to hide it",
    ),
}
