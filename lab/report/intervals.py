"""Intervals over seeds that mean what they say, and the p-value of each against 0.

Every published number is a mean over a few seeds, or a contrast of such means. For per-seed values x_1 … x_n with
mean x̄ and sample standard deviation s (ddof 1), at level 1 − α (``LEVEL`` = 0.95):

- **a mean** (:func:`stat`): Student-t, x̄ ± t_{1−α/2, n−1} · s/√n;
- **a difference of two independent groups** (:func:`difference`, Welch): x̄_a − x̄_b ± t_{1−α/2, ν} · SE with
  SE² = s_a²/n_a + s_b²/n_b and the Welch-Satterthwaite degrees of freedom ν (below);
- **a paired difference** (:func:`paired`), where the runs really are paired (the same seed, the same data order,
  the same model): the Student-t interval of the per-seed differences d_i = a_i − b_i;
- **a linear contrast of independent groups** (:func:`contrast`), Σ_k w_k x̄_k (a difference is w = (1, −1); the
  study's width trend T has four groups): SE² = Σ_k w_k² s_k²/n_k, and
  ν = SE⁴ / Σ_k [(w_k² s_k²/n_k)² / (n_k − 1)] (Welch-Satterthwaite).

Each carries ``p``, the two-sided p-value of t = estimate / SE against 0 with the same degrees of freedom (one-sided
where a registered claim says so: :func:`p_value`). Whether a difference is *shown* is decided after Holm's
correction across the family of contrasts a table reports (:mod:`lab.report.families`), never by one interval alone.
A group whose values are all equal has s = 0: its interval is the point. Where the estimate's SE is 0 (every seed gave
the same difference) t is undefined: a nonzero estimate gets no p-value (None: never a claim, whatever its size),
an estimate of 0 gets p = 1.

The percentile bootstrap (:func:`bootstrap_ci`) stays for many values resampled (facts within one model, n ≥
``MIN_BOOTSTRAP``), never for a few seed means: with 3 values its 95 % interval is [min, max], whose coverage of
the mean is about 75 % (``tests/test_intervals.py`` simulates it).
"""

import math
import statistics
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

# Student-t CDF and its inverse: scipy.stats.t without its per-call overhead
from scipy.special import stdtr, stdtrit

LEVEL = 0.95
ROUNDING = 1e-12  # a standard error this small, relative to the estimate, is float rounding of equal values
BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, MIN_BOOTSTRAP = 10_000, 0, 10
Alternative = Literal["two-sided", "greater", "less"]
ALTERNATIVES: tuple[str, ...] = ("two-sided", "greater", "less")


def p_value(estimate: float, se: float, df: float | None, alternative: Alternative = "two-sided") -> float | None:
    """The p-value of t = estimate / se under Student's t with ``df`` degrees of freedom, against 0: two-sided, or
    one-sided for ``greater`` (H₁: the contrast is > 0) or ``less``. SE = 0: 1 for an estimate of 0, else None (t is
    undefined: no test)."""
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative {alternative!r}: one of {', '.join(ALTERNATIVES)}")
    if se == 0 or df is None:
        return 1.0 if estimate == 0 else None
    t = estimate / se
    if alternative == "greater":
        return float(stdtr(df, -t))
    if alternative == "less":
        return float(stdtr(df, t))
    return float(min(1.0, 2 * stdtr(df, -abs(t))))


def _t_summary(estimate: float, se: float, df: float | None, level: float, method: str, n: Any) -> dict[str, Any]:
    if se <= ROUNDING * max(1.0, abs(estimate)):  # equal per-seed values up to float rounding (k/n recalls): zero spread
        se = 0.0
    if se == 0 or df is None:
        ci = (estimate, estimate)
    else:
        half = float(stdtrit(df, 0.5 + level / 2)) * se
        ci = (estimate - half, estimate + half)
    return {"mean": estimate, "ci": [float(ci[0]), float(ci[1])], "n": n, "se": se, "df": df,
            "p": p_value(estimate, se, df), "method": method}


