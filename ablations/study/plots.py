"""The norm study's figures: loss against learning rate, attention-logit growth, and the surgery's before/after."""

import math
from pathlib import Path

from matplotlib.ticker import NullFormatter

from lab.report.plots import finish_figure, label_axes, plt, save_figure

REGIMES = ("scratch", "surgery")


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _regimes(summary: dict[str, dict[str, dict]]) -> list[str]:
    return [r for r in REGIMES if r in summary] + [r for r in summary if r not in REGIMES]


def _curve(cell: dict) -> tuple[list[tuple[float, float, float, float]], list[float]]:
    """``([(lr, seed-mean, min, max)] over finished runs, [lr of each collapsed run])`` from a cell's run records."""
    points, collapsed = [], []
    for lr in cell["lrs"]:
        records = [r for r in cell["run_records"] if float(r["lr"]) == lr]
        losses = [r["final_val_loss"] for r in records if r.get("status") == "ok" and _finite(r.get("final_val_loss"))]
        if losses:
            points.append((lr, sum(losses) / len(losses), min(losses), max(losses)))
        collapsed += [lr for r in records if r.get("status") == "collapsed"]
    return points, collapsed


def draw_cell(ax, cell: dict, label: str, color: str, linestyle: str = "-") -> None:
    """One cell's loss-vs-LR curve: the seed mean, the min-max band over seeds, × at ℓ₀ for each collapsed run."""
    points, collapsed = _curve(cell)
    if points:
        xs, means, lows, highs = zip(*points, strict=True)
        ax.plot(xs, means, "o", color=color, linestyle=linestyle, label=label, markersize=4)
        ax.fill_between(xs, lows, highs, color=color, alpha=0.18)
    if collapsed and _finite(cell.get("loss_ref")):
        ax.plot(collapsed, [cell["loss_ref"]] * len(collapsed), "x", color=color, markersize=10, markeredgewidth=2)


