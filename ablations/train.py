"""Train one norm-ablation variant of Qwen3 and write its artifacts (see :mod:`ablations.layout`).

    python -m ablations.train                                        # variant=original, tiny default, ~2 min on CPU
    python -m ablations.train variant=no_qk_norm trainer.max_steps=50 logger=csv
    python -m ablations.train -m 'variant=glob(*)'                   # the whole grid (make sweep)
    python -m ablations.train -m variant=original,no_qk_norm trainer=ddp trainer.devices=2 trainer.accelerator=cpu

Rerunning the same command in the same folder (``hydra.run.dir=`` / ``output_root=``, or the same sweep dir,
as ``make sweep`` does) skips finished variants and resumes an interrupted one from its latest checkpoint,
with the same optimizer, scheduler, data position, RNG state and W&B run (see :mod:`lab.resume`).
"""

import logging
import time
from pathlib import Path

import hydra
import lightning as L
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

import lab  # noqa: F401  (registers the config resolvers before Hydra composes)
from ablations.layout import base_dir, finetuned_dir, metadata, record_run, save_stage, write_train_metrics
from lab.artifacts import read_json
from lab.checks import check_training_config
from lab.data.datamodule import CorpusDataModule
from lab.ddp import is_ddp_child, isolated_distributed_env, wait_for_child_ranks
from lab.errors import UserError, exit_on_user_error, hydra_cli, in_multirun, print_job_failure
from lab.job_name import swept_config
from lab.model import build_model, load_tokenizer
from lab.paths import job_dir, resolve_output_root
from lab.pl.checkpointing import StepCheckpoint
from lab.pl.compile_policy import should_compile
from lab.pl.diagnostics import InstabilityDiagnostics
from lab.pl.final_checkpoint import keep_final_checkpoint
from lab.pl.health import TrainingHealth
from lab.pl.history import MetricsHistory
from lab.pl.initial_eval import InitialEvaluation
from lab.pl.loggers import build_logger, finish_logger
from lab.pl.module import CausalLMModule
from lab.pl.preemption import PreemptionCheckpoint
from lab.pl.trainer import build_trainer, fit, runs_on_gpu
from lab.reference import ensure_reference_model
from lab.resume import RememberRun, resume_checkpoint, reuse_previous_run, wandb_run_id
from lab.summary import print_summary, wandb_sync_hint
from lab.variants import Variant

ENTRY_MODULE = "ablations.train"
log = logging.getLogger(__name__)


class SaveBaseStage(L.Callback):
    """Writes the ``<run>/`` folder (the untrained, patched model) once, on global rank 0, before training."""

    def __init__(self, folder: Path, meta: dict) -> None:
        self.folder, self.meta = folder, meta

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero and not (self.folder / "metadata.json").is_file():
            save_stage(self.folder, pl_module.model, self.meta)


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
    if errors:  # a fitted surgery: how far each site's DyT is from its RMSNorm (lab.norms.dyt_fit)
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


def training_callbacks(cfg: DictConfig, history: MetricsHistory) -> list[L.Callback]:
    """The optional measurements: the step-0 evaluation (``regime.initial_eval``) and the instability diagnostics."""
    callbacks: list[L.Callback] = []
    initial = OmegaConf.select(cfg, "regime.initial_eval")
    if initial:
        callbacks.append(InitialEvaluation(history, accuracy=initial == "full" and bool(cfg.eval.get("accuracy", True))))
    every = int(OmegaConf.select(cfg, "diagnostics.every_n_steps", default=0) or 0)
    if every > 0:
        callbacks.append(InstabilityDiagnostics(history, every, int(cfg.diagnostics.rows), dense_steps=int(cfg.diagnostics.dense_steps)))
    return callbacks


def summary_entry(health: TrainingHealth, history: MetricsHistory, trainer: L.Trainer | None, status: str, wall: float, **extra) -> dict:
    return {
        "status": status,
        "final_train_loss": None if status != "ok" else history.last("train/loss"),
        "last_finite_train_loss": health.last_finite_loss,
        "final_val_loss": history.last("val/loss"),
        "knowledge_acc": history.last("val/knowledge_acc"),
        "reasoning_acc": history.last("val/reasoning_acc"),
        "collapsed_at_step": health.collapsed_at_step,
        "steps": trainer.global_step if trainer else 0,
        "world_size": trainer.world_size if trainer else None,
        "tokens": int(history.last("train/tokens") or 0),
        "wall_time_s": round(wall, 2),
        **extra,
    }


def skip_finished(root: Path, run_name: str, finetuned: Path) -> dict:
    """A rerun (of a sweep) leaves a finished, intact run as it is and keeps its entry in the summary."""
    entry = read_json(finetuned / "metadata.json").get("result") or {"status": "ok"}
    if rank_zero_only.rank == 0:
        log.info("%s is finished (SHA256SUMS intact, same config): skipping it; overwrite=true trains it again", finetuned)
        record_run(root, run_name, entry)
    return entry


