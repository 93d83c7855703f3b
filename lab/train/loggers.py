"""Experiment loggers from ``conf/logger``: ``wandb`` (offline unless ``WANDB_MODE`` says otherwise), ``csv``, ``none``."""

from pathlib import Path

from lightning.pytorch.loggers import CSVLogger, Logger, WandbLogger
from omegaconf import DictConfig, OmegaConf

from lab.config.errors import UserError
from lab.config.schema import LOGGER_KINDS as KINDS


def build_logger(logger_cfg: DictConfig, *, name: str, group: str, save_dir: Path, config: DictConfig,
                 run_id: str | None = None) -> Logger | None:
    """One run named ``name`` in W&B group ``group`` (one group per sweep), with the resolved config attached.

    ``run_id`` (see :func:`lab.runs.resume.wandb_run_id`) makes a resumed job continue its W&B run (``resume="allow"``)
    instead of starting a second one.
    """
    kind = logger_cfg.kind
    if kind == "none":
        return None
    if kind == "csv":
        return CSVLogger(save_dir=str(save_dir), name="csv", version="")
    if kind == "wandb":
        logger = WandbLogger(
            project=logger_cfg.project, entity=logger_cfg.entity, name=name, group=group,
            job_type=logger_cfg.job_type, tags=list(logger_cfg.tags), mode=logger_cfg.mode,
            save_dir=str(save_dir), config=OmegaConf.to_container(config, resolve=True), log_model=False,
            id=run_id, resume="allow" if run_id else None, **_wandb_settings(logger_cfg),
        )
        logger._wandb_init.pop("anonymous", None)  # Lightning passes anonymous=None, which W&B warns about as if set
        return logger
    raise UserError(f"logger.kind={kind!r}; valid: {', '.join(KINDS)}")


def _wandb_settings(logger_cfg: DictConfig) -> dict:
    """``flush_interval_s``: how often W&B writes the run's ``.wandb`` file (what a kill can lose offline)."""
    interval = logger_cfg.flush_interval_s
    if interval is None:
        return {}
    import wandb

    return {"settings": wandb.Settings(x_transaction_log_flush_interval=interval)}


def finish_logger(logger: Logger | None) -> None:
    """Close the W&B run so that the next job of a multirun starts its own (never bleeds into this one)."""
    if isinstance(logger, WandbLogger) and logger._experiment is not None:
        logger.experiment.finish()
