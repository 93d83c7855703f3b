"""The checks a typed config node runs on its values (``__post_init__``): each refuses a value that parses but cannot
work with one :class:`lab.config.errors.UserError` line naming the key and what was expected."""

import math
from collections.abc import Iterable
from typing import Any

from lab.config.errors import UserError

TYPE_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def integer(low: int):
    """A test: an int (not a bool) of at least ``low``."""
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low


def number(low: float, high: float = math.inf, low_open: bool = False, high_open: bool = False):
    """A test: a finite int or float in [low, high] (ends open as asked)."""
    def ok(v: Any) -> bool:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return False
        return (v > low if low_open else v >= low) and (v < high if high_open else v <= high)

    return ok


def betas(v: Any) -> bool:
    """A test: AdamW's two betas, each in [0, 1)."""
    return isinstance(v, (list, tuple)) and len(v) == 2 and all(number(0, 1, high_open=True)(b) for b in v)


def require(node: str, key: str, value: Any, valid: bool, expected: str) -> None:
    """Raise the one-line error of a value that parses but cannot work (``node`` "": a top-level key)."""
    if not valid:
        shown = list(value) if isinstance(value, (list, tuple)) else value
        raise UserError(f"{node + '.' if node else ''}{key}={shown!r} is invalid; expected {expected}")


def require_each(node: str, owner: Any, checks: Iterable[tuple[str, Any, str]]) -> None:
    """:func:`require` for each ``(key, valid, expected)`` of a typed node ``owner``, in order; ``valid`` is a bool,
    or a test that is given the key's value."""
    for key, valid, expected in checks:
        value = getattr(owner, key)
        require(node, key, value, valid(value) if callable(valid) else valid, expected)
