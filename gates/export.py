"""What a finished gate run writes into its folder: the seed's four files, the histogram, ``train_metrics.json``,
``metadata.json``, the card, ``SHA256SUMS``; and the closing block that points at them."""

from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from gates.card import gate_card
from gates.facts import FactSplit, write_split
from gates.files import write_gate_files
from gates.gated_ffn import gate_logits
from gates.plots import gate_histogram
from lab.runs.artifacts import atomic_write, write_json
from lab.runs.checksums import write_sha256sums
from lab.runs.git import git_commit
from lab.runs.job_name import swept_config
from lab.runs.summary import print_summary, wandb_sync_hint
from lab.train.history import MetricsHistory
from lab.train.run import Parts, RunContext


def export(folder: Path, model: torch.nn.Module, meta: dict, history: MetricsHistory, split: FactSplit | None = None) -> dict:
    """The seed's four files, the histogram, the facts' split (:mod:`gates.facts`), metrics, metadata, the card, then
    ``SHA256SUMS``."""
    logits = gate_logits(model)
    if split is not None:
        write_split(folder, split)
    stats = write_gate_files(folder, logits, float(meta["gates"]["default_threshold"]))
    gate_histogram(torch.sigmoid(logits), stats["selected_thresholds"], folder / "gate_histogram.png")
    write_json(folder / "train_metrics.json", history.rows)
    write_json(folder / "metadata.json", {**meta, "gate_stats": {k: v for k, v in stats.items() if k != "selected_thresholds"}})
    atomic_write(folder / "README.md", lambda tmp: tmp.write_text(gate_card(stats, meta)))
    write_sha256sums(folder)
    return stats


def run_entry(ctx: RunContext, trainer: Any) -> dict:
    """The summary entry of a gate run that trained: its status, steps and final losses (``all_gate_runs.json``)."""
    history = ctx.history
    return {"status": "collapsed" if ctx.health.collapsed else "ok", "collapse_reason": ctx.health.reason,
            "steps": trainer.global_step, "world_size": trainer.world_size, "gates_dir": str(ctx.folder),
            "final_loss": history.last("train/loss"), "final_forget_loss": history.last("train/forget_loss"),
            "final_retain_loss": history.last("train/retain_loss"), "wall_time_s": ctx.wall(), "swept": swept_config(ctx.cfg)}


def failed_entry(ctx: RunContext, err: BaseException) -> dict:
    """The summary entry of a gate run that raised."""
    return {"status": "failed", "error": f"{type(err).__name__}: {err}", "gates_dir": str(ctx.folder), "swept": swept_config(ctx.cfg)}


def log_gate_histogram(logger: Any, model: torch.nn.Module) -> None:
    """The trained gate values as a W&B histogram (``gates/histogram``), when the run logs to W&B."""
    from lightning.pytorch.loggers import WandbLogger

    if isinstance(logger, WandbLogger):
        import wandb

        logger.experiment.log({"gates/histogram": wandb.Histogram(torch.sigmoid(gate_logits(model)).numpy().ravel())})


def run_metadata(ctx: RunContext, parts: Parts, entry: dict) -> dict:
    """``metadata.json`` of a gate run: base model, variant, gate settings, data, provenance, the resolved config."""
    cfg, model, datamodule = ctx.cfg, parts.model, ctx.datamodule
    variant = parts.extra["variant"]
    return {
        "base_model": str(cfg.model.pretrained or f"{cfg.model.name} (random init)"),
        "variant": variant.name, "variant_spec": variant.to_dict(), "model_config": model.config.to_dict(),
        "gates": OmegaConf.to_container(cfg.gates, resolve=True),
        "data": {"name": cfg.data.get("name"), "seq_len": ctx.typed.data.seq_len, "batch_size": ctx.typed.data.batch_size},
        "num_forget_examples": len(datamodule.forget), "num_retain_blocks": len(datamodule.retain),
        "seed": ctx.typed.run.seed, "git_commit": git_commit(), "config": OmegaConf.to_container(cfg, resolve=True),
        **{k: entry[k] for k in ("steps", "world_size", "status")},
    }


def print_gate_summary(entry: dict) -> None:
    """The gate run's closing block (:mod:`lab.runs.summary`): losses, gate statistics, how to load and look."""
    out = Path(entry.get("gates_dir") or ".")
    metrics = {"loss": entry.get("final_loss"), "forget loss": entry.get("final_forget_loss"),
               "retain loss": entry.get("final_retain_loss"), "mean gate": entry.get("mean_gate"),
               "knowledge neurons (g < default threshold)": entry.get("knowledge_neurons")}
    finished = (out / "lambda_logits.pt").is_file()
    print_summary(f"gates.train {out.name}", entry.get("status", "?"), entry.get("wall_time_s"), metrics, out,
                  load=f"python -m gates.apply gates_dir={out}  (or gates.files.read_lambda_logits)" if finished else None,
                  look=[x for x in (f"make report RUN={out}", f"make gates-eval ARGS='gates_dir={out}'", wandb_sync_hint(out)) if x])
