"""Typical wrong implementations for lab04 (motion: block matching, codec vectors, end-point error, tokens)."""

from tests.mistakes import Mistake

# One correct block matcher with slots for the parts students get wrong.
BLOCK_MATCHING = '''
def block_matching(frames, block=16, search=4):
    x = torch.as_tensor(frames)
    if x.ndim == 3:
        x = x[..., None]
    x = x.permute(0, 3, 1, 2).to(torch.float32)
    T, C, H, W = x.shape
    if T < 2:
        raise ValueError("need two frames")
    if H % block or W % block:
        raise ValueError("not a multiple of the block size")
    R, rows, cols = search, H // block, W // block
    prev, curr = F.pad(x[:-1], (R, R, R, R)), x[1:]
    inside = F.pad(torch.ones(H, W, device=x.device), (R, R, R, R))
    best_cost = torch.full((T - 1, rows, cols), {init}, device=x.device)
    best = torch.zeros(T - 1, rows, cols, 2, device=x.device)
    offsets = {offsets}
    for dx, dy in offsets:
        window = (slice(R {s} dy, R {s} dy + H), slice(R {s} dx, R {s} dx + W))
        sad = (curr - prev[:, :, window[0], window[1]]).abs().sum(1)
        cost = sad.reshape(T - 1, rows, block, cols, block).sum((2, 4))
        {mask}
        better = cost {cmp} best_cost
        best_cost = torch.where(better, cost, best_cost)
        best[better] = torch.tensor([{first}, {second}], dtype=torch.float32, device=x.device)
    return best
'''
SORTED = "sorted(((dx, dy) for dy in range(-R, R + 1) for dx in range(-R, R + 1)), key=lambda d: abs(d[0]) + abs(d[1]))"
EXCLUDE = ('valid = inside[window].reshape(rows, block, cols, block).amin((1, 3)) > 0\n'
           '        cost = cost.masked_fill(~valid, float("inf"))')
RIGHT = dict(init='float("inf")', offsets=SORTED, s="-", mask=EXCLUDE, cmp="<", first="dx", second="dy")


def bm(**changes):
    return BLOCK_MATCHING.format(**{**RIGHT, **changes})


# One correct conversion with slots.
VECTORS_TO_FIELD = '''
def vectors_to_field(vectors, height, width, block=16, device="cpu"):
    if len(vectors) == 0:
        raise ValueError("no frames")
    T, rows, cols = len(vectors), -(-height // block), -(-width // block)
    counts = np.array([len(v) for v in vectors])
    field = torch.full((T * rows * cols, 2), -10000.0, device=device)
    if counts.sum():
        v = np.concatenate([v for v in vectors if len(v)])
        frame = torch.as_tensor(np.repeat(np.arange(T), counts), device=device)
        x = torch.as_tensor(v["{x}"].astype(np.int64), device=device).clamp(0, width - 1)
        y = torch.as_tensor(v["{y}"].astype(np.int64), device=device).clamp(0, height - 1)
        cell = {cell}
        scale = torch.as_tensor({scale}, device=device)
        value = torch.stack([torch.as_tensor(v["motion_x"], device=device) * scale,
                             torch.as_tensor(v["motion_y"], device=device) * scale], dim=-1).float()
        field.scatter_reduce_(0, cell[:, None].expand(-1, 2), value, {reduce})
    {empty}
    field = field.reshape(T, rows, cols, 2){gap}
    return field
'''
GAP = '''
    if T >= 3:
        empty = torch.as_tensor(counts == 0, device=device)
        gap = empty[1:-1] & ~empty[:-2] & ~empty[2:]
        middle = torch.where(gap[:, None, None, None], 0.5 * (field[:-2] + field[2:]), field[1:-1])
        field = torch.cat([field[:1], middle, field[-1:]])'''
FIELD_RIGHT = dict(
    x="dst_x", y="dst_y", cell="frame * (rows * cols) + (y // block) * cols + x // block",
    scale='v["source"] / v["motion_scale"].astype(np.float64)', reduce='reduce="amax"',
    empty="field = torch.where(field < -1000, torch.zeros_like(field), field)", gap=GAP,
)


def field(**changes):
    return VECTORS_TO_FIELD.format(**{**FIELD_RIGHT, **changes})


EPE = '''
def endpoint_error(pred, truth):
    pred = torch.as_tensor(pred).to(torch.float32)
    truth = torch.as_tensor(truth).to(torch.float32)
    if pred.shape != truth.shape:
        raise ValueError("shapes differ")
    defined = ~torch.isnan(truth).any(dim=-1)
    if not defined.any():
        raise ValueError("nothing defined")
    {body}
'''

