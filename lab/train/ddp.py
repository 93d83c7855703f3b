"""DDP that works under Hydra multirun: child ranks re-enter the current Hydra *job*, not the sweep.

Lightning's script launcher starts ranks 1..N-1 by re-running ``sys.argv`` (Lightning issue 18175):
under ``-m`` every child runs the whole sweep again. Here the parent writes the job's fully resolved
config to ``<job dir>/.ddp/config.yaml`` and starts each child as a single Hydra run of exactly that
config in the same job folder::

    python -m <entry module> --config-path <job dir>/.ddp --config-name config \
        hydra.run.dir=<job dir> hydra.output_subdir=null hydra.job.name=ddp_rank<r>

so a child can neither start other jobs nor write outside its parent's job folder. Multi-node jobs
started by SLURM (one task per GPU) launch nothing: Lightning's SLURM environment takes over.

When a child rank dies, Lightning's observer SIGKILLs the parent, which under ``-m`` is the whole sweep.
Here the observer kills the other children and sends the parent SIGTERM instead: Lightning stops the
job with an exception, the job is recorded ``failed``, and the sweep goes on to its next job. A rank
stuck in a collective with a dead peer gives up after ``trainer.ddp.timeout_s``.
"""

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import torch.distributed
from lightning.fabric.strategies.launchers.subprocess_script import _ChildProcessObserver
from lightning.fabric.utilities.distributed import _set_num_threads_if_needed
from lightning.pytorch.strategies import DDPStrategy
from lightning.pytorch.strategies.launchers.subprocess_script import _SubprocessScriptLauncher
from omegaconf import DictConfig, OmegaConf

from lab.runs.processes import CHILD_JOB_PREFIX, hydra_quoted

DDP_ENV_KEYS = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE", "GROUP_RANK", "PL_GLOBAL_SEED")


def child_command(entry_module: str, config_dir: Path, job_dir: Path, local_rank: int) -> list[str]:
    """The command line that makes rank ``local_rank`` join the job whose config is in ``config_dir``."""
    return [
        sys.executable, "-m", entry_module,
        "--config-path", str(config_dir), "--config-name", "config",
        f"hydra.run.dir={hydra_quoted(str(job_dir))}", "hydra.output_subdir=null", f"hydra.job.name={CHILD_JOB_PREFIX}{local_rank}",
    ]


class ChildRankObserver(_ChildProcessObserver):
    """On a dead child rank: SIGKILL the other children, SIGTERM (not SIGKILL) the parent (see module docstring)."""

    running: list["ChildRankObserver"] = []

    def start(self) -> None:
        ChildRankObserver.running.append(self)
        super().start()

    @classmethod
    def stop_all(cls) -> None:
        """The job is over (done or failed): stop every observer, so a later job is never signalled for this one."""
        while cls.running:
            observer = cls.running.pop()
            observer._finished = True
            observer._kill_children()

    def _kill_children(self) -> None:
        for proc in self._child_processes:
            if proc.poll() is None:
                proc.kill()

    def _terminate_all(self) -> None:
        if self._finished:
            return
        self._kill_children()
        os.kill(self._main_pid, signal.SIGTERM)


class HydraJobLauncher(_SubprocessScriptLauncher):
    """Lightning's subprocess launcher with the child command of :func:`child_command`."""

    def __init__(self, *args, job_config: DictConfig, entry_module: str, job_dir: Path, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.job_config, self.entry_module, self.job_dir = job_config, entry_module, Path(job_dir)

    def launch(self, function, *args, trainer=None, **kwargs):
        """Lightning's ``launch`` with :class:`ChildRankObserver` in place of its own observer."""
        self.cluster_environment.validate_settings(num_devices=self.num_processes, num_nodes=self.num_nodes)
        if not self.cluster_environment.creates_processes_externally:
            self._call_children_scripts()
            ChildRankObserver(main_pid=os.getpid(), child_processes=self.procs, sleep_period=1).start()
        _set_num_threads_if_needed(num_processes=self.num_processes)
        return function(*args, **kwargs)

    def _call_children_scripts(self) -> None:
        self._check_can_spawn_children()
        self.procs = []
        os.environ["MASTER_ADDR"] = self.cluster_environment.main_address
        os.environ["MASTER_PORT"] = str(self.cluster_environment.main_port)
        os.environ["NODE_RANK"] = str(self.cluster_environment.node_rank())
        os.environ["LOCAL_RANK"] = str(self.cluster_environment.local_rank())
        os.environ["WORLD_SIZE"] = f"{self.num_processes * self.num_nodes}"
        config_dir = self.job_dir / ".ddp"
        config_dir.mkdir(parents=True, exist_ok=True)
        (config_dir / "config.yaml").write_text(OmegaConf.to_yaml(self.job_config, resolve=True))
        for local_rank in range(1, self.num_processes):
            env = os.environ.copy()
            env["LOCAL_RANK"] = str(local_rank)
            if os.environ.get("PL_GLOBAL_SEED") is None:
                env.pop("PL_GLOBAL_SEED", None)
            command = child_command(self.entry_module, config_dir, self.job_dir, local_rank)
            self.procs.append(subprocess.Popen(command, env=env))

    def wait_children(self, timeout: float) -> list[int | None]:
        """Exit codes of the children, waiting up to ``timeout`` s each (None: still running, then killed)."""
        codes: list[int | None] = []
        for proc in self.procs:
            try:
                codes.append(proc.wait(timeout=timeout))
            except subprocess.TimeoutExpired:
                proc.kill()
                codes.append(None)
        return codes


class HydraJobDDPStrategy(DDPStrategy):
    """``DDPStrategy`` whose launcher is :class:`HydraJobLauncher` (see module docstring)."""

    def __init__(self, *, job_config: DictConfig, entry_module: str, job_dir: Path, **kwargs) -> None:
        super().__init__(**kwargs)
        self._job = {"job_config": job_config, "entry_module": entry_module, "job_dir": Path(job_dir)}

    def on_exception(self, exception: BaseException) -> None:
        """The job is failing: stop watching the children now, before Lightning restores the signal handlers
        (a SIGTERM after that would end the whole sweep), and kill the ranks that are left."""
        ChildRankObserver.stop_all()
        super().on_exception(exception)

    def _configure_launcher(self) -> None:
        if self._start_method != "popen":
            return super()._configure_launcher()
        self._launcher = HydraJobLauncher(self.cluster_environment, self.num_processes, self.num_nodes, **self._job)


def wait_for_child_ranks(trainer, timeout: float = 120) -> None:
    """After ``fit``: wait for the DDP child ranks this process started; raise if one of them failed."""
    launcher = getattr(trainer.strategy, "launcher", None)
    if hasattr(launcher, "wait_children"):
        codes = launcher.wait_children(timeout=timeout)
        if any(code != 0 for code in codes):
            raise RuntimeError(f"DDP child ranks exited with {codes}")


@contextlib.contextmanager
def isolated_distributed_env() -> Iterator[None]:
    """Undo what a DDP job leaves in this process (env vars, process group) so the next job starts clean.

    Lightning's launcher exports ``LOCAL_RANK`` & co. into the parent's environment; left there, the next
    job of a sweep would believe its ranks were started externally and wait for them forever.
    """
    saved = {key: os.environ.get(key) for key in DDP_ENV_KEYS}
    try:
        yield
    finally:
        ChildRankObserver.stop_all()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
