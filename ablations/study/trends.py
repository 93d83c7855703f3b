"""The trend of a study that sweeps an ordered factor: the width (``study=scaling``) or the horizon in steps
(``study=horizon``, ``trainer.max_steps``). Does a variant's gap to its control grow or shrink as the model widens,
or as it trains longer? Wortsman et al. 2023 (Figure 1) find that without qk-layernorm the LR sensitivity grows with
model size and with it stays flat; this module states that as a number with an interval. Below, "width" stands for
either factor: widths are ordered by hidden size, horizons by their number of steps (:data:`ORDERED_FACTORS`).

For a variant V with control C (:func:`ablations.study.metrics.control_key`) and the widths w₀ < w₁ < … ordered by
hidden size, the gap at width w is Δ_w = S̄(V, w) − S̄(C, w), S̄ the mean over seeds. The trend from the narrowest
width to a width w is

    T(w) = Δ_w − Δ_{w₀} = S̄(V, w) − S̄(C, w) − S̄(V, w₀) + S̄(C, w₀),

a contrast of four independent groups of seeds; its 95 % interval is the t interval with Welch-Satterthwaite degrees
of freedom (:func:`lab.report.intervals.contrast`). T > 0, shown after Holm's correction across the trend table
(:mod:`ablations.study.families`): the gap grows with width (Wortsman et al.'s finding); T < 0 shown: it narrows. The same for S⁺ (above the best LR,
the instability part) and S⁻ (below it, under-training). The widths compared are the study's own: the narrowest
against each other one, fixed by the grid before the run, never picked afterwards.

Where a gap changes, which side moved: each variant alone, controls included, gets its own change
U(V, w) = S̄(V, w) − S̄(V, w₀), a contrast of two groups of seeds with the same interval (Welch's; entries with
``"control": None``).
"""

from collections.abc import Iterator
from typing import Any

from ablations.study.metrics import cell_name, control_key
from lab.report.intervals import contrast

METRICS = ("lr_sensitivity", "sensitivity_above", "sensitivity_below")
FACTOR = "width"
ORDERED_FACTORS = {"width_trends": "width", "horizon_trends": "trainer.max_steps"}  # study.json key: the swept factor
FACTOR_NAMES = {"width": ("width", "width"), "trainer.max_steps": ("horizon", "horizon (steps)")}  # (word, with its unit)


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return float("inf")


def ordered_widths(cells: dict[str, dict], factor: str = FACTOR) -> list[str]:
    """The factor's values, narrowest (shortest) first: by the cells' hidden size, then as numbers, then by name."""
    size = {c["factors"][factor]: c.get("hidden_size") or 0 for c in cells.values() if factor in c["factors"]}
    return sorted(size, key=lambda w: (size[w], _number(w), w))


def study_trends(summary: dict[str, dict[str, dict]]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """``{"width_trends": {regime: trends}, "horizon_trends": ...}`` for each ordered factor of
    :data:`ORDERED_FACTORS`; ``width_trends`` always (empty when no width is swept), the others where swept."""
    found = {key: {regime: trends for regime, cells in summary.items() if (trends := width_trends(cells, factor))}
             for key, factor in ORDERED_FACTORS.items()}
    return {key: value for key, value in found.items() if value or key == "width_trends"}


def trend_tables(study: dict) -> Iterator[tuple[str, str, list[dict[str, Any]]]]:
    """``(factor, regime, trends)`` of each trend table that ``study.json`` holds, in :data:`ORDERED_FACTORS`' order."""
    for key, factor in ORDERED_FACTORS.items():
        for regime, trends in (study.get(key) or {}).items():
            yield factor, regime, trends


def _seeds(cell: dict, metric: str) -> list[float]:
    return list(cell["per_seed"][metric].values())


def width_trends(cells: dict[str, dict], factor: str = FACTOR) -> list[dict[str, Any]]:
    """``[{"variant", "control", "from", "to", metric: contrast}]``: T(w) of the module docstring for each variant
    that has a control at every width, from the narrowest width to each wider one, then U(V, w) for every variant
    (``control`` None); [] when the factor is not swept; a variant or gap with an undefined S (a seed that trains
    at no LR) at some width is left out."""
    widths = ordered_widths(cells, factor)
    if len(widths) < 2:
        return []
    trends = []
    variants = sorted({c["variant"] for c in cells.values() if factor in c["factors"]})
    for variant in variants:
        pairs = []
        for width in widths:
            cell = next((c for c in cells.values() if c["variant"] == variant and c["factors"].get(factor) == width), None)
            key = control_key(variant, cell["factors"]) if cell else None
            control = cells.get(cell_name(*key)) if key else None
            pairs.append((cell, control))
        if any(c is None or k is None or c["untrained_seeds"] or k["untrained_seeds"] for c, k in pairs):
            continue
        (narrow, narrow_control), control_variant = pairs[0], pairs[0][1]["variant"]
        for width, (cell, control) in zip(widths[1:], pairs[1:], strict=True):
            trend: dict[str, Any] = {"variant": variant, "control": control_variant, "from": widths[0], "to": width}
            for metric in METRICS:
                trend[metric] = contrast([(1.0, _seeds(cell, metric)), (-1.0, _seeds(control, metric)),
                                          (-1.0, _seeds(narrow, metric)), (1.0, _seeds(narrow_control, metric))])
            trends.append(trend)
    return trends + variant_changes(cells, widths, variants, factor)


def variant_changes(cells: dict[str, dict], widths: list[str], variants: list[str], factor: str = FACTOR) -> list[dict[str, Any]]:
    """U(V, w) of the module docstring: each variant's own change from the narrowest width, for S, S⁺ and S⁻."""
    changes = []
    for variant in variants:
        mine = [next((c for c in cells.values() if c["variant"] == variant and c["factors"].get(factor) == w), None) for w in widths]
        if any(c is None or c["untrained_seeds"] for c in mine):
            continue
        for width, cell in zip(widths[1:], mine[1:], strict=True):
            change: dict[str, Any] = {"variant": variant, "control": None, "from": widths[0], "to": width}
            for metric in METRICS:
                change[metric] = contrast([(1.0, _seeds(cell, metric)), (-1.0, _seeds(mine[0], metric))])
            changes.append(change)
    return changes
