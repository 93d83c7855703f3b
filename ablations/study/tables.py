"""The norm study's markdown, from ``study.json`` alone: one table per regime, the collapses' first departures, and
the sentences that state what the intervals show (each citing its row). :mod:`ablations.study.publish` puts them
into README.md and docs/norm-study.md between markers; a test checks the committed text equals this output.

Every number is a mean over seeds with its 95 % Student-t interval in brackets, every difference Welch's
(:mod:`ablations.study.metrics`); "n < 2" where fewer than two seeds finished the whole grid. A difference is called
shown only when it survives Holm's correction across its table (:mod:`ablations.study.families`); each contrast cell
gives its raw and Holm-adjusted p. "Δ per-seed best loss" compares each seed's best clipped loss
ℓ*_s with the control's (per-seed bests, whatever LR each seed's best was at); "best val loss" is the seed mean at
one LR, the best one where every seed finished, so the two columns need not subtract to each other.
"""

import math
from typing import Any

from ablations.study.trends import FACTOR_NAMES, ORDERED_FACTORS, trend_tables
from lab.report.families import shown
from lab.report.intervals import stat

HORIZON = ORDERED_FACTORS["horizon_trends"]  # the swept key of a horizon study


def fmt(value: Any, spec: str = ".3f") -> str:
    return format(value, spec) if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) else "–"


def bound(value: Any, spec: str = ".3f") -> str:
    """An interval's bound: ``fmt``, except that a bound the fixed-point format would round to 0 keeps its sign and
    size (``2.8e-05``, ``-3.1e-04``), so a reader sees which side of 0 an interval lies on."""
    text = fmt(value, spec)
    if spec.endswith("f") and text.lstrip("-").strip("0.") == "" and value != 0:
        return format(value, ".1e")
    return text


def with_ci(stat: dict | None, spec: str = ".3f") -> str:
    """``mean [lo, hi]``, ``mean (n < 2)`` or ``–``."""
    if not stat or stat.get("mean") is None:
        return "–"
    ci = stat.get("ci")
    return f"{fmt(stat['mean'], spec)} [{bound(ci[0], spec)}, {bound(ci[1], spec)}]" if ci else f"{fmt(stat['mean'], spec)} (n < 2)"


def stable_lr(cell: dict) -> str:
    """The max stable LR, "≥ top (top of grid)" when the grid did not reach the limit, "none" when no LR was, "–"
    while a learning rate of the grid has no run."""
    if cell.get("missing_lrs"):
        return f"– (no run at {', '.join(fmt(lr, 'g') for lr in cell['missing_lrs'])})"
    if cell.get("max_stable_lr") is None:
        return "none"
    value = fmt(cell["max_stable_lr"], "g")
    return f"≥ {value} (top of grid)" if cell.get("max_stable_lr_censored") else value


