"""``graded_subset``: the rows graded under ``data.eval_limit``, spread over the whole eval set.

The bundled facts are ordered by country and relation: the first 64 hold 21 continent questions whose answer
is "Europe", so answering "Europe" to every continent question scores 33 % on them. Every k-th row covers
every relation and region in proportion instead.
"""

from typing import TypeVar

T = TypeVar("T")


def graded_subset(rows: list[T], limit: int | None) -> list[T]:
    """At most ``limit`` rows at evenly spaced indices ``⌊i·n/limit⌋`` (the first included); all of ``rows`` when
    ``limit`` is None or not smaller than ``n``."""
    if not limit or int(limit) >= len(rows):
        return list(rows)
    n, limit = len(rows), int(limit)
    return [rows[i * n // limit] for i in range(limit)]
