"""``python -m ablations.study SWEEP_FOLDER``: the norm study's answer from a finished (or partial) study folder.

    python -m ablations.train experiment=norm_study study=quick          # the grid (make study STUDY=quick)
    python -m ablations.study runs/ablations/studies/quick               # this summary (make report RUN=...)

For each regime and variant (the numbers are defined in :mod:`ablations.study_metrics`): the best final
validation loss over the learning rates (mean ± std over seeds), the LR sensitivity, the largest LR at which
every seed finished, the collapsed runs, fact recall and arithmetic at the best LR, the post-surgery
(zero-shot) metrics and the diagnostics' largest attention logit. Writes into ``<folder>/report`` (or
``--out``), as ``make report`` and the sweep's own end do: ``study.json``, ``report.md``, ``lr_sweep.png`` (the main picture), ``attention_logits.png``
and ``surgery.png``, and logs the table to a W&B run (offline unless ``WANDB_MODE`` says otherwise).
"""

import argparse
import math
import os
from pathlib import Path

from ablations.layout import SUMMARY_FILE, finetuned_dir
from ablations.report import finished_runs
from ablations.study_metrics import OK, summarize
from ablations.study_plots import attention_logits, lr_sweep, surgery_accuracies
from lab.artifacts import atomic_write, read_json, write_json
from lab.config import WANDB_PROJECT
from lab.errors import UserError, exit_on_user_error
from lab.folder_kinds import FolderKind

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


def attention_curves(folder: Path, entries: dict[str, dict], regime: str, variants: tuple[str, ...] = ("original", "no_qk_norm"),
                     seed: int | None = None) -> tuple[float | None, dict[str, list[tuple[int, float]]]]:
    """``(lr, {variant: [(step, max attention logit)]})`` at the highest LR every named variant has a run of
    (``regime``, lowest seed), read from the runs' ``train_metrics.json``."""
    runs = {(e["variant"], float(e["lr"]), int(e["seed"])): name for name, e in entries.items()
            if (e.get("regime") or "scratch") == regime and e["variant"] in variants}
    seed = min((s for _, _, s in runs), default=0) if seed is None else seed
    common = [lr for lr in {lr for _, lr, _ in runs} if all((v, lr, seed) in runs for v in variants)]
    if not common:
        return None, {}
    lr = max(common)
    curves = {}
    for variant in variants:
        metrics = finetuned_dir(folder, runs[(variant, lr, seed)]) / "train_metrics.json"
        rows = read_json(metrics) if metrics.is_file() else []
        curves[variant] = [(r["step"], r["diag/attn_logit_max"]) for r in rows if "diag/attn_logit_max" in r]
    return lr, curves


def _fmt(value, spec: str = ".3f") -> str:
    return format(value, spec) if isinstance(value, (int, float)) and math.isfinite(value) else "–"


def _pm(mean, std) -> str:
    return f"{_fmt(mean)} ± {_fmt(std)}" if mean is not None else "–"


def top_lr_attn_logit(cell: dict) -> str:
    """The seed-mean of the largest attention logit of the finished runs at the grid's highest learning rate
    ("collapsed" when none finished there)."""
    if not cell.get("lrs"):
        return "–"
    value = cell["max_attn_logit_by_lr"].get(str(max(cell["lrs"])))
    return _fmt(value, ".3g") if value is not None else "collapsed"


def table(cells: dict[str, dict], regime: str) -> str:
    """The regime's markdown table, one row per variant."""
    zero_shot = regime == "surgery"
    head = ("| variant | best val loss (mean ± std) | at LR | LR sensitivity (mean ± std) | max stable LR | collapsed "
            "| fact recall | arithmetic | max attn logit (best LR / top LR) | ℓ_init |" + (" zero-shot recall | zero-shot arithmetic |" if zero_shot else ""))
    lines = [head, "|---" * (head.count("|") - 1) + "|"]
    for variant, c in sorted(cells.items()):
        row = (f"| {variant} | {_pm(c.get('best_val_loss'), c.get('best_val_loss_std'))} | {_fmt(c.get('best_lr'), 'g')} | "
               f"{_pm(c.get('lr_sensitivity'), c.get('lr_sensitivity_std'))} | {_fmt(c.get('max_stable_lr'), 'g')} | "
               f"{c['collapsed']}/{c['runs']} | {_fmt(c.get('best_knowledge_acc'), '.1%')} | {_fmt(c.get('best_reasoning_acc'), '.1%')} | "
               f"{_fmt(c.get('best_max_attn_logit'), '.3g')} / {top_lr_attn_logit(c)} | {_fmt(c.get('loss_init'))} |")
        if zero_shot:
            row += f" {_fmt(c.get('initial_knowledge_acc'), '.1%')} | {_fmt(c.get('initial_reasoning_acc'), '.1%')} |"
        lines.append(row)
    return "\n".join(lines)


