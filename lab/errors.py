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
    """Run ``fn``; a :class:`UserError` prints ``error: <message>`` on stderr and exits with code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr, flush=True)
            sys.exit(USAGE_EXIT_CODE)

    return wrapper  # type: ignore[return-value]
