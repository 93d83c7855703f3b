"""A study run twice: does each published conclusion survive a rerun of the same grid?

A rerun of a committed study (``python -m ablations.study <folder> --publish --replicates <name>``) is published as
``<name>_replication`` with ``"replicates": <name>`` in its ``study.json``. This module compares the two, quantity by
quantity, as a reader would cite them:

- per cell: its LR sensitivity S and its difference Δ S to its control;
- per width trend (:mod:`ablations.study_trends`): T for S and S⁺, and each variant's own change U;
- per run: the final validation losses of the runs both hold (same cell, LR and seed): how many are bit-equal, the
  median and the largest absolute difference. CPU float results differ across machines and thread counts, so
  per-run equality is not expected; the conclusions are what should replicate.

A conclusion is the sign class of a 95 % interval: "> 0" or "< 0" when the interval excludes 0, "includes 0"
otherwise (:func:`conclusion`). A quantity replicates when both runs give the same class; a claim of one run that
the other does not support is named in the sentences below the table.
"""

import statistics
from typing import Any

from ablations.study_tables import fmt, rows, with_ci
from ablations.study_trends import METRICS
from lab.report.intervals import excludes_zero

TREND_METRICS = METRICS[:2]  # S and S⁺: the published trend claims; S⁻ is under-training, reported in the trend table


def conclusion(stat: dict | None) -> str:
    """The sign class of a statistic's interval: ``> 0``, ``< 0``, ``includes 0``, or ``no interval`` (n < 2)."""
    if not stat or stat.get("mean") is None or not stat.get("ci"):
        return "no interval"
    if not excludes_zero(stat["ci"]):
        return "includes 0"
    return "> 0" if stat["mean"] > 0 else "< 0"


def quantities(study: dict) -> dict[str, dict]:
    """``{label: statistic}`` of every compared quantity of one study, in row order."""
    found: dict[str, dict] = {}
    for regime, cells in study["summary"].items():
        for name, cell in rows(cells):
            if not cell.get("untrained_seeds"):
                found[f"{regime}: S of {name}"] = cell["lr_sensitivity"]
            if cell.get("vs_control"):
                found[f"{regime}: Δ S of {name} vs {cell['control']}"] = cell["vs_control"]["lr_sensitivity"]
    for regime, trends in (study.get("width_trends") or {}).items():
        for t in trends:
            who = f"{t['variant']} alone" if t["control"] is None else f"{t['variant']} vs {t['control']}"
            for metric in TREND_METRICS:
                symbol = {"lr_sensitivity": "S", "sensitivity_above": "S⁺"}[metric]
                found[f"{regime}: {'U' if t['control'] is None else 'T'} for {symbol}, {who}, {t['from']} → {t['to']}"] = t[metric]
    return found


def run_agreement(first: dict, second: dict) -> dict[str, Any]:
    """Final validation losses of the runs both studies finished: count, bit-equal count, median and max |Δ|."""
    def losses(study: dict) -> dict[tuple, float]:
        return {(regime, name, float(r["lr"]), int(r["seed"])): float(r["final_val_loss"])
                for regime, cells in study["summary"].items() for name, cell in cells.items()
                for r in cell["run_records"] if r.get("status") == "ok" and r.get("final_val_loss") is not None}

    a, b = losses(first), losses(second)
    both = sorted(set(a) & set(b))
    gaps = [abs(a[k] - b[k]) for k in both]
    return {"runs": len(both), "bit_equal": sum(g == 0 for g in gaps),
            "median_abs_diff": statistics.median(gaps) if gaps else None, "max_abs_diff": max(gaps, default=None)}


def replication_block(first: dict, second: dict) -> str:
    """The markdown comparing a committed study (``first``) with its rerun (``second``): one row per quantity, with
    both runs' values and conclusions, then what did not replicate and the per-run agreement."""
    a, b = quantities(first), quantities(second)
    labels = [label for label in a if label in b]
    lines = [f"`study={second['name']}` reruns `study={first['name']}` (the same grid, {second['runs']} runs; "
             f"{second['ok']} finished, {second['collapsed']} collapsed, {second['failed']} failed). A conclusion is the "
             "sign class of the 95 % interval: > 0, < 0, or includes 0.", "",
             f"| quantity | `{first['name']}` | `{second['name']}` | same conclusion |", "|---|---|---|---|"]
    differing = []
    for label in labels:
        same = conclusion(a[label]) == conclusion(b[label])
        lines.append(f"| {label} | {with_ci(a[label])} | {with_ci(b[label])} | {'yes' if same else 'no'} |")
        if not same:
            differing.append(f"- {label}: {conclusion(a[label])} in `{first['name']}` ({with_ci(a[label])}), "
                             f"{conclusion(b[label])} in the rerun ({with_ci(b[label])}) (replication table, row `{label}`).")
    agreement = run_agreement(first, second)
    summary = (f"{len(labels) - len(differing)} of {len(labels)} conclusions replicate"
               + ("; these do not:" if differing else "."))
    runs = (f"Per run: {agreement['runs']} runs finished in both; {agreement['bit_equal']} have bit-equal final validation "
            f"losses; the median absolute difference is {fmt(agreement['median_abs_diff'])}, the largest "
            f"{fmt(agreement['max_abs_diff'])}.")
    return "\n".join(lines) + "\n\n" + "\n".join([summary, *differing]) + "\n\n" + runs
