"""Intervals over seeds, as every published number carries them: the percentile bootstrap of a mean, and of a
linear contrast of independent groups (a difference of means among them).

For per-seed values x_1 … x_n the interval is the (2.5, 97.5) percentiles of the means of ``BOOTSTRAP_RESAMPLES``
resamples of n values drawn with replacement (one fixed generator seed, so a rerun gives the same interval); a
contrast Σ_k w_k · mean(x_k) resamples each group's seeds independently. A difference is claimed only when its
interval excludes 0 (:func:`excludes_zero`).
"""

import statistics
from typing import Any

import numpy as np

BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, LEVEL = 10_000, 0, 0.95


def _resampled_means(values: list[float], rng: np.random.Generator, resamples: int) -> np.ndarray:
    """The means of ``resamples`` bootstrap resamples (with replacement) of ``values``."""
    data = np.asarray(values, dtype=float)
    return data[rng.integers(0, len(data), size=(resamples, len(data)))].mean(axis=1)


def _percentile_interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1 - level) / 2 * 100
    return float(np.percentile(samples, tail)), float(np.percentile(samples, 100 - tail))


def bootstrap_ci(values: list[float], resamples: int = BOOTSTRAP_RESAMPLES, level: float = LEVEL,
                 seed: int = BOOTSTRAP_SEED) -> tuple[float, float] | None:
    """The percentile bootstrap interval of the mean of ``values``; None for fewer than 2 values."""
    if len(values) < 2:
        return None
    return _percentile_interval(_resampled_means(values, np.random.default_rng(seed), resamples), level)


def stat(values: list[float]) -> dict[str, Any]:
    """``{"mean", "ci", "n"}`` of per-seed values (``ci`` None below 2 seeds; ``mean`` None for none)."""
    return {"mean": statistics.fmean(values) if values else None, "ci": bootstrap_ci(values), "n": len(values)}


def contrast(terms: list[tuple[float, list[float]]], resamples: int = BOOTSTRAP_RESAMPLES, level: float = LEVEL,
             seed: int = BOOTSTRAP_SEED) -> dict[str, Any]:
    """A linear contrast Σ_k w_k · mean(x_k) of independent groups of per-seed values ``[(w_k, x_k)]``, with the
    percentile bootstrap interval that resamples each group's seeds independently (in the order given, from one
    generator). ``ci`` is None when a group has fewer than 2 values, ``mean`` None when one is empty; ``n`` is each
    group's size."""
    sizes = tuple(len(values) for _, values in terms)
    if not all(sizes):
        return {"mean": None, "ci": None, "n": sizes}
    mean = sum(weight * statistics.fmean(values) for weight, values in terms)
    if min(sizes) < 2:
        return {"mean": mean, "ci": None, "n": sizes}
    rng = np.random.default_rng(seed)
    samples = sum(weight * _resampled_means(values, rng, resamples) for weight, values in terms)
    return {"mean": mean, "ci": _percentile_interval(samples, level), "n": sizes}


def difference(a: list[float], b: list[float], resamples: int = BOOTSTRAP_RESAMPLES, level: float = LEVEL,
               seed: int = BOOTSTRAP_SEED) -> dict[str, Any]:
    """``mean(a) − mean(b)`` with the percentile bootstrap interval over independent resamples of each
    (:func:`contrast` with weights +1, −1)."""
    return contrast([(1.0, a), (-1.0, b)], resamples, level, seed)


def excludes_zero(ci: tuple[float, float] | list[float] | None) -> bool:
    """Whether an interval lies wholly on one side of 0 (a difference that is claimed)."""
    return ci is not None and (ci[0] > 0 or ci[1] < 0)