def lr_sweep(summary: dict[str, dict[str, dict]], path: Path) -> Path:
    """Final validation loss against the learning rate (log x), one line per cell (the seed mean over finished
    runs), the min-max over seeds as a band, × at ℓ₀ = ln V for each collapsed run (dotted line); one panel per
    regime. Drawn from the summary alone (``study.json``)."""
    regimes = _regimes(summary)
    fig, axes = plt.subplots(1, len(regimes), figsize=(7 * len(regimes), 5), squeeze=False)
    names = sorted({name for cells in summary.values() for name in cells})
    for ax, regime in zip(axes[0], regimes, strict=True):
        for i, name in enumerate(names):
            if name in summary[regime]:
                draw_cell(ax, summary[regime][name], name, f"C{i % 10}", "-" if i < 10 else "--")
        refs = {c["loss_ref"] for c in summary[regime].values() if _finite(c.get("loss_ref"))}
        for ref in refs:
            ax.axhline(ref, color="grey", linestyle=":", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        label_axes(ax, title=f"{regime}: final validation loss vs learning rate", xlabel="peak learning rate",
                   ylabel="final val loss (band: min-max over seeds; ×: collapsed, at ℓ₀ = ln V ···)")
    return save_figure(fig, path)


def _ci_error(stat: dict) -> tuple[float, float]:
    ci = stat.get("ci")
    return (stat["mean"] - ci[0], ci[1] - stat["mean"]) if ci else (0.0, 0.0)


def scaling(cells: dict[str, dict], path: Path, factor: str = "width") -> Path:
    """Wortsman et al.'s Figure 1 on a width sweep (cells told apart by the ``factor`` swept), three panels: (a) final loss vs LR per width, qk-norm on (solid)
    and off (dashed); (b) LR sensitivity above the best LR S⁺ (the instability part;
    the total S dotted, whose fall with width is mostly under-training below the best LR) vs non-embedding
    parameters, with 95 % intervals; (c) the largest attention
    logit at the top LR vs width (seed mean of the finished runs; × where every run there collapsed)."""
    fig, axes = plt.subplots(1, 3, figsize=(19, 5.2))
    widths = sorted({c["factors"][factor] for c in cells.values() if factor in c["factors"]},
                    key=lambda w: next(c["hidden_size"] or 0 for c in cells.values() if c["factors"].get(factor) == w))
    variants = sorted({c["variant"] for c in cells.values()})
    for i, width in enumerate(widths):
        for variant in variants:
            cell = next((c for c in cells.values() if c["variant"] == variant and c["factors"].get(factor) == width), None)
            if cell is not None:
                draw_cell(axes[0], cell, f"{variant}, {factor} {width}", f"C{i}", "-" if variant == "original" else "--")
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    label_axes(axes[0], title="(a) final val loss vs learning rate", xlabel="peak learning rate",
               ylabel="final val loss (band: min-max over seeds; ×: collapsed)")
    for j, variant in enumerate(variants):
        for key, style, alpha, label in (("sensitivity_above", "o-", 1.0, "S⁺ (above best LR)"), ("lr_sensitivity", "s:", 0.45, "S (total)")):
            rows = sorted((c["non_embedding_params"], c[key]) for c in cells.values()
                          if c["variant"] == variant and c.get("non_embedding_params") and c[key]["mean"] is not None)
            if rows:
                errors = list(zip(*[_ci_error(s) for _, s in rows], strict=True))
                axes[1].errorbar([x for x, _ in rows], [s["mean"] for _, s in rows], yerr=errors, fmt=style, color=f"C{j}",
                                 alpha=alpha, label=f"{variant}: {label}", capsize=4)
        top = []
        for cell in (c for c in cells.values() if c["variant"] == variant and factor in c["factors"]):
            value = cell["max_attn_logit_by_lr"].get(str(max(cell["lrs"])))
            top.append((cell["hidden_size"], value))
        top.sort()
        finished = [(w, v) for w, v in top if _finite(v)]
        if finished:
            axes[2].plot(*zip(*finished, strict=True), "o-", color=f"C{j}", label=variant)
        dead = [w for w, v in top if not _finite(v)]
        if dead:
            axes[2].plot(dead, [1.0] * len(dead), "x", color=f"C{j}", markersize=10, markeredgewidth=2)
    axes[1].set_xscale("log")
    axes[1].xaxis.set_minor_formatter(NullFormatter())  # the log axis's minor labels overlap over 1.2 decades
    label_axes(axes[1], title="(b) LR sensitivity vs model size", xlabel="non-embedding parameters",
               ylabel="S⁺ (instability) and S (mean, 95 % bootstrap CI)")
    axes[2].set_xscale("log", base=2)
    axes[2].set_yscale("log")
    label_axes(axes[2], title="(c) max attention logit at the top LR", xlabel="hidden size",
               ylabel="max q·k/√d (× at 1: every run collapsed)")
    for ax in axes:
        ax.legend(fontsize=7)
    return save_figure(fig, path)


def attention_logits(curves: dict[str, list[tuple[int, float]]], lr: float, regime: str, path: Path) -> Path:
    """The max attention logit over optimizer steps, one line per run label (e.g. original vs no_qk_norm)."""
    fig, ax = plt.subplots(figsize=(8, 5))
    for i, (label, points) in enumerate(sorted(curves.items())):
        if points:
            ax.plot(*zip(*points, strict=True), "o-", color=f"C{i}", markersize=3, label=label)
    ax.set_yscale("symlog")
    return finish_figure(fig, ax, path, title=f"max attention logit per step at lr={lr:g} ({regime})", xlabel="optimizer step",
                         ylabel="max over layers, heads, positions of q·k/√d")


def surgery_accuracies(summary: dict[str, dict], path: Path) -> Path:
    """Fact recall and arithmetic of each variant right after the surgery (zero-shot) and after fine-tuning at the best LR."""
    variants = sorted(summary)
    fig, ax = plt.subplots(figsize=(max(7, 1.4 * len(variants)), 4.5))
    width = 0.2
    bars = [("initial_knowledge_acc", "fact recall, after surgery"), ("best_knowledge_acc", "fact recall, fine-tuned"),
            ("initial_reasoning_acc", "arithmetic, after surgery"), ("best_reasoning_acc", "arithmetic, fine-tuned")]
    for j, (key, label) in enumerate(bars):
        values = [summary[v].get(key) for v in variants]
        xs = [i + (j - 1.5) * width for i in range(len(variants))]
        drawn = ax.bar(xs, [v if _finite(v) else 0.0 for v in values], width, label=label, color=f"C{j}", alpha=0.55 if "after" in label else 1)
        for bar, value in zip(drawn, values, strict=True):
            ax.annotate(f"{value:.0%}" if _finite(value) else "n/a", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=6)
    ax.set_xticks(range(len(variants)), variants, fontsize=8, rotation=20, ha="right")
    ax.set_ylim(0, 1.1)
    return finish_figure(fig, ax, path, title="surgery: accuracies right after the norm surgery and after fine-tuning (best LR)",
                         xlabel="variant", ylabel="accuracy", grid_axis="y")


def write_figures(study: dict, out: Path, prefix: str = "") -> list[Path]:
    """The study's figures from ``study.json`` alone: the LR sweep, the surgery bars, the attention-logit growth and,
    for a width sweep, the scaling figure."""
    summary, paths = study["summary"], [lr_sweep(study["summary"], out / f"{prefix}lr_sweep.png")]
    attention = study.get("attention") or {}
    if attention.get("curves"):
        paths.append(attention_logits(attention["curves"], attention["lr"], attention["regime"], out / f"{prefix}attention_logits.png"))
    if "surgery" in summary:
        paths.append(surgery_accuracies(summary["surgery"], out / f"{prefix}surgery.png"))
    for cells in summary.values():
        if any("width" in c["factors"] for c in cells.values()):
            paths.append(scaling(cells, out / f"{prefix}scaling.png"))
    return paths
