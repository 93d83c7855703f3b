"""Train lambda gates on a frozen Qwen3 and export them in the seed's file formats.

    python -m gates.train                                   # tiny reference model + bundled corpus (trained first if missing)
    python -m gates.train model=qwen3_0.6b data=popqa_numina trainer=gpu
    python -m gates.train -m gates.beta=2,4,8               # a sweep, one folder per job
    python -m gates.train -m variant=original,no_qk_norm trainer=ddp trainer.devices=2 trainer.accelerator=cpu

Writes into the job's folder: the seed's ``lambda_logits.pt``, ``neuron_indices.json``,
``gate_stats.json``, ``selected_thresholds.txt``, a ``README.md`` card, ``metadata.json`` (base model,
variant, config), ``train_metrics.json``, ``gate_histogram.png`` and ``checkpoints/``; under ``-m`` one
entry per job in ``<sweep>/all_gate_runs.json``.

Rerunning the same command in the same folder (``hydra.run.dir=``, or the same sweep dir) skips a finished
run and resumes an interrupted one from its latest checkpoint (see :mod:`lab.resume`).
"""

import logging
import time
from pathlib import Path

import hydra
import lightning as L
import torch
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

import lab  # noqa: F401  (registers the config resolvers before Hydra composes)
from gates.card import gate_card
from gates.data import GateDataModule
from gates.files import write_gate_files
from gates.gated_ffn import gate_logits, patch_gates
from gates.module import GateTrainingModule
from gates.plots import gate_histogram
from lab.artifacts import atomic_write, read_json, update_json_entry, write_json
from lab.checks import check_training_config
from lab.checksums import write_sha256sums
from lab.ddp import is_ddp_child, isolated_distributed_env, wait_for_child_ranks
from lab.errors import UserError, exit_on_user_error, hydra_cli, in_multirun, print_job_failure
from lab.git import git_commit
from lab.job_name import swept_config
from lab.model import build_model, load_tokenizer, weights_dtype
from lab.paths import job_dir, resolve_output_root
from lab.pl.checkpointing import StepCheckpoint
from lab.pl.final_checkpoint import keep_final_checkpoint
from lab.pl.health import TrainingHealth
from lab.pl.history import MetricsHistory
from lab.pl.loggers import build_logger, finish_logger
from lab.pl.preemption import PreemptionCheckpoint
from lab.pl.trainer import build_trainer, fit, resolve_precision
from lab.reference import ensure_reference_model
from lab.resume import RememberRun, resume_checkpoint, reuse_previous_run, wandb_run_id
from lab.summary import print_summary, wandb_sync_hint
from lab.variants import Variant

ENTRY_MODULE = "gates.train"
SUMMARY_FILE = "all_gate_runs.json"
log = logging.getLogger(__name__)



def export(folder: Path, model: torch.nn.Module, meta: dict, history: MetricsHistory) -> dict:
    """The seed's four files, the histogram, metrics, metadata, the card, then ``SHA256SUMS``."""
    logits = gate_logits(model)
    stats = write_gate_files(folder, logits, float(meta["gates"]["default_threshold"]))
    gate_histogram(torch.sigmoid(logits), stats["selected_thresholds"], folder / "gate_histogram.png")
    write_json(folder / "train_metrics.json", history.rows)
    write_json(folder / "metadata.json", {**meta, "gate_stats": {k: v for k, v in stats.items() if k != "selected_thresholds"}})
    atomic_write(folder / "README.md", lambda tmp: tmp.write_text(gate_card(stats, meta)))
    write_sha256sums(folder)
    return stats


def skip_finished(root: Path, name: str, out: Path) -> dict:
    """A rerun (of a sweep) leaves a finished, intact gate run of the same config as it is and keeps its summary entry."""
    entry = read_json(root / SUMMARY_FILE).get(name) if (root / SUMMARY_FILE).is_file() else None
    entry = entry or {"status": read_json(out / "metadata.json").get("status", "ok"), "gates_dir": str(out)}
    if rank_zero_only.rank == 0:
        log.info("%s is finished (SHA256SUMS intact, same config): skipping it; overwrite=true trains it again", out)
        update_json_entry(root / SUMMARY_FILE, name, entry)
    return entry


