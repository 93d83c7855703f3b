"""Gate 3's benchmark over seeds: :mod:`vindex.gate3_benchmark` on one reference model per seed, at each neuron count
declared before the run, summarised over the seeds and published between markers.

    python -m vindex.gate3_seeds --sources R0 R1 R2 --seeds 0 1 2 --neurons 1 32 --out runs/gate3_seeds [--publish]
    python -m vindex.gate3_seeds --check        # exit 1 when a published block differs from the committed JSON

For seed s (reference R_s) and neuron count n: ``python -m vindex.gate3_benchmark source=R_s gate3.num_neurons=n
out=<out>/seed<s>_n<n>`` (every capital fact of the bundled corpus, the layer rule ``top_contributor``, PASS at a
drop ≥ 70 % with the drawn control's collateral ≤ 30 %); a finished one is reused. Per seed: the pass rate, the mean
drop and the mean collateral on every other fact, each a mean over the facts. Over seeds: the mean of those and its
95 % Student-t interval (:func:`lab.report.intervals.stat`), recomputed from the per-seed values when the blocks are
written (:func:`restate`).
``--publish`` copies the summary to ``docs/results/gate3/seeds.json`` and rewrites the ``<!-- gate3:seeds:<block> -->``
blocks of docs/vindex.md and README.md.
"""

import argparse
import subprocess
import sys
from pathlib import Path

from lab.config import PROJECT_ROOT
from lab.config.errors import UserError, exit_on_user_error
from lab.report.intervals import stat
from lab.report.markers import rewrite_docs
from lab.runs.artifacts import read_json, write_json
from lab.runs.children import die_with_parent

ROOT = PROJECT_ROOT
PUBLISHED = ROOT / "docs" / "results" / "gate3" / "seeds.json"
DOCS = (ROOT / "README.md", ROOT / "docs" / "vindex.md")
KEYS = ("pass_rate", "drop", "collateral_mean")


def run_one(source: str, neurons: int, out: Path, overrides: list[str] = ()) -> dict:
    """``gate3_benchmark.json`` of one reference at one neuron count (run unless ``out`` holds it); the paths are
    quoted for Hydra (a sweep's folders hold ``=``)."""
    result = out / "gate3_benchmark.json"
    if not result.is_file():
        args = [sys.executable, "-m", "vindex.gate3_benchmark", f"source='{source}'", f"gate3.num_neurons={neurons}", f"out='{out}'",
                *overrides]
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out.with_suffix(".log"), "w") as log:
            if subprocess.run(args, stdout=log, stderr=subprocess.STDOUT, check=False, preexec_fn=die_with_parent).returncode != 0:
                raise UserError(f"vindex.gate3_benchmark failed for {source} at {neurons} neurons; see {out.with_suffix('.log')}")
    return read_json(result)


def summarize(per_run: dict[tuple[int, int], dict], seeds: list[int], neurons: list[int], sources: list[str]) -> dict:
    """Per neuron count: each seed's means over the facts, and their mean and interval over the seeds."""
    rows = []
    for n in neurons:
        runs = [per_run[(s, n)] for s in seeds]
        per_seed = {key: [r["summary"][key]["mean"] for r in runs] for key in KEYS}
        rows.append({"num_neurons": n, "facts": runs[0]["summary"]["facts"], "layer_rule": runs[0]["layer_rule"],
                     **{key: stat(values) for key, values in per_seed.items()}, "per_seed": per_seed,
                     "layers": [r["summary"]["layers"] for r in runs]})
    return {"seeds": seeds, "sources": sources, "relation": per_run[(seeds[0], neurons[0])]["relation"],
            "template": per_run[(seeds[0], neurons[0])]["template"], "criteria": per_run[(seeds[0], neurons[0])]["criteria"],
            "rows": rows}


def restate(report: dict) -> dict:
    """The committed summary with each row's statistics recomputed from its per-seed values (the current intervals)."""
    for row in report["rows"]:
        row.update({key: stat(values) for key, values in row["per_seed"].items()})
    return report


