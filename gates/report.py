"""Report of a gate run folder (``lambda_logits.pt`` + ``gate_stats.json``; ``evaluation/`` if evaluated).

Figures: the histogram of all g = sigmoid(λ) with the five selected thresholds, the training losses
(total, forget, retain) against the step, and, after ``gates.evaluate``, the knowledge-vs-reasoning
trade-off of masking by gates against masking random neurons.
"""

from pathlib import Path

import torch

from gates.files import LOGITS_FILE, STATS_FILE, read_gate_stats, read_lambda_logits
from gates.plots import gate_histogram, tradeoff_plot
from gates.schema import ApplyConfig
from lab.report.plots import finish_figure, plt
from lab.runs.artifacts import read_json
from lab.runs.folder_kinds import FolderKind


def is_gate_folder(folder: Path) -> bool:
    return (Path(folder) / LOGITS_FILE).is_file() and (Path(folder) / STATS_FILE).is_file()


def loss_curves(rows: list[dict], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4))
    for key in ("train/loss", "train/forget_loss", "train/retain_loss"):
        points = [(r["step"], r[key]) for r in rows if key in r]
        if points:
            ax.plot(*zip(*points, strict=True), label=key.split("/")[1])
    return finish_figure(fig, ax, path, title="gate training: L = λ_f·L_forget + λ_r·L_retain", xlabel="optimizer step",
                         ylabel="loss")


def report(folder: Path, out: Path) -> str:
    folder = Path(folder)
    stats = read_gate_stats(folder)
    gate_histogram(torch.sigmoid(read_lambda_logits(folder)), stats["selected_thresholds"], out / "gate_histogram.png")
    parts = [f"# Gate report: {folder.name}", f"From `{folder}`.",
             "| threshold | neurons masked |\n|---|---|\n" + "\n".join(
                 f"| g < {t['threshold']:.3f} | {t['fraction_masked']:.1%} |" for t in stats["selected_thresholds"]),
             "## Gates", "![gate histogram](gate_histogram.png)"]
    if (folder / "train_metrics.json").is_file():
        loss_curves(read_json(folder / "train_metrics.json"), out / "loss_curves.png")
        parts += ["## Training", "![loss curves](loss_curves.png)"]
    evaluation = folder / "evaluation" / "evaluation.json"
    if evaluation.is_file():
        evaluated = read_json(evaluation)
        summary, axes = evaluated["summary"], evaluated.get("tradeoff", {})
        knowledge_key = axes.get("knowledge", "knowledge_acc")
        tradeoff_plot(summary, out / "tradeoff_accuracy.png", knowledge_key, axes.get("reasoning", "reasoning_acc"))
        tradeoff_plot(summary, out / "tradeoff_loss.png", knowledge_key, "reasoning_loss")
        table = (folder / "evaluation" / "evaluation.md").read_text().split("\n", 2)[-1].strip()
        parts += ["## Knowledge vs reasoning: gates vs random neurons", table,
                  "![trade-off (accuracy)](tradeoff_accuracy.png)", "![trade-off (loss)](tradeoff_loss.png)"]
    else:
        parts += ["## Knowledge vs reasoning", f"Not evaluated yet: `python -m gates.evaluate gates_dir={folder}`."]
    return "\n\n".join(parts) + "\n"


def masked_model(folder: Path, options) -> tuple:
    """The gate run's base model with its gates applied on the fly (``options.mode``, ``options.threshold``,
    ``options.base_model`` as for ``gates.apply``), in eval mode."""
    from gates.apply import applied_model

    model, tokenizer, _ = applied_model(Path(folder), masking_mode(options), options.get("threshold"), options.get("base_model"))
    return model.eval(), tokenizer


def masking_mode(options) -> str:
    """``options.mode``, or gates.apply's default (:class:`gates.schema.ApplyConfig`) when it is null."""
    return str(options.get("mode") or ApplyConfig.mode)


def masked_setting(options) -> str:
    """The label of a masked evaluation: ``<mode>-<threshold>`` (``default``: the run's own neuron set)."""
    threshold = options.get("threshold")
    return f"{masking_mode(options)}-{threshold if threshold is not None else 'default'}"


FOLDER_KIND = FolderKind("gates", "a gate run (lambda_logits.pt + gate_stats.json)", is_gate_folder, report,
                         load_model=masked_model, setting=masked_setting, layout=lambda folder: {"": Path(folder)})
# seed 000's Hub layout: the gate files (lambda_logits.pt, neuron_indices.json, gate_stats.json, metadata.json, ...) at the root
