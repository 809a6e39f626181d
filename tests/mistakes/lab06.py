"""Typical wrong implementations for lab06 (chunk redundancy, the capped-simplex projection, layer allocation,
top-k eviction, the cache surgery, and all of them in the real model): one per contract clause that a student is
likely to miss, the reference called from the answers, and the reference patched so that in-kernel comparisons
with it would pass."""

from tests.mistakes import Mistake, filler

DISTANCES = '''
def chunk_distances(tokens, patches_per_chunk):
    if not isinstance(tokens, torch.Tensor) or not tokens.is_floating_point() or tokens.ndim != 3 or 0 in tokens.shape:
        raise ValueError("tokens must be a non-empty floating-point tensor (T, N, D)")
    if isinstance(patches_per_chunk, bool) or int(patches_per_chunk) != patches_per_chunk or patches_per_chunk < 1:
        raise ValueError("patches_per_chunk must be a positive integer")
    p = int(patches_per_chunk)
    x = {convert}
    means = {means}
    {neighbours}
    d = (2 - F.cosine_similarity(means, left, dim=-1) - F.cosine_similarity(means, right, dim=-1)) / 2
    return {result}
'''
DISTANCES_RIGHT = dict(
    convert="tokens.float()",
    means="torch.stack([x[s:s + p].mean(dim=(0, 1)) for s in range(0, len(x), p)])",
    neighbours="left = torch.cat([means[:1], means[:-1]])\n    right = torch.cat([means[1:], means[-1:]])",
    result="d.clamp(min=0)",
)


distances = filler(DISTANCES, DISTANCES_RIGHT)


PROJECT = '''
def project_capped_simplex(x, total, lo=1e-3, hi=1.0):
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError("x must be a floating-point tensor")
    if x.ndim != 1 or x.numel() == 0:
        raise ValueError("x must be a non-empty vector")
    if not torch.isfinite(x).all():
        raise ValueError("x holds NaN or infinite values")
    if lo > hi:
        raise ValueError("lo is above hi")
    n = x.numel()
    {feasible}
    v = x.detach().to("cpu", torch.float64)
    low, high = {bracket}
    for _ in range(100):
        if high - low <= 1e-5:
            break
        mid = (low + high) / 2
        if (v - mid).clamp(lo, hi).sum().item() > total:
            low = mid
        else:
            high = mid
    return {result}
'''
PROJECT_RIGHT = dict(
    feasible='if not n * lo - 1e-9 <= total <= n * hi + 1e-9:\n        raise ValueError("total out of reach")',
    bracket="v.min().item() - hi, v.max().item() - lo",
    result="(v - (low + high) / 2).clamp(lo, hi).to(x.device, x.dtype)",
)


project = filler(PROJECT, PROJECT_RIGHT)


LAYERS = '''
def layer_ratios(scores, ratio, smoothing=1, floor=0.01):
    if not isinstance(scores, torch.Tensor) or scores.ndim != 2 or 0 in scores.shape:
        raise ValueError("scores must be (L, k)")
    if not 0 < ratio <= 1:
        raise ValueError("ratio must lie in (0, 1]")
    if smoothing < 0:
        raise ValueError("smoothing must be >= 0")
    L, k = scores.shape
    K = {budget}
    best = {best}
    hits = torch.bincount(best // k, minlength=L).double()
    weight = hits + smoothing
    wanted = L * ratio * weight / weight.sum()
    return project_capped_simplex(wanted, L * ratio, {floor}, 1.0).float().to(scores.device)
'''
LAYERS_RIGHT = dict(
    budget="min(int(max(1.0, ratio * k) * L), L * k)",
    best="torch.sort(scores.float().flatten(), descending=True, stable=True).indices[:K]",
    floor="min(floor, ratio)",
)


layers = filler(LAYERS, LAYERS_RIGHT)


KEEP = '''
def keep_count(ratio, length):
    if length < 1:
        raise ValueError("length must be >= 1")
    return {count}


def keep_indices(scores, keep):
    if scores.ndim != 1:
        raise ValueError("scores must be 1-D")
    if not 1 <= keep <= len(scores):
        raise ValueError("keep out of range")
    best = {best}
    return {result}
'''
KEEP_RIGHT = dict(
    count="min(length, max(1, int(max(0.01, ratio) * length)))",
    best="torch.sort(scores.float(), descending=True, stable=True).indices[:keep]",
    result="best.sort().values",
)


