"""``python -m ablations.study SWEEP_FOLDER``: the norm study's answer from a finished (or partial) study folder.

    python -m ablations.train experiment=norm_study study=quick          # the grid (make study STUDY=quick)
    python -m ablations.study runs/ablations/studies/quick               # this summary (make report RUN=...)
    python -m ablations.study runs/ablations/studies/default --publish   # and into docs/ (ablations.study.publish)

For each cell (regime, variant and the study's other swept factor; the numbers are defined in
:mod:`ablations.study.metrics`): the LR sensitivity against ℓ₀ = ln V and its parts above and below the best LR,
per seed and as a mean with a 95 % Student-t interval, its difference to the cell's control (Welch; and, for a
width sweep, how that difference changes with width: :mod:`ablations.study.trends`), each table's family
corrected by Holm (:mod:`ablations.study.families`), the best final
validation loss, the largest LR at which every seed finished, the collapsed runs, fact recall and arithmetic at
the best LR, the post-surgery (zero-shot) metrics, the largest attention logit, and for each collapsed run the
diagnostic that left its normal range first (:mod:`ablations.study.departures`). A folder whose runs differ in a
key the sweep does not vary is refused. Writes into ``<folder>/report`` (or ``--out``), as ``make report`` and
the sweep's own end do: ``study.json`` (everything the tables and figures need), ``report.md``, ``lr_sweep.png``
(the main picture), ``attention_logits.png``, ``surgery.png``, ``scaling.png`` for a width sweep, and logs the
table to a W&B run (offline unless ``WANDB_MODE`` says otherwise).
"""

import argparse
import os
from pathlib import Path

from omegaconf import OmegaConf

from ablations.layout import SUMMARY_FILE, finetuned_dir
from ablations.report import finished_runs
from ablations.study.departures import first_departure, normal_ranges
from ablations.study.families import DEFINITIONS, apply_families
from ablations.study.metrics import COLLAPSED, FAILED, OK, cell_name, factors_of, summarize
from ablations.study.plots import write_figures
from ablations.study.tables import study_blocks
from ablations.study.trends import study_trends
from lab.config import CONF_DIR, WANDB_PROJECT
from lab.config.errors import UserError, exit_on_user_error
from lab.runs.artifacts import atomic_write, check_writable, read_json, write_json
from lab.runs.folder_kinds import FolderKind
from lab.runs.identity import RUN_CONFIG_FILE, flatten

STUDY_DIR = "report"  # where make report puts every report too
REQUIRED = ("variant", "lr", "seed", "status")


def load_entries(folder: Path) -> dict[str, dict]:
    """The study's run entries; a folder holding no study (or mixing models) is a :class:`UserError`."""
    path = Path(folder) / SUMMARY_FILE
    if not path.is_file():
        raise UserError(f"{folder} holds no study: no {SUMMARY_FILE}; run one with `make study` "
                        "(python -m ablations.train experiment=norm_study)")
    entries = {name: e for name, e in read_json(path).items() if all(k in e for k in REQUIRED) and e.get("lr") is not None}
    if not entries:
        raise UserError(f"{folder} holds no study: none of its {SUMMARY_FILE} entries records variant, lr and seed "
                        "(written before the study existed?); run `make study`")
    models = sorted({str(e.get("model")) for e in entries.values()})
    if len(models) > 1:
        raise UserError(f"{folder} mixes models ({', '.join(models)}): a study compares variants of one model; "
                        "put each model's grid in its own folder")
    return entries


def group_keys(group: str) -> set[str]:
    """The config keys the options of a Hydra group set (``conf/<group>/*.yaml``; ``@package _global_`` files
    at the root, others under the group's node)."""
    keys: set[str] = set()
    for option in sorted((CONF_DIR / group).glob("*.yaml")):
        text = option.read_text()
        tree = OmegaConf.to_container(OmegaConf.load(option), resolve=False) or {}
        tree.pop("defaults", None)
        prefix = "" if "@package _global_" in text else group
        keys |= set(flatten(tree, prefix)) if tree else set()
    return keys


def allowed_to_differ(entries: dict[str, dict]) -> set[str]:
    """Keys the study's sweep may vary: its swept keys, and every key a swept group's options set."""
    swept = {k for e in entries.values() for k in (e.get("swept") or {})} | {"variant", "optimizer.lr", "seed"}
    allowed = set(swept)
    for key in swept:
        if (CONF_DIR / key).is_dir():
            allowed |= group_keys(key) | {key}
    return allowed


