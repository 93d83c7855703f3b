"""Which facts gate training sees, and which it never sees: the held-out split reviewers ask for.

The facts of the knowledge sources (rows with ``subj``, ``prop``, ``obj``; ``prop`` is the relation) fall into
three sets, fixed by ``gates.forget_relations``, ``gates.held_out`` and the run's ``seed``:

- **forget**: facts of a forget relation that the forget loss trains on;
- **held_out**: the other facts of the same relations, a fraction ``held_out`` of each relation (rounded down),
  drawn with ``random.Random(seed)`` from the relation's facts sorted by subject; no gate loss ever sees them;
- **other**: every fact of the other relations (specificity, the editing literature's "neighbourhood").

Recall on ``forget`` shows the optimisation worked; recall on ``held_out`` is the knowledge claim: a method that
found where the relation's facts live removes the facts it was not trained on too. The split is written next to
the gates as ``facts_split.json`` (:func:`write_split`) and read back by every evaluation (:func:`read_split`).
"""

import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lab.config.errors import UserError
from lab.runs.artifacts import read_json, write_json

SPLIT_FILE = "facts_split.json"
SETS = ("forget", "held_out", "other")


@dataclass
class FactSplit:
    """The three sets of facts (rows as the knowledge source gives them) and the rule that made them."""

    relations: list[str]
    held_out_fraction: float
    seed: int
    forget: list[dict] = field(default_factory=list)
    held_out: list[dict] = field(default_factory=list)
    other: list[dict] = field(default_factory=list)

    def sets(self) -> dict[str, list[dict]]:
        return {name: getattr(self, name) for name in SETS}


def relation_of(row: dict) -> str:
    return str(row.get("prop", "fact"))


def fact_key(row: dict) -> tuple[str, str]:
    """A fact's identity across files: its relation and subject."""
    return relation_of(row), str(row["subj"])


def split_facts(facts: list[dict], relations: list[str] | None, held_out: float, seed: int) -> FactSplit:
    """The module docstring's split. ``relations`` null: every relation of ``facts`` is a forget relation."""
    present = sorted({relation_of(r) for r in facts})
    chosen = present if relations is None else [str(r) for r in relations]
    missing = sorted(set(chosen) - set(present))
    if missing:
        raise UserError(f"gates.forget_relations names {missing}, which the knowledge data lacks; its relations are {present}")
    split = FactSplit(relations=chosen, held_out_fraction=float(held_out), seed=int(seed))
    rng = random.Random(seed)
    for relation in present:
        rows = sorted((r for r in facts if relation_of(r) == relation), key=lambda r: (str(r["subj"]), str(r["obj"])))
        if relation not in chosen:
            split.other += rows
            continue
        held = set(rng.sample(range(len(rows)), int(held_out * len(rows))))
        split.forget += [r for i, r in enumerate(rows) if i not in held]
        split.held_out += [r for i, r in enumerate(rows) if i in held]
    if not split.forget:
        raise UserError(f"gates.held_out={held_out} leaves no fact of {chosen} to forget; lower it")
    return split


def recall_by_set(rows: list[dict], correct: list[bool | None], split: FactSplit) -> dict[str, float]:
    """``<set>_recall`` for each set of ``split`` and ``recall/<relation>`` for each relation: the share of its facts
    among ``rows`` answered correctly (``correct``, row by row; None: not graded); NaN for a set with no graded fact."""
    hit = {fact_key(r): ok for r, ok in zip(rows, correct, strict=True)}

    def share(facts: list[dict]) -> float:
        graded = [hit[key] for key in map(fact_key, facts) if hit.get(key) is not None]
        return sum(graded) / len(graded) if graded else float("nan")

    result = {f"{name}_recall": share(facts) for name, facts in split.sets().items()}
    for relation in sorted({relation_of(r) for r in rows}):
        result[f"recall/{relation}"] = share([r for r in rows if relation_of(r) == relation])
    return result


def write_split(folder: Path, split: FactSplit) -> None:
    """``<folder>/facts_split.json``: the rule and every fact of each set."""
    write_json(folder / SPLIT_FILE, asdict(split))


def read_split(folder: Path, facts: list[dict]) -> FactSplit:
    """The split a gate run trained with (``facts_split.json``), applied to ``facts`` (the rows being graded, by
    subject and relation); a run without the file trained on every fact, so all are ``forget``."""
    path = Path(folder) / SPLIT_FILE
    if not path.is_file():
        return FactSplit(relations=sorted({relation_of(r) for r in facts}), held_out_fraction=0.0, seed=0, forget=list(facts))
    saved = read_json(path)
    where = {fact_key(r): name for name in SETS for r in saved[name]}
    split = FactSplit(relations=saved["relations"], held_out_fraction=saved["held_out_fraction"], seed=saved["seed"])
    for row in facts:
        getattr(split, where.get(fact_key(row), "other")).append(row)
    return split