def train_gates(cfg: DictConfig) -> dict:
    """Gate the configured model, train the λ, export; returns the run's summary entry."""
    start = time.time()
    root = resolve_output_root(cfg)
    out = job_dir(cfg, root)
    name = str(cfg.run_name)
    swept = swept_config(cfg)
    health, history = TrainingHealth(), MetricsHistory(prefixes=("train/", "gates/"))
    logger = trainer = None
    try:
        check_training_config(cfg)
        if reuse_previous_run(cfg, out):
            return skip_finished(root, name, out)
        ckpt_path = resume_checkpoint(cfg.get("ckpt_path"), out / "checkpoints")
        ensure_reference_model(cfg.model, cfg.paths.runs)
        L.seed_everything(int(cfg.seed), workers=True, verbose=False)
        tokenizer = load_tokenizer(cfg.model)
        variant = Variant.from_run_config(cfg.variant)
        precision = resolve_precision(str(cfg.trainer.precision), str(cfg.trainer.accelerator))
        # the base model is frozen: no fp32 masters needed, load it in the precision's 16-bit type if it has one
        model = build_model(cfg.model, variant, vocab_size=len(tokenizer), dtype=weights_dtype(precision, trains_weights=False))
        patch_gates(model, float(cfg.gates.init_logit))
        model.train()
        datamodule = GateDataModule(cfg.data, tokenizer, cfg.gates.retain_per_forget, seed=int(cfg.seed))
        datamodule.setup("fit")
        module = GateTrainingModule(model, cfg.gates)

        checkpoints = StepCheckpoint(out / "checkpoints", int(cfg.checkpoint_every_n_steps))
        run_id = wandb_run_id(out)
        logger = build_logger(cfg.logger, name=name, group=root.name, save_dir=out, config=cfg, run_id=run_id)
        with isolated_distributed_env():
            trainer = build_trainer(cfg, callbacks=[health, history, checkpoints, PreemptionCheckpoint(checkpoints), RememberRun(out, run_id, cfg)], logger=logger,
                                    entry_module=ENTRY_MODULE, job_dir=out)
            fit(trainer, module, datamodule, ckpt_path)
            # one checkpoint, as an ablation keeps; with AdamW's state, which is λ-sized (kilobytes): it can be continued
            keep_final_checkpoint(trainer, out / "checkpoints", keep_optimizer_state=True)
            entry = {"status": "collapsed" if health.collapsed else "ok", "collapse_reason": health.reason,
                     "steps": trainer.global_step, "world_size": trainer.world_size, "gates_dir": str(out),
                     "final_loss": history.last("train/loss"), "final_forget_loss": history.last("train/forget_loss"),
                     "final_retain_loss": history.last("train/retain_loss"), "wall_time_s": round(time.time() - start, 2),
                     "swept": swept}
            if trainer.is_global_zero:
                meta = {
                    "base_model": str(cfg.model.get("pretrained") or f"{cfg.model.name} (random init)"),
                    "variant": variant.name, "variant_spec": variant.to_dict(), "model_config": model.config.to_dict(),
                    "gates": OmegaConf.to_container(cfg.gates, resolve=True),
                    "data": {"name": cfg.data.get("name"), "seq_len": int(cfg.data.seq_len), "batch_size": int(cfg.data.batch_size)},
                    "num_forget_examples": len(datamodule.forget), "num_retain_blocks": len(datamodule.retain),
                    "seed": int(cfg.seed), "git_commit": git_commit(), "config": OmegaConf.to_container(cfg, resolve=True),
                    **{k: entry[k] for k in ("steps", "world_size", "status")},
                }
                stats = export(out, model, meta, history)
                entry.update(mean_gate=stats["mean"], knowledge_neurons=stats["knowledge_neurons_at_default"])
                update_json_entry(root / SUMMARY_FILE, name, entry)
                if isinstance(logger, WandbLogger):
                    import wandb

                    logger.experiment.log({"gates/histogram": wandb.Histogram(torch.sigmoid(gate_logits(model)).numpy().ravel())})
                    logger.experiment.summary.update({f"final/{k}": v for k, v in entry.items() if v is not None})
            wait_for_child_ranks(trainer)
    except Exception as err:
        if rank_zero_only.rank == 0 and (not isinstance(err, UserError) or in_multirun()):  # a sweep records every job
            entry = {"status": "failed", "error": f"{type(err).__name__}: {err}", "gates_dir": str(out), "swept": swept}
            update_json_entry(root / SUMMARY_FILE, name, entry)
            if in_multirun():  # recorded: the sweep goes on, and ends with its report and exit code 1 (lab.sweep_status)
                print_job_failure(err)
                return entry
        raise
    finally:
        finish_logger(logger)
    return entry


def print_run_summary(entry: dict) -> None:
    """The gate run's closing block (:mod:`lab.summary`), on the process that owns the run."""
    if rank_zero_only.rank != 0 or is_ddp_child():
        return
    out = Path(entry.get("gates_dir") or ".")
    metrics = {"loss": entry.get("final_loss"), "forget loss": entry.get("final_forget_loss"), "retain loss": entry.get("final_retain_loss"),
               "mean gate": entry.get("mean_gate"), "knowledge neurons (g < default threshold)": entry.get("knowledge_neurons")}
    finished = (out / "lambda_logits.pt").is_file()
    print_summary(f"gates.train {out.name}", entry.get("status", "?"), entry.get("wall_time_s"), metrics, out,
                  load=f"python -m gates.apply gates_dir={out}  (or gates.files.read_lambda_logits)" if finished else None,
                  look=[x for x in (f"make report RUN={out}", f"make gates-eval ARGS='gates_dir={out}'", wandb_sync_hint(out)) if x])


@hydra.main(version_base="1.3", config_path="../conf", config_name="gates_train")
@exit_on_user_error
def main(cfg: DictConfig) -> dict:
    entry = train_gates(cfg)
    print_run_summary(entry)
    return entry


if __name__ == "__main__":
    hydra_cli(main)
