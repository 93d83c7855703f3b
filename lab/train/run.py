"""One run lifecycle for every tool that trains (``ablations.train``, ``gates.train``): the tool gives a
:class:`Recipe`, :func:`run` does the rest, in this order:

1. the run folder: output root, config checks, identity and reuse (a finished run of the same config is skipped,
   another config is refused), the checkpoint to resume from, the W&B id (:mod:`lab.runs.resume`);
2. the reference model it needs, seeding, the tokenizer and the data module the config names (``datamodule:``,
   its ``from_run_config``, set up for fit), then the recipe's model and Lightning module;
3. the standard callbacks (health, metrics history, then the recipe's and the config's ``callbacks`` group
   (:mod:`lab.train.callbacks`), step checkpoints, preemption, the run record), the logger, the trainer, fit;
4. the final checkpoint, the summary entry, the recipe's export (global rank 0), the W&B summary;
5. on failure, the failure entry (every job of a sweep is recorded; a single run raises), and the logger closed.

A tool's command is :func:`recipe_main`: Hydra composes its config, :func:`run` trains, and
:meth:`Recipe.print_summary` closes, printed once (:func:`print_run_summary`).
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra.utils import get_class
from lightning.pytorch.loggers import Logger
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig
from torch import nn

from lab.config import CONF_DIR
from lab.config.errors import UserError, exit_on_user_error, in_multirun, print_job_failure, user_message
from lab.config.registry import TypedConfig, register_schemas, validate
from lab.model import load_tokenizer
from lab.runs.artifacts import read_json, update_json_entry
from lab.runs.checkpointing import StepCheckpoint
from lab.runs.final_checkpoint import keep_final_checkpoint
from lab.runs.paths import job_dir, resolve_output_root
from lab.runs.preemption import PreemptionCheckpoint
from lab.runs.processes import is_ddp_child
from lab.runs.reference import ensure_reference_model
from lab.runs.resume import RememberRun, resume_checkpoint, reuse_previous_run, wandb_run_id
from lab.train.callbacks import instantiate_callbacks
from lab.train.ddp import isolated_distributed_env, wait_for_child_ranks
from lab.train.health import TrainingHealth
from lab.train.history import MetricsHistory
from lab.train.loggers import build_logger, finish_logger
from lab.train.trainer import build_trainer, fit

log = logging.getLogger(__name__)


@dataclass
class RunContext:
    """One run as the lifecycle sees it. ``folder`` holds what must survive (checkpoints, W&B id, run record);
    ``log_dir`` is the job's own folder (Hydra's output dir: logs, W&B files, the DDP child's config)."""

    cfg: DictConfig
    typed: TypedConfig  # cfg's typed nodes as their dataclass instances (lab.config.registry.validate)
    root: Path
    name: str
    folder: Path
    log_dir: Path
    history: MetricsHistory
    health: TrainingHealth
    start: float = field(default_factory=time.time)
    logger: Logger | None = None
    fields: dict = field(default_factory=dict)  # what the recipe learns while building, for every entry (failure too)
    tokenizer: Any = None                        # the model's tokenizer (lab.model.load_tokenizer), before build
    datamodule: L.LightningDataModule | None = None  # the config's data module, set up for fit, before build

    def wall(self) -> float:
        return round(time.time() - self.start, 2)


@dataclass
class Parts:
    """What a recipe builds: the model (``model``, for the final zero_grad and export), the Lightning module, and
    the recipe's own callbacks (those that need what it built; placed after health and history, before
    the config's ``callbacks`` and the checkpoints)."""

    model: nn.Module
    module: L.LightningModule
    callbacks: list[L.Callback] = field(default_factory=list)
    extra: dict = field(default_factory=dict)


