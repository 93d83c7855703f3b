"""The norm study's numbers (Wortsman et al. 2023, "Small-scale proxies for large-scale Transformer training
instabilities", section 2.3), from the run summaries of one cell of the grid: a regime, a variant, and the
study's other swept factors (a width, an intervention).

**One reference point for every variant.** ℓ₀ = ln V, the loss of the uniform predictor over the vocabulary
(Wortsman et al. use the loss at initialisation, which is ln V up to noise), in both regimes. No variant gets a
ceiling of its own: the loss right after a surgery is reported (``loss_after_surgery``, and per seed with an interval
in ``after_surgery``: :func:`after_surgery`) but bounds nothing.

For a seed s, its runs over the learning-rate grid η ∈ H give final validation losses ℓ_s(η). A run that
collapsed (non-finite loss or gradient) counts as no better than the uniform predictor:

- clipped loss            c_s(η) = min(ℓ_s(η), ℓ₀)                 (ℓ₀ for a collapsed run)
- best loss, best LR      ℓ*_s = min_η c_s(η),  η*_s = argmin_η c_s(η)
- **LR sensitivity**      S_s = 1/|H| · Σ_{η∈H} [c_s(η) − ℓ*_s]
- **above the best LR**   S⁺_s = 1/|H| · Σ_{η>η*_s} [c_s(η) − ℓ*_s]   (instability: too high a learning rate)
- **below the best LR**   S⁻_s = 1/|H| · Σ_{η<η*_s} [c_s(η) − ℓ*_s]   (under-training: too few steps for it)

so S_s = S⁺_s + S⁻_s. A seed none of whose runs gets below ℓ₀ (every η collapsed or ended no better than the
uniform predictor) has no best learning rate: its S is undefined, not 0 (the formula would give 0, "insensitive",
to a model that trains at no η of the grid). Such a seed is counted in ``untrained_seeds``; a cell with one shows
no S and gets no contrast, and its collapse counts are what it reports. H is the study's grid: every η any run of the regime has. A seed counts only when it has a
finished or collapsed run at every η of H (a failed run, an error rather than a divergence, and a run not yet
done leave the seed out, counted as incomplete), so cells are compared over the same learning rates.

**Intervals and claims.** Every number is kept per seed, and published as the mean over seeds with its 95 %
Student-t interval (:func:`lab.report.intervals.stat`). A difference between two cells (:func:`difference`) is
Welch's: the difference of their means, the seeds of each cell independent of the other's. Whether it is a
difference *shown* is decided across the table's family of contrasts with Holm's correction
(:mod:`ablations.study.families`), never by one interval. Fewer than 2 seeds: no interval ("n < 2").
:func:`cell_statistics` recomputes every interval from the per-seed values a cell keeps, so a committed
``study.json`` is restated with the current statistics by the publisher.

Besides:

- best final val loss: the η whose seed-mean loss is lowest among the η where every seed finished ``ok``, with
  the per-seed values there;
- max stable LR: the largest η at which every seed finished ``ok``; ``censored`` when that is the top of the
  grid (the grid did not find the limit: "≥ top of grid");
- collapsed: how many runs of the cell collapsed;
- the control of a cell (:func:`control_key`): the same cell with ``intervention=none`` for an intervention
  (``dyt=default`` for a DyT setting, ``dyt_sites=none`` for a set of DyT sites), else with ``variant=original``; each cell's Δ S against it.
"""

import math
import statistics
from collections import defaultdict
from typing import Any

from lab.report.intervals import difference, stat

OK, COLLAPSED, FAILED = "ok", "collapsed", "failed"
CONTROL_VARIANT = "original"
REFERENCE_OPTIONS = {"intervention": "none", "dyt": "default", "dyt_sites": "none"}  # a swept group's option that its other options are compared to
CELL_AXES = ("optimizer.lr", "seed", "variant", "regime")  # swept within or across cells; other swept keys are factors
PER_SEED = ("lr_sensitivity", "sensitivity_above", "sensitivity_below", "best_clipped_loss")


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def reference_loss(vocab_size: int) -> float:
    """ℓ₀ = ln V: the cross-entropy of the uniform distribution over ``vocab_size`` tokens."""
    return math.log(int(vocab_size))


