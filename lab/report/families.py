"""Families of contrasts: a difference is *shown* only after Holm's correction across the table that reports it.

Each published table is one family of m contrasts with p-values p_(1) ≤ … ≤ p_(m) (sorted). Holm (1979) adjusts

    p̃_(i) = max_{j ≤ i} min(1, (m − j + 1) · p_(j)),

and a contrast is shown at level α (``ALPHA`` = 0.05) when p̃ ≤ α. This controls the family-wise error rate at α
under any dependence between the contrasts, and rejects at least what Bonferroni does. A contrast without a
p-value (fewer than 2 seeds in a group, or zero spread over seeds: :func:`lab.report.intervals.p_value`) is not
counted in m and is never shown.
"""

from collections.abc import Iterable, Sequence
from typing import Any

ALPHA = 0.05


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm-adjusted p-values, in the order given (None stays None and does not count in m)."""
    ranked = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(ranked)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(ranked):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def adjust(family: Iterable[dict[str, Any]], alpha: float = ALPHA) -> list[dict[str, Any]]:
    """Write ``p_holm`` (Holm-adjusted across ``family``), ``family_size`` and ``shown`` (p̃ ≤ α) into each contrast
    of the family (dicts of :mod:`lab.report.intervals`); returns the family."""
    members = list(family)
    adjusted = holm([c.get("p") if c.get("mean") is not None else None for c in members])
    size = sum(p is not None for p in adjusted)
    for c, p in zip(members, adjusted, strict=True):
        c["p_holm"], c["family_size"] = p, size
        c["shown"] = p is not None and p <= alpha
    return members


def shown(value: dict[str, Any] | None) -> bool:
    """Whether a contrast survived its family's Holm correction (:func:`adjust` must have run on it)."""
    return bool(value) and bool(value.get("shown"))


def verdict(value: dict[str, Any] | None) -> str:
    """The table cell for a contrast's verdict: ``yes (p̃ = …)``, ``no (p̃ = …)``, or why there is none."""
    if not value or value.get("mean") is None:
        return "-"
    if value.get("p") is None:
        return "no: fewer than 2 seeds" if value.get("se") is None else "no: zero spread over seeds, no t test"
    return f"{'yes' if shown(value) else 'no'} (p = {value['p']:.2g}, Holm {value['p_holm']:.2g})"