keep = filler(KEEP, KEEP_RIGHT)


EVICT = '''
def evict_chunk(keys, values, scores, keep):
    if keys.ndim != 4 or values.ndim != 4 or keys.shape[:3] != values.shape[:3]:
        raise ValueError("keys and values must be (B, H, n, Dh) alike")
    n, k = keys.shape[2], len(scores)
    if k > n:
        raise ValueError("the chunk is longer than the cache")
    index = keep_indices(scores, keep)
    where = {where}
    kept_keys = {keys}
    kept_values = {values}
    return kept_keys, kept_values, index
'''
EVICT_RIGHT = dict(
    where="index.to(keys.device) + (n - k)",
    keys="torch.cat([keys[:, :, :n - k], keys[:, :, where]], dim=2)",
    values="torch.cat([values[:, :, :n - k], values[:, :, where]], dim=2)",
)


evict = filler(EVICT, EVICT_RIGHT)


#: A student who hands every task to the course's reference, a different way in each answer cell.
CALLS = {
    "chunk_distances": """
def chunk_distances(tokens, patches_per_chunk):
    return ref_temporal.chunk_distances(tokens, patches_per_chunk)
""",
    "project_capped_simplex": """
import functools
project_capped_simplex = functools.partial(ref_simplex.project_capped_simplex)
""",
    "layer_ratios": """
def layer_ratios(scores, ratio, smoothing=1, floor=0.01):
    hits = ref_layers.layer_hits(scores, ratio).double() + smoothing
    wanted = len(scores) * ratio * hits / hits.sum()
    return ref_simplex.exact_capped_simplex(wanted, len(scores) * ratio, min(floor, ratio), 1.0).float()
""",
    "keep_indices": """
keep_count = ref_evict.keep_count
_saved = ref_evict.keep_indices


def keep_indices(scores, keep):
    return _saved(scores, keep)
""",
    "evict_chunk": """
evict_chunk = getattr(ref_evict, "evict_chunk")
""",
}

DIST_T, PROJ_T, LAYER_T, KEEP_T, EVICT_T, MODEL_T = ("test_chunk_distances",), ("test_project_capped_simplex",), \
    ("test_layer_ratios",), ("test_keep_indices",), ("test_evict_chunk",), ("test_in_the_model",)

