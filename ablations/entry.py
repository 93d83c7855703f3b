"""What an ablation run's entry in ``all_train_metrics.json`` says: the job, the model, the diagnostics, the result."""

import statistics
from pathlib import Path

import lightning as L
from omegaconf import DictConfig, OmegaConf

from ablations.layout import finetuned_dir
from lab.runs.job_name import swept_config
from lab.runs.paths import job_dir
from lab.runs.summary import print_summary, wandb_sync_hint
from lab.train.history import MetricsHistory
from lab.train.initial_eval import InitialEvaluation
from lab.train.run import RunContext


def job_fields(cfg: DictConfig) -> dict:
    """What a summary entry says of the job itself: variant, regime, seed, learning rate, model, and its swept values
    under ``-m``."""
    return {"variant": OmegaConf.select(cfg, "variant.name"), "regime": OmegaConf.select(cfg, "regime.name"), "seed": cfg.get("seed"),
            "lr": OmegaConf.select(cfg, "optimizer.lr"), "model": OmegaConf.select(cfg, "model.name"), "swept": swept_config(cfg)}


def model_fields(model) -> dict:
    """What a summary entry says of the model: its vocabulary (the study's ℓ₀ = ln V), width and non-embedding
    parameters (the x axis of Wortsman et al.'s scaling figure: every parameter but the token embedding and an
    untied LM head), and a fitted surgery's relative errors over its sites (mean, max)."""
    non_embedding = sum(p.numel() for n, p in model.named_parameters() if "embed_tokens" not in n and not n.startswith("lm_head"))
    fields = {"vocab_size": int(model.config.vocab_size), "hidden_size": int(model.config.hidden_size), "non_embedding_params": int(non_embedding)}
    errors = getattr(model, "norm_fit_errors", None)
    if errors:  # a fitted surgery: how far each site's DyT is from its RMSNorm (lab.model.norms.dyt_fit)
        fields["norm_fit_error"] = {"mean": sum(errors.values()) / len(errors), "max": max(errors.values())}
    return fields


def diagnostic_summary(history: MetricsHistory) -> dict:
    """The run's largest attention logit, the extremes of its output log Z over positions and probes, and the last
    attention logit and mean log Z (``None`` without diagnostics)."""
    def series(key: str) -> list[float]:
        return [row[key] for row in history.rows if key in row]

    logits, log_z = series("diag/attn_logit_max"), series("diag/log_z")
    return {"max_attn_logit": max(logits, default=None), "final_attn_logit": logits[-1] if logits else None,
            "max_log_z": max(series("diag/log_z_max") or log_z, default=None),
            "min_log_z": min(series("diag/log_z_min") or log_z, default=None), "final_log_z": log_z[-1] if log_z else None}


def final_val_loss(history: MetricsHistory, k: int) -> dict:
    """``final_val_loss``: the mean validation loss over the run's last ``eval.final_loss_evaluations`` validations
    during training (the evaluation before step 1 is never one of them; fewer when the run held fewer, e.g. one that
    collapsed early), and, when k > 1, the last one alone (``last_val_loss``) and how many were averaged."""
    if k == 1:
        return {"final_val_loss": history.last("val/loss")}  # the last evaluation, as before k existed
    losses = history.values("val/loss", after_step=0)
    if not losses:
        return {"final_val_loss": None, "val_loss_evaluations": 0}
    return {"final_val_loss": statistics.fmean(losses[-k:]), "last_val_loss": losses[-1], "val_loss_evaluations": len(losses[-k:])}


def summary_entry(ctx: RunContext, trainer: L.Trainer | None, status: str, **extra) -> dict:
    """A run's entry in ``all_train_metrics.json``: status, final losses and accuracies, collapse, steps, tokens, wall."""
    history, health = ctx.history, ctx.health
    return {
        "status": status,
        "final_train_loss": None if status != "ok" else history.last("train/loss"),
        "last_finite_train_loss": health.last_finite_loss,
        **final_val_loss(history, ctx.typed["eval"].final_loss_evaluations if "eval" in ctx.typed else 1),  # untyped: refused early
        "knowledge_acc": history.last("val/knowledge_acc"),
        "reasoning_acc": history.last("val/reasoning_acc"),
        "collapsed_at_step": health.collapsed_at_step,
        "steps": trainer.global_step if trainer else 0,
        "world_size": trainer.world_size if trainer else None,
        "tokens": int(history.last("train/tokens") or 0),
        "wall_time_s": ctx.wall(),
        **extra,
    }


def run_entry(ctx: RunContext, trainer: L.Trainer) -> dict:
    """The entry of a run that trained: ``ok`` or ``collapsed`` (and why), its evaluation before step 1, its
    diagnostics' extremes, the job's swept values and what the recipe learned while building."""
    initial = next((c.result for c in trainer.callbacks if isinstance(c, InitialEvaluation)), None)
    return summary_entry(ctx, trainer, "collapsed" if ctx.health.collapsed else "ok", collapse_reason=ctx.health.reason,
                         initial=initial, **diagnostic_summary(ctx.history), **job_fields(ctx.cfg), **ctx.fields)


def failed_entry(ctx: RunContext, trainer: L.Trainer | None, err: BaseException) -> dict:
    """The entry of a run that raised: ``failed`` and the error, with what is known of the job."""
    return summary_entry(ctx, trainer, "failed", error=f"{type(err).__name__}: {err}", **job_fields(ctx.cfg), **ctx.fields)


def print_ablation_summary(cfg: DictConfig, entry: dict) -> None:
    """The run's closing block (:mod:`lab.runs.summary`): its metrics, or how it collapsed or failed, and where to look."""
    root = Path(str(cfg.output_root))
    finetuned = finetuned_dir(root, str(cfg.run_name))
    metrics = {"train loss": entry.get("final_train_loss"), "val loss": entry.get("final_val_loss"),
               "fact recall": entry.get("knowledge_acc"), "arithmetic": entry.get("reasoning_acc")}
    if entry.get("status") == "collapsed":
        metrics = {"collapsed at step": entry.get("collapsed_at_step"), "last finite loss": entry.get("last_finite_train_loss")}
    elif entry.get("status") == "failed":
        metrics = {"error": entry.get("error")}
    look = [f"make report RUN={root}", wandb_sync_hint(job_dir(cfg, finetuned))]
    print_summary(f"ablations.train {cfg.run_name}", entry.get("status", "?"), entry.get("wall_time_s"), metrics, finetuned,
                  load=f'ablations.load("{finetuned}")' if (finetuned / "metadata.json").is_file() else None,
                  look=[x for x in look if x])