def clipped_loss(run: dict, loss_ref: float) -> float | None:
    """c(η) of one run: ``min(final val loss, ℓ₀)``; ℓ₀ for a collapsed run; None for a failed or unfinished one."""
    if run.get("status") == COLLAPSED:
        return loss_ref
    if run.get("status") == OK and _finite(run.get("final_val_loss")):
        return min(float(run["final_val_loss"]), loss_ref)
    return None


def seed_sensitivity(curve: dict[float, float]) -> dict[str, float]:
    """S, S⁺, S⁻, ℓ* and η* of one seed's clipped curve ``{η: c(η)}`` (the module docstring's definitions)."""
    best_lr = min(curve, key=lambda lr: (curve[lr], lr))
    best = curve[best_lr]
    n = len(curve)
    above = sum(c - best for lr, c in curve.items() if lr > best_lr) / n
    below = sum(c - best for lr, c in curve.items() if lr < best_lr) / n
    return {"lr_sensitivity": above + below, "sensitivity_above": above, "sensitivity_below": below,
            "best_clipped_loss": best, "best_lr": best_lr}


def lr_sensitivity(curve: dict[float, float]) -> float:
    """S of one seed's clipped curve ``{η: c(η)}``."""
    return seed_sensitivity(curve)["lr_sensitivity"]


def max_stable_lr(runs: list[dict]) -> float | None:
    """The largest learning rate at which every run finished ``ok`` (failed runs excluded); None if there is none."""
    by_lr: dict[float, list[str]] = defaultdict(list)
    for run in runs:
        if run.get("status") != FAILED:
            by_lr[float(run["lr"])].append(run.get("status"))
    stable = [lr for lr, statuses in by_lr.items() if all(s == OK for s in statuses)]
    return max(stable) if stable else None


def _mean(values: list[Any]) -> float | None:
    finite = [float(v) for v in values if _finite(v)]
    return statistics.fmean(finite) if finite else None


def run_record(run: dict) -> dict[str, Any]:
    """What the study keeps of one run, enough to redraw every figure from ``study.json``."""
    keys = ("lr", "seed", "status", "final_val_loss", "max_attn_logit", "min_log_z", "max_log_z", "collapsed_at_step",
            "knowledge_acc", "reasoning_acc")
    return {k: run.get(k) for k in keys}


def after_surgery(runs: list[dict], seeds: list[int]) -> dict[str, dict]:
    """The surgery's own numbers (loss, fact recall and arithmetic right after it, and a fitted surgery's relative
    error) per seed, each the mean of that seed's runs (the LR does not enter them), then over seeds with a 95 %
    Student-t interval (the per-seed values kept as ``values``). A rule surgery gives every seed the same value; a fitted one (``replace_dyt_fit``) does not,
    since its calibration blocks are the first training blocks, and the training documents are shuffled by the seed."""
    def per_seed(value: Any) -> list[float]:
        means = [_mean([value(r) for r in runs if int(r["seed"]) == seed]) for seed in seeds]
        return [m for m in means if m is not None]

    initial = {key: per_seed(lambda r, k=key: (r.get("initial") or {}).get(k)) for key in ("loss", "knowledge_acc", "reasoning_acc")}
    initial["norm_fit_error"] = per_seed(lambda r: (r.get("norm_fit_error") or {}).get("mean"))
    return {key: stat(values) for key, values in initial.items() if values}


