"""No hand-typed number: every measured number in README.md and docs/*.md is written by the code that computed it.

A number is in a generated block (``<!-- kind:name:block -->`` … ``<!-- /kind:name:block -->``), or in an inline value
marker (``<!-- v:<source> <path> <format> -->…<!-- /v -->``, :mod:`lab.report.values`) whose text is what its
committed JSON gives, or it is not a measurement: code (fenced blocks, backtick spans: commands, config values,
file names), a link target, a model's or corpus's name (Qwen3-0.6B, WordNet 3.0), the declared level ("95 % Student-t interval", "α = 0.05").
"A measured number" is what a result looks like: a decimal,
a percentage, an interval, a duration, a ratio (the before-stop hook's pattern).
"""

import re
from pathlib import Path

import pytest

from benchmarks.doc_values import DOCS, ROOT, update

MEASURED = re.compile(r"\d+\.\d+|\d+(\.\d+)? ?%|\[-?−?\d|\d+ ?(min|h|s|ms|GB|GiB|MB|MiB)\b|\d ?×|×\s?\d|\d+:\d\d|\d+(\.\d+)?x\b")
BLOCK_OPEN, BLOCK_CLOSE = re.compile(r"\s*<!--\s*[\w:.-]+\s*-->\s*$"), re.compile(r"\s*<!--\s*/[\w:.-]+\s*-->\s*$")
NOT_MEASURED = (re.compile(r"95 % (?=Student|t\b|Welch|paired|interval|CI|confidence)"), re.compile(r"α = 0\.05"),  # the declared level
                re.compile(r"`[^`]*`"), re.compile(r"<!-- v:.*?<!-- /v -->"), re.compile(r"\]\([^)]*\)"),
                re.compile(r"Qwen3?-\d+(\.\d+)?B(-\w+)?"), re.compile(r"WordNet \d\.\d"), re.compile(r"<!--.*?-->"))


def hand_typed(page: Path) -> list[str]:
    """``line: text`` of each line of ``page`` that holds a measured number outside what the code writes."""
    found, block, fenced = [], False, False
    for number, line in enumerate(page.read_text().splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if BLOCK_CLOSE.match(line):
            block = False
            continue
        if BLOCK_OPEN.match(line):
            block = True
            continue
        if block or fenced:
            continue
        text = line
        for pattern in NOT_MEASURED:
            text = pattern.sub(" ", text)
        if MEASURED.search(text):
            found.append(f"{page.name}:{number}: {line.strip()[:120]}")
    return found


def test_every_inline_value_is_what_its_committed_json_gives():
    assert update(check=True) == [], "run `make docs` (python -m benchmarks.doc_values) and commit the result"


@pytest.mark.parametrize("page", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_measured_number_is_typed_by_hand(page):
    lines = hand_typed(page)
    assert not lines, "numbers outside generated blocks and inline values:\n" + "\n".join(lines)


def test_the_checker_finds_a_typed_number_and_passes_a_written_one(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("S is 0.63 here.\n`lr=3e-3` and [link](a/1.2.md) for Qwen3-0.6B.\n"
                    "<!-- v:headline spread.main/val_loss.mean .3f -->0.590<!-- /v -->\n<!-- x:y:z -->\n1.5 %\n<!-- /x:y:z -->\n")
    assert [line.split(":")[1] for line in hand_typed(page)] == ["1"]  # only the hand-typed 0.63
