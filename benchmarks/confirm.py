"""``python -m benchmarks.confirm`` (``make confirm``): the registered claims (``conf/claims/*.yaml``) tested on fresh seeds.

    python -m benchmarks.confirm --plan                 # each claim's seeds and power from the exploratory JSON; nothing runs
    python -m lab.plan --config-name confirm            # what the confirmatory jobs cost
    python -m benchmarks.confirm                        # run every claim file (resumable), then its verdicts
    python -m benchmarks.confirm --publish              # publish the finished runs into docs/ (runs nothing)
    python -m benchmarks.confirm --check                # exit 1 when a published block differs from its committed JSON

Exploration, then confirmation. A claim file (:mod:`lab.claims.schema`) is written and committed before its run: the
contrast (two cells and a metric of the tool), the test, the direction, α and a pool of fresh seeds, disjoint from
every seed of the exploratory results it names (checked). For each claim the number of seeds is the power rule's
(:mod:`lab.claims.power`) at the exploratory effect and spread. The run starts only from a committed, unchanged file
(:mod:`lab.claims.registration`) and records that commit and the file's SHA-256 in ``<out>/<name>/registration.json``;
the tool's runner (:data:`RUNNERS`: :mod:`ablations.confirm`, :mod:`gates.localise.confirm`) runs only what the claims
need, and a rerun resumes. Each claim's verdict (:mod:`lab.claims.verdict`): the effect with its 95 % interval, the
one-sided p in the registered direction, Holm across the file's claims, confirmed or not confirmed.
``<out>/<name>/confirm.json`` holds it all, with every per-seed value and the wall time. ``--publish`` refuses a
claim file that changed since the run started (exit 2), copies the JSON to ``docs/results/confirm/<name>.json`` and
rewrites the ``<!-- confirm:<name>:<block> -->`` blocks of README.md and docs/confirm.md; a claim that is not
confirmed is published as such.
"""

import argparse
import importlib
import os
import shutil
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from omegaconf import OmegaConf

from lab.claims.power import seeds_needed
from lab.claims.registration import check_unchanged, register
from lab.claims.schema import ClaimFile, load_claim_file
from lab.claims.verdict import paired_sensitivity, verdicts
from lab.config import PROJECT_ROOT, runs_root
from lab.config.errors import UserError, exit_on_user_error
from lab.report.families import holm
from lab.report.markers import rewrite_docs
from lab.runs.artifacts import read_json, write_json

ROOT = PROJECT_ROOT
CLAIMS = ROOT / "conf" / "claims"
RESULTS = ROOT / "docs" / "results" / "confirm"
DOCS = (ROOT / "README.md", ROOT / "docs" / "confirm.md")


RUNNERS = {"ablations": "ablations.confirm", "gates": "gates.localise.confirm"}  # a claim file's tool: its runner


def runner(cf: ClaimFile) -> ModuleType:
    """The tool's confirmatory runner (:data:`RUNNERS`)."""
    return importlib.import_module(RUNNERS[cf.tool])


def claim_path(name: str) -> Path:
    """``conf/claims/<name>.yaml``, or ``name`` itself when it is a path to a ``.yaml`` file."""
    path = Path(name) if name.endswith(".yaml") else CLAIMS / f"{name}.yaml"
    if not path.is_file():
        raise UserError(f"no claim file {path}; registered: {', '.join(p.stem for p in sorted(CLAIMS.glob('*.yaml')))}")
    return path


def prepare(path: Path, root: Path = ROOT) -> tuple[ClaimFile, ModuleType, dict[str, dict], dict[str, list[int]]]:
    """The checked claim file, its runner, each claim's power record and its seeds (the first n of the pool)."""
    cf = load_claim_file(path)
    tool = runner(cf)
    tool.check_claims(cf)
    reused = sorted(set(cf.seed_pool) & tool.exploratory_seeds(cf, root))
    if reused:
        raise UserError(f"{path}: seed_pool reuses exploratory seeds {reused}; a confirmatory run needs fresh seeds")
    alpha = cf.alpha / len(cf.claims)  # Holm's first step: the power is a lower bound
    power = {c.id: seeds_needed(*tool.exploratory_values(cf, c, root), c.test == "paired", c.direction, cf.power, alpha)
             for c in cf.claims}
    return cf, tool, power, {cid: list(cf.seed_pool[: p["n"]]) for cid, p in power.items()}


def power_table(cf: ClaimFile, power: dict[str, dict]) -> str:
    lines = [f"claims {cf.name}: one-sided α per claim {cf.alpha / len(cf.claims):.4g} (Holm's first step), target power {cf.power.target:.0%}",
             f"{'claim':<40} {'effect':>10} {'sd a':>8} {'sd b':>8} {'sd a−b':>8} {'seeds':>5} {'power':>6}"]
    for c in cf.claims:
        p, e = power[c.id], power[c.id]["exploratory"]
        diff = "–" if e["sd_difference"] is None else f"{e['sd_difference']:.3g}"
        lines.append(f"{c.id:<40} {e['effect']:>10.4g} {e['sd_a']:>8.3g} {e['sd_b']:>8.3g} {diff:>8} {p['n']:>5} {p['power']:>6.2f}")
    return "\n".join(lines)