def cell_summary(runs: list[dict], grid: list[float] | None = None) -> dict[str, Any]:
    """Every number of the module docstring for the runs of one cell, over the LR ``grid`` (default: the cell's own)."""
    vocab = next((r["vocab_size"] for r in runs if r.get("vocab_size")), None)
    loss_ref = reference_loss(vocab) if vocab else None
    lrs = sorted(set(grid or ()) | {float(r["lr"]) for r in runs})
    seeds = sorted({int(r["seed"]) for r in runs})
    stable = max_stable_lr(runs)
    summary: dict[str, Any] = {
        "lrs": lrs, "seeds": seeds, "runs": len(runs), "vocab_size": vocab, "loss_ref": loss_ref,
        "collapsed": sum(r.get("status") == COLLAPSED for r in runs),
        "failed": sum(r.get("status") == FAILED for r in runs),
        "missing_lrs": sorted(set(lrs) - {float(r["lr"]) for r in runs if r.get("status") != FAILED}),
        "max_stable_lr": stable, "max_stable_lr_censored": stable is not None and bool(lrs) and stable == max(lrs),
        "non_embedding_params": next((r["non_embedding_params"] for r in runs if r.get("non_embedding_params")), None),
        "hidden_size": next((r["hidden_size"] for r in runs if r.get("hidden_size")), None),
        "loss_after_surgery": _mean([(r.get("initial") or {}).get("loss") for r in runs]),
        # a fitted surgery's relative error, mean over its sites and runs (replace_dyt_fit; lab.model.norms.dyt_fit)
        "norm_fit_error": _mean([(r.get("norm_fit_error") or {}).get("mean") for r in runs]),
        "norm_fit_error_max": max([(r.get("norm_fit_error") or {}).get("max") or 0.0 for r in runs], default=0.0) or None,
        "per_seed": {key: {} for key in PER_SEED}, "best_lr_per_seed": {}, "incomplete_seeds": [], "untrained_seeds": [],
    }
    if loss_ref is not None:
        for seed in seeds:
            mine = [r for r in runs if int(r["seed"]) == seed]
            curve = {float(r["lr"]): c for r in mine if (c := clipped_loss(r, loss_ref)) is not None}
            if set(curve) != set(lrs):
                summary["incomplete_seeds"].append(seed)
                continue
            result = seed_sensitivity(curve)
            if result["best_clipped_loss"] >= loss_ref:  # no η trains: no best LR, S undefined
                summary["untrained_seeds"].append(seed)
                continue
            for key in PER_SEED:
                summary["per_seed"][key][str(seed)] = result[key]
            summary["best_lr_per_seed"][str(seed)] = result["best_lr"]
    ok_by_lr = {lr: [r for r in runs if float(r["lr"]) == lr and r.get("status") == OK and _finite(r.get("final_val_loss"))] for lr in lrs}
    complete = {lr: group for lr, group in ok_by_lr.items()
                if group and len(group) == sum(float(r["lr"]) == lr and r.get("status") != FAILED for r in runs)}
    best = min(complete, key=lambda lr: statistics.fmean(r["final_val_loss"] for r in complete[lr]), default=None)
    summary["best_lr"] = best
    group = complete.get(best, [])
    for key in ("knowledge_acc", "reasoning_acc", "max_attn_logit", "min_log_z", "max_log_z"):
        summary[f"best_{key}"] = _mean([r.get(key) for r in group])
    initial = [r["initial"] for r in runs if r.get("initial")]
    for key in ("knowledge_acc", "reasoning_acc"):
        summary[f"initial_{key}"] = _mean([i.get(key) for i in initial])
    if initial:
        summary["after_surgery"] = after_surgery(runs, seeds)
    summary["val_loss_by_lr"] = {str(lr): _mean([r["final_val_loss"] for r in group_]) for lr, group_ in ok_by_lr.items()}
    # Runs that finished only: one that collapsed before its first probe would report a random init's logits.
    summary["max_attn_logit_by_lr"] = {str(lr): _mean([r.get("max_attn_logit") for r in group_]) for lr, group_ in ok_by_lr.items()}
    summary["run_records"] = sorted((run_record(r) for r in runs), key=lambda r: (float(r["lr"]), int(r["seed"])))
    return cell_statistics(summary)