BLOCK_LOOP = '''
def block_matching(frames, block=16, search=4):
    x = torch.as_tensor(frames)
    if x.ndim == 3:
        x = x[..., None]
    x = x.permute(0, 3, 1, 2).to(torch.float32)
    T, C, H, W = x.shape
    if T < 2 or H % block or W % block:
        raise ValueError("need two frames whose size is a multiple of the block size")
    R = search
    r = torch.arange(-R, R + 1)
    dy, dx = torch.meshgrid(r, r, indexing="ij")
    d = torch.stack([dx.reshape(-1), dy.reshape(-1)], 1)
    order = torch.argsort(d.abs().sum(1) * 1000 + torch.arange(len(d)))
    out = torch.zeros(T - 1, H // block, W // block, 2, device=x.device)
    prev = F.pad(x[:-1], (R, R, R, R), value=float("nan"))   # NaN marks candidates outside the frame
    for by in range(H // block):                              # one block at a time
        for bx in range(W // block):
            y0, x0 = by * block, bx * block
            target = x[1:, :, y0:y0 + block, x0:x0 + block]
            window = prev[:, :, y0:y0 + block + 2 * R, x0:x0 + block + 2 * R]
            candidates = window.unfold(2, block, 1).unfold(3, block, 1)          # (T-1, C, n, n, B, B)
            cost = (candidates - target[:, :, None, None]).abs().sum((1, 4, 5))  # (T-1, n, n)
            cost = cost.nan_to_num(float("inf")).flip(1, 2).reshape(T - 1, -1)[:, order]
            out[:, by, bx] = d[order][cost.argmin(1)].float().to(x.device)
    return out
'''

MISTAKES = {
    "bm_argmax": Mistake(
        "block_matching", bm(init='-float("inf")', cmp=">", mask=EXCLUDE.replace('float("inf")', '-float("inf")')),
        ("test_block_matching", "test_benchmark"),
        "keeps the displacement with the largest difference (argmax for argmin)",
    ),
    "bm_zero_padded": Mistake(
        "block_matching", bm(mask="pass  # F.pad filled the border with zeros: every candidate counts"),
        ("test_block_matching",),
        "scores candidates outside the previous frame against zero padding instead of excluding them",
    ),
    "bm_dy_dx_swapped": Mistake(
        "block_matching", bm(first="dy", second="dx"),
        ("test_block_matching", "test_benchmark"),
        "returns (dy, dx): rows and columns swapped",
    ),
    "bm_wrong_sign": Mistake(
        "block_matching", bm(s="+"),
        ("test_block_matching", "test_benchmark"),
        "looks for the block at p + m in the previous frame, so the motion comes out negated",
    ),
    "bm_ties_row_major": Mistake(
        "block_matching", bm(offsets="[(dx, dy) for dy in range(-R, R + 1) for dx in range(-R, R + 1)]"),
        ("test_block_matching",),
        "breaks ties by scan order instead of the smallest displacement: flat regions get (-R, -R)",
    ),
    "bm_loop_over_blocks": Mistake(
        "block_matching", BLOCK_LOOP,
        ("test_block_matching_speed",),
        "correct, but a Python loop over blocks: fails the speed check",
    ),
    "bm_imports_the_reference": Mistake(
        "block_matching", "from videollm.motion import block_matching",
        ("test_block_matching",),
        "imports the course's reference instead of writing the function",
    ),
    "field_source_ignored": Mistake(
        "vectors_to_field", field(scale='1.0 / v["motion_scale"].astype(np.float64)'),
        ("test_vectors_to_field", "test_benchmark"),
        "uses motion / motion_scale without the sign of source: the vector points back to the reference",
    ),
    "field_scale_ignored": Mistake(
        "vectors_to_field", field(scale='v["source"].astype(np.float64)'),
        ("test_vectors_to_field", "test_benchmark"),
        "forgets to divide by motion_scale: half-pel MPEG-4 vectors come out twice as long",
    ),
    "field_placed_at_src": Mistake(
        "vectors_to_field", field(x="src_x", y="src_y"),
        ("test_vectors_to_field",),
        "puts each vector in the cell of its source position instead of its block's centre (src/dst swapped)",
    ),
    "field_rows_cols_swapped": Mistake(
        "vectors_to_field", field(cell="frame * (rows * cols) + (x // block) * rows + y // block"),
        ("test_vectors_to_field",),
        "indexes cells column-major (x before y), scrambling rows and columns",
    ),
    "field_mean_pool": Mistake(
        "vectors_to_field", field(reduce='reduce="mean", include_self=False'),
        ("test_vectors_to_field",),
        "averages a macroblock's sub-block vectors where Video-LaVIT max-pools them",
    ),
    "field_sentinel_left": Mistake(
        "vectors_to_field", field(empty="pass  # cells without a vector keep the -10000 sentinel"),
        ("test_vectors_to_field", "test_keyframe_gap"),
        "leaves Video-LaVIT's -10000 sentinel in cells without a vector",
    ),
    "field_keyframe_left_zero": Mistake(
        "vectors_to_field", field(gap="  # frames without vectors simply stay zero"),
        ("test_keyframe_gap",),
        "leaves the keyframe in the middle of the clip at zero instead of interpolating its neighbours",
    ),
    "epe_over_undefined_entries": Mistake(
        "endpoint_error", EPE.format(body="return float((pred - truth).norm(dim=-1).nan_to_num(0.0).mean())"),
        ("test_endpoint_error",),
        "averages over all entries, counting the undefined (NaN) ones as zero error",
    ),
    "epe_squared": Mistake(
        "endpoint_error", EPE.format(body="return float((pred - truth).square().sum(-1)[defined].mean())"),
        ("test_endpoint_error",),
        "averages squared distances (no square root)",
    ),
    "tokens_floor_division": Mistake(
        "motion_tokens",
        '''
def motion_tokens_per_clip(num_frames, grid, strides):
    t, h, w = num_frames, grid[0], grid[1]
    for st, sh, sw in strides:
        t, h, w = t // st, h // sh, w // sw
    return t * h * w
''',
        ("test_motion_tokens",),
        "floors sizes a stride does not divide (a padded convolution rounds up)",
    ),
}