def reference_models(runs: Path) -> dict[str, str]:
    """``{path: SHA-256}`` of every reference model under ``<runs>/reference`` (the tiny reference the surgery
    regime and the localisation benchmark start from): which model a run's seeds all shared."""
    from lab.claims.registration import sha256

    return {str(p.relative_to(runs)): sha256(p) for p in sorted((Path(runs) / "reference").rglob("model.safetensors"))}


def confirm(path: Path, out_root: Path) -> dict[str, Any]:
    """Run (or resume) one claim file's confirmatory run and write ``<out_root>/<name>/confirm.json``."""
    cf, tool, power, seeds = prepare(path)
    out = out_root / cf.name
    registration = register(path)
    recorded = out / "registration.json"
    if recorded.is_file():
        earlier = read_json(recorded)
        if earlier["sha256"] != registration["sha256"]:
            raise UserError(f"{out} holds a run of another registration of {path.name} (sha {earlier['sha256'][:12]}): "
                            "give a new --out for the changed claims")
        registration = earlier
    else:
        write_json(recorded, registration)
    print(power_table(cf, power), flush=True)
    started = time.monotonic()
    tool.run(cf, seeds, out)
    values = {c.id: tool.confirmatory_values(cf, c, seeds[c.id], out) for c in cf.claims}
    walls = [*(read_json(out / "confirm.json").get("wall_times_s", []) if (out / "confirm.json").is_file() else []),
             time.monotonic() - started]
    result = {"name": cf.name, "tool": cf.tool, "registration": registration,
              "claim_file": OmegaConf.to_container(OmegaConf.structured(cf)), "power": power, "seeds": seeds,
              "verdicts": verdicts(cf, values), "wall_times_s": walls, "cpu_count": os.cpu_count(),
              "reference_models": reference_models(Path(runs_root()))}
    write_json(out / "confirm.json", result)
    return result


def restate(result: dict[str, Any]) -> list[dict[str, Any]]:
    """A published run's verdicts recomputed from its per-seed values and its registered claims."""
    cf = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(ClaimFile), result["claim_file"]))
    return verdicts(cf, {row["id"]: (row["a"]["values"], row["b"]["values"]) for row in result["verdicts"]})  # type: ignore[arg-type]


def number(value: float | None, spec: str = ".3g") -> str:
    return "–" if value is None else format(value, spec)


def blocks(result: dict[str, Any]) -> dict[str, str]:
    """``table`` (docs/confirm.md): every claim with its test, seeds, power, effect and verdict; ``readme``: a line each."""
    rows = restate(result)
    sensitivity = {row["id"]: row for row in paired_sensitivity(rows, result["claim_file"]["alpha"])}
    reg = result["registration"]
    scale, unit = (100, " points") if result["tool"] == "gates" else (1, "")  # the benchmark's metrics are rates: in points
    minutes = sum(result["wall_times_s"]) / 60
    intro = (f"Claims `{result['name']}` ([conf/claims/{result['name']}.yaml](../conf/claims/{result['name']}.yaml)), registered at "
             f"commit `{reg['commit'][:12]}` ({reg['committed_at']}) before the run started ({reg['run_started_at']}); fresh seeds; "
             f"one-sided tests in the registered direction, Holm across the file's {len(rows)} claims at α = "
             f"{result['claim_file']['alpha']}; effect = a − b{' (in points: rates × 100)' if unit else ''} with its two-sided 95 % interval "
             "(Welch, or paired t). The last column, not registered, pairs every claim's two sides by seed (a sensitivity check). "
             f"Wall time {minutes:.0f} min on {result['cpu_count']} CPU cores."
             + (f" Code at `{reg['code_commit'][:12]}`{' with uncommitted changes' if reg.get('code_dirty') else ''}." if reg.get("code_commit") else ""))
    lines = ["| claim | a − b | test | seeds (nominal power at the exploratory point estimates) | effect [95 %] | p (one-sided) | Holm p "
             "| verdict | paired by seed (not registered): Holm p |", "|---|---|---|---|---|---|---|---|---|"]
    readme = []
    for row in rows:
        r, p = row["result"], result["power"][row["id"]]
        ci = f"[{number(scale * r['ci'][0])}, {number(scale * r['ci'][1])}]" if r["ci"] else "(n < 2)"
        effect = f"{number(scale * r['mean'])}{unit}" if r["mean"] is not None else "–"
        verdict = "**confirmed**" if row["confirmed"] else "**not confirmed**"
        lines.append(f"| {row['id']}: {row['statement']} | {row['a']['cell']} {row['a']['metric']} − {row['b']['cell']} {row['b']['metric']} "
                     f"| {row['test']}, {row['direction']} | {len(row['a']['values'])} ({p['power']:.2f}) | {effect} {ci} "
                     f"| {number(r['p_one_sided'], '.2g')} | {number(row['p_holm'], '.2g')} | {verdict} "
                     f"| {number(sensitivity[row['id']]['p_holm'], '.2g')}{'' if sensitivity[row['id']]['confirmed'] else ' (not confirmed)'} |")
        fragile = row["confirmed"] and not sensitivity[row["id"]]["confirmed"]
        readme.append(f"- {verdict}: {row['statement']} (effect {effect} {ci}, Holm p {number(row['p_holm'], '.2g')}, "
                      f"{len(row['a']['values'])} fresh seeds; claim `{row['id']}`"
                      + ("; not confirmed when its seeds are paired, a sensitivity check" if fragile else "") + ")")
    return {"table": intro + "\n\n" + "\n".join(lines), "readme": "\n".join(readme)}


