"""Plotting helpers for the lecture notebooks; each function returns a matplotlib Figure or draws on a given Axes."""
