"""``DiskPreflight``: before a training job starts, will its outputs fit on the disk?

A Hydra callback (``conf/training_run.yaml``), run at each job's start: it compares the free space of the file
system that holds the job's folder with what the job still needs,

    needed = peak disk of the job (lab.plan: its stages plus every step checkpoint kept while it runs)
             − bytes already in the job's folder (a resumed run has written part of it),

and when ``needed > free`` warns in one line naming the knobs that shrink it, or, with ``preflight.disk=error``,
refuses with exit code 2 before anything is trained. ``preflight.disk=off`` skips it. An epoch-bounded job
whose steps are not known without reading its data is checked against its finished size.
"""

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from lab.config.checks import require
from lab.config.faults import free_bytes, human_bytes
from lab.config.registry import check_run_keys
from lab.runs.processes import CHILD_JOB_PREFIX

log = logging.getLogger(__name__)
MODES = ("warn", "error", "off")


@dataclass
class PreflightConfig:
    """Checks before a training run starts (typed node ``preflight``): ``disk`` is ``warn`` (one line when the job's
    peak disk exceeds the free space), ``error`` (refuse, exit code 2) or ``off``."""

    disk: str = "warn"

    def __post_init__(self) -> None:
        require("preflight", "disk", self.disk, self.disk in MODES, " or ".join(MODES))


def folder_bytes(folder: Path) -> int:
    """Bytes of the files under ``folder`` (0 when it does not exist yet)."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()) if Path(folder).is_dir() else 0


def disk_shortfall(peak: int, folder: Path) -> tuple[int, int] | None:
    """``(needed, free)`` when the ``peak`` bytes of a job, less what ``folder`` already holds, exceed the free space
    of its file system; None when they fit."""
    needed, free = max(0, peak - folder_bytes(folder)), free_bytes(folder)
    return (needed, free) if needed > free else None


def shortfall_message(needed: int, free: int, folder: Path, steps: int | None, every: int) -> str:
    """The one line: what is needed and free, and the knobs that make it fit."""
    kept = f"its {steps // max(every, 1) + 1} step checkpoints" if steps else "its step checkpoints"
    return (f"the job needs about {human_bytes(needed)} more disk at its peak ({kept} are kept until it ends) but "
            f"{folder} has {human_bytes(free)} free: raise checkpoint_every_n_steps (now {every}), set "
            f"paths.runs to another disk, or free space (preflight.disk=off skips this check)")


class DiskPreflight(Callback):
    """The check of the module docstring, at each job's start (DDP child ranks follow their parent)."""

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if str(config.hydra.job.name).startswith(CHILD_JOB_PREFIX):
            return
        mode = str(config.preflight.disk)
        if mode not in ("warn", "error"):
            return  # off, or a bad value that the run's own checks refuse in one line
        from lab.plan import plan_job  # lab.plan imports the model stack: only once a job is about to run

        try:
            job_config = OmegaConf.masked_copy(config, [k for k in config if k != "hydra"])  # the job's keys, as a run sees them
            disk = plan_job(job_config, count_epochs=False)["disk"]
        except Exception as err:  # a config the planner cannot price is the run's to report, not the preflight's
            log.warning("preflight: the job's disk could not be estimated (%s); not checked", err)
            return
        peak = disk["during_run_bytes"] or disk["finished_bytes"]
        folder = Path(str(config.hydra.runtime.output_dir))
        short = disk_shortfall(peak, folder)
        if short is None:
            return
        message = shortfall_message(*short, folder, config.trainer.get("max_steps"), check_run_keys(job_config).checkpoint_every_n_steps)
        if mode == "error":
            print(f"error: {message}", file=sys.stderr, flush=True)
            raise SystemExit(2)
        print(f"warning: {message}", file=sys.stderr, flush=True)