MISTAKES = {
    # ---- Task 1: chunk_distances
    "distances_first_patch_only": Mistake(
        "chunk_distances", distances(means="torch.stack([x[s].mean(0) for s in range(0, len(x), p)])"), DIST_T,
        "summarises a chunk by its first temporal patch instead of the mean of all its patches",
    ),
    "distances_mean_in_half_precision": Mistake(
        "chunk_distances",
        distances(convert="tokens",
                  means="torch.stack([x[s:s + p].mean(dim=(0, 1)) for s in range(0, len(x), p)]).float()"),
        DIST_T, "averages float16/bfloat16 tokens in their own dtype and converts only the means",
    ),
    "distances_ends_one_sided": Mistake(
        "chunk_distances",
        distances(neighbours="left = torch.cat([means[1:2], means[:-1]]) if len(means) > 1 else means\n"
                             "    right = torch.cat([means[1:], means[-2:-1]]) if len(means) > 1 else means"),
        DIST_T, "compares the first and last chunk with their one neighbour on both sides, not with themselves",
    ),
    "distances_drop_the_short_chunk": Mistake(
        "chunk_distances",
        distances(means="torch.stack([x[s:s + p].mean(dim=(0, 1)) for s in range(0, len(x) - p + 1, p)] "
                        "or [x.mean(dim=(0, 1))])"),
        DIST_T, "leaves out the last, shorter chunk when patches_per_chunk does not divide T",
    ),
    "distances_not_clamped": Mistake(
        "chunk_distances", distances(result="d"), DIST_T,
        "returns 1 - cos unclamped, so identical chunks can come out a hair below zero",
    ),
    # ---- Task 2: project_capped_simplex
    "project_bracket_min_max": Mistake(
        "project_capped_simplex", project(bracket="v.min().item(), v.max().item()"), PROJ_T,
        "starts the bisection at [min(x), max(x)], which misses shifts below min(x) or above max(x) - lo",
    ),
    "project_rescale_then_clip": Mistake(
        "project_capped_simplex",
        project(result="(v * total / v.sum()).clamp(lo, hi).to(x.device, x.dtype)"), PROJ_T,
        "rescales x to the total and clips it: not the projection, and the sum is lost once an entry is capped",
    ),
    "project_returns_float64": Mistake(
        "project_capped_simplex", project(result="(v - (low + high) / 2).clamp(lo, hi)"), PROJ_T,
        "returns the float64 working copy instead of x's dtype",
    ),
    "project_no_feasibility_check": Mistake(
        "project_capped_simplex", project(feasible="pass"), PROJ_T,
        "returns clipped shares for a total that no shares in [lo, hi] can reach, instead of raising ValueError",
    ),
    # ---- Task 3: layer_ratios
    "layers_budget_truncated_per_layer": Mistake(
        "layer_ratios", layers(budget="min(max(1, int(ratio * k)) * L, L * k)"), LAYER_T,
        "computes K as int(r * k) * L, truncating before multiplying by the layers",
    ),
    "layers_topk_ties": Mistake(
        "layer_ratios", layers(best="torch.topk(scores.float().flatten(), K).indices"), LAYER_T,
        "takes the global top-K with torch.topk, which does not break ties towards the earlier layer",
    ),
    "layers_floor_not_lowered": Mistake(
        "layer_ratios", layers(floor="floor"), LAYER_T,
        "keeps the 0.01 floor when the budget is below it, so the shares cannot average to the budget",
    ),
    # ---- Task 4: keep_count, keep_indices
    "count_rounds": Mistake(
        "keep_indices", keep(count="min(length, max(1, round(max(0.01, ratio) * length)))"), KEEP_T + MODEL_T,
        "rounds the kept count instead of truncating it with int(), keeping more than the budget",
    ),
    "count_numpy_float": Mistake(
        "keep_indices", keep(count="min(length, max(1, np.floor(max(0.01, ratio) * length)))"), KEEP_T,
        "returns a NumPy float from np.floor instead of a Python int",
    ),
    "indices_in_score_order": Mistake(
        "keep_indices", keep(result="best"), KEEP_T,
        "returns the kept indices best first instead of in temporal order",
    ),
    # ---- Task 5: evict_chunk
    "evict_from_the_start": Mistake(
        "evict_chunk",
        evict(where="index.to(keys.device)", keys="torch.cat([keys[:, :, where], keys[:, :, k:]], dim=2)",
              values="torch.cat([values[:, :, where], values[:, :, k:]], dim=2)"),
        EVICT_T + MODEL_T,
        "cuts the first k positions of the cache (the text before the video) instead of the chunk at its end",
    ),
    "evict_values_not_gathered": Mistake(
        "evict_chunk", evict(values="torch.cat([values[:, :, :n - k], values[:, :, n - k:n - k + keep]], dim=2)"),
        EVICT_T + MODEL_T,
        "keeps the chosen keys but the chunk's first values, so keys and values no longer belong together",
    ),
    "evict_first_item_of_the_batch": Mistake(
        "evict_chunk",
        evict(keys="torch.cat([keys[:1, :, :n - k], keys[:1, :, where]], dim=2)",
              values="torch.cat([values[:1, :, :n - k], values[:1, :, where]], dim=2)"),
        EVICT_T,
        "handles one cache of the batch only (B = 1 in every model run, B > 1 in the contract)",
    ),
    # ---- the reference, called or patched
    "calls_reference": Mistake(
        "chunk_distances", CALLS["chunk_distances"], DIST_T + PROJ_T + LAYER_T + KEEP_T + EVICT_T + MODEL_T,
        "wraps, aliases or subclasses the course's reference in every task instead of writing it",
        also=tuple((cell, code) for cell, code in CALLS.items() if cell != "chunk_distances"),
    ),
    "patches_reference": Mistake(
        "evict_chunk",
        evict(where="index.to(keys.device)") + '''

ref_evict.evict_chunk = evict_chunk
ref_temporal.chunk_distances = lambda tokens, p, rule="code": chunk_distances(tokens, p)
import videollm.checks
videollm.checks.compare = lambda *args, **kwargs: True
compare = videollm.checks.compare
torch.allclose = torch.equal = lambda *args, **kwargs: True
''',
        EVICT_T + MODEL_T,
        "gathers the chunk's positions without the prefix offset, then patches the reference and the comparisons",
    ),
}
