"""User-facing errors: one clear line and exit code 2, never a traceback."""

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

USAGE_EXIT_CODE = 2


class UserError(Exception):
    """A mistake in what the user asked for (config value, path, file): the message says what to do."""


def exit_on_user_error(fn: F) -> F:
    """Run ``fn``; a :class:`UserError` prints ``error: <message>`` on stderr and exits with code 2.

    Inside a Hydra multirun the error is re-raised instead: the job is recorded as failed and the other
    jobs of the sweep still run (Hydra then exits with code 1). The wrapper records that it ran (``started``):
    :func:`hydra_cli` tells a config that did not compose from a task that ran by it.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        wrapper.started = True  # type: ignore[attr-defined]
        try:
            return fn(*args, **kwargs)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr, flush=True)
            if in_multirun():
                raise
            sys.exit(USAGE_EXIT_CODE)

    return wrapper  # type: ignore[return-value]


def print_job_failure(err: BaseException) -> None:
    """What a failed sweep job prints before the sweep goes on: one ``error:`` line for a :class:`UserError`,
    the traceback for anything else (a bug to see)."""
    import traceback

    if isinstance(err, UserError):
        print(f"error: {err}", file=sys.stderr, flush=True)
    else:
        traceback.print_exception(err, file=sys.stderr)


def in_multirun() -> bool:
    """Whether this process runs a job of a Hydra multirun (sweep)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
