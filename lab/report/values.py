"""Numbers in prose, written by the code from the committed JSON: an inline marker names a value's source, its path
in that source and its format, and the text between the two markers is rewritten from them::

    Δ S = <!-- v:study/default summary.scratch.no_qk_norm.vs_control.lr_sensitivity .3f -->0.630 [0.071, 1.188]<!-- /v -->

renders as "Δ S = 0.630 [0.071, 1.188]" (an HTML comment is invisible in rendered markdown). The fields are:

- the **source**: a name the caller maps to a loaded JSON (``study/<name>``, ``localise/<name>``, ``headline``,
  ``gate3``, ``confirm/<name>``: :mod:`benchmarks.doc_values`);
- the **path**: keys joined by dots (``summary.surgery.original.lr_sensitivity.ci.0``): a list is indexed by an integer
  or by ``key=value[,key=value]``, its first item with those values (``summary.method=gates,mode=hard.held_out_recall``);
  a dot inside a key or value is written ``\\.`` (``budgets.budget=0\\.2,method=gates,mode=hard.held_out_recall``), a
  space ``%20`` (``summary.vocab%204,096.speed_ratio_lockstep``);
- the **format**: a Python format spec (``.3f``, ``.2g``); prefixed ``%`` the value is multiplied by 100 first
  (``%.1f``: 0.983 → 98.3); prefixed ``range:`` a list is written ``min–max``; prefixed ``abs:`` the absolute value;
  prefixed ``rate:`` a statistic's interval is clipped to [0, 1] first (``rate:%.1f``: a recall in %).

A value that is a statistic (a dict with ``mean`` and ``ci``) is written ``mean [low, high]`` in that format (``mean``
alone where it has no interval). ``make docs`` rewrites every marker; a test checks the committed text against it.
"""

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from lab.config.errors import UserError

MARKER = re.compile(r"<!-- v:(?P<source>[\w./-]+) (?P<path>\S+) (?P<spec>\S+) -->(?P<text>.*?)<!-- /v -->", re.S)


def lookup(data: Any, path: str) -> Any:
    """The value at a dotted ``path`` (``\\.`` a dot inside a key; an integer indexes a list)."""
    value = data
    for key in (k.replace("\\.", ".").replace("%20", " ") for k in re.split(r"(?<!\\)\.", path)):
        if isinstance(value, list) and "=" in key:
            wanted = dict(pair.split("=", 1) for pair in key.split(","))
            value = next(item for item in value if all(str(item.get(k)) == v for k, v in wanted.items()))
        elif isinstance(value, list):
            value = value[int(key)]
        elif isinstance(value, dict) and key in value:
            value = value[key]
        else:
            raise KeyError(key)
    return value


def render(value: Any, spec: str) -> str:
    """``value`` written in ``spec`` (the module docstring's formats)."""
    if spec.startswith("range:"):
        numbers = [float(v) for v in value]
        return f"{render(min(numbers), spec[6:])}–{render(max(numbers), spec[6:])}"
    if spec.startswith("abs:"):
        return render(abs(value), spec[4:])
    if spec.startswith("rate:"):  # a rate's interval clipped to its range [0, 1], as the tables clip it
        ci = value.get("ci")
        return render({**value, "ci": [max(ci[0], 0.0), min(ci[1], 1.0)] if ci else None}, spec[5:])
    if isinstance(value, dict) and "mean" in value:
        ci = value.get("ci")
        mean = render(value["mean"], spec)
        return f"{mean} [{render(ci[0], spec)}, {render(ci[1], spec)}]" if ci else mean
    if spec.startswith("%"):
        return format(100 * float(value), spec[1:])
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return format(value, spec)


def rewrite(text: str, sources: Callable[[str], Any], where: str = "") -> str:
    """``text`` with every marker's value rewritten; an unknown source or path is a :class:`UserError` naming it."""
    def replace(match: re.Match) -> str:
        try:
            value = lookup(sources(match["source"]), match["path"])
        except (KeyError, IndexError, ValueError, StopIteration) as err:
            raise UserError(f"{where}: marker v:{match['source']} {match['path']}: no value there ({err!r})") from None
        return f"<!-- v:{match['source']} {match['path']} {match['spec']} -->{render(value, match['spec'])}<!-- /v -->"

    return MARKER.sub(replace, text)


def rewrite_values(docs: Iterable[Path], sources: Callable[[str], Any], check: bool = False) -> list[Path]:
    """The ``docs`` whose inline values differ from their sources (rewritten unless ``check``)."""
    changed = []
    for doc in docs:
        text = doc.read_text()
        new = rewrite(text, sources, str(doc))
        if new != text:
            changed.append(doc)
            if not check:
                doc.write_text(new)
    return changed
