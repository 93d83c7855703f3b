"""Where the configs, bundled assets and outputs are, and the OmegaConf resolvers that name them (every entry point);
``lab.config.schema`` types and checks a composed config before anything runs."""

import os
from importlib import resources
from pathlib import Path

from omegaconf import OmegaConf

CONF_DIR = Path(__file__).resolve().parent / "conf"  # the Hydra configs: the repo's conf/, linked here so they ship with lab
WANDB_PROJECT = "qwen3-internals"  # conf/logger/wandb.yaml's project: where W&B writes outside a training run


def asset_path(relative: str = "") -> str:
    """Absolute path of a file bundled in ``lab/config/assets`` (installed with the package)."""
    return str(Path(str(resources.files("lab.config") / "assets")) / relative)



PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the source checkout: docs/, README.md, benchmarks/results/


def runs_root() -> str:
    """``<project>/runs`` for a source checkout (editable install), else ``./runs`` of the working directory."""
    project = PROJECT_ROOT
    if (project / "pyproject.toml").is_file() and os.access(project, os.W_OK):
        return str(project / "runs")
    return str(Path.cwd() / "runs")


def group_options(group: str) -> list[str]:
    """The options of the config group ``group`` (``conf/<group>/*.yaml``), sorted: what ``group=<option>`` accepts."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def process_id() -> str:
    """``p<pid>``: part of every output folder name, so two runs started in the same microsecond never share one."""
    return f"p{os.getpid()}"


def register_resolvers() -> None:
    """``${asset:x}``: a bundled file of ``lab/config/assets``; ``${runs_root:}``: where outputs go by default;
    ``${pid:}``: this process's id (see :func:`process_id`). (``${job_name:...}`` is the run folders' own:
    :func:`lab.runs.job_name.register_job_name_resolver`.)"""
    if not OmegaConf.has_resolver("asset"):
        OmegaConf.register_new_resolver("asset", asset_path)
    if not OmegaConf.has_resolver("runs_root"):
        OmegaConf.register_new_resolver("runs_root", runs_root)
    if not OmegaConf.has_resolver("pid"):
        OmegaConf.register_new_resolver("pid", process_id, use_cache=True)