class Recipe:
    """What one training tool adds to the lifecycle. Subclasses set ``entry_module`` and override the hooks."""

    entry_module: str = ""  # the ``python -m`` module a DDP child rank is started with
    summary_file: str = ""  # ``<root>/<summary_file>``: one entry per run of the folder (sweep)
    history_prefixes: tuple[str, ...] = ("train/",)  # which logged scalars a training row of train_metrics.json keeps

    def folders(self, cfg: DictConfig, root: Path) -> tuple[Path, Path, tuple[Path, ...]]:
        """(folder, log_dir, other folders a discarded run also clears); by default the Hydra job's folder holds
        both the run and its logs (``root`` outside Hydra)."""
        folder = job_dir(cfg, root)
        return folder, folder, ()

    def check(self, cfg: DictConfig) -> None:
        """Refuse a config this tool cannot run (raise :class:`lab.config.errors.UserError`)."""

    def finished_entry(self, ctx: RunContext) -> dict:
        """The summary entry of a finished run that is skipped: the one ``<root>/<summary_file>`` holds, else its
        ``metadata.json``'s status."""
        summary = ctx.root / self.summary_file
        entry = read_json(summary).get(ctx.name) if summary.is_file() else None
        return entry or {"status": read_json(ctx.folder / "metadata.json").get("status", "ok")}

    def build(self, ctx: RunContext) -> Parts:
        """The model and Lightning module (``ctx.tokenizer`` and ``ctx.datamodule`` are set)."""
        raise NotImplementedError

    def keep_optimizer_state(self, typed: TypedConfig) -> bool:
        """Whether the final checkpoint keeps AdamW's state: the typed ``artifacts`` node's choice when the tool's
        config has one, else not."""
        artifacts = typed.get("artifacts")
        return artifacts is not None and artifacts.keep_optimizer_state

    def result(self, ctx: RunContext, parts: Parts, trainer: L.Trainer) -> dict:
        """The summary entry of a run that trained (status ``ok`` or ``collapsed``)."""
        raise NotImplementedError

    def export(self, ctx: RunContext, parts: Parts, entry: dict) -> None:
        """Write the tool's artifacts (global rank 0 only); may add fields to ``entry``."""

    def failure_entry(self, ctx: RunContext, trainer: L.Trainer | None, err: BaseException) -> dict:
        raise NotImplementedError

    def record(self, ctx: RunContext, entry: dict) -> None:
        """Add ``entry`` to ``<root>/<summary_file>`` (safe when sweep jobs finish together)."""
        update_json_entry(ctx.root / self.summary_file, ctx.name, entry)

    def print_summary(self, cfg: DictConfig, entry: dict) -> None:
        """The run's closing block (:mod:`lab.runs.summary`)."""


def run(cfg: DictConfig, recipe: Recipe) -> dict:
    """Train ``recipe`` under ``cfg`` (the module docstring's five steps); returns the run's summary entry."""
    root = resolve_output_root(cfg)
    folder, log_dir, others = recipe.folders(cfg, root)
    ctx = RunContext(cfg, TypedConfig(), root, str(cfg.run_name), folder, log_dir,
                     MetricsHistory(prefixes=recipe.history_prefixes), TrainingHealth())
    trainer = None
    try:
        ctx.typed = validate(cfg)
        recipe.check(cfg)
        if reuse_previous_run(cfg, folder, *others):
            return skip_finished(ctx, recipe)
        configured = instantiate_callbacks(cfg.get("callbacks"))
        ckpt_path = resume_checkpoint(cfg.get("ckpt_path"), folder / "checkpoints")
        ensure_reference_model(cfg.model, cfg.paths.runs)
        L.seed_everything(ctx.typed.run.seed, workers=True, verbose=False)
        ctx.tokenizer = load_tokenizer(cfg.model)
        ctx.datamodule = get_class(str(cfg.datamodule)).from_run_config(cfg, ctx.tokenizer)
        ctx.datamodule.setup("fit")
        parts = recipe.build(ctx)
        checkpoints = StepCheckpoint(folder / "checkpoints", ctx.typed.run.checkpoint_every_n_steps)
        run_id = wandb_run_id(folder)
        callbacks = [ctx.health, ctx.history, *parts.callbacks, *configured, checkpoints, PreemptionCheckpoint(checkpoints),
                     RememberRun(folder, run_id, cfg)]
        log_dir.mkdir(parents=True, exist_ok=True)
        ctx.logger = build_logger(cfg.logger, name=ctx.name, group=root.name, save_dir=log_dir, config=cfg, run_id=run_id)
        with isolated_distributed_env():
            trainer = build_trainer(cfg, callbacks=callbacks, logger=ctx.logger, entry_module=recipe.entry_module, job_dir=log_dir)
            fit(trainer, parts.module, ctx.datamodule, ckpt_path)
            parts.model.zero_grad(set_to_none=True)  # the last step's gradients: tensors no export needs
            keep_final_checkpoint(trainer, folder / "checkpoints", recipe.keep_optimizer_state(ctx.typed))
            entry = recipe.result(ctx, parts, trainer)
            if trainer.is_global_zero:
                recipe.export(ctx, parts, entry)
                recipe.record(ctx, entry)
                log_final_summary(ctx.logger, entry)
            wait_for_child_ranks(trainer)
    except Exception as err:
        if rank_zero_only.rank == 0 and (not isinstance(err, UserError) or in_multirun()):  # a sweep records every job
            entry = recipe.failure_entry(ctx, trainer, err)
            # recorded, the sweep goes on and ends with its report and exit code 1 (lab.runs.sweep_status); not
            # recorded (the disk is full), only the job's own failure can tell Hydra, so it is raised
            if record_failure(recipe, ctx, entry) and in_multirun():
                print_job_failure(err)
                return entry
        raise
    finally:
        finish_logger(ctx.logger)
    return entry