def check_one_config(folder: Path, entries: dict[str, dict]) -> None:
    """Refuse a folder whose runs differ in a key the sweep does not vary (one line naming the keys)."""
    allowed = allowed_to_differ(entries)
    values: dict[str, set[str]] = {}
    for name in entries:
        path = finetuned_dir(folder, name) / RUN_CONFIG_FILE
        if not path.is_file():
            continue
        for key, value in read_json(path).items():
            if not any(key == a or key.startswith(a + ".") for a in allowed):
                values.setdefault(key, set()).add(repr(value))
    keys = [k for k, v in values.items() if len(v) > 1]
    if keys:
        raise UserError(f"{folder} mixes configs: its runs differ in {', '.join(sorted(keys))}, which the study does not sweep; "
                        "a study compares runs that differ only in its swept keys: put each config in its own folder")


def run_rows(folder: Path, name: str) -> list[dict]:
    path = finetuned_dir(folder, name) / "train_metrics.json"
    return read_json(path) if path.is_file() else []


def departures(folder: Path, entries: dict[str, dict]) -> list[dict]:
    """Per collapsed run, the diagnostic that left its normal range first (:mod:`ablations.study.departures`),
    the range taken over the finished runs of the same regime and factors."""
    result = []
    for name, entry in sorted(entries.items()):
        if entry.get("status") != COLLAPSED:
            continue
        same = [n for n, e in entries.items() if e.get("status") == OK and (e.get("regime") or "scratch") == (entry.get("regime") or "scratch")
                and factors_of(e) == factors_of(entry)]
        ranges = normal_ranges([run_rows(folder, n) for n in same])
        result.append({"run": f"{entry.get('regime') or 'scratch'}: {name}", "cell": cell_name(entry["variant"], factors_of(entry)),
                       "collapsed_at_step": entry.get("collapsed_at_step"),
                       "first_departure": first_departure(run_rows(folder, name), ranges)})
    return result


def attention_curves(folder: Path, entries: dict[str, dict], regime: str, variants: tuple[str, ...] = ("original", "no_qk_norm"),
                     seed: int | None = None) -> tuple[float | None, dict[str, list[tuple[int, float]]]]:
    """``(lr, {variant: [(step, max attention logit)]})`` at the highest LR every named variant has a run of
    (``regime``, lowest seed, no other factor), read from the runs' ``train_metrics.json``."""
    runs = {(e["variant"], float(e["lr"]), int(e["seed"])): name for name, e in entries.items()
            if (e.get("regime") or "scratch") == regime and e["variant"] in variants and not factors_of(e)}
    seed = min((s for _, _, s in runs), default=0) if seed is None else seed
    common = [lr for lr in {lr for _, lr, _ in runs} if all((v, lr, seed) in runs for v in variants)]
    if not common:
        return None, {}
    lr = max(common)
    curves = {}
    for variant in variants:
        rows = run_rows(folder, runs[(variant, lr, seed)])
        curves[variant] = [(r["step"], r["diag/attn_logit_max"]) for r in rows if "diag/attn_logit_max" in r]
    return lr, curves


def log_to_wandb(folder: Path, summary: dict[str, dict[str, dict]], out: Path) -> None:
    """One W&B run (job_type ``study``, group = the folder's name, files under ``out``) holding the summary as a table."""
    import wandb

    columns = ["regime", "cell", "lr_sensitivity", "lr_sensitivity_ci_low", "lr_sensitivity_ci_high", "sensitivity_above",
               "sensitivity_below", "seeds", "best_val_loss", "best_lr", "max_stable_lr", "collapsed", "runs", "loss_ref", "loss_after_surgery"]
    rows = []
    for regime, cells in summary.items():
        for name, c in cells.items():
            ci = c["lr_sensitivity"]["ci"] or (None, None)
            rows.append([regime, name, c["lr_sensitivity"]["mean"], ci[0], ci[1], c["sensitivity_above"]["mean"], c["sensitivity_below"]["mean"],
                         c["lr_sensitivity"]["n"], c["best_val_loss"]["mean"], c.get("best_lr"), c.get("max_stable_lr"), c["collapsed"],
                         c["runs"], c.get("loss_ref"), c.get("loss_after_surgery")])
    run = wandb.init(project=WANDB_PROJECT, job_type="study", group=folder.name, name=f"study {folder.name}", dir=str(out),
                     mode=os.environ.get("WANDB_MODE", "offline"), reinit="create_new")
    run.log({"study/summary": wandb.Table(columns=columns, data=rows)})
    run.summary.update({f"study/{r[0]}/{r[1]}/{k}": v for r in rows for k, v in zip(columns[2:], r[2:], strict=True) if v is not None})
    run.finish()


