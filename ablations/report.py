"""Report of an ablation run or sweep folder (``all_train_metrics.json`` + ``<run>_finetuned/train_metrics.json``).

Figures: the training loss of every variant against the optimizer step (validation loss as dashed markers;
a collapsed run ends in an ×, at its last finite loss, at the step it collapsed), the final train and
validation losses per variant, and the fact-recall / held-out-arithmetic accuracies per variant.
"""

import math
from pathlib import Path

from ablations.layout import SUMMARY_FILE, base_dir, finetuned_dir
from lab.report.plots import finish_figure, plt
from lab.runs.artifacts import read_json
from lab.runs.folder_kinds import FolderKind


def is_ablation_folder(folder: Path) -> bool:
    return (Path(folder) / SUMMARY_FILE).is_file()


def load_runs(folder: Path) -> dict[str, dict]:
    """``{run: {"entry": summary entry, "rows": train_metrics rows ([] if the run never finished)}}``."""
    runs = {}
    for name, entry in sorted(read_json(Path(folder) / SUMMARY_FILE).items()):
        metrics = finetuned_dir(folder, name) / "train_metrics.json"
        runs[name] = {"entry": entry, "rows": read_json(metrics) if metrics.is_file() else []}
    return runs


def swept_labels(runs: dict[str, dict]) -> list[str]:
    """The swept keys besides the variant, over every run's recorded ``swept`` values (never parsed from names)."""
    return sorted({k for run in runs.values() for k in (run["entry"].get("swept") or {}) if k != "variant"})


def run_label(name: str, entry: dict) -> str:
    """``variant`` alone, or ``variant (lr=0.03, seed=1)`` from the entry's recorded swept values."""
    swept = {k: v for k, v in (entry.get("swept") or {}).items() if k != "variant"}
    variant = entry.get("variant") or name
    return f"{variant} ({', '.join(f'{k.rsplit(chr(46), 1)[-1]}={v}' for k, v in sorted(swept.items()))})" if swept else variant


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def loss_curves(runs: dict[str, dict], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(8, 5))
    for i, (name, run) in enumerate(runs.items()):
        color = f"C{i % 10}"
        train = [(r["step"], r["train/loss"]) for r in run["rows"] if _finite(r.get("train/loss"))]
        val = [(r["step"], r["val/loss"]) for r in run["rows"] if _finite(r.get("val/loss"))]
        if train:
            ax.plot(*zip(*train, strict=True), color=color, linewidth=1,
                    label=f"{run_label(name, run['entry'])} ({run['entry'].get('status')})")
        if val:
            ax.plot(*zip(*val, strict=True), "o--", color=color, markersize=4, linewidth=0.8)
        step, loss = run["entry"].get("collapsed_at_step"), run["entry"].get("last_finite_train_loss")
        if step is not None and _finite(loss):
            ax.plot([step], [loss], "x", color=color, markersize=12, markeredgewidth=2)
            ax.annotate(f"{run_label(name, run['entry'])} collapsed", (step, loss), textcoords="offset points", xytext=(5, 5), fontsize=8, color=color)
    ax.set_yscale("log")
    return finish_figure(fig, ax, path, title="loss curves per variant (× = collapsed)", xlabel="optimizer step",
                         ylabel="cross-entropy (solid: train, dashed: validation)")


def _bars(runs: dict[str, dict], keys: dict[str, str], path: Path, ylabel: str, title: str, percent: bool = False) -> Path:
    names = list(runs)
    width = 0.8 / len(keys)
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(names)), 4.5))
    for j, (key, label) in enumerate(keys.items()):
        values = [runs[n]["entry"].get(key) for n in names]
        xs = [i + (j - (len(keys) - 1) / 2) * width for i in range(len(names))]
        heights = [v if _finite(v) else 0.0 for v in values]
        bars = ax.bar(xs, heights, width, label=label, color=f"C{j}")
        for bar, value in zip(bars, values, strict=True):
            text = (f"{value:.0%}" if percent else f"{value:.3f}") if _finite(value) else "n/a"
            ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(names)), [f"{run_label(n, runs[n]['entry'])}\n({runs[n]['entry'].get('status')})" for n in names],
                  fontsize=8, rotation=30, ha="right")
    return finish_figure(fig, ax, path, title=title, xlabel="variant", ylabel=ylabel, grid_axis="y")


