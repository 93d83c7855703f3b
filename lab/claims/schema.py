"""A registered claim file (``conf/claims/<name>.yaml``): what a confirmatory run must show, fixed before it runs.

Each claim compares two sides, each a (cell, metric) of the tool that runs it, one value per seed:

    effect = mean_s a_s − mean_s b_s  (``test: welch``: independent groups)   or
             mean_s (a_s − b_s)      (``test: paired``: the same seed, the same model on both sides)

and states the direction it expects (``greater``: effect > 0; ``less``: effect < 0), tested one-sided at the file's
``alpha`` after Holm's correction across the file's claims (:mod:`lab.claims.verdict`). The file also fixes the
fresh seeds (``seed_pool``, disjoint from every exploratory seed), the power rule that picks each claim's number of
seeds from the exploratory results (:mod:`lab.claims.power`) and the run's settings (``run``, read by the tool).
A name the tool does not know (a cell, a metric) is refused by the tool's runner before anything runs.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from lab.config.errors import UserError

TESTS = ("welch", "paired")
DIRECTIONS = ("greater", "less")
TOOLS = ("ablations", "gates")


@dataclass
class Side:
    """One side of a claim: a cell (``scratch/no_qk_norm``, ``gates/hard``) and a metric of it (``lr_sensitivity``,
    ``clipped_loss@0.3``, ``held_out_recall``, ``relearn/held_out/50``), as the tool names them."""

    cell: str
    metric: str


@dataclass
class Claim:
    id: str
    statement: str                    # the sentence the README prints, confirmed or not
    test: str                         # welch | paired
    direction: str                    # greater | less: the sign of a − b the claim expects
    a: Side
    b: Side


@dataclass
class Power:
    """Each claim's seeds: the fewest in [min_seeds, max_seeds] that reach ``target`` power at the exploratory effect
    and spread, one-sided at alpha / (number of claims) (Holm's first step); ``max_seeds`` is the budget's cap."""

    target: float = 0.8
    min_seeds: int = 5  # with 3 against 3 no distribution-free test can go below p = 0.05: fewer rest on normality alone
    max_seeds: int = 6


@dataclass
class ClaimFile:
    name: str
    tool: str                         # which tool's runner executes it: ablations | gates
    exploratory: list[str]            # the committed exploratory JSONs (repo-relative) its power and seeds are checked against
    seed_pool: list[int]              # fresh seeds; claim k uses the first n_k of them
    claims: list[Claim]
    alpha: float = 0.05
    power: Power = field(default_factory=Power)
    run: dict[str, Any] = field(default_factory=dict)  # the tool's settings of the confirmatory run


def check(cf: ClaimFile, path: Path) -> ClaimFile:
    """One :class:`UserError` line for the first thing wrong in ``cf`` (read from ``path``)."""
    def fail(what: str) -> None:
        raise UserError(f"{path}: {what}")

    if not re.fullmatch(r"[a-z][a-z0-9_]*", cf.name):
        fail(f"name {cf.name!r} must be lower-case letters, digits and _")
    if cf.tool not in TOOLS:
        fail(f"tool {cf.tool!r} is not one of {', '.join(TOOLS)}")
    if not 0 < cf.alpha < 1:
        fail(f"alpha={cf.alpha} is outside (0, 1)")
    p = cf.power
    if not 0 < p.target < 1 or p.min_seeds < 2 or p.max_seeds < p.min_seeds:
        fail(f"power needs 0 < target < 1 and 2 <= min_seeds <= max_seeds (got {p.target}, {p.min_seeds}, {p.max_seeds}): "
             "a claim needs at least 2 seeds for an interval")
    if len(set(cf.seed_pool)) != len(cf.seed_pool) or len(cf.seed_pool) < p.max_seeds or any(s < 0 for s in cf.seed_pool):
        fail(f"seed_pool needs at least max_seeds={p.max_seeds} distinct non-negative seeds (got {list(cf.seed_pool)})")
    if not cf.claims:
        fail("no claims")
    ids = [c.id for c in cf.claims]
    if len(set(ids)) != len(ids):
        fail(f"claim ids repeat: {', '.join(sorted({i for i in ids if ids.count(i) > 1}))}")
    for c in cf.claims:
        if c.test not in TESTS:
            fail(f"claim {c.id}: test {c.test!r} is not one of {', '.join(TESTS)}")
        if c.direction not in DIRECTIONS:
            fail(f"claim {c.id}: direction {c.direction!r} is not one of {', '.join(DIRECTIONS)}")
        if (c.a.cell, c.a.metric) == (c.b.cell, c.b.metric):
            fail(f"claim {c.id}: both sides are {c.a.cell} {c.a.metric}")
    return cf


def load_claim_file(path: str | Path) -> ClaimFile:
    """The typed, checked claim file at ``path``; a missing file, an unknown or mistyped key is one :class:`UserError`."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no claim file {path}")
    try:
        merged = OmegaConf.merge(OmegaConf.structured(ClaimFile), OmegaConf.load(path))
        cf = OmegaConf.to_object(merged)
    except OmegaConfBaseException as err:
        raise UserError(f"{path}: {str(err).splitlines()[0]}") from None
    return check(cf, path)  # type: ignore[arg-type]
