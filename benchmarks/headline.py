"""``python -m benchmarks.headline`` (``make headline``): the README's headline results, over seeds.

For each seed s (default 0, 1, 2), with the suite's own commands and defaults:

1. the main job, ``python -m ablations.train seed=s`` (``variant=original``, 1,200 steps at lr 4.5e-3, compiled),
   as one multirun into ``<out>/main``;
2. the tiny reference's recipe, ``python -m ablations.train experiment=tiny_reference seed=s`` (1,500 steps at
   lr 3e-3, eager), as one multirun into ``<out>/reference``: the model ``make gates`` and ``make vindex`` study;
3. lambda gates on that reference, ``python -m gates.train seed=s model.pretrained=<its finetuned stage>``, and
   ``python -m gates.evaluate modes=[hard] random_seeds=[s]``: fact recall and arithmetic with the 5 % of neurons
   whose gates are lowest masked, against as many random neurons per layer;
4. its vindex (built on first use), constants C1-C5 and Gate 3: ``python -m vindex.constants`` and
   ``python -m vindex.gate3 source=<the same stage>``.

A rerun skips the finished training runs (main jobs, references, gates) and the built vindexes; the evaluations
run again. Writes ``<out>/headline.json`` and ``<out>/headline.md``: each number as its mean with the 95 %
Student-t interval over the seeds (:func:`lab.report.intervals.stat`), the std and min-max, and the gates-minus-random
rows (paired by seed) with their p-values, Holm-corrected across those rows (one family), because CPU float results differ across machines (the same run gave 96.8 % recall on one machine
and 98.9 % on another). With ``--publish`` the JSON goes to ``docs/results/headline/headline.json`` and the
``<!-- headline:seeds:table -->`` block of docs/headline.md is rewritten from it; ``--check`` exits 1 when that
block differs from the committed JSON (the test suite runs it).
"""

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from ablations.layout import SUMMARY_FILE, finetuned_dir
from lab.config import PROJECT_ROOT
from lab.config.errors import UserError, exit_on_user_error
from lab.report.families import adjust, verdict
from lab.report.intervals import stat
from lab.report.markers import rewrite_docs
from lab.runs.artifacts import read_json, write_json
from lab.runs.children import die_with_parent
from lab.runs.processes import hydra_quoted

ROOT = PROJECT_ROOT
PUBLISHED = ROOT / "docs" / "results" / "headline" / "headline.json"
DOCS = (ROOT / "docs" / "headline.md",)


def run(args: list[str]) -> None:
    """``python -m <args>``; stops with the command's own exit status when it fails."""
    print("+ python -m " + " ".join(args), flush=True)
    done = subprocess.run([sys.executable, "-m", *args], check=False, preexec_fn=die_with_parent)
    if done.returncode:
        sys.exit(done.returncode)