def record_failure(recipe: Recipe, ctx: RunContext, entry: dict) -> bool:
    """Record a failed run's entry if the disk lets it (True); its own failure (the disk is full) is one warning,
    never the error the user sees instead of the first one."""
    try:
        recipe.record(ctx, entry)
    except Exception as err:
        log.warning("the failure could not be recorded in %s: %s", ctx.root / recipe.summary_file, user_message(err) or err)
        return False
    return True


def skip_finished(ctx: RunContext, recipe: Recipe) -> dict:
    """A rerun (of a sweep) leaves a finished, intact run of the same config as it is and keeps its summary entry."""
    entry = recipe.finished_entry(ctx)
    if rank_zero_only.rank == 0:
        log.info("%s is finished (SHA256SUMS intact, same config): skipping it; overwrite=true trains it again", ctx.folder)
        recipe.record(ctx, entry)
    return entry


def log_final_summary(logger: Logger | None, entry: dict) -> None:
    """The entry's values as the W&B run's ``final/<key>`` summary (nothing for other loggers)."""
    experiment = getattr(logger, "experiment", None) if logger is not None else None
    if experiment is not None and hasattr(experiment, "summary"):
        experiment.summary.update({f"final/{k}": v for k, v in entry.items() if v is not None})


def print_run_summary(recipe: Recipe, cfg: DictConfig, entry: dict) -> None:
    """The closing block, printed once: by global rank 0 of the process that owns the run (not a DDP child)."""
    if rank_zero_only.rank == 0 and not is_ddp_child():
        recipe.print_summary(cfg, entry)


def recipe_train(recipe: Recipe) -> Callable[[DictConfig], dict]:
    """A tool's ``train(cfg)``: :func:`run` with its recipe, returning the run's summary entry (tests and scripts
    call it with a composed config)."""

    def train(cfg: DictConfig) -> dict:
        return run(cfg, recipe)

    train.__doc__ = f"Train {type(recipe).__name__} under ``cfg`` (:func:`lab.train.run.run`); returns the summary entry."
    return train


def recipe_main(recipe: Recipe, config_name: str) -> Callable[[], Any]:
    """A tool's command: ``@hydra.main`` over the suite's configs (``config_name``), :func:`run`, the closing block;
    a :class:`lab.config.errors.UserError` is one line and exit 2. Run it with :func:`lab.config.errors.hydra_cli`."""

    def main(cfg: DictConfig) -> dict:
        entry = run(cfg, recipe)
        print_run_summary(recipe, cfg, entry)
        return entry

    register_schemas()  # every typed node, the tool's own among them (schema/gates), from pyproject's entry points
    main.__module__ = recipe.entry_module or type(recipe).__module__  # Hydra names the job (<job>.log) after it
    return hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name=config_name)(exit_on_user_error(main))
