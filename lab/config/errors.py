"""User-facing errors: one clear line and exit code 2, never a traceback: a mistake in the request
(:class:`UserError`) and a fault of the machine, a full disk or an unwritable location (:mod:`lab.config.faults`)."""

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from hydra.errors import CompactHydraException

from lab.config.faults import fault_message, full_error_wanted

F = TypeVar("F", bound=Callable[..., Any])

USAGE_EXIT_CODE = 2


class UserError(Exception):
    """A mistake in what the user asked for (config value, path, file): the message says what to do."""


class DiskFull(UserError):
    """A write found the disk full (:func:`lab.config.faults.disk_full_message`): the message names the file, the
    space free and needed, and that rerunning the same command resumes."""


def user_message(err: BaseException) -> str | None:
    """The one line ``err`` is told as: a :class:`UserError`'s message, a machine fault's
    (:func:`lab.config.faults.fault_message`), else None (a bug: its traceback is what to see)."""
    if isinstance(err, UserError):
        return str(err)
    return fault_message(err)


def exit_on_user_error(fn: F) -> F:
    """Run ``fn``; a :class:`UserError` prints ``error: <message>`` on stderr and exits with code 2.

    A full disk or an unwritable location anywhere in the exception's chain is told the same way
    (:func:`user_message`); with ``HYDRA_FULL_ERROR=1`` its traceback is printed first. Inside a Hydra multirun
    it is raised as :class:`JobFailed` instead: Hydra marks the job failed and the sweep's process tells the message
    alone and exits with code 1 (the sweep's end callbacks, its report among them, do not run then; a training job
    records its failure and returns instead wherever the disk lets it, so its sweep goes on: lab.train.run). The
    wrapper records that it ran (``started``): :func:`hydra_cli` tells a config that did not compose from a task
    that ran by it.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        wrapper.started = True  # type: ignore[attr-defined]
        raise_logging_errors, logging.raiseExceptions = logging.raiseExceptions, False  # a log file on a full disk
        try:  # loses its lines while the command runs: no "--- Logging error ---" tracebacks before its one line
            return fn(*args, **kwargs)
        except Exception as err:
            message = user_message(err)
            if message is None:
                raise
            if (isinstance(err, DiskFull) or not isinstance(err, UserError)) and full_error_wanted():  # a fault, not a request
                import traceback

                traceback.print_exception(err, file=sys.stderr)
            print(f"error: {message}", file=sys.stderr, flush=True)
            if in_multirun():
                raise JobFailed(message) from err
            sys.exit(USAGE_EXIT_CODE)
        finally:
            logging.raiseExceptions = raise_logging_errors

    return wrapper  # type: ignore[return-value]


class JobFailed(CompactHydraException):
    """A job of a Hydra multirun that stopped on a :class:`UserError` or a machine fault: Hydra marks the job failed
    and the sweep's process tells its message alone (any other exception a job raised, it prints with a traceback
    through Hydra's own frames), then exits non-zero."""


def print_job_failure(err: BaseException) -> None:
    """What a failed sweep job prints before the sweep goes on: one ``error:`` line for a :class:`UserError`,
    the traceback for anything else (a bug to see)."""
    import traceback

    message = user_message(err)
    if message is not None:
        print(f"error: {message}", file=sys.stderr, flush=True)
    else:
        traceback.print_exception(err, file=sys.stderr)


def in_multirun() -> bool:
    """Whether this process runs a job of a Hydra multirun (sweep)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