def train(cfg: DictConfig) -> dict:
    """Build the variant, train it, write base + finetuned artifacts and the sweep summary entry."""
    start = time.time()
    root = resolve_output_root(cfg)
    run_name = str(cfg.run_name)
    health, history, logger, trainer = TrainingHealth(), MetricsHistory(), None, None
    job = job_fields(cfg)
    try:
        check_training_config(cfg)
        if OmegaConf.select(cfg, "regime.name") == "surgery" and not cfg.model.get("pretrained"):
            raise UserError(f"regime=surgery starts from a trained model, and model={cfg.model.name} has none; pass "
                            "model=tiny_reference, model=qwen3_0.6b or model.pretrained=<folder>")
        variant = Variant.from_run_config(cfg.variant)
        base, finetuned = base_dir(root, run_name), finetuned_dir(root, run_name)
        if reuse_previous_run(cfg, finetuned, base):
            return skip_finished(root, run_name, finetuned)
        ckpt_path = resume_checkpoint(cfg.get("ckpt_path"), finetuned / "checkpoints")
        L.seed_everything(int(cfg.seed), workers=True, verbose=False)
        ensure_reference_model(cfg.model, cfg.paths.runs)
        tokenizer = load_tokenizer(cfg.model)
        datamodule = CorpusDataModule(cfg.data, tokenizer, seed=int(cfg.seed))
        datamodule.setup("fit")
        calibration = datamodule.calibration_ids(variant.calibration_rows) if variant.carry_over == "fit" else None
        model = build_model(cfg.model, variant, vocab_size=len(tokenizer), calibration_ids=calibration)
        job.update(model_fields(model))
        compile_cfg = OmegaConf.to_container(cfg.compile, resolve=True) if cfg.get("compile") else {}
        compile_cfg["enabled"] = should_compile(compile_cfg, int(cfg.trainer.max_steps), runs_on_gpu(str(cfg.trainer.accelerator)))
        module = CausalLMModule(model, tokenizer, cfg.optimizer, cfg.eval, cfg.get("loss_chunk_size", "auto"), compile_cfg)
        module.eval_rows = datamodule.eval_rows
        callbacks = [
            SaveBaseStage(base, metadata(model, variant, cfg, stage="base")),
            health,
            history,
            *training_callbacks(cfg, history),
            checkpoints := StepCheckpoint(finetuned / "checkpoints", int(cfg.checkpoint_every_n_steps)),
            PreemptionCheckpoint(checkpoints),
        ]
        work_dir = job_dir(cfg, finetuned)
        group = Path(str(cfg.output_root)).name
        run_id = wandb_run_id(finetuned)
        callbacks.append(RememberRun(finetuned, run_id, cfg))
        logger = build_logger(cfg.logger, name=run_name, group=group, save_dir=work_dir, config=cfg, run_id=run_id)
        with isolated_distributed_env():
            trainer = build_trainer(cfg, callbacks=callbacks, logger=logger, entry_module=ENTRY_MODULE, job_dir=work_dir)
            fit(trainer, module, datamodule, ckpt_path)
            model.zero_grad(set_to_none=True)  # the last step's gradients: N fp32 tensors the save below does not need
            keep_final_checkpoint(trainer, finetuned / "checkpoints", bool(OmegaConf.select(cfg, "artifacts.keep_optimizer_state")))
            status = "collapsed" if health.collapsed else "ok"
            initial = next((c.result for c in callbacks if isinstance(c, InitialEvaluation)), None)
            entry = summary_entry(health, history, trainer, status, time.time() - start, collapse_reason=health.reason,
                                  initial=initial, **diagnostic_summary(history), **job)
            if trainer.is_global_zero:
                write_train_metrics(finetuned, history.rows)
                save_stage(finetuned, model, metadata(model, variant, cfg, stage="finetuned", result=entry), tokenizer)
                record_run(root, run_name, entry)
                if logger is not None and hasattr(logger.experiment, "summary"):
                    logger.experiment.summary.update({f"final/{k}": v for k, v in entry.items() if v is not None})
            wait_for_child_ranks(trainer)
    except Exception as err:
        if rank_zero_only.rank == 0 and (not isinstance(err, UserError) or in_multirun()):  # a sweep records every job
            entry = summary_entry(health, history, trainer, "failed", time.time() - start, error=f"{type(err).__name__}: {err}", **job)
            record_run(root, run_name, entry)
            if in_multirun():  # recorded: the sweep goes on, and ends with its report and exit code 1 (lab.sweep_status)
                print_job_failure(err)
                return entry
        raise
    finally:
        finish_logger(logger)
    return entry


def print_run_summary(cfg: DictConfig, entry: dict) -> None:
    """The run's closing block (:mod:`lab.summary`), on the process that owns the run."""
    if rank_zero_only.rank != 0 or is_ddp_child():
        return
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
                  load=f'ablations.load("{finetuned}")' if (finetuned / "metadata.json").is_file() else None, look=[x for x in look if x])


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
@exit_on_user_error
def main(cfg: DictConfig) -> dict:
    entry = train(cfg)
    print_run_summary(cfg, entry)
    return entry


if __name__ == "__main__":
    hydra_cli(main)
