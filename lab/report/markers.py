"""Generated blocks in markdown: text between two markers is written by the command that computed it, never by hand::

    <!-- <kind>:<name>:<block> -->
    ...generated...
    <!-- /<kind>:<name>:<block> -->

``kind`` says which command owns the block (``study``: :mod:`ablations.study.publish`; ``localise``:
:mod:`gates.localise.report`; ``gate3``: :mod:`vindex.gate3_seeds`; ``headline``: :mod:`benchmarks.headline`); a test of each owner checks the committed blocks against the committed JSON.
"""

import re
from collections.abc import Callable, Iterable
from pathlib import Path

from lab.config.errors import UserError


def marker(kind: str) -> re.Pattern:
    """The pattern of ``kind``'s blocks: groups ``name``, ``block``, the opening line (1) and the closing marker (5)."""
    return re.compile(rf"(<!-- {kind}:(?P<name>[\w.-]+):(?P<block>[\w-]+) -->\n)(?P<body>(?:.*?\n)?)(<!-- /{kind}:(?P=name):(?P=block) -->)", re.S)


def render_blocks(text: str, kind: str, blocks: dict[tuple[str, str], str], missing: Callable[[str, str], str]) -> str:
    """``text`` with each of ``kind``'s marked blocks replaced by ``blocks[(name, block)]``; a marker with no block is a
    :class:`UserError` saying ``missing(name, block)``."""
    def replace(match: re.Match) -> str:
        key = (match["name"], match["block"])
        if key not in blocks:
            raise UserError(missing(*key))
        return match.group(1) + blocks[key] + "\n" + match.group(5)

    return marker(kind).sub(replace, text)


def rewrite_docs(docs: Iterable[Path], kind: str, blocks: dict[tuple[str, str], str], missing: Callable[[str, str], str],
                 check: bool = False) -> list[Path]:
    """The ``docs`` whose ``kind`` blocks differ from ``blocks`` (:func:`render_blocks`; a missing block's error is
    prefixed by the doc's path), each rewritten unless ``check``."""
    changed = []
    for doc in docs:
        text = doc.read_text()
        new = render_blocks(text, kind, blocks, lambda name, block, doc=doc: f"{doc}: {missing(name, block)}")
        if new != text:
            changed.append(doc)
            if not check:
                doc.write_text(new)
    return changed