def table(runs: dict[str, dict]) -> str:
    def fmt(value, spec: str) -> str:
        return format(value, spec) if _finite(value) else "–"

    swept = swept_labels(runs)
    lines = ["| run | variant | " + "".join(f"{k} | " for k in swept)
             + "status | steps | final train loss | final val loss | fact recall | arithmetic | collapsed at |",
             "|---" * (9 + len(swept)) + "|"]
    for name, run in runs.items():
        e = run["entry"]
        values = "".join(f"{(e.get('swept') or {}).get(k, '–')} | " for k in swept)
        lines.append(f"| {name} | {e.get('variant') or name} | {values}{e.get('status')} | {e.get('steps', '–')} | {fmt(e.get('final_train_loss'), '.4f')} | "
                     f"{fmt(e.get('final_val_loss'), '.4f')} | {fmt(e.get('knowledge_acc'), '.1%')} | "
                     f"{fmt(e.get('reasoning_acc'), '.1%')} | {e.get('collapsed_at_step') or '–'} |")
    failed = [f"- **{name}**: {run['entry'].get('error') or run['entry'].get('collapse_reason')}" for name, run in runs.items()
              if run["entry"].get("status") != "ok"]
    return "\n".join(lines + ([""] + failed if failed else []))


def lm_eval_section(folder: Path) -> list[str]:
    """The sweep's lm-evaluation-harness table (``python -m lab.evaluate.lm_eval <sweep>``), when it has one."""
    table = Path(folder) / "lm_eval" / "comparison.md"
    return ["## lm-evaluation-harness", table.read_text().strip()] if table.is_file() else []


def report(folder: Path, out: Path) -> str:
    """Write the figures into ``out``; return the report's markdown."""
    runs = load_runs(folder)
    loss_curves(runs, out / "loss_curves.png")
    _bars(runs, {"final_train_loss": "train", "final_val_loss": "validation"}, out / "final_losses.png",
          "cross-entropy", "final losses per variant (n/a: collapsed or failed)")
    _bars(runs, {"knowledge_acc": "fact recall", "reasoning_acc": "held-out arithmetic"}, out / "accuracies.png",
          "accuracy", "accuracies per variant (last validation)", percent=True)
    return "\n\n".join([
        f"# Ablation report: {Path(folder).name}", f"{len(runs)} run(s) from `{folder}`.", table(runs),
        "## Loss curves", "![loss curves](loss_curves.png)",
        "## Final losses", "![final losses](final_losses.png)",
        "## Accuracies", "![accuracies](accuracies.png)",
        *lm_eval_section(folder),
    ]) + "\n"


def finished_runs(folder: Path) -> dict[str, Path]:
    """``{run name: its finetuned folder}`` of every run of the sweep that finished ``ok``."""
    return {name: finetuned_dir(folder, name) for name, entry in sorted(read_json(Path(folder) / SUMMARY_FILE).items())
            if entry.get("status") == "ok" and (finetuned_dir(folder, name) / "metadata.json").is_file()}


def seed_layout(folder: Path) -> dict[str, Path]:
    """Seed 001's Hub layout: ``all_train_metrics.json`` and, for every finished run, ``<run>/`` (the base stage) and
    ``<run>_finetuned/`` at the root."""
    layout = {SUMMARY_FILE: Path(folder) / SUMMARY_FILE}
    for name, finetuned in finished_runs(folder).items():
        layout[name], layout[f"{name}_finetuned"] = base_dir(folder, name), finetuned
    return layout


FOLDER_KIND = FolderKind("ablations", "an ablation run or sweep (all_train_metrics.json)", is_ablation_folder, report,
                         members=finished_runs, layout=seed_layout)
