"""``python -m benchmarks.doc_values`` (in ``make docs``): every inline value of README.md and docs/*.md rewritten from
the committed JSON it names (:mod:`lab.report.values`); ``--check`` exits 1 when one differs (the test suite runs it).

The sources, each the committed JSON restated with the current statistics, as the generated blocks show it:

- ``study/<name>``: ``docs/results/norm_study/<name>/study.json`` (:func:`ablations.study.families.restate`);
- ``localise/<name>``: ``docs/results/localise/<name>.json`` (:func:`gates.localise.report.restate`);
- ``headline``: ``docs/results/headline/headline.json`` with ``spread`` recomputed (:func:`benchmarks.headline.summary`);
- ``gate3``: ``docs/results/gate3/seeds.json`` (:func:`vindex.gate3_seeds.restate`);
- ``confirm/<name>``: ``docs/results/confirm/<name>.json`` with its ``verdicts`` recomputed (:func:`benchmarks.confirm.restate`);
- ``bench/<name>``: ``benchmarks/results/<name>.json`` as the benchmark wrote it.
"""

import argparse
import functools
import sys
from pathlib import Path
from typing import Any

from lab.config import PROJECT_ROOT
from lab.config.errors import UserError, exit_on_user_error
from lab.report.values import rewrite_values
from lab.runs.artifacts import read_json

ROOT = PROJECT_ROOT
DOCS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))


@functools.cache
def source(name: str) -> Any:
    """The restated JSON a marker's source names (module docstring)."""
    kind, _, which = name.partition("/")
    if kind == "study":
        from ablations.study.families import restate

        return restate(read_json(ROOT / "docs" / "results" / "norm_study" / which / "study.json"))
    if kind == "localise":
        from gates.localise.report import restate

        return restate(read_json(ROOT / "docs" / "results" / "localise" / f"{which}.json"))
    if kind == "headline":
        from benchmarks.headline import PUBLISHED, summary

        report = read_json(PUBLISHED)
        return {**report, "spread": summary(report["per_seed"], report["seeds"])}
    if kind == "gate3":
        from vindex.gate3_seeds import PUBLISHED, restate

        return restate(read_json(PUBLISHED))
    if kind == "confirm":
        from benchmarks.confirm import RESULTS, restate

        result = read_json(RESULTS / f"{which}.json")
        return {**result, "verdicts": {row["id"]: row for row in restate(result)}}
    if kind == "bench":
        return read_json(ROOT / "benchmarks" / "results" / f"{which}.json")
    raise UserError(f"unknown value source {name!r}: study/<name>, localise/<name>, headline, gate3, confirm/<name> or bench/<name>")


def update(check: bool = False) -> list[Path]:
    return rewrite_values(DOCS, source, check)


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.doc_values", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when an inline value differs from its JSON")
    args = parser.parse_args(argv)
    changed = update(check=args.check)
    for doc in changed:
        print(f"{'stale' if args.check else 'rewritten'}: {doc.relative_to(ROOT)}")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
