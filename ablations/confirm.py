"""The norm study's confirmatory runner: the cells a registered claim file (``tool: ablations``) needs, run on fresh
seeds with the exploratory study's own protocol, and each claim's per-seed values (:mod:`benchmarks.confirm` drives
it).

A cell is ``<regime>/<variant>`` (``scratch/no_qk_norm``); its metrics are the study's per-seed numbers
(:mod:`ablations.study.metrics`): ``lr_sensitivity`` (S), ``sensitivity_above`` (S⁺), ``sensitivity_below`` (S⁻),
``best_clipped_loss`` (ℓ*), each over the registered LR grid ``run.lrs``, and ``clipped_loss@<lr>``: the final
validation loss at one LR, clipped at ℓ₀ = ln V (a collapsed run counts ℓ₀). A cell runs every LR of the grid when
one of its claims needs S, else only the LRs its claims name, on the first n seeds of the pool (n: the largest of its
claims'). The jobs are ``python -m ablations.train`` multiruns with ``run.overrides`` (the exploratory study's
protocol: ``experiment=norm_study study=default``) into ``<out>/<regime>``, one per (regime, LRs, seeds) group;
a rerun skips finished jobs, as every sweep does.
"""

import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from ablations.study.analysis import load_entries
from ablations.study.metrics import PER_SEED, cell_summary, clipped_loss
from lab.claims.schema import Claim, ClaimFile, Side
from lab.config import group_options
from lab.config.errors import UserError
from lab.runs.artifacts import read_json
from lab.runs.children import die_with_parent

REGIMES = ("scratch", "surgery")
AT_LR = "clipped_loss@"


def parse_cell(cell: str) -> tuple[str, str]:
    regime, _, variant = cell.partition("/")
    return regime, variant


def metric_lr(metric: str) -> float | None:
    """The LR of a ``clipped_loss@<lr>`` metric; None for the grid metrics."""
    return float(metric.removeprefix(AT_LR)) if metric.startswith(AT_LR) else None


def lrs_of(cf: ClaimFile) -> list[float]:
    return [float(lr) for lr in cf.run["lrs"]]


def check_claims(cf: ClaimFile) -> None:
    """Refuse a cell or metric this runner does not know, or a run section without its grid (one line each)."""
    if not cf.run.get("lrs") or not isinstance(cf.run.get("overrides", []), list):
        raise UserError(f"claims {cf.name}: run needs lrs (the LR grid) and overrides (a list)")
    variants = group_options("variant")
    for claim in cf.claims:
        for side in (claim.a, claim.b):
            regime, variant = parse_cell(side.cell)
            if regime not in REGIMES or variant not in variants:
                raise UserError(f"claims {cf.name}, claim {claim.id}: unknown cell {side.cell!r}; a cell is <regime>/<variant> with "
                                f"regime in {', '.join(REGIMES)} and variant in {', '.join(variants)}")
            try:
                lr = metric_lr(side.metric)
            except ValueError:
                lr = -1.0
            if side.metric not in PER_SEED and (lr is None or lr not in lrs_of(cf)):
                raise UserError(f"claims {cf.name}, claim {claim.id}: unknown metric {side.metric!r}; one of {', '.join(PER_SEED)} "
                                f"or {AT_LR}<lr> with lr in run.lrs {lrs_of(cf)}")


def exploratory_seeds(cf: ClaimFile, root: Path) -> set[int]:
    return {int(s) for path in cf.exploratory for cells in read_json(root / path)["summary"].values() for c in cells.values()
            for s in c["seeds"]}


def side_values(side: Side, seeds: list[int], cells: dict[str, dict[str, dict]]) -> list[float]:
    """One value per seed of ``seeds`` (in order) for ``side``, from summarised cells ``{regime: {variant: cell}}``."""
    regime, variant = parse_cell(side.cell)
    cell = cells.get(regime, {}).get(variant)
    if cell is None:
        raise UserError(f"no runs of cell {side.cell} where its values were looked for")
    lr = metric_lr(side.metric)
    if lr is None:
        found = cell["per_seed"][side.metric]
    else:
        found = {str(r["seed"]): c for r in cell["run_records"] if float(r["lr"]) == lr
                 and (c := clipped_loss(r, cell["loss_ref"])) is not None}
    missing = [s for s in seeds if str(s) not in found]
    if missing:
        raise UserError(f"cell {side.cell}, {side.metric}: no value for seeds {missing} (runs failed or incomplete)")
    return [float(found[str(s)]) for s in seeds]


