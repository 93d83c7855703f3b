"""How many fresh seeds a claim needs: the power of its one-sided t test at the exploratory effect and spread.

For a claim with exploratory per-seed values a, b (n₀ seeds each), effect δ = mean(a) − mean(b) (Welch) or
mean(a − b) (paired), signed so that the registered direction is positive. At n seeds per side:

- Welch: SE(n) = √((s_a² + s_b²)/n), ν the Welch-Satterthwaite degrees of freedom with s_a, s_b;
- paired: SE(n) = s_d/√n with s_d the spread of the per-seed differences, ν = n − 1;

power(n) = P(T′ > t_{1−α′, ν}) with T′ noncentral t of noncentrality δ/SE(n), at α′ = α / m for the file's m claims
(Holm's first, strictest step). The claim gets the fewest n in [min_seeds, max_seeds] with power ≥ target, else
max_seeds (the budget's cap), and its power there is reported. An exploratory effect of the wrong sign gives power
below α′: the claim still runs, at the cap, and can fail. The power is *nominal*: it plugs in point estimates from a
few exploratory seeds, whose effects were picked for looking large (biased up) and whose spreads are noisy.
"""

import math
import statistics
from collections.abc import Sequence
from typing import Any

from scipy.special import stdtrit
from scipy.stats import nct

from lab.claims.schema import Power


def standard_error(a: Sequence[float], b: Sequence[float], n: int, paired: bool) -> tuple[float, float]:
    """``(SE, ν)`` of the claim's estimate at n seeds per side, from the spreads of ``a`` and ``b`` (module docstring)."""
    if paired:
        return statistics.stdev([x - y for x, y in zip(a, b, strict=True)]) / math.sqrt(n), n - 1
    va, vb = statistics.variance(a) / n, statistics.variance(b) / n
    if va + vb == 0:
        return 0.0, n - 1
    return math.sqrt(va + vb), (va + vb) ** 2 / (va**2 / (n - 1) + vb**2 / (n - 1))


def power_at(effect: float, se: float, df: float, alpha: float) -> float:
    """P(one-sided t test at ``alpha`` rejects) when the true effect (signed, positive: the claimed direction) is
    ``effect`` and the estimate's standard error ``se`` with ``df`` degrees of freedom."""
    if se == 0:  # no spread: the t test is undefined, so the verdict rule cannot confirm the claim
        return 0.0
    return float(nct.sf(stdtrit(df, 1 - alpha), df, effect / se))


def seeds_needed(a: Sequence[float], b: Sequence[float], paired: bool, direction: str, rule: Power, alpha: float) -> dict[str, Any]:
    """The claim's n and its power there, with the exploratory numbers they come from (module docstring)."""
    effect = statistics.fmean([x - y for x, y in zip(a, b, strict=True)]) if paired else statistics.fmean(a) - statistics.fmean(b)
    signed = effect if direction == "greater" else -effect
    chosen, power = rule.max_seeds, 0.0
    for n in range(rule.min_seeds, rule.max_seeds + 1):
        se, df = standard_error(a, b, n, paired)
        power = power_at(signed, se, df, alpha)
        if power >= rule.target:
            chosen = n
            break
    return {"n": chosen, "power": power, "alpha_per_claim": alpha, "target": rule.target,
            "exploratory": {"effect": effect, "seeds": len(a), "sd_a": statistics.stdev(a), "sd_b": statistics.stdev(b),
                            "sd_difference": statistics.stdev([x - y for x, y in zip(a, b, strict=True)]) if paired else None}}