def overall(results: list[dict[str, Any]]) -> str:
    """One sentence: Holm's correction across every claim of every published file together (each file was registered
    as its own family; this says what a reader who takes all of them as one family gets)."""
    rows = [(result["name"], row) for result in results for row in restate(result)]
    if not rows:
        return "No confirmatory run is published."
    p_values = [1.0 if row["result"]["p_one_sided"] is None else row["result"]["p_one_sided"] for _, row in rows]
    alpha = min(result["claim_file"]["alpha"] for result in results)
    adjusted = holm(p_values)
    worst = max(range(len(rows)), key=lambda i: adjusted[i])
    return (f"Across all {len(rows)} registered claims of the {len(results)} files as one family (Holm at α = {alpha}): "
            f"{sum(p <= alpha for p in adjusted)} confirmed; the largest adjusted p is {adjusted[worst]:.2g} (claim "
            f"`{rows[worst][1]['id']}` of `{rows[worst][0]}`).")


def published() -> dict[str, Path]:
    return {path.stem: path for path in sorted(RESULTS.glob("*.json"))}


def update_docs(check: bool = False) -> list[Path]:
    results = {name: read_json(path) for name, path in published().items()}
    rendered = {(name, block): body for name, result in results.items() for block, body in blocks(result).items()}
    rendered[("all", "summary")] = overall(list(results.values()))
    return rewrite_docs(DOCS, "confirm", rendered, lambda name, block: f"marker confirm:{name}:{block} has no published run", check)


def publish(result_paths: list[Path]) -> list[Path]:
    """Copy finished runs' JSON under docs/results/confirm (refused, before anything is copied, when a claim file
    changed since its run started) and rewrite the docs' blocks once."""
    results = {path: read_json(path) for path in result_paths}
    for result in results.values():
        check_unchanged(claim_path(result["name"]), result["registration"])
    RESULTS.mkdir(parents=True, exist_ok=True)
    for path, result in results.items():
        shutil.copyfile(path, RESULTS / f"{result['name']}.json")
    return update_docs()


def plan_composite(cfg: Any, options: dict[str, Any]) -> list[dict[str, Any]]:
    """:mod:`lab.plan`'s rows for ``conf/confirm.yaml``: each claim file's jobs, priced by its tool."""
    rows = []
    for name in cfg.claims:
        cf, tool, _, seeds = prepare(claim_path(str(name)))
        rows += tool.plan_rows(cf, seeds, options, str(cfg.paths.runs))
    return rows


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.confirm", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--claims", nargs="+", default=None, help="claim files of conf/claims by name, or paths to .yaml files "
                        "(default: all of conf/claims)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "confirm", help="where the runs go (one folder per claim file)")
    parser.add_argument("--plan", action="store_true", help="print each claim's seeds and power; run nothing")
    parser.add_argument("--publish", action="store_true", help="publish each finished run into docs/, running nothing (refused "
                        "if its claims changed since the run started)")
    parser.add_argument("--docs", action="store_true", help="rewrite the blocks from the committed JSONs (make docs)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a block differs from its committed JSON")
    args = parser.parse_args(argv)
    if args.docs or args.check:
        stale = update_docs(check=args.check)
        for doc in stale:
            print(f"{'stale' if args.check else 'rewritten'}: {doc}")
        return 1 if args.check and stale else 0
    names = args.claims or [p.stem for p in sorted(CLAIMS.glob("*.yaml"))]
    if args.publish:
        finished = [args.out.resolve() / name / "confirm.json" for name in names]
        missing = [str(path) for path in finished if not path.is_file()]
        if missing:
            raise UserError(f"no finished confirmatory run at {', '.join(missing)}: run `make confirm` first")
        for doc in publish(finished):
            print(f"rewritten: {doc}")
        return 0
    for name in names:
        path = claim_path(name)
        if args.plan:
            cf, _, power, _ = prepare(path)
            print(power_table(cf, power))
            continue
        result = confirm(path, args.out.resolve())
        for row in result["verdicts"]:
            print(f"{row['id']}: {'confirmed' if row['confirmed'] else 'not confirmed'} (Holm p {number(row['p_holm'], '.2g')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
