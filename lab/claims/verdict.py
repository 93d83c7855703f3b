"""The verdict on each registered claim from the confirmatory run's per-seed values.

Per claim (:mod:`lab.claims.schema`): the effect with its two-sided 95 % interval (Welch's, or the paired t interval)
and the one-sided p-value in the registered direction; Holm's correction across the file's claims at its ``alpha``
(one family of every registered claim: a claim with no p-value, fewer than 2 seeds or zero spread, counts with p = 1
and is not confirmed); *confirmed* when the adjusted p ≤ α, *not confirmed* otherwise (reported, never dropped).
:func:`paired_sensitivity` gives the paired analysis of Welch claims whose sides ran on the same seeds (not
registered: published beside the verdicts as a sensitivity check).
"""

from collections.abc import Sequence
from typing import Any

from lab.claims.schema import Claim, ClaimFile
from lab.report.families import holm
from lab.report.intervals import difference, p_value
from lab.report.intervals import paired as paired_t


def claim_test(claim: Claim, a: Sequence[float], b: Sequence[float]) -> dict[str, Any]:
    """The claim's statistic (:mod:`lab.report.intervals`) with ``p_one_sided`` in its direction."""
    result = paired_t(a, b) if claim.test == "paired" else difference(a, b)
    if result["mean"] is None or result["se"] is None:
        return {**result, "p_one_sided": None}
    return {**result, "p_one_sided": p_value(result["mean"], result["se"], result["df"], claim.direction)}


def verdicts(cf: ClaimFile, values: dict[str, tuple[list[float], list[float]]]) -> list[dict[str, Any]]:
    """One row per claim, in the file's order: its statement, test, the per-seed values of each side, the effect and
    interval, raw and Holm-adjusted one-sided p and ``confirmed``."""
    rows = [{"id": c.id, "statement": c.statement, "test": c.test, "direction": c.direction,
             "a": {"cell": c.a.cell, "metric": c.a.metric, "values": list(values[c.id][0])},
             "b": {"cell": c.b.cell, "metric": c.b.metric, "values": list(values[c.id][1])},
             "result": claim_test(c, *values[c.id])} for c in cf.claims]
    adjusted = holm([1.0 if row["result"]["p_one_sided"] is None else row["result"]["p_one_sided"] for row in rows])
    for row, p in zip(rows, adjusted, strict=True):
        row["p_holm"] = p
        row["confirmed"] = p is not None and p <= cf.alpha
    return rows


def paired_sensitivity(rows: list[dict[str, Any]], alpha: float) -> list[dict[str, Any]]:
    """Each claim's one-sided p and Holm verdict with both sides paired by seed (a registered paired claim as it is; a
    Welch claim whose sides ran on the same seeds in the same order, paired): runs of two cells on one seed share the
    data order, and after a surgery the starting weights, so a reader may ask what pairing changes."""
    p_values = []
    for row in rows:
        a, b = row["a"]["values"], row["b"]["values"]
        result = paired_t(a, b) if len(a) == len(b) else None
        p = None if result is None or result["se"] is None else p_value(result["mean"], result["se"], result["df"], row["direction"])
        p_values.append(1.0 if p is None else p)
    return [{"id": row["id"], "p_one_sided": p, "p_holm": q, "confirmed": q <= alpha}
            for row, p, q in zip(rows, p_values, holm(p_values), strict=True)]
