"""Crossing between torch and NumPy."""

from __future__ import annotations

import numpy as np


def as_numpy(x) -> np.ndarray:
    """A torch tensor (any device, with or without grad) or anything array-like, as a NumPy array."""
    if hasattr(x, "detach"):  # torch.Tensor
        x = x.detach().cpu().numpy()
    return np.asarray(x)
