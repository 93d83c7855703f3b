"""Third-party messages that tell our users nothing, each silenced by its exact text (never a category at large).

- Lightning's advert printed by every ``Trainer``: "💡 Tip: For seamless cloud logging ... litlogger";
- Lightning's ``_pytree`` calling a torch API deprecated in torch 2.13 ("`isinstance(treespec, LeafSpec)` is
  deprecated"), once per checkpoint save or load;
- torchdata's ``StatefulDataLoader`` calling a deprecated torch API on every ``iter()`` ("'set_vital' is deprecated");
- Lightning's hint on any machine with SLURM installed, run outside a SLURM job ("The `srun` command is available
  on your system but is not used"): a login node or this suite's local cluster, where running locally is meant.

The other noise is fixed where it is made: ``limit_val_batches`` is left to Lightning's default
(``conf/trainer/default.yaml``), the W&B logger no longer passes ``anonymous`` (:mod:`lab.train.loggers`), and the
progress bar does not count epochs out of ``max_epochs: -1`` (:mod:`lab.train.progress`).
"""

import logging
import warnings

LOG_MESSAGES = {"lightning.pytorch.utilities.rank_zero": ("💡 Tip: For seamless cloud logging",)}
WARNINGS = (
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning),
    (r"'set_vital' is deprecated", UserWarning),
    (r"The `srun` command is available on your system but is not used", UserWarning),
)


class DropMessages(logging.Filter):
    """A logging filter that drops records whose message starts with one of ``prefixes``."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(self.prefixes)


def silence_known_noise() -> None:
    """Install the filters above (idempotent)."""
    for logger_name, prefixes in LOG_MESSAGES.items():
        logger = logging.getLogger(logger_name)
        if not any(isinstance(f, DropMessages) for f in logger.filters):
            logger.addFilter(DropMessages(prefixes))
    for message, category in WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
