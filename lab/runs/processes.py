"""Which process this is, and how a command it starts is quoted: helpers below both the run folders (:mod:`lab.runs`)
and training (:mod:`lab.train.ddp`, which starts the DDP child ranks these recognise)."""

CHILD_JOB_PREFIX = "ddp_rank"  # a DDP child rank runs as a Hydra run named ddp_rank<r> in its parent's job folder


def is_ddp_child() -> bool:
    """Whether this process is a child rank started by :class:`lab.train.ddp.HydraJobLauncher` (a Hydra run named
    ``ddp_rank<r>``)."""
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.initialized() and str(HydraConfig.get().job.name).startswith(CHILD_JOB_PREFIX)


def hydra_quoted(value: str) -> str:
    """``value`` as a quoted Hydra override value: a path holding ``,`` or ``=`` (a sweep job's folder) stays one value."""
    return "'" + value.replace("'", "\\'") + "'"
