"""Unit 06 — the capped simplex: share a budget out in ratios that stay between a floor and a ceiling.

AdaReTaKe gives each chunk (and each layer) a compression ratio proportional to how much it needs, then has to
keep every ratio in ``[lo, hi]`` (a chunk cannot keep more than all of its tokens, nor nothing) *and* keep their
sum, the budget. The closest such ratios to the wanted ones, in Euclidean distance, are

    p = clip(x - mu, lo, hi)    with the one shift mu for which  sum(p) = total,

because the projection onto ``{lo <= p <= hi, sum(p) = total}`` is a clip of a shifted ``x`` (the KKT conditions
of ``min ||p - x||^2``). ``sum(clip(x - mu, lo, hi))`` falls as ``mu`` grows, piecewise linearly, so ``mu`` can
be found by bisection (:func:`project_capped_simplex`, as the official code does) or exactly, between the two
breakpoints that bracket it (:func:`exact_capped_simplex`, the check).

Lecture: `lectures/06_adaretake.ipynb` §3.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

#: The official code's bisection: stop when the bracket on the shift is this narrow, or after this many halvings.
TOLERANCE = 1e-5
MAX_ITERS = 100


def _check(x: Tensor, total: float, lo: float, hi: float) -> None:
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a floating-point torch.Tensor; got {type(x).__name__}"
                        f"{'' if not isinstance(x, Tensor) else ' of ' + str(x.dtype)}")
    if x.ndim != 1 or len(x) == 0:
        raise ValueError(f"x must be one non-empty vector (n,); got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError("x holds NaN or infinite values; the wanted ratios must be finite")
    if not lo <= hi:
        raise ValueError(f"the floor lo={lo} must not be above the ceiling hi={hi}")
    n = len(x)
    if not n * lo - 1e-9 <= total <= n * hi + 1e-9:
        raise ValueError(f"no ratios in [{lo}, {hi}] sum to {total} over {n} entries: the total must lie in "
                         f"[{n * lo:g}, {n * hi:g}]; raise the budget or lower the floor")


def project_capped_simplex(x: Tensor, total: float, lo: float = 1e-3, hi: float = 1.0,
                           tol: float = TOLERANCE, max_iters: int = MAX_ITERS) -> Tensor:
    """The Euclidean projection of ``x`` ``(n,)`` onto ``{p : lo <= p_i <= hi, sum(p) = total}``, by bisection on
    the shift ``mu`` of ``p = clip(x - mu, lo, hi)``.

    The bracket starts at ``[min(x) - hi, max(x) - lo]`` (every entry at the ceiling, every entry at the floor)
    and halves until it is narrower than ``tol`` or ``max_iters`` halvings, as in the official AdaReTaKe code
    (``bisection_projection``, which first rescales ``x`` to sum to ``total``: a no-op for its chunk ratios,
    which already do). Each entry is then within ``tol`` of the exact projection. Computed in float64; returned
    in ``x``'s dtype and on its device.

    Raises:
        TypeError: ``x`` is not a floating-point tensor.
        ValueError: ``x`` is not one non-empty finite vector, ``lo > hi``, or ``total`` is outside
            ``[n * lo, n * hi]`` (no such ratios exist).
    """
    _check(x, total, lo, hi)
    v = x.detach().to("cpu", torch.float64)  # a few dozen entries: the host avoids a device sync per halving
    low, high = float(v.min()) - hi, float(v.max()) - lo
    for _ in range(max_iters):
        if high - low <= tol:
            break
        mid = (low + high) / 2
        if float((v - mid).clamp(lo, hi).sum()) > total:
            low = mid  # too much kept: shift further
        else:
            high = mid
    return (v - (low + high) / 2).clamp(lo, hi).to(x.device, x.dtype)


def exact_capped_simplex(x: Tensor, total: float, lo: float = 1e-3, hi: float = 1.0) -> Tensor:
    """The same projection as :func:`project_capped_simplex`, exactly (up to float64 rounding): ``g(mu) =
    sum(clip(x - mu, lo, hi))`` is linear between its breakpoints ``x_i - hi`` and ``x_i - lo``; evaluate it at
    all ``2n`` of them (an ``(2n, n)`` table: fine for the tens of chunks and layers it serves), find the two
    that bracket ``total`` and interpolate. Same errors as :func:`project_capped_simplex`."""
    _check(x, total, lo, hi)
    v = x.detach().to("cpu", torch.float64)
    mu = torch.cat([v - hi, v - lo]).sort().values  # (2n,) ascending
    g = (v[None, :] - mu[:, None]).clamp(lo, hi).sum(1)  # (2n,) descending
    # the last breakpoint whose g is still >= total, and the next one (g is linear in between)
    k = int((g >= total - 1e-12).sum()) - 1
    if k < 0:
        shift = float(mu[0])
    elif k >= len(mu) - 1 or math.isclose(float(g[k]), total, rel_tol=0, abs_tol=1e-12):
        shift = float(mu[k])
    else:
        g0, g1 = float(g[k]), float(g[k + 1])
        shift = float(mu[k]) + (g0 - total) / (g0 - g1) * float(mu[k + 1] - mu[k])
    return (v - shift).clamp(lo, hi).to(x.device, x.dtype)
