"""Karpathy-style comparisons for labs: how far is your tensor from the reference?"""

from __future__ import annotations

import numpy as np

from videollm.arrays import as_numpy


def compare(name: str, got, expected, atol: float = 1e-5, rtol: float = 1e-5) -> bool:
    """Print one line comparing ``got`` with ``expected`` and return whether they agree within tolerance.

    Works for torch tensors and numpy arrays of any shape; a shape mismatch is reported, not raised.
    """
    got, expected = as_numpy(got), as_numpy(expected)
    if got.shape != expected.shape:
        print(f"{name:<28} | shape {tuple(got.shape)} but expected {tuple(expected.shape)}")
        return False
    exact = bool(np.array_equal(got, expected))
    close = bool(np.allclose(got, expected, atol=atol, rtol=rtol))
    diff = float(np.abs(got.astype(np.float64) - expected.astype(np.float64)).max()) if got.size else 0.0
    print(f"{name:<28} | exact: {exact!s:<5} | close: {close!s:<5} | max diff: {diff:.2e}")
    return close