def final_loss_evaluations(runs: list[dict]) -> dict:
    """``{"final_loss_evaluations": [n, ...]}``: the distinct numbers of last validations the runs' final losses average
    (``eval.final_loss_evaluations`` where a run held that many; fewer in a run that ended early, e.g. collapsed), where
    any run averaged more than its last; else nothing."""
    counts = sorted({int(e["val_loss_evaluations"]) for e in runs if e.get("val_loss_evaluations")})
    return {"final_loss_evaluations": counts} if counts else {}


def compute_study(folder: Path) -> dict:
    """``study.json``'s content for a study folder: the summary, the departures, the attention curves and counts."""
    entries = load_entries(folder)
    check_one_config(folder, entries)
    runs = list(entries.values())
    summary = summarize(entries)
    regime = "scratch" if "scratch" in summary else next(iter(summary))
    lr, curves = attention_curves(folder, entries, regime)
    return apply_families({"name": folder.name, "model": runs[0].get("model"), "runs": len(runs),
            "ok": sum(e["status"] == OK for e in runs), "collapsed": sum(e["status"] == COLLAPSED for e in runs),
            "failed": sum(e["status"] == FAILED for e in runs), "steps": max((int(e.get("steps") or 0) for e in runs), default=0),
            "summary": summary, "departures": departures(folder, entries),
            "attention": {"regime": regime, "lr": lr, "curves": curves},
            **study_trends(summary), **final_loss_evaluations(runs), "definitions": DEFINITIONS})


def report_markdown(study: dict, figures: list[Path]) -> str:
    """``report.md``: the generated blocks and the figures."""
    blocks = study_blocks(study)
    sections = [f"# Norm study: {study['name']}", blocks["tables"], *[f"![{p.stem}]({p.name})" for p in figures],
                "## First departures of the collapsed runs", blocks["departures"]]
    return "\n\n".join(sections) + "\n"


def write_study(folder: str | Path, out: str | Path | None = None, wandb_log: bool = True) -> Path:
    """Compute the study, write ``study.json``, the figures and ``report.md`` into ``out``; returns ``report.md``."""
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder")
    out = check_writable(Path(out) if out else folder / STUDY_DIR, "--out")  # before the runs are read
    study = compute_study(folder)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "study.json", study)
    figures = write_figures(study, out)
    report = out / "report.md"
    atomic_write(report, lambda tmp: tmp.write_text(report_markdown(study, figures)))
    if wandb_log:
        log_to_wandb(folder, study["summary"], out)
    return report


def is_study_folder(folder: Path) -> bool:
    """An ablation sweep whose runs record a regime (``experiment=norm_study``); ``python -m ablations.study`` also
    takes a plain sweep over learning rates, but ``make report`` gives that the ablation report."""
    path = Path(folder) / SUMMARY_FILE
    return path.is_file() and any(e.get("regime") and e.get("lr") is not None for e in read_json(path).values())


def study_report(folder: Path, out: Path) -> str:
    """The study summary as ``make report`` writes it (into ``out``)."""
    return write_study(folder, out).read_text()


FOLDER_KIND = FolderKind("study", "a norm study (runs with a regime: make study)", is_study_folder, study_report,
                         priority=10, members=finished_runs)


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ablations.study", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", help="a study folder (runs/ablations/studies/<name>)")
    parser.add_argument("--out", help=f"where to write (default: FOLDER/{STUDY_DIR})")
    parser.add_argument("--no-wandb", action="store_true", help="skip the W&B summary run")
    parser.add_argument("--publish", action="store_true",
                        help="also copy study.json into docs/results/norm_study/<name>/ and regenerate README.md and docs/ (make docs)")
    parser.add_argument("--replicates", metavar="NAME",
                        help="publish this folder as a rerun of the committed study NAME (docs/results/norm_study/NAME_replication), "
                             "compared with it conclusion by conclusion")
    parser.add_argument("--transfers-from", metavar="NAME",
                        help="publish this study with a comparison of its contrasts against the committed study NAME "
                             "(another corpus or horizon: which conclusions hold, flip or are not shown)")
    args = parser.parse_args(argv)
    if args.publish or args.replicates or args.transfers_from:
        from ablations.study.publish import check_publishable

        check_publishable()  # before the study is computed
    report = write_study(args.folder, args.out, wandb_log=not args.no_wandb)
    print(f"wrote {report}")
    if args.publish or args.replicates or args.transfers_from:
        from ablations.study.publish import publish_study

        for path in publish_study(report.parent / "study.json", replicates=args.replicates, transfers_from=args.transfers_from):
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