def spread(values: list[float]) -> dict:
    """Mean, its 95 % Student-t interval over seeds (``ci``, None for one value) and p-value against 0, sample std (0
    for one value), min and max."""
    t = stat(values)
    return {"mean": t["mean"], "ci": t["ci"], "p": t["p"], "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values), "n": len(values)}


def training_results(entry: dict, prefix: str) -> dict[str, float]:
    """Wall time, final validation loss, fact recall and arithmetic of one training job's summary entry."""
    return {f"{prefix}/wall_time_min": entry["wall_time_s"] / 60, f"{prefix}/val_loss": entry["final_val_loss"],
            f"{prefix}/fact_recall": entry["knowledge_acc"], f"{prefix}/arithmetic": entry["reasoning_acc"]}


def seed_results(out: Path, seed: int, stage: Path) -> dict[str, float]:
    """The numbers of one seed: the main job's and the reference's entries, and on the reference (``stage``)
    its gates, its vindex constants and Gate 3."""
    gates_dir, vindex_dir = out / "gates" / f"seed={seed}", out / "vindex" / f"seed={seed}"
    stage_, gates_, vindex_ = (hydra_quoted(str(p)) for p in (stage, gates_dir, vindex_dir))  # "seed=0" in a path
    run(["gates.train", f"seed={seed}", f"model.pretrained={stage_}", "model.reference=null", "logger=none",
         f"hydra.run.dir={gates_}"])
    run(["gates.evaluate", f"gates_dir={gates_}", "modes=[hard]", f"random_seeds=[{seed}]"])
    for tool in ("vindex.constants", "vindex.gate3"):
        run([tool, f"source={stage_}", f"out={vindex_}"])
    gates = read_json(gates_dir / "gate_stats.json")
    mild = gates["selected_thresholds"][0]["threshold"]  # 5 % of the neurons below it
    rows = {r["selection"]: r for r in read_json(gates_dir / "evaluation" / "evaluation.json")["summary"]
            if r["mode"] == "hard" and r["threshold"] == mild}
    constants = read_json(vindex_dir / "constants.json")["summary"]
    gate3 = read_json(vindex_dir / "gate3.json")
    return {
        **training_results(read_json(out / "main" / SUMMARY_FILE)[f"original/seed={seed}"], "main"),
        **training_results(read_json(out / "reference" / SUMMARY_FILE)[f"original/seed={seed}"], "reference"),
        "gates/mean": gates["mean"], "gates/std": gates["std"], "gates/below_0.5": gates["knowledge_neurons_at_default"],
        # recall of the facts the gates never trained on (gates.facts): the forget relation's held-out half, the other relations
        "gates/5%_masked/held_out_recall": rows["gates"]["held_out_recall"], "random/5%_masked/held_out_recall": rows["random"]["held_out_recall"],
        "gates/5%_masked/other_relations": rows["gates"]["other_recall"], "random/5%_masked/other_relations": rows["random"]["other_recall"],
        "gates/5%_masked/arithmetic": rows["gates"]["reasoning_acc"], "random/5%_masked/arithmetic": rows["random"]["reasoning_acc"],
        **{f"vindex/{k}": float(v) for k, v in constants.items()},
        "gate3/drop": gate3["best"]["drop"], "gate3/collateral": gate3["best"]["collateral"], "gate3/passed": float(gate3["passed"]),
    }


def summary(per_seed: dict, seeds: list[int]) -> dict[str, dict]:
    """:func:`spread` of every result over ``seeds`` (``per_seed`` keyed by seed, ints or the JSON's strings), and of
    each gate metric's per-seed difference gates minus random neurons (``gates_minus_random/...``: paired by seed,
    both masks on the same reference)."""
    rows = [dict(per_seed.get(s) or per_seed[str(s)]) for s in seeds]
    for row in rows:
        for key in [k for k in row if k.startswith("gates/5%_masked/")]:
            row[key.replace("gates/", "gates_minus_random/", 1)] = row[key] - row[key.replace("gates/", "random/", 1)]
    table = {key: spread([row[key] for row in rows]) for key in rows[0]}
    adjust(value for key, value in table.items() if key.startswith("gates_minus_random/"))
    return table


FORMATS = {"main/fact_recall": ".1%", "main/arithmetic": ".1%", "reference/fact_recall": ".1%", "reference/arithmetic": ".1%",
           "reference/wall_time_min": ".1f", "gates/5%_masked/held_out_recall": ".1%", "random/5%_masked/held_out_recall": ".1%",
           "gates/5%_masked/other_relations": ".1%", "random/5%_masked/other_relations": ".1%", "gates/5%_masked/arithmetic": ".1%", "random/5%_masked/arithmetic": ".1%", "gates_minus_random/5%_masked/held_out_recall": ".1%", "gates_minus_random/5%_masked/other_relations": ".1%", "gates_minus_random/5%_masked/arithmetic": ".1%", "gate3/drop": ".1%", "gate3/collateral": ".1%",
           "gates/below_0.5": ".0f", "vindex/C5": ".2f", "main/wall_time_min": ".1f"}


def markdown(table: dict[str, dict], seeds: list[int]) -> str:
    """One row per result: mean [95 % t interval over seeds], std, min – max; the paired gates-minus-random rows with
    their raw and Holm-adjusted p (one family)."""
    lines = [f"Exploratory. Brackets: 95 % Student-t interval over seeds {', '.join(map(str, seeds))} (a rate's clipped to "
             "[0 %, 100 %]); `gates_minus_random` rows are paired by seed, and a difference is shown only after Holm's correction across those rows.", "",
             "| result | mean [95 % t] | std | min – max | p, Holm p (gates − random) |", "|---|---|---|---|---|"]
    for key, s in table.items():
        fmt = FORMATS.get(key, ".3f")
        if key == "gate3/passed":
            lines.append(f"| Gate 3 PASS (one prompt pair) | {round(s['mean'] * s['n'])} of {s['n']} seeds | | | |")
            continue
        low, high = s["ci"] or (None, None)
        if fmt.endswith("%") and not key.startswith("gates_minus_random/"):  # a rate: its interval clipped to [0, 1]
            low, high = (max(low, 0.0), min(high, 1.0)) if s.get("ci") else (low, high)
        ci = f" [{format(low, fmt)}, {format(high, fmt)}]" if s.get("ci") else ""
        tested = verdict(s) if "p_holm" in s else ""
        lines.append(f"| {key} | {format(s['mean'], fmt)}{ci} | {format(s['std'], fmt)} | {format(s['min'], fmt)} – {format(s['max'], fmt)} | {tested} |")
    return "\n".join(lines)


def update_docs(check: bool = False) -> list[Path]:
    """The docs whose ``headline`` blocks differ from the committed JSON (rewritten unless ``check``)."""
    if not PUBLISHED.is_file():
        raise UserError(f"no published headline at {PUBLISHED}: run python -m benchmarks.headline --publish")
    report = read_json(PUBLISHED)
    blocks = {("seeds", "table"): markdown(summary(report["per_seed"], report["seeds"]), report["seeds"])}
    return rewrite_docs(DOCS, "headline", blocks, lambda name, block: f"marker headline:{name}:{block} has no block", check)


@exit_on_user_error
def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.headline", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("runs/headline"))
    parser.add_argument("--publish", action="store_true", help="copy headline.json to docs/results/headline and rewrite docs/headline.md's block")
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/headline.md's block differs from the committed JSON")
    parser.add_argument("--docs", action="store_true", help="rewrite docs/headline.md's block from the committed JSON (make docs)")
    args = parser.parse_args(argv)
    if args.docs:
        for doc in update_docs():
            print(f"rewritten: {doc}")
        return 0
    if args.check:
        stale = update_docs(check=True)
        for doc in stale:
            print(f"stale: {doc}")
        return 1 if stale else 0
    out = args.out.resolve()
    seeds = f"seed={','.join(map(str, args.seeds))}"
    run(["ablations.train", "-m", seeds, f"hydra.sweep.dir={out / 'main'}"])
    run(["ablations.train", "-m", "experiment=tiny_reference", seeds, f"hydra.sweep.dir={out / 'reference'}"])
    per_seed = {seed: seed_results(out, seed, finetuned_dir(out / "reference", f"original/seed={seed}"))
                for seed in args.seeds}
    table = summary(per_seed, args.seeds)
    write_json(out / "headline.json", {"seeds": args.seeds, "per_seed": per_seed, "spread": table})
    text = markdown(table, args.seeds)
    (out / "headline.md").write_text(text + "\n")
    print(text)
    print(json.dumps({"wrote": str(out / "headline.md")}))
    if args.publish:
        write_json(PUBLISHED, read_json(out / "headline.json"))
        for doc in update_docs():
            print(f"rewritten: {doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
