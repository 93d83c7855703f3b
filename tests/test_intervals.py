"""The intervals every published number carries cover what they say, by simulation, and Holm's correction.

Normal data, 20,000 draws: the 95 % interval of a mean over n = 3 and n = 5 seeds must cover the true mean 94-96 %
of the time, and "a difference is shown" (p ≤ 0.05) must fire at most 5.5 % of the time when there is none (5 %
within Monte Carlo error, ±0.3 points at 20,000 draws). The percentile bootstrap of 3 values, which the suite
published before, is [min, max]; the same harness measures its coverage at 75 % and fails it (the negative control
below), as it failed the old ``bootstrap_ci`` when run on it.
"""

import math

import numpy as np
import pytest

from lab.report.families import adjust, holm, verdict
from lab.report.intervals import bootstrap_ci, contrast, difference, paired, stat

DRAWS = 20_000


def coverage(interval, n: int, draws: int = DRAWS, mu: float = 1.7, sigma: float = 0.4) -> float:
    """The share of ``draws`` samples of n normal values whose ``interval(values)`` contains the true mean."""
    rng = np.random.default_rng(1234 + n)
    hits = 0
    for sample in rng.normal(mu, sigma, size=(draws, n)):
        low, high = interval(sample.tolist())
        hits += low <= mu <= high
    return hits / draws


@pytest.mark.parametrize("n", [3, 5])
def test_the_t_interval_of_a_mean_covers_95_percent(n):
    assert 0.94 <= coverage(lambda v: stat(v)["ci"], n) <= 0.96


def test_the_harness_fails_the_percentile_bootstrap_of_three_seeds():
    """With 3 values the old interval was exactly [min, max]: coverage 1 − 2 · (1/2)³ = 0.75."""
    measured = coverage(lambda v: (min(v), max(v)), 3)
    assert measured == pytest.approx(0.75, abs=0.01)
    assert not 0.94 <= measured <= 0.96


def false_positive_rate(test, sizes: tuple[int, ...], draws: int = DRAWS) -> float:
    """The share of ``draws`` where ``test(groups)`` gives p ≤ 0.05 with every group drawn from one normal."""
    rng = np.random.default_rng(99 + sum(sizes))
    samples = [rng.normal(0.3, 1.0 + 0.5 * k, size=(draws, n)).tolist() for k, n in enumerate(sizes)]  # unequal variances
    return sum(test(groups)["p"] <= 0.05 for groups in zip(*samples, strict=True)) / draws


@pytest.mark.parametrize("sizes", [(3, 3), (3, 5), (5, 5)])
def test_welch_shows_a_difference_at_most_5_percent_of_the_time_when_there_is_none(sizes):
    rate = false_positive_rate(lambda g: difference(g[0], g[1]), sizes)
    assert rate <= 0.055


def test_a_four_group_contrast_and_a_paired_difference_keep_their_level():
    trend = false_positive_rate(lambda g: contrast([(1, g[0]), (-1, g[1]), (-1, g[2]), (1, g[3])]), (3, 3, 3, 3))
    assert trend <= 0.055
    pairs = false_positive_rate(lambda g: paired(g[0], g[1]), (3, 3))
    assert pairs <= 0.055


def test_the_t_interval_by_hand():
    # mean 2, s = 1, n = 3: t_{0.975, 2} = 4.302653, half-width 4.302653 / √3
    result = stat([1.0, 2.0, 3.0])
    half = 4.302652729911275 / math.sqrt(3)
    assert result["ci"] == pytest.approx([2 - half, 2 + half])
    assert result["df"] == 2 and result["sd"] == 1.0 and result["values"] == [1.0, 2.0, 3.0]
    assert result["p"] == pytest.approx(1 - 2 * math.sqrt(3) / math.sqrt(14))  # df 2: P(|T| > t) = 1 − t/√(t² + 2), t = 2√3


def test_welch_degrees_of_freedom_by_hand():
    a, b = [1.0, 2.0, 3.0], [2.0, 4.0, 6.0, 8.0]  # variances 1 and 20/3
    va, vb = 1 / 3, (20 / 3) / 4
    df = (va + vb) ** 2 / (va**2 / 2 + vb**2 / 3)
    result = difference(a, b)
    assert result["mean"] == pytest.approx(2 - 5) and result["df"] == pytest.approx(df)
    assert result["se"] == pytest.approx(math.sqrt(va + vb)) and result["n"] == [3, 4]


def test_paired_removes_the_between_seed_spread():
    a, b = [10.0, 20.0, 30.0], [9.0, 19.1, 28.9]
    assert paired(a, b)["ci"][0] > 0 and not difference(a, b)["ci"][0] > 0
    with pytest.raises(ValueError, match="one per seed"):
        paired([1.0, 2.0], [1.0])


def test_degenerate_groups():
    assert stat([0.5])["ci"] is None and stat([])["mean"] is None
    same = stat([0.2, 0.2, 0.2])
    assert same["ci"] == pytest.approx([0.2, 0.2]) and same["se"] == 0.0 and same["p"] is None  # t undefined: no test
    assert difference([0.2, 0.2], [0.2, 0.2])["p"] == 1.0
    assert contrast([(1, [1.0]), (-1, [2.0, 3.0])])["ci"] is None


def test_the_bootstrap_refuses_a_few_seeds():
    with pytest.raises(ValueError, match="Student-t"):
        bootstrap_ci([1.0, 2.0, 3.0])
    low, high = bootstrap_ci(list(range(20)))
    assert low < 9.5 < high


def test_holm_by_hand():
    # sorted 0.01, 0.02, 0.03, 0.2 (m = 4): 0.04, 0.06, 0.06 (monotone), 0.2
    assert holm([0.03, 0.01, None, 0.2, 0.02]) == pytest.approx([0.06, 0.04, None, 0.2, 0.06])
    assert holm([0.5, 0.9]) == [1.0, 1.0]  # 2 · 0.5 capped at 1, and monotone


def test_adjust_marks_what_survives_its_family():
    family = [difference([1.0, 1.1, 0.9], [0.0, 0.1, -0.1]), difference([1.0, 2.0, 3.0], [1.5, 2.5, 2.0]),
              difference([1.0], [2.0, 3.0])]
    adjust(family)
    assert family[0]["shown"] and not family[1]["shown"] and not family[2]["shown"]
    assert family[0]["family_size"] == 2 and family[2]["p_holm"] is None
    assert verdict(family[0]).startswith("yes") and verdict(family[2]) == "no: fewer than 2 seeds"
    constant = adjust([paired([1.0, 2.0, 3.0], [0.0, 1.0, 2.0])])[0]  # every seed the same difference: t is undefined
    assert constant["mean"] == 1.0 and constant["p"] is None and not constant["shown"]
    assert verdict(constant) == "no: zero spread over seeds, no t test"
    rounded = paired([0.1 + 0.2, 0.3, 0.6 - 0.3], [0.0, 0.0, 0.0])  # equal up to float rounding (recalls k/n): the same
    assert rounded["se"] == 0.0 and rounded["p"] is None