def log_to_wandb(folder: Path, summary: dict[str, dict[str, dict]], out: Path) -> None:
    """One W&B run (job_type ``study``, group = the folder's name, files under ``out``) holding the summary as a table."""
    import wandb

    columns = ["regime", "variant", "best_val_loss", "best_val_loss_std", "best_lr", "lr_sensitivity", "lr_sensitivity_std",
               "max_stable_lr", "collapsed", "runs", "best_knowledge_acc", "best_reasoning_acc", "best_max_attn_logit", "loss_init",
               "initial_knowledge_acc", "initial_reasoning_acc"]
    rows = [[regime, variant, *[cell.get(c) for c in columns[2:]]] for regime, cells in summary.items() for variant, cell in cells.items()]
    run = wandb.init(project=WANDB_PROJECT, job_type="study", group=folder.name, name=f"study {folder.name}", dir=str(out),
                     mode=os.environ.get("WANDB_MODE", "offline"), reinit="create_new")
    run.log({"study/summary": wandb.Table(columns=columns, data=rows)})
    run.summary.update({f"study/{r[0]}/{r[1]}/{k}": v for r in rows for k, v in zip(columns[2:], r[2:], strict=True) if v is not None})
    run.finish()


def write_study(folder: str | Path, out: str | Path | None = None, wandb_log: bool = True) -> Path:
    """Compute the summary, write ``study.json``, the figures and ``report.md`` into ``out``; returns ``report.md``."""
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder")
    entries = load_entries(folder)
    summary = summarize(entries)
    out = Path(out) if out else folder / STUDY_DIR
    out.mkdir(parents=True, exist_ok=True)
    runs = list(entries.values())
    write_json(out / "study.json", {"folder": str(folder), "model": runs[0].get("model"), "runs": len(runs),
                                    "ok": sum(e["status"] == OK for e in runs), "summary": summary,
                                    "definitions": "ablations.study_metrics (LR sensitivity: Wortsman et al. 2023)"})
    lr_sweep(runs, summary, out / "lr_sweep.png")
    sections = [f"# Norm study: {folder.name}",
                f"{len(runs)} runs of model `{runs[0].get('model')}` from `{folder}`; {sum(e['status'] == OK for e in runs)} ok. "
                "Numbers as defined in `ablations/study_metrics.py`: LR sensitivity = mean over the LR grid of "
                "min(loss, ℓ_init) − best loss (a collapsed run counts as ℓ_init), per seed, then mean ± std over seeds.",
                "![final validation loss vs learning rate](lr_sweep.png)"]
    for regime, cells in summary.items():
        sections += [f"## {regime}", table(cells, regime)]
    regime = "scratch" if "scratch" in summary else next(iter(summary))
    lr, curves = attention_curves(folder, entries, regime)
    if curves:
        attention_logits(curves, lr, regime, out / "attention_logits.png")
        sections += ["## Attention-logit growth", "![max attention logit](attention_logits.png)"]
    if "surgery" in summary:
        surgery_accuracies(summary["surgery"], out / "surgery.png")
        sections += ["## Surgery: before and after", "![surgery accuracies](surgery.png)"]
    report = out / "report.md"
    atomic_write(report, lambda tmp: tmp.write_text("\n\n".join(sections) + "\n"))
    if wandb_log:
        log_to_wandb(folder, summary, out)
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
    args = parser.parse_args(argv)
    print(f"wrote {write_study(args.folder, args.out, wandb_log=not args.no_wandb)}")


if __name__ == "__main__":
    main()