def exploratory_values(cf: ClaimFile, claim: Claim, root: Path) -> tuple[list[float], list[float]]:
    """The claim's per-seed values in the first exploratory study (``cf.exploratory[0]``), over its seeds."""
    summary = read_json(root / cf.exploratory[0])["summary"]
    seeds = sorted({int(s) for cells in summary.values() for c in cells.values() for s in c["seeds"]})
    return side_values(claim.a, seeds, summary), side_values(claim.b, seeds, summary)


def jobs(cf: ClaimFile, seeds: dict[str, list[int]]) -> dict[tuple[str, tuple[float, ...], tuple[int, ...]], list[str]]:
    """``{(regime, lrs, seeds): [variants]}``: what the claims need (module docstring), grouped into multiruns."""
    need: dict[tuple[str, str], tuple[set[float], list[int]]] = {}
    for claim in cf.claims:
        for side in (claim.a, claim.b):
            key = parse_cell(side.cell)
            lrs, had = need.get(key, (set(), []))
            lr = metric_lr(side.metric)
            lrs |= set(lrs_of(cf)) if lr is None else {lr}
            need[key] = (lrs, max(had, seeds[claim.id], key=len))
    groups: dict[tuple, list[str]] = defaultdict(list)
    for (regime, variant), (lrs, pool) in sorted(need.items()):
        groups[(regime, tuple(sorted(lrs)), tuple(pool))].append(variant)
    return dict(groups)


def multirun_args(cf: ClaimFile, group: tuple[str, tuple[float, ...], tuple[int, ...]], variants: list[str], out: Path) -> list[str]:
    regime, lrs, pool = group
    return ["ablations.train", *cf.run.get("overrides", []), f"variant={','.join(variants)}",
            f"optimizer.lr={','.join(f'{lr:g}' for lr in lrs)}", f"seed={','.join(map(str, pool))}", f"regime={regime}",
            f"hydra.sweep.dir={out / regime}"]


def run(cf: ClaimFile, seeds: dict[str, list[int]], out: Path) -> None:
    """Every multirun of :func:`jobs` into ``out``, one after another; a job that failed stops here with its log."""
    for group, variants in jobs(cf, seeds).items():
        args = multirun_args(cf, group, variants, out)
        print("+ python -m " + " ".join(args), flush=True)
        done = subprocess.run([sys.executable, "-m", *args], check=False, preexec_fn=die_with_parent)
        if done.returncode:
            raise UserError(f"confirmatory jobs failed ({group[0]}: {', '.join(variants)}), exit {done.returncode}; "
                            f"rerun the same command to resume")


def summarised(cf: ClaimFile, out: Path) -> dict[str, dict[str, dict]]:
    """``{regime: {variant: cell_summary}}`` of the confirmatory runs in ``out``, over the registered grid."""
    cells: dict[str, dict[str, dict]] = {}
    for regime in REGIMES:
        if not (out / regime).is_dir():
            continue
        by_variant: dict[str, list[dict]] = defaultdict(list)
        for entry in load_entries(out / regime).values():
            by_variant[entry["variant"]].append(entry)
        cells[regime] = {v: cell_summary(runs, lrs_of(cf)) for v, runs in by_variant.items()}
    return cells


def confirmatory_values(cf: ClaimFile, claim: Claim, seeds: list[int], out: Path) -> tuple[list[float], list[float]]:
    cells = summarised(cf, out)
    return side_values(claim.a, seeds, cells), side_values(claim.b, seeds, cells)


def plan_rows(cf: ClaimFile, seeds: dict[str, list[int]], options: dict[str, Any], runs: str) -> list[dict[str, Any]]:
    """:mod:`lab.plan`'s rows of the confirmatory jobs, each multirun's grid priced as ``lab.plan`` prices a sweep (called
    inside its Hydra context, as a ``plan_composite``)."""
    from lab.plan import compose_jobs, expand_grid, gpu_hours, plan_job

    rows = []
    for group, variants in jobs(cf, seeds).items():
        args = [*multirun_args(cf, group, variants, Path(runs) / "confirm" / cf.name)[1:], f"paths.runs={runs}"]
        grid = expand_grid("train", args)
        for job, cfg in zip(grid, compose_jobs("train", grid), strict=True):
            entry = plan_job(cfg, options["gpus"])
            rows.append({"overrides": [f"confirm {cf.name}", *job], **entry, "gpu_hours": gpu_hours(entry["flops"], options["mfu"])})
    return rows