def cell_statistics(cell: dict[str, Any]) -> dict[str, Any]:
    """The cell's seed statistics from what it keeps per seed, with the current intervals: S, S⁺, S⁻ and ℓ* from
    ``per_seed`` (none while a seed trains at no LR), the best val loss from the run records at ``best_lr``, and the
    after-surgery numbers from their ``values``. Updates ``cell`` and returns it."""
    for key in PER_SEED:
        cell[key] = stat([] if cell["untrained_seeds"] else list(cell["per_seed"][key].values()))
    best = cell.get("best_lr")
    cell["best_val_loss"] = stat([float(r["final_val_loss"]) for r in cell["run_records"] if best is not None
                                  and float(r["lr"]) == float(best) and r.get("status") == OK and _finite(r.get("final_val_loss"))])
    if cell.get("after_surgery"):
        cell["after_surgery"] = {key: stat(value["values"]) for key, value in cell["after_surgery"].items()}
    return cell


def factors_of(entry: dict) -> dict[str, str]:
    """The entry's swept values other than the cell axes (e.g. ``{"width": "128"}``), as strings."""
    return {k: str(v) for k, v in sorted((entry.get("swept") or {}).items()) if k not in CELL_AXES}


def cell_name(variant: str, factors: dict[str, str]) -> str:
    """``variant`` or ``variant [width=128, ...]``: a cell's key in the summary and its row label."""
    return variant + (f" [{', '.join(f'{k}={v}' for k, v in sorted(factors.items()))}]" if factors else "")


def control_key(variant: str, factors: dict[str, str]) -> tuple[str, dict[str, str]] | None:
    """The control of a cell: the same variant with the factor's reference option (``intervention=none``,
    ``dyt=default``: :data:`REFERENCE_OPTIONS`), else ``original`` with the same factors; None for a control itself."""
    for factor, reference in REFERENCE_OPTIONS.items():
        if factors.get(factor, reference) != reference:
            return variant, {**factors, factor: reference}
    if variant != CONTROL_VARIANT:
        return CONTROL_VARIANT, factors
    return None


def add_contrasts(cells: dict[str, dict]) -> None:
    """Each cell's ``vs_control``: Δ S (and Δ S⁺, Δ S⁻, Δ ℓ*) against its control, with Welch intervals."""
    for cell in cells.values():
        key = control_key(cell["variant"], cell["factors"])
        control = cells.get(cell_name(*key)) if key else None
        if control is None:
            continue
        cell["control"] = cell_name(*key)
        if cell["untrained_seeds"] or control["untrained_seeds"]:  # an undefined S has no difference
            continue
        cell["vs_control"] = {metric: difference(list(cell["per_seed"][metric].values()), list(control["per_seed"][metric].values()))
                              for metric in ("lr_sensitivity", "sensitivity_above", "sensitivity_below", "best_clipped_loss")}


def summarize(entries: dict[str, dict]) -> dict[str, dict[str, dict]]:
    """``{regime: {cell name: cell_summary}}`` of every study entry (``regime`` null counts as ``scratch``)."""
    cells: dict[tuple[str, str], list[dict]] = defaultdict(list)
    meta: dict[tuple[str, str], tuple[str, dict]] = {}
    for entry in entries.values():
        factors = factors_of(entry)
        key = (entry.get("regime") or "scratch", cell_name(entry["variant"], factors))
        cells[key].append(entry)
        meta[key] = (entry["variant"], factors)
    grids: dict[str, set[float]] = defaultdict(set)
    for (regime, _), runs in cells.items():
        grids[regime] |= {float(r["lr"]) for r in runs}
    result: dict[str, dict[str, dict]] = defaultdict(dict)
    for (regime, name), runs in sorted(cells.items()):
        variant, factors = meta[(regime, name)]
        result[regime][name] = {"variant": variant, "factors": factors, **cell_summary(runs, sorted(grids[regime]))}
    for regime_cells in result.values():
        add_contrasts(regime_cells)
    return dict(result)
