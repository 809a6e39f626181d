"""The capped-simplex projection: the bisection (as the official code) against the exact solver, and the exact
solver against the projection's optimality conditions."""

import pytest
import torch

from videollm.compress.simplex import exact_capped_simplex, project_capped_simplex


def optimal(x: torch.Tensor, p: torch.Tensor, lo: float, hi: float, atol: float = 1e-9) -> bool:
    """KKT: p = clip(x - mu, lo, hi) for one mu: x - p equals mu on the free entries, and is <= mu at the floor,
    >= mu at the ceiling."""
    x, p = x.double(), p.double()
    gap = x - p
    free = (p > lo + atol) & (p < hi - atol)
    at_lo, at_hi = p <= lo + atol, p >= hi - atol
    if free.any():
        mu = gap[free].mean()
        if (gap[free] - mu).abs().max() > 1e-7:
            return False
    else:  # any mu between the bounds the clipped entries allow
        lower = gap[at_hi].max() if at_hi.any() else torch.tensor(-1e9, dtype=torch.float64)
        upper = gap[at_lo].min() if at_lo.any() else torch.tensor(1e9, dtype=torch.float64)
        return bool(lower <= upper + 1e-7)
    return bool((gap[at_lo] <= mu + 1e-7).all() and (gap[at_hi] >= mu - 1e-7).all())


@pytest.mark.parametrize("seed", range(20))
def test_exact_solver_meets_the_optimality_conditions_and_the_budget(seed):
    g = torch.Generator().manual_seed(seed)
    n = int(torch.randint(1, 30, (1,), generator=g))
    x = torch.randn(n, generator=g, dtype=torch.float64) * 0.6 + 0.3
    lo, hi = 0.01, 1.0
    total = float(torch.empty(1).uniform_(n * lo, n * hi, generator=g))
    p = exact_capped_simplex(x, total, lo, hi)
    assert abs(float(p.sum()) - total) < 1e-9
    assert float(p.min()) >= lo - 1e-12 and float(p.max()) <= hi + 1e-12
    assert optimal(x, p, lo, hi)


@pytest.mark.parametrize("seed", range(20))
def test_bisection_is_within_its_tolerance_of_the_exact_projection(seed):
    g = torch.Generator().manual_seed(100 + seed)
    n = int(torch.randint(1, 40, (1,), generator=g))
    x = torch.rand(n, generator=g, dtype=torch.float64) * 2
    total = float(torch.empty(1).uniform_(n * 1e-3, n * 1.0, generator=g))
    got = project_capped_simplex(x, total)
    want = exact_capped_simplex(x, total)
    assert (got - want).abs().max() <= 1e-5
    assert abs(float(got.sum()) - total) <= n * 1e-5


def test_a_feasible_vector_is_its_own_projection():
    x = torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64)
    assert torch.allclose(exact_capped_simplex(x, 1.0), x, atol=1e-12)
    assert torch.allclose(project_capped_simplex(x, 1.0), x, atol=1e-5)


def test_one_large_entry_is_capped_and_its_excess_shared_evenly():
    # wanted [3, 0.5, 0.5] with total 2 (mean 2/3): the first is capped at 1, the other two share the rest
    p = exact_capped_simplex(torch.tensor([3.0, 0.5, 0.5], dtype=torch.float64), 2.0)
    assert torch.allclose(p, torch.tensor([1.0, 0.5, 0.5], dtype=torch.float64))
    p = exact_capped_simplex(torch.tensor([3.0, 0.2, 0.4], dtype=torch.float64), 1.6)
    assert torch.allclose(p, torch.tensor([1.0, 0.2, 0.4], dtype=torch.float64))


def test_extreme_budgets_put_everything_at_a_bound():
    x = torch.tensor([0.9, 0.1, 0.5, 2.0])
    assert torch.allclose(exact_capped_simplex(x, 4.0), torch.ones(4))
    assert torch.allclose(exact_capped_simplex(x, 4e-3), torch.full((4,), 1e-3))
    assert torch.allclose(project_capped_simplex(x, 4.0), torch.ones(4), atol=1e-5)


def test_one_entry_gets_the_whole_total():
    assert float(exact_capped_simplex(torch.tensor([7.0]), 0.25)) == pytest.approx(0.25)
    assert float(project_capped_simplex(torch.tensor([-3.0]), 0.25)) == pytest.approx(0.25, abs=1e-5)


def test_ties_stay_equal():
    p = exact_capped_simplex(torch.tensor([0.8, 0.8, 0.1]), 1.2)
    assert float(p[0]) == pytest.approx(float(p[1]))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_dtype_and_device_are_kept(dtype):
    x = torch.tensor([0.5, 0.1, 0.9], dtype=dtype)
    for fn in (project_capped_simplex, exact_capped_simplex):
        p = fn(x, 1.2)
        assert p.dtype == dtype and p.device == x.device


@pytest.mark.parametrize("bad, match", [
    (dict(x=torch.tensor([1, 2])), "floating-point"),
    (dict(x=[0.1, 0.2]), "floating-point"),
    (dict(x=torch.zeros(0)), "non-empty"),
    (dict(x=torch.zeros(2, 2)), "non-empty vector"),
    (dict(x=torch.tensor([0.1, float("nan")])), "NaN"),
    (dict(total=5.0), r"\[0.003, 3\]"),
    (dict(total=1e-4), "lower the floor"),
    (dict(lo=0.9, hi=0.1), "floor"),
])
def test_bad_input_gets_a_clear_error(bad, match):
    args = dict(x=torch.tensor([0.1, 0.5, 0.2]), total=1.0, lo=1e-3, hi=1.0) | bad
    for fn in (project_capped_simplex, exact_capped_simplex):
        with pytest.raises((ValueError, TypeError), match=match):
            fn(**args)


def official_bisection(w, w_min, w_max, target_sum, tol=1e-5, max_iters=100):
    """The official code's ``bisection_projection`` (retake/qwen2_5_vl.py @ 39223a6), step for step: rescale to
    the target sum, then halve the bracket on the shift."""
    import numpy as np

    w = np.asarray(w, dtype=np.float64)
    q = w / w.sum() * target_sum if w.sum() > 0 else np.full_like(w, target_sum / len(w))
    lo, hi = q.min() - w_max, q.max() - w_min
    for _ in range(max_iters):
        if hi - lo <= tol:
            break
        mid = (lo + hi) / 2
        if np.clip(q - mid, w_min, w_max).sum() > target_sum:
            lo = mid
        else:
            hi = mid
    return np.clip(q - (lo + hi) / 2, w_min, w_max)


@pytest.mark.parametrize("seed", range(10))
def test_bisection_matches_the_official_code_on_chunk_ratios(seed):
    # the chunk ratios r * d / mean(d) already sum to r * n, so the official rescaling changes nothing
    g = torch.Generator().manual_seed(seed)
    d = torch.rand(12, generator=g, dtype=torch.float64) ** 3
    r = 0.25
    wanted = r * d / d.mean()
    ours = project_capped_simplex(wanted, r * 12)
    theirs = torch.from_numpy(official_bisection(wanted.numpy(), 1e-3, 1.0, r * 12))
    assert (ours - theirs).abs().max() <= 1e-5
