"""``python -m ablations.study.publish`` (``make docs``): the norm study's published text, regenerated from the
committed ``docs/results/norm_study/<name>/study.json`` files.

Each generated block of :func:`ablations.study.tables.study_blocks` sits in README.md and docs/norm-study.md
between two markers::

    <!-- study:<name>:<block> -->
    ...generated, never edited by hand...
    <!-- /study:<name>:<block> -->

``python -m ablations.study <folder> --publish`` copies a finished study's ``study.json`` there, draws its figures
into ``docs/figures/norm_study_<name>_*.png`` and rewrites the blocks; ``--check`` exits 1 when a committed block
differs from what the committed ``study.json`` gives (the test suite runs that check). Each committed study is first
restated with the current statistics (:func:`ablations.study.families.restate`): the blocks show today's intervals
and Holm verdicts whatever code wrote the file. A rerun published with
``--replicates <name>`` also gets a ``replication`` block comparing it with ``<name>``
(:mod:`ablations.study.replication`); one published with ``--transfers-from <name>`` gets ``transfer`` and
``transfer_readme`` blocks comparing its contrasts with ``<name>``'s (:mod:`ablations.study.transfer`);
``dyt_check/dyt_check.json`` (``python -m ablations.dyt_check --publish``) gives the
``dyt_check:table`` block.
"""

import argparse
import shutil
import sys
from pathlib import Path

from ablations.study.families import restate
from ablations.study.plots import write_figures
from ablations.study.replication import replication_block
from ablations.study.tables import study_blocks
from ablations.study.transfer import transfer_block, transfer_readme
from lab.config import PROJECT_ROOT
from lab.config.errors import UserError, exit_on_user_error
from lab.report.markers import marker, rewrite_docs
from lab.runs.artifacts import check_writable, read_json, write_json

ROOT = PROJECT_ROOT
RESULTS = ROOT / "docs" / "results" / "norm_study"
FIGURES = ROOT / "docs" / "figures"
DOCS = (ROOT / "README.md", ROOT / "docs" / "norm-study.md")
MARKER = marker("study")


def committed_blocks(results: Path = RESULTS) -> dict[tuple[str, str], str]:
    """``{(study name, block): markdown}`` of every committed ``study.json``."""
    blocks = {}
    for path in sorted(results.glob("*/study.json")):
        study = restate(read_json(path))
        for block, text in study_blocks(study).items():
            blocks[(path.parent.name, block)] = text
        if study.get("replicates"):
            original = results / study["replicates"] / "study.json"
            if not original.is_file():
                raise UserError(f"{path}: replicates {study['replicates']!r}, which has no {original}")
            blocks[(path.parent.name, "replication")] = replication_block(restate(read_json(original)), study)
        if study.get("transfers_from"):
            source = results / study["transfers_from"] / "study.json"
            if not source.is_file():
                raise UserError(f"{path}: transfers_from {study['transfers_from']!r}, which has no {source}")
            compared = restate(read_json(source))
            blocks[(path.parent.name, "transfer")] = transfer_block(compared, study)
            blocks[(path.parent.name, "transfer_readme")] = transfer_readme(compared, study)
    for path in sorted(results.glob("dyt_check/dyt_check.json")):
        from ablations.study.dyt_check_table import check_table

        blocks[("dyt_check", "table")] = check_table(read_json(path))
    return blocks


def missing_study(name: str, block: str) -> str:
    return f"marker study:{name}:{block} has no docs/results/norm_study/{name}/study.json block {block!r}"


def stale_docs(docs: tuple[Path, ...] = DOCS, results: Path = RESULTS) -> list[Path]:
    """The docs whose marked blocks differ from what the committed studies give."""
    return rewrite_docs(docs, "study", committed_blocks(results), missing_study, check=True)


def update_docs(docs: tuple[Path, ...] = DOCS, results: Path = RESULTS) -> list[Path]:
    """Rewrite the marked blocks of ``docs``; returns the files that changed."""
    return rewrite_docs(docs, "study", committed_blocks(results), missing_study)


def check_publishable(results: Path = RESULTS, figures: Path = FIGURES, docs: tuple[Path, ...] = DOCS) -> None:
    """Where publishing writes (the results and figures folders, each doc), checked writable before any work: a
    read-only checkout is one line (:func:`lab.runs.artifacts.check_writable`)."""
    for folder in dict.fromkeys((results, figures, *(doc.parent for doc in docs))):
        check_writable(folder, "a writable checkout of the repository")


def publish_study(study_json: Path, results: Path = RESULTS, figures: Path = FIGURES, docs: tuple[Path, ...] = DOCS,
                  replicates: str | None = None, transfers_from: str | None = None) -> list[Path]:
    """Copy a study's ``study.json`` under ``results``, draw its figures into ``figures`` and rewrite ``docs``; with
    ``replicates``, as ``<replicates>_replication``, a rerun of that committed study; with ``transfers_from``, compared
    with that committed study contrast by contrast (:mod:`ablations.study.transfer`)."""
    check_publishable(results, figures, docs)
    study = read_json(study_json)
    if transfers_from:
        if not (results / transfers_from / "study.json").is_file():
            raise UserError(f"--transfers-from {transfers_from}: no committed {results / transfers_from / 'study.json'} to compare with")
        study = {**study, "transfers_from": transfers_from}
    if replicates:
        if not (results / replicates / "study.json").is_file():
            raise UserError(f"--replicates {replicates}: no committed {results / replicates / 'study.json'} to compare with")
        if study["name"] != replicates:
            raise UserError(f"--replicates {replicates}: this folder ran study={study['name']}, not a rerun of {replicates}")
        study = {**study, "name": f"{replicates}_replication", "replicates": replicates}
    target = results / study["name"] / "study.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    if replicates or transfers_from:
        write_json(target, study)
    elif Path(study_json).resolve() != target.resolve():
        shutil.copyfile(study_json, target)
    drawn = write_figures(study, figures, prefix=f"norm_study_{study['name']}_")
    return [target, *drawn, *update_docs(docs, results)]


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ablations.study.publish", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a committed block differs from its study.json")
    parser.add_argument("--figures", action="store_true", help="also redraw every committed study's figures")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_docs()
        for doc in stale:
            print(f"{doc.relative_to(ROOT)}: a study block differs from docs/results/norm_study (run make docs)")
        sys.exit(1 if stale else 0)
    if args.figures:
        for path in sorted(RESULTS.glob("*/study.json")):
            study = read_json(path)
            write_figures(study, FIGURES, prefix=f"norm_study_{study['name']}_")
    for doc in update_docs():
        print(f"wrote {doc.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