def pct(value: dict) -> str:
    low, high = value["ci"] or (value["mean"], value["mean"])
    return f"{100 * value['mean']:.1f} [{100 * low:.1f}, {100 * high:.1f}]"


def tables(report: dict) -> dict[str, str]:
    """``table`` for docs/vindex.md; ``readme`` for README.md."""
    n, facts = len(report["seeds"]), report["rows"][0]["facts"]
    criteria = report["criteria"]
    intro = (f"Gate 3 on every {report['relation']} fact ({facts}, prompt `{report['template']}`), layer rule "
             f"`{report['rows'][0]['layer_rule']}`, {n} seeds (one reference each); PASS: drop ≥ {criteria['min_drop']:.0%} "
             f"and the drawn control's collateral ≤ {criteria['max_collateral']:.0%}. Mean over the facts per seed, then the "
             f"mean [95 % Student-t interval] over the {n} seeds, in %. Exploratory.")
    lines = ["| `gate3.num_neurons` | pass rate (mean [95 % t] over seeds) | drop | collateral on every other fact | pass rate per seed |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['num_neurons']} | {pct(r['pass_rate'])} | {pct(r['drop'])} | {pct(r['collateral_mean'])} | "
              + ", ".join(f"{100 * v:.1f}" for v in r["per_seed"]["pass_rate"]) + " |" for r in report["rows"]]
    readme = "; ".join(f"{r['num_neurons']} neuron{'s' if r['num_neurons'] > 1 else ''}: pass rate {pct(r['pass_rate'])} %, "
                       f"drop {pct(r['drop'])} %" for r in report["rows"])
    return {"table": intro + "\n\n" + "\n".join(lines),
            "readme": f"Gate 3 over every {report['relation']} fact, {n} seeds (mean [95 % Student-t interval]): {readme}."}


def update_docs(check: bool = False) -> list[Path]:
    """The docs whose blocks differ from the committed JSON (rewritten unless ``check``)."""
    blocks = {("seeds", name): body for name, body in tables(restate(read_json(PUBLISHED))).items()}
    return rewrite_docs(DOCS, "gate3", blocks, lambda name, block: f"marker gate3:{name}:{block} has no block", check)


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vindex.gate3_seeds", description=__doc__.splitlines()[0])
    parser.add_argument("--sources", nargs="+", default=[], help="one reference model (folder) per seed")
    parser.add_argument("--seeds", nargs="+", type=int, default=[], help="the seed of each source, in order")
    parser.add_argument("--neurons", nargs="+", type=int, default=[1, 32], help="gate3.num_neurons, declared before the run")
    parser.add_argument("--out", type=Path, help="where each run's vindex and gate3_benchmark.json go")
    parser.add_argument("--override", nargs="*", default=[], help="more overrides of every run (e.g. gate3.facts=<parquet>)")
    parser.add_argument("--publish", action="store_true", help="copy the summary to docs/results/gate3 and rewrite the docs' blocks")
    parser.add_argument("--check", action="store_true", help="exit 1 when a published block differs from the committed JSON")
    args = parser.parse_args(argv)
    if args.check:
        stale = update_docs(check=True)
        for doc in stale:
            print(f"stale: {doc}")
        return 1 if stale else 0
    if not args.sources or len(args.sources) != len(args.seeds) or args.out is None:
        raise UserError("give --out, and --sources with one --seeds value each")
    per_run = {(s, n): run_one(src, n, args.out / f"seed{s}_n{n}", args.override) for s, src in zip(args.seeds, args.sources, strict=True)
               for n in args.neurons}
    report = summarize(per_run, args.seeds, args.neurons, args.sources)
    write_json(args.out / "seeds.json", report)
    print(tables(report)["table"])
    if args.publish:
        write_json(PUBLISHED, report)
        for doc in update_docs():
            print(f"rewritten: {doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
