"""The entry point of a Hydra command outside the training lifecycle (``vindex.*``, ``gates.apply``,
``gates.evaluate``, ``lab.evaluate.lm_eval``; training has :func:`lab.train.run.recipe_main`)::

    @hydra_command("vindex")
    def main(cfg: DictConfig) -> None:
        build(cfg)

    if __name__ == "__main__":
        hydra_cli(main)

It is ``@hydra.main`` on the shipped configs (:data:`lab.config.CONF_DIR`), the typed nodes' checks
(:func:`lab.config.registry.validate`) before the command runs, and a :class:`lab.config.errors.UserError` as one
``error:`` line with exit code 2 (:func:`lab.config.errors.exit_on_user_error`).
"""

import functools
import sys
import threading
from collections.abc import Callable
from typing import Any

import hydra
from omegaconf import DictConfig

from lab.config import CONF_DIR
from lab.config.errors import USAGE_EXIT_CODE, exit_on_user_error
from lab.config.hints import unknown_key_hint
from lab.config.registry import register_schemas, validate


def hydra_command(config_name: str) -> Callable[[Callable[[DictConfig], Any]], Callable[[], Any]]:
    """Decorate ``fn(cfg)`` as the Hydra command of ``conf/<config_name>.yaml`` (module docstring). Every typed node
    is registered first (:func:`lab.config.registry.register_schemas`): the command's own, ``schema/<config_name>``,
    which that file lists first in its defaults, is an entry point of pyproject.toml like every other."""
    register_schemas()

    def decorate(fn: Callable[[DictConfig], Any]) -> Callable[[], Any]:
        @functools.wraps(fn)
        def checked(cfg: DictConfig) -> Any:
            validate(cfg)
            return fn(cfg)

        return hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name=config_name)(exit_on_user_error(checked))

    return decorate


SWEEP_LAUNCHED = threading.Event()  # set by the sweep's process once its config composed (lab.runs.sweep_status)


def task_started(main: Callable[..., Any]) -> bool:
    """Whether the task inside a decorated entry point (``@hydra.main`` over :func:`exit_on_user_error`) has run."""
    fn: Any = main
    while fn is not None:
        if getattr(fn, "started", False):
            return True
        fn = getattr(fn, "__wrapped__", None)
    return False


def hydra_cli(main: Callable[[], Any]) -> None:
    """Run a ``@hydra.main`` entry point as ``__main__``.

    Hydra reports a config that does not compose (an unknown group option such as ``variant=no_qk_nrom``,
    an unknown key, a value of the wrong type) in one message and exits with code 1; that is a usage error,
    so it exits with code 2 here, after naming a typed node's valid keys when the unknown key is one of its
    (:func:`lab.config.hints.unknown_key_hint`). Code 1 from a job that ran (a failed sweep) is kept: a job in this
    process says so itself (:func:`task_started`), a sweep whose jobs run in other processes (Hydra's joblib or
    SLURM launcher) by :data:`SWEEP_LAUNCHED`.
    """
    SWEEP_LAUNCHED.clear()
    try:
        main()
    except SystemExit as stop:
        if stop.code == 1 and not task_started(main) and not SWEEP_LAUNCHED.is_set():
            hint = unknown_key_hint(sys.argv[1:])
            if hint:
                print(hint, file=sys.stderr)
            sys.exit(USAGE_EXIT_CODE)
        raise
