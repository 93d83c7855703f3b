"""The localisation benchmark's confirmatory runner: a registered claim file (``tool: gates``) run as one
``python -m gates.localise`` on fresh seeds, and each claim's per-seed values (:mod:`benchmarks.confirm` drives it).

A cell is ``<method>/<mode>`` (``gates/hard``, ``random/hard``, ``none/none``: the unedited model); its metrics are
the benchmark's per-seed numbers at ``budget`` (:func:`gates.localise.report.per_seed`): ``forget_recall``,
``held_out_recall``, ``other_recall``, ``reasoning_acc``, the statements' recalls, and ``relearn/<attack>/<step>``,
forget recall after that many steps of an attack. Every method of a seed edits the same model and is graded on the
same facts, so a claim between two cells of one seed is paired. ``run`` holds the benchmark's keys (methods, modes,
budgets, relearn, …) as YAML; the seeds are the first n of the pool, n the largest of the claims' (the benchmark runs
every method on every seed). A rerun skips the finished seeds, as the benchmark does.
"""

import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

from gates.localise.report import METRICS, STATEMENTS, at_budget, per_seed
from gates.schema import BenchmarkConfig, RelearnConfig
from lab.claims.schema import Claim, ClaimFile, Side
from lab.config.errors import UserError
from lab.runs.artifacts import read_json
from lab.runs.children import die_with_parent

UNEDITED = "none/none"


def settings(cf: ClaimFile) -> dict[str, Any]:
    """The benchmark's keys the run sets, over the benchmark's defaults (:class:`gates.schema.BenchmarkConfig`)."""
    defaults = {f.name: getattr(BenchmarkConfig(), f.name) for f in fields(BenchmarkConfig)}
    relearn = {f.name: getattr(RelearnConfig(), f.name) for f in fields(RelearnConfig)} | dict(cf.run.get("relearn") or {})
    unknown = set(cf.run) - set(defaults)
    if unknown:
        raise UserError(f"claims {cf.name}: run has keys gates.localise.benchmark does not take: {', '.join(sorted(unknown))}")
    return defaults | dict(cf.run) | {"relearn": relearn}


def metrics(cfg: dict[str, Any]) -> list[str]:
    attacks, steps = cfg["relearn"]["attacks"], cfg["relearn"]["steps"]
    return [*METRICS, *STATEMENTS, *(f"relearn/{a}/{k}" for a in attacks for k in steps)]


def check_claims(cf: ClaimFile) -> None:
    """Refuse a cell whose method the run does not edit or a metric it does not grade (one line)."""
    cfg = settings(cf)
    cells = {UNEDITED, *(f"{m}/{mode}" for m in cfg["methods"] for mode in ("hard", "soft", "rank1"))}
    known = metrics(cfg)
    for claim in cf.claims:
        for side in (claim.a, claim.b):
            if side.cell not in cells:
                raise UserError(f"claims {cf.name}, claim {claim.id}: unknown cell {side.cell!r}; one of {UNEDITED} or "
                                f"<method>/<mode> with method in run.methods {list(cfg['methods'])}")
            if side.metric not in known:
                raise UserError(f"claims {cf.name}, claim {claim.id}: unknown metric {side.metric!r}; one of {', '.join(known)}")


def exploratory_seeds(cf: ClaimFile, root: Path) -> set[int]:
    return {int(s) for path in cf.exploratory for s in read_json(root / path)["rule"]["seeds"]}


def side_values(side: Side, seeds: list[int], results: list[dict], budget: float) -> list[float]:
    """One value per seed of ``seeds`` (in order) for ``side`` from the benchmark's per-seed results."""
    by_seed = {int(r["seed"]): r for r in at_budget(results, budget)}
    missing = [s for s in seeds if s not in by_seed]
    if missing:
        raise UserError(f"cell {side.cell}: no benchmark result for seeds {missing}")
    method, mode = side.cell.split("/")
    values = [per_seed([by_seed[s]], method, mode, side.metric) for s in seeds]
    if any(len(v) != 1 for v in values):
        raise UserError(f"cell {side.cell}, {side.metric}: not graded in every seed of {seeds}")
    return [v[0] for v in values]


def exploratory_values(cf: ClaimFile, claim: Claim, root: Path) -> tuple[list[float], list[float]]:
    report = read_json(root / cf.exploratory[0])
    seeds, budget = [int(s) for s in report["rule"]["seeds"]], float(report["rule"]["budget"])
    return (side_values(claim.a, seeds, report["per_seed"], budget), side_values(claim.b, seeds, report["per_seed"], budget))


def pool(seeds: dict[str, list[int]]) -> list[int]:
    return max(seeds.values(), key=len)


def hydra_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ",".join(f"'{v}'" if isinstance(v, str) and "=" in v else str(v) for v in value) + "]"
    return str(value)


def overrides(cf: ClaimFile, seeds: dict[str, list[int]], out: Path) -> list[str]:
    """``gates.localise.benchmark``'s overrides: the run's keys (``relearn.*`` one by one), the seeds and ``out``."""
    items = [f"{key}={hydra_value(value)}" for key, value in cf.run.items() if key != "relearn"]
    items += [f"relearn.{key}={hydra_value(value)}" for key, value in (cf.run.get("relearn") or {}).items()]
    return [*items, f"seeds={hydra_value(pool(seeds))}", f"out={out / 'benchmark'}"]


def run(cf: ClaimFile, seeds: dict[str, list[int]], out: Path) -> None:
    args = ["gates.localise.benchmark", *overrides(cf, seeds, out)]
    print("+ python -m " + " ".join(args), flush=True)
    done = subprocess.run([sys.executable, "-m", *args], check=False, preexec_fn=die_with_parent)
    if done.returncode:
        raise UserError(f"the confirmatory benchmark failed (exit {done.returncode}); rerun the same command to resume")


def confirmatory_values(cf: ClaimFile, claim: Claim, seeds: list[int], out: Path) -> tuple[list[float], list[float]]:
    folder = out / "benchmark"
    results = [read_json(path) for path in sorted(folder.glob("seed*.json"))]
    budget = float(settings(cf)["budget"])
    return side_values(claim.a, seeds, results, budget), side_values(claim.b, seeds, results, budget)


def plan_rows(cf: ClaimFile, seeds: dict[str, list[int]], options: dict[str, Any], runs: str) -> list[dict[str, Any]]:
    """:mod:`lab.plan`'s rows of the confirmatory benchmark (:func:`gates.localise.plan.benchmark_plan`)."""
    from hydra import compose

    from gates.localise.plan import benchmark_plan

    cfg = compose(config_name="gates_benchmark", overrides=[*overrides(cf, seeds, Path(runs) / "confirm" / cf.name), f"paths.runs={runs}"])
    return [{**row, "overrides": [f"confirm {cf.name}", *row["overrides"]]} for row in benchmark_plan(cfg, options)]
