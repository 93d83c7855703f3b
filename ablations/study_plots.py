"""The norm study's figures: loss against learning rate, attention-logit growth, and the surgery's before/after."""

import math
from pathlib import Path

from lab.plots import finish_figure, label_axes, plt, save_figure

REGIMES = ("scratch", "surgery")


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def lr_sweep(entries: list[dict], summary: dict[str, dict[str, dict]], path: Path) -> Path:
    """Final validation loss against the learning rate (log x), one line per variant (the seed mean over finished
    runs), the min-max over seeds as a band, × at ℓ_init for each collapsed run, dotted: ℓ_init; one panel per regime."""
    regimes = [r for r in REGIMES if r in summary] + [r for r in summary if r not in REGIMES]
    fig, axes = plt.subplots(1, len(regimes), figsize=(7 * len(regimes), 5), squeeze=False)
    variants = sorted({e["variant"] for e in entries})
    for ax, regime in zip(axes[0], regimes, strict=True):
        for i, variant in enumerate(variants):
            cell = summary[regime].get(variant)
            if cell is None:
                continue
            color = f"C{i % 10}"
            runs = [e for e in entries if (e.get("regime") or "scratch") == regime and e["variant"] == variant]
            points = sorted((float(lr), v) for lr, v in cell["val_loss_by_lr"].items() if _finite(v))
            if points:
                ax.plot(*zip(*points, strict=True), "o-", color=color, label=variant, markersize=4)
            band = []
            for lr in cell["lrs"]:
                losses = [e["final_val_loss"] for e in runs if float(e["lr"]) == lr and e.get("status") == "ok" and _finite(e.get("final_val_loss"))]
                if losses:
                    band.append((lr, min(losses), max(losses)))
            if band:
                xs, lows, highs = zip(*band, strict=True)
                ax.fill_between(xs, lows, highs, color=color, alpha=0.18)
            collapsed = [float(e["lr"]) for e in runs if e.get("status") == "collapsed"]
            if collapsed and _finite(cell.get("loss_init")):
                ax.plot(collapsed, [cell["loss_init"]] * len(collapsed), "x", color=color, markersize=10, markeredgewidth=2)
            if _finite(cell.get("loss_init")):
                ax.axhline(cell["loss_init"], color=color, linestyle=":", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        label_axes(ax, title=f"{regime}: final validation loss vs learning rate", xlabel="peak learning rate",
                   ylabel="final val loss (band: min-max over seeds; ×: collapsed, at ℓ_init ···)")
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