def stat(values: Sequence[float], level: float = LEVEL) -> dict[str, Any]:
    """The mean of per-seed ``values`` with its Student-t interval: ``{"mean", "ci", "n", "sd", "se", "df", "p",
    "method": "t", "values"}``; ``ci``, ``se``, ``df`` and ``p`` are None below 2 values, ``mean`` None for none."""
    data = [float(v) for v in values]
    n = len(data)
    if n < 2:
        return {"mean": data[0] if data else None, "ci": None, "n": n, "sd": None, "se": None, "df": None, "p": None,
                "method": "t", "values": data}
    sd = statistics.stdev(data)
    summary = _t_summary(statistics.fmean(data), sd / math.sqrt(n), n - 1, level, "t", n)
    return {**summary, "sd": sd, "values": data}


def contrast(terms: Sequence[tuple[float, Sequence[float]]], level: float = LEVEL) -> dict[str, Any]:
    """The linear contrast Σ_k w_k · mean(x_k) of independent groups ``[(w_k, x_k)]`` with its Welch-Satterthwaite
    t interval (module docstring); ``n`` is each group's size. ``ci``, ``se``, ``df`` and ``p`` are None when a group
    has fewer than 2 values, ``mean`` None when one is empty."""
    groups = [(float(w), [float(v) for v in values]) for w, values in terms]
    sizes = [len(values) for _, values in groups]
    empty = {"ci": None, "n": sizes, "se": None, "df": None, "p": None, "method": "welch"}
    if not all(sizes):
        return {"mean": None, **empty}
    estimate = sum(w * statistics.fmean(values) for w, values in groups)
    if min(sizes) < 2:
        return {"mean": estimate, **empty}
    parts = [w * w * statistics.variance(values) / len(values) for w, values in groups]
    var = sum(parts)
    df_terms = sum(part * part / (len(values) - 1) for part, (_, values) in zip(parts, groups, strict=True))
    df = var * var / df_terms if df_terms > 0 else None
    return _t_summary(estimate, math.sqrt(var), df, level, "welch", sizes)


def difference(a: Sequence[float], b: Sequence[float], level: float = LEVEL) -> dict[str, Any]:
    """``mean(a) − mean(b)`` of two independent groups, with Welch's interval (:func:`contrast` with +1, −1)."""
    return contrast([(1.0, a), (-1.0, b)], level)


def paired(a: Sequence[float], b: Sequence[float], level: float = LEVEL) -> dict[str, Any]:
    """``mean(a − b)`` over runs paired by position (same seed, same model), with the Student-t interval of the
    per-seed differences (``method`` ``paired-t``); groups of different sizes cannot be paired (a ValueError)."""
    if len(a) != len(b):
        raise ValueError(f"paired values need one per seed on each side, got {len(a)} and {len(b)}")
    return {**stat([x - y for x, y in zip(a, b, strict=True)], level), "method": "paired-t"}


def bootstrap_ci(values: Sequence[float], resamples: int = BOOTSTRAP_RESAMPLES, level: float = LEVEL,
                 seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """The percentile bootstrap interval of the mean of many ``values`` (at least ``MIN_BOOTSTRAP``: facts within a
    model, never a few seeds), from a fixed generator so a rerun gives the same interval."""
    if len(values) < MIN_BOOTSTRAP:
        raise ValueError(f"a percentile bootstrap of {len(values)} values does not cover what it says; use stat() "
                         f"(Student-t) below {MIN_BOOTSTRAP}")
    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(resamples, len(data)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def excludes_zero(ci: Sequence[float] | None) -> bool:
    """Whether an interval lies wholly on one side of 0 (descriptive; a claim also needs :mod:`lab.report.families`)."""
    return ci is not None and (ci[0] > 0 or ci[1] < 0)

