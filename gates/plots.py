"""Figures of a gate run: the gate histogram with its operating thresholds, and the trade-off curves."""

from pathlib import Path

import torch

from lab.report.plots import finish_figure, plt, save_figure


def gate_histogram(gates: torch.Tensor, thresholds: list[dict], path: Path) -> Path:
    """Histogram of all g = sigmoid(λ), one dashed line per selected threshold (labelled by % masked)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.hist(gates.flatten().numpy(), bins=100, color="#4c72b0")
    for point in thresholds:
        ax.axvline(point["threshold"], color="#c44e52", linestyle="--", linewidth=1)
        ax.annotate(f"{point['fraction_masked']:.0%}", (point["threshold"], ax.get_ylim()[1] * 0.95), fontsize=8, ha="center")
    ax.set_xlabel("gate g = sigmoid(λ)")
    ax.set_ylabel("neurons")
    ax.set_title(f"{gates.numel():,} gates ({gates.shape[0]} layers × {gates.shape[1]})")
    return save_figure(fig, path)


def tradeoff_plot(rows: list[dict], path: Path, knowledge_key: str = "knowledge_acc", reasoning_key: str = "reasoning_acc") -> Path:
    """Knowledge score (x) vs reasoning score (y) per masking mode: gates vs the random control. The keys are any
    metrics of the evaluation, ours or lm-eval's ``<task>/<metric>``."""
    fig, ax = plt.subplots(figsize=(6, 5))
    styles = {"gates": ("o-", "#c44e52"), "random": ("s--", "#8c8c8c")}
    for mode in sorted({r["mode"] for r in rows if r["mode"] != "none"}):
        for selection, (marker, color) in styles.items():
            points = sorted((r for r in rows if r["mode"] == mode and r["selection"] == selection), key=lambda r: r["threshold"])
            if points:
                ax.plot([p[knowledge_key] for p in points], [p[reasoning_key] for p in points], marker,
                        color=color, alpha=1.0 if mode == "hard" else 0.5, label=f"{selection} ({mode})")
    for r in rows:
        if r["mode"] == "none":
            ax.plot([r[knowledge_key]], [r[reasoning_key]], "k*", markersize=12, label="unmasked")
    return finish_figure(fig, ax, path, title="masking knowledge neurons: gates vs random neurons",
                         xlabel=knowledge_key.replace("_", " "), ylabel=reasoning_key.replace("_", " "))
