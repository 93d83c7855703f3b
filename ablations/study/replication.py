"""A study run twice on the same seeds: which of its claims hold when the same grid is executed again?

A rerun of a committed study (``python -m ablations.study <folder> --publish --replicates <name>``) is published as
``<name>_replication`` with ``"replicates": <name>`` in its ``study.json``. Both runs use the same seeds, so this is
a **re-execution**, not a replication: it tests whether the numbers survive another machine, thread count and
float order, not whether they hold for other seeds (a replication needs fresh seeds: the confirmatory run).

Only claims that could have failed are counted: a claim is a contrast *shown* in the first run after Holm's
correction across its table (:mod:`ablations.study.families`): a cell's Δ S against its control, a width trend T or a
variant's own change U (for S and S⁺). S itself is not a claim (it is ≥ 0 by construction), nor is an agreement on
"not shown". A claim holds when the rerun shows it too, with the same sign. Contrasts the rerun shows and the first
run did not are listed as well.
"""

import statistics
from typing import Any

from ablations.study.tables import fmt, rows, with_ci
from ablations.study.trends import METRICS, trend_tables
from lab.report.families import shown

TREND_METRICS = METRICS[:2]  # S and S⁺: the published trend claims; S⁻ is under-training, reported in the trend table


def conclusion(stat: dict | None) -> str:
    """A contrast's verdict: ``> 0`` or ``< 0`` when shown after Holm, ``not shown``, or ``no interval`` (n < 2)."""
    if not stat or stat.get("mean") is None or not stat.get("ci"):
        return "no interval"
    if not shown(stat):
        return "not shown"
    return "> 0" if stat["mean"] > 0 else "< 0"


def quantities(study: dict) -> dict[str, dict]:
    """``{label: contrast}`` of every contrast that could be a claim in one (restated) study, in row order."""
    found: dict[str, dict] = {}
    for regime, cells in study["summary"].items():
        for name, cell in rows(cells):
            if cell.get("vs_control"):
                found[f"{regime}: Δ S of {name} vs {cell['control']}"] = cell["vs_control"]["lr_sensitivity"]
    for _, regime, trends in trend_tables(study):
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


def holm_p(value: dict) -> str:
    return "–" if value.get("p_holm") is None else f"{value['p_holm']:.2g}"


def replication_block(first: dict, second: dict) -> str:
    """The markdown comparing a committed study (``first``) with its re-execution (``second``), both restated: one row
    per contrast with both runs' values, Holm p and verdicts; then how many of the first run's claims hold, which do
    not, what only the rerun shows, and the per-run agreement."""
    a, b = quantities(first), quantities(second)
    labels = [label for label in a if label in b]
    lines = [f"`study={second['name']}` re-executes `study={first['name']}`: the same grid and the same seeds ({second['runs']} runs; "
             f"{second['ok']} finished, {second['collapsed']} collapsed, {second['failed']} failed), so it tests "
             "reproducibility, not replication. A claim is a contrast shown after Holm's correction across its table; "
             "Welch 95 % intervals.", "",
             f"| contrast | `{first['name']}` | Holm p | `{second['name']}` | Holm p | first run's claim holds |", "|---|---|---|---|---|---|"]
    claims = [label for label in labels if conclusion(a[label]) in ("> 0", "< 0")]
    failed, new = [], []
    for label in labels:
        first_says, second_says = conclusion(a[label]), conclusion(b[label])
        if label in claims:
            holds = "yes" if second_says == first_says else "no"
            if holds == "no":
                failed.append(f"- {label}: {first_says} in `{first['name']}` ({with_ci(a[label])}), {second_says} in the re-execution "
                              f"({with_ci(b[label])}) (re-execution table, row `{label}`).")
        else:
            holds = "– (no claim)"
            if second_says in ("> 0", "< 0"):
                new.append(f"- {label}: shown only in the re-execution, {second_says} ({with_ci(b[label])}) (row `{label}`).")
        lines.append(f"| {label} | {with_ci(a[label])} | {holm_p(a[label])} | {with_ci(b[label])} | {holm_p(b[label])} | {holds} |")
    summary = (f"{len(claims) - len(failed)} of the {len(claims)} claims of `{first['name']}` hold in the re-execution"
               + ("; these do not:" if failed else "."))
    extra = (["Shown in the re-execution only:", *new] if new else [])
    agreement = run_agreement(first, second)
    runs = (f"Per run: {agreement['runs']} runs finished in both; {agreement['bit_equal']} have bit-equal final validation "
            f"losses; the median absolute difference is {fmt(agreement['median_abs_diff'])}, the largest "
            f"{fmt(agreement['max_abs_diff'])}.")
    return "\n".join(lines) + "\n\n" + "\n".join([summary, *failed, *extra]) + "\n\n" + runs
