"""The norm study's numbers (Wortsman et al. 2023, "Small-scale proxies for large-scale Transformer training
instabilities", section 2.3), from run summaries of one (regime, variant) cell of the grid.

For a seed s, its runs over the learning-rate grid η ∈ H give a curve of final validation losses ℓ_s(η). A
run that collapsed (non-finite loss) counts as no better than where it started: ℓ_s(η) = ℓ_init. With
ℓ_init the validation loss before the first step (the random init for ``scratch``, the model right after the
norm surgery for ``surgery``):

- clipped loss            c_s(η) = min(ℓ_s(η), ℓ_init)
- best loss               ℓ*_s = min_{η∈H} c_s(η)
- **LR sensitivity**      S_s = mean_{η∈H} [c_s(η) − ℓ*_s]        (0: the same loss at every η; up to ℓ_init − ℓ*)

each reported as mean ± std over seeds. Besides:

- best final val loss: the η whose seed-mean loss is lowest among the η where every seed finished ``ok``, and
  the mean ± std over seeds there;
- max stable LR: the largest η at which every seed finished ``ok``;
- collapsed: how many runs of the cell collapsed.

A ``failed`` run (an error, not a divergence) is left out of every number and counted apart.
"""

import math
import statistics
from collections import defaultdict
from typing import Any

OK, COLLAPSED = "ok", "collapsed"


def mean_std(values: list[float]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (0 for one value); ``(None, None)`` for none."""
    if not values:
        return None, None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def initial_loss(runs: list[dict]) -> float | None:
    """ℓ_init of a cell: the mean of its runs' step-0 validation losses (equal across runs up to float noise)."""
    values = [r["initial"]["loss"] for r in runs if _finite((r.get("initial") or {}).get("loss"))]
    return statistics.fmean(values) if values else None


def clipped_loss(run: dict, loss_init: float) -> float | None:
    """c(η) of one run: ``min(final val loss, ℓ_init)``; ℓ_init for a collapsed run; None for a failed one."""
    if run.get("status") == COLLAPSED:
        return loss_init
    if run.get("status") == OK and _finite(run.get("final_val_loss")):
        return min(float(run["final_val_loss"]), loss_init)
    return None


def lr_sensitivity(curve: dict[float, float]) -> float:
    """``mean_η c(η) − min_η c(η)`` of one seed's clipped curve ``{η: c(η)}``."""
    values = list(curve.values())
    return statistics.fmean(values) - min(values)


def max_stable_lr(runs: list[dict]) -> float | None:
    """The largest learning rate at which every run finished ``ok`` (failed runs excluded); None if there is none."""
    by_lr: dict[float, list[str]] = defaultdict(list)
    for run in runs:
        if run.get("status") != "failed":
            by_lr[float(run["lr"])].append(run.get("status"))
    stable = [lr for lr, statuses in by_lr.items() if all(s == OK for s in statuses)]
    return max(stable) if stable else None


def cell_summary(runs: list[dict]) -> dict[str, Any]:
    """Every number of the module docstring for the runs of one (regime, variant) cell."""
    loss_init = initial_loss(runs)
    lrs = sorted({float(r["lr"]) for r in runs})
    seeds = sorted({int(r["seed"]) for r in runs})
    summary: dict[str, Any] = {
        "lrs": lrs, "seeds": seeds, "runs": len(runs), "loss_init": loss_init,
        "collapsed": sum(r.get("status") == COLLAPSED for r in runs),
        "failed": sum(r.get("status") == "failed" for r in runs),
        "max_stable_lr": max_stable_lr(runs),
    }
    if loss_init is not None:
        sensitivities = []
        for seed in seeds:
            curve = {float(r["lr"]): c for r in runs if int(r["seed"]) == seed and (c := clipped_loss(r, loss_init)) is not None}
            if curve:
                sensitivities.append(lr_sensitivity(curve))
        summary["lr_sensitivity"], summary["lr_sensitivity_std"] = mean_std(sensitivities)
    ok_by_lr = {lr: [r for r in runs if float(r["lr"]) == lr and r.get("status") == OK and _finite(r.get("final_val_loss"))] for lr in lrs}
    complete = {lr: group for lr, group in ok_by_lr.items()
                if group and len(group) == sum(float(r["lr"]) == lr and r.get("status") != "failed" for r in runs)}
    best = min(complete, key=lambda lr: statistics.fmean(r["final_val_loss"] for r in complete[lr]), default=None)
    summary["best_lr"] = best
    group = complete.get(best, [])
    summary["best_val_loss"], summary["best_val_loss_std"] = mean_std([r["final_val_loss"] for r in group])
    for key in ("knowledge_acc", "reasoning_acc", "max_attn_logit", "max_log_z"):
        summary[f"best_{key}"] = mean_std([r[key] for r in group if _finite(r.get(key))])[0]
    initial = [r["initial"] for r in runs if r.get("initial")]
    for key in ("knowledge_acc", "reasoning_acc"):
        summary[f"initial_{key}"] = mean_std([i[key] for i in initial if _finite(i.get(key))])[0]
    summary["val_loss_by_lr"] = {str(lr): mean_std([r["final_val_loss"] for r in group_])[0] for lr, group_ in ok_by_lr.items()}
    # Runs that finished only: one that collapsed before its first probe (every diagnostics.every_n_steps) would
    # report the step-0 logits of a random init as its "largest".
    summary["max_attn_logit_by_lr"] = {
        str(lr): mean_std([r["max_attn_logit"] for r in group_ if _finite(r.get("max_attn_logit"))])[0] for lr, group_ in ok_by_lr.items()}
    return summary


def summarize(entries: dict[str, dict]) -> dict[str, dict[str, dict]]:
    """``{regime: {variant: cell_summary}}`` of every study entry (``regime`` null counts as ``scratch``)."""
    cells: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for entry in entries.values():
        cells[(entry.get("regime") or "scratch", entry["variant"])].append(entry)
    result: dict[str, dict[str, dict]] = defaultdict(dict)
    for (regime, variant), runs in sorted(cells.items()):
        result[regime][variant] = cell_summary(runs)
    return dict(result)