def at_lr(cell: dict, key: str, lr: float | None, spec: str) -> str:
    """A run metric (``knowledge_acc``, ``max_attn_logit``, ...) of the cell's finished runs at ``lr``: the seed mean
    with its 95 % t interval, from the run records; "–" when no run finished there."""
    if lr is None:
        return "–"
    values = [float(r[key]) for r in cell.get("run_records", []) if float(r["lr"]) == float(lr) and r.get("status") == "ok"
              and isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
    return with_ci(stat(values), spec) if values else "–"


def top_lr_attn_logit(cell: dict) -> str:
    """The largest attention logit of the finished runs at the grid's top LR, mean and interval over seeds
    ("collapsed" if none finished there)."""
    if not cell.get("lrs"):
        return "–"
    value = at_lr(cell, "max_attn_logit", max(cell["lrs"]), ".3g")
    return "collapsed" if value == "–" else value


def tested(value: dict) -> str:
    """A contrast with its interval, raw and Holm-adjusted p and verdict: ``0.199 [0.150, 0.268]; p 0.0031, Holm
    0.025: shown``."""
    text = with_ci(value)
    if value.get("p") is None or value.get("p_holm") is None:
        return text
    return f"{text}; p {value['p']:.2g}, Holm {value['p_holm']:.2g}: {'**shown**' if shown(value) else 'not shown'}"


def contrast(cell: dict, metric: str, verdict: bool = True) -> str:
    """The cell's Δ against its control with its interval (and, with ``verdict``, its p-values and Holm verdict);
    "(control)" for a control, "–" for a cell whose contrast is undefined (no LR trains in it or in its control)."""
    delta = cell.get("vs_control", {}).get(metric)
    if not delta:
        return "–" if cell.get("control") else "(control)"
    return tested(delta) if verdict else with_ci(delta)


def seeds_label(cell: dict) -> str:
    untrained = cell.get("untrained_seeds") or []
    n = len(cell["per_seed"]["lr_sensitivity"]) + len(untrained)
    notes = [f"{len(cell['incomplete_seeds'])} incomplete"] if cell.get("incomplete_seeds") else []
    return f"{n}" + (f" ({', '.join(notes)})" if notes else "")


def sensitivity(cell: dict, key: str) -> str:
    """S, S⁺ or S⁻ with its interval; "undefined" when a seed trains at no LR of the grid (study_metrics)."""
    untrained = cell.get("untrained_seeds")
    if untrained:
        return f"undefined ({len(untrained)} of {len(untrained) + len(cell['per_seed']['lr_sensitivity'])} seeds train at no LR)"
    return with_ci(cell[key])


def after_surgery_cells(cell: dict) -> list[str]:
    """Loss, fact recall and arithmetic right after the surgery: seed means with intervals (``after_surgery``), or
    the plain means of a study summarised before those were kept per seed."""
    per_seed = cell.get("after_surgery")
    if per_seed:
        return [with_ci(per_seed.get("loss")), with_ci(per_seed.get("knowledge_acc"), ".1%"), with_ci(per_seed.get("reasoning_acc"), ".1%")]
    return [fmt(cell.get("loss_after_surgery")), fmt(cell.get("initial_knowledge_acc"), ".1%"), fmt(cell.get("initial_reasoning_acc"), ".1%")]


def rows(cells: dict[str, dict]) -> list[tuple[str, dict]]:
    """The cells in row order: by variant, then narrowest first (hidden size), then by name."""
    return sorted(cells.items(), key=lambda item: (item[1].get("variant", item[0]), item[1].get("hidden_size") or 0, item[0]))


def regime_table(cells: dict[str, dict], regime: str) -> str:
    """The regime's table, one row per cell (variant, and the study's other factors)."""
    surgery = regime == "surgery"
    head = ["cell", "seeds", "LR sensitivity S [95 % t]", "above best LR S⁺", "below best LR S⁻",
            "Δ S vs control [95 % Welch]; p, Holm p", "best val loss [95 % t]", "at LR", "Δ per-seed best loss vs control [95 % Welch]; p, Holm p",
            "max stable LR", "collapsed", "fact recall", "arithmetic", "max attn logit, top LR"]
    if surgery:
        head += ["loss after surgery", "zero-shot recall", "zero-shot arithmetic"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, c in rows(cells):
        row = [name, seeds_label(c), sensitivity(c, "lr_sensitivity"), sensitivity(c, "sensitivity_above"),
               sensitivity(c, "sensitivity_below"), contrast(c, "lr_sensitivity"), with_ci(c["best_val_loss"]), fmt(c.get("best_lr"), "g"),
               contrast(c, "best_clipped_loss"), stable_lr(c),
               f"{c['collapsed']}/{c['runs']}", at_lr(c, "knowledge_acc", c.get("best_lr"), ".1%"),
               at_lr(c, "reasoning_acc", c.get("best_lr"), ".1%"),
               top_lr_attn_logit(c)]
        if surgery:
            row += after_surgery_cells(c)
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def own_best_caveat(vs: dict) -> str:
    """S is measured from each cell's own best loss: when the best loss differs the other way (shown after Holm),
    part of Δ S is that difference, and the sentence says so."""
    delta, best = vs["lr_sensitivity"], vs["best_clipped_loss"]
    if not shown(best) or (best["mean"] < 0) != (delta["mean"] > 0):
        return ""
    word = "lower" if best["mean"] < 0 else "higher"
    return (f"; but its per-seed best loss is {word} (Δ = {with_ci(best)}), and S is measured from each cell's own "
            f"best: part of Δ S is that difference, not the learning rate")


def lr_shares(cell: dict, control: dict) -> dict[float, float]:
    """Where a Δ S comes from: per learning rate η, the seed-mean of (c(η) − ℓ*)/|H| in the cell minus the same in its
    control (:mod:`ablations.study.metrics`), as a share of Δ S; the shares sum to 1."""
    def parts(c: dict) -> dict[float, float]:
        best, n = c["per_seed"]["best_clipped_loss"], len(c["lrs"])
        found: dict[float, list[float]] = {float(lr): [] for lr in c["lrs"]}
        for r in c["run_records"]:
            if str(r["seed"]) in best and r["status"] in ("ok", "collapsed"):
                loss = c["loss_ref"] if r["status"] == "collapsed" else min(float(r["final_val_loss"]), c["loss_ref"])
                found[float(r["lr"])].append((loss - best[str(r["seed"])]) / n)
        return {lr: sum(v) / len(v) if v else 0.0 for lr, v in found.items()}

    mine, theirs = parts(cell), parts(control)
    total = sum(mine.values()) - sum(theirs.values())
    return {lr: (mine[lr] - theirs.get(lr, 0.0)) / total for lr in mine} if total else {}


def findings(cells: dict[str, dict], regime: str) -> str:
    """One sentence per non-control cell: its Δ S against its control, called a difference only when it survives
    Holm's correction across the table; for a shown one, its parts above and below the best LR (not claims of their
    own) and the learning rate that contributes most of it."""
    lines = []
    for name, c in rows(cells):
        vs = c.get("vs_control")
        control = cells.get(c.get("control") or "")
        if control is not None and (c.get("untrained_seeds") or control.get("untrained_seeds")):
            counts = "; ".join(f"`{n}` {x['collapsed']}/{x['runs']} runs collapsed, no LR trains in {len(x['untrained_seeds'])} "
                               f"of {len(x['seeds'])} seeds" for n, x in ((name, c), (c["control"], control)))
            lines.append(f"- `{name}` vs `{c['control']}`: S is undefined where no learning rate of the grid trains, so "
                         f"there is no contrast; {counts} ({regime} table, row `{name}`).")
            continue
        if not vs or vs["lr_sensitivity"]["mean"] is None:
            continue
        delta, above, below = vs["lr_sensitivity"], vs["sensitivity_above"], vs["sensitivity_below"]
        cite = f"({regime} table, row `{name}`)"
        if delta["ci"] is None:
            lines.append(f"- `{name}` vs `{c['control']}`: Δ S = {fmt(delta['mean'])} from fewer than 2 seeds, no interval: "
                         f"no claim {cite}.")
        elif shown(delta):
            word = "more" if delta["mean"] > 0 else "less"
            shares = lr_shares(c, control) if control is not None else {}
            top = max(shares, key=lambda lr: shares[lr], default=None)
            where = (f"; lr {fmt(top, 'g')} alone contributes {shares[top]:.0%} of it" if top is not None and shares[top] >= 0.5 else "")
            lines.append(f"- `{name}` is {word} LR-sensitive than `{c['control']}`: Δ S = {tested(delta)} (above the best LR "
                         f"Δ S⁺ = {with_ci(above)}, below it Δ S⁻ = {with_ci(below)}){where}{own_best_caveat(vs)} {cite}.")
        else:
            lines.append(f"- `{name}` vs `{c['control']}`: Δ S = {tested(delta)}: no difference shown {cite}.")
    return "\n".join(lines) if lines else "- no cell has a control in this regime."


def trend_table(trends: list[dict], regime: str, factor: str = "width") -> str:
    """The trend over an ordered factor (:mod:`ablations.study.trends`: the width, or the horizon in steps): per
    variant and larger value, T = Δ_w − Δ_smallest for S, S⁺ and S⁻ with 95 % Welch-Satterthwaite intervals and Holm
    across the table, and one sentence per row saying whether the gap grows, narrows or neither is shown; "" for a
    study that does not sweep the factor."""
    if not trends:
        return ""
    word, label = FACTOR_NAMES.get(factor, (factor, factor))
    larger, smallest = ("wider width", "narrowest") if factor == "width" else (f"larger {label}", "smallest")
    head = ["trend", "T (or U) for S [95 % Welch]; p, Holm p", "for S⁺ (above best LR)", "for S⁻ (below best LR)"]
    lines = [f"**{regime}: {label} trend, T = Δ S at the {larger} − Δ S at the {smallest} (Δ S: variant − control); "
             f"a variant alone: U = its S at the {larger} − its S at the {smallest}; one Holm family**", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    sentences = []
    for t in trends:
        alone = t["control"] is None
        row = f"{t['variant']} {'alone' if alone else 'vs ' + t['control']}, {t['from']} → {t['to']}"
        lines.append(f"| {row} | " + " | ".join(tested(t[m]) for m in ("lr_sensitivity", "sensitivity_above", "sensitivity_below")) + " |")
        total = t["lr_sensitivity"]
        what, symbol = ("its S", "U") if alone else ("the gap", "T")
        cite = f"({regime} {word}-trend table, row `{row}`)"
        if total["ci"] is None:
            verdict = f"{symbol} = {fmt(total['mean'])} from fewer than 2 seeds, no interval: no claim"
        elif shown(total):
            verdict = f"{what} {'grows' if total['mean'] > 0 else 'shrinks'} with {word}: {symbol} = {tested(total)}"
        else:
            verdict = f"{symbol} = {tested(total)}: neither growth nor shrinking shown"
        subject = f"`{t['variant']}` alone" if alone else f"`{t['variant']}` vs `{t['control']}`"
        sentences.append(f"- {subject} from {t['from']} to {t['to']}: {verdict} {cite}.")
    return "\n".join(lines) + "\n\n" + "\n".join(sentences)


def departures_table(departures: list[dict]) -> str:
    """Per collapsed run, the diagnostic that left its normal range first (:mod:`ablations.study.departures`)."""
    if not departures:
        return "No run collapsed, or none was probed before its collapse."
    lines = ["| run | collapsed at step | first out of range | at step | value | normal range there | also out then |",
             "|---|---|---|---|---|---|---|"]
    for d in departures:
        first = d.get("first_departure")
        if first is None:
            lines.append(f"| {d['run']} | {d.get('collapsed_at_step')} | none before the collapse | – | – | – | – |")
            continue
        low, high = first["normal_range"]
        lines.append(f"| {d['run']} | {d.get('collapsed_at_step')} | {first['diagnostic']} | {first['step']} | {fmt(first['value'], '.3g')} "
                     f"| [{fmt(low, '.3g')}, {fmt(high, '.3g')}] | {', '.join(first['also']) or '–'} |")
    return "\n".join(lines)


def departure_counts(departures: list[dict]) -> str:
    """How often each diagnostic was the first to leave its range, per variant."""
    counts: dict[str, dict[str, int]] = {}
    for d in departures:
        first = (d.get("first_departure") or {}).get("diagnostic", "none before the collapse")
        counts.setdefault(d["cell"], {}).setdefault(first, 0)
        counts[d["cell"]][first] += 1
    if not counts:
        return ""
    return "\n".join(f"- `{cell}`: " + ", ".join(f"{name} first in {n}" for name, n in sorted(c.items(), key=lambda x: -x[1]))
                     for cell, c in sorted(counts.items()))


EXPLORATORY = ("Exploratory: no claim was registered before this run. Brackets: 95 % Student-t interval over seeds "
               "(Welch for a difference); a difference is *shown* only when it survives Holm's correction across its table "
               "at α = 0.05.")


def study_header(study: dict) -> str:
    """One line: what ran, how many seeds, the reference point."""
    refs = sorted({fmt(c.get("loss_ref")) for cells in study["summary"].values() for c in cells.values()})
    horizons = sorted({int(c["factors"][HORIZON]) for cells in study["summary"].values() for c in cells.values()
                       if HORIZON in c.get("factors", {})})
    steps = (f"{' or '.join(map(str, horizons))} steps per run (the horizon swept)" if len(horizons) > 1
             else f"{horizons[0]} steps per run (the one horizon in this folder)" if horizons else f"{study['steps']} steps per run")
    return (f"`study={study['name']}`: {study['runs']} runs of model `{study['model']}`, {study['ok']} finished, "
            f"{study['collapsed']} collapsed, {study['failed']} failed; {steps}; "
            f"ℓ₀ = ln V = {', '.join(refs)} for every cell. {EXPLORATORY}")


def compact_table(study: dict) -> str:
    """The README's table: per variant cell and regime, S with its interval, Δ S against the control and the max
    stable LR (the full columns are in docs/norm-study.md)."""
    regimes = list(study["summary"])
    names = sorted({name for cells in study["summary"].values() for name in cells})
    columns = ("S [95 % t]", "Δ S vs control [95 % Welch]", "Holm p (shown ≤ 0.05)", "max stable LR")
    head = ["cell"] + [f"{r}: {col}" for r in regimes for col in columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in names:
        row = [name]
        for regime in regimes:
            c = study["summary"][regime].get(name)
            if c is None:
                row += ["–"] * len(columns)
                continue
            delta = c.get("vs_control", {}).get("lr_sensitivity") or {}
            holm = delta.get("p_holm")
            row += [sensitivity(c, "lr_sensitivity"), contrast(c, "lr_sensitivity", verdict=False),
                    "–" if holm is None else f"{holm:.2g}" + (" **shown**" if shown(delta) else ""), stable_lr(c)]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def compact_findings(study: dict) -> str:
    """One line per regime: which cells differ from their control (shown after Holm across the regime's table), and
    which do not."""
    lines = []
    for regime, cells in study["summary"].items():
        deltas = {n: c["vs_control"]["lr_sensitivity"] for n, c in cells.items() if c.get("vs_control")}
        more = sorted(n for n, d in deltas.items() if shown(d) and d["mean"] > 0)
        less = sorted(n for n, d in deltas.items() if shown(d) and d["mean"] < 0)
        same = sorted(n for n in deltas if n not in more and n not in less)
        undefined = sorted(n for n, c in cells.items() if c.get("control") and not c.get("vs_control"))
        parts = [f"more LR-sensitive than the control: {', '.join(f'`{n}`' for n in more) or 'none'}",
                 f"less: {', '.join(f'`{n}`' for n in less) or 'none'}",
                 f"no difference shown (Holm p > 0.05, n < 2 or runs missing): {', '.join(f'`{n}`' for n in same) or 'none'}"]
        if undefined:
            parts.append(f"no contrast (no LR of the grid trains, in the cell or its control): {', '.join(f'`{n}`' for n in undefined)}")
        lines.append(f"- {regime} (rows of the table above): " + "; ".join(parts) + ".")
    return "\n".join(lines)


def loss_table(cells: dict[str, dict], regime: str) -> str:
    """Final validation loss per learning rate, per cell: the seed mean with its 95 % t interval over the
    seeds that finished, and how many collapsed (the curves S summarises, for comparing cells at one LR)."""
    lrs = sorted({lr for c in cells.values() for lr in c["lrs"]})
    lines = ["| cell (mean [95 % t] over seeds) | " + " | ".join(f"lr {fmt(lr, 'g')}" for lr in lrs) + " |", "|" + "---|" * (len(lrs) + 1)]
    for name, c in rows(cells):
        row = [name]
        for lr in lrs:
            runs = [r for r in c["run_records"] if float(r["lr"]) == lr and r["status"] in ("ok", "collapsed")]
            losses = [float(r["final_val_loss"]) for r in runs if r["status"] == "ok" and r["final_val_loss"] is not None]
            collapsed = sum(r["status"] == "collapsed" for r in runs)
            value = with_ci(stat(losses)) if losses else "–"
            row.append(value + (f" ({collapsed}/{len(runs)} collapsed)" if collapsed else ""))
        lines.append("| " + " | ".join(row) + " |")
    return f"**{regime}: final val loss by learning rate** (mean [95 % t] over the seeds that finished)\n\n" + "\n".join(lines)


def study_blocks(study: dict) -> dict[str, str]:
    """Every generated block of one study: ``tables`` (header, per-regime tables and findings), ``losses`` (loss
    by learning rate per cell), ``departures``,
    ``readme`` (header, the compact table and its findings)."""
    sections = [study_header(study)]
    for regime, cells in study["summary"].items():
        sections += [f"**{regime}**", regime_table(cells, regime), findings(cells, regime)]
        sections += [table for factor, of, trends in trend_tables(study) if of == regime and (table := trend_table(trends, regime, factor))]
    departures = study.get("departures") or []
    counts = departure_counts(departures)
    return {"tables": "\n\n".join(sections),
            "losses": "\n\n".join(loss_table(cells, regime) for regime, cells in study["summary"].items()),
            "departures": "\n\n".join(x for x in (counts, departures_table(departures)) if x),
            "readme": "\n\n".join([study_header(study), compact_table(study), compact_findings(study)])}
