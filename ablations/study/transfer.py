"""Does a study's answer transfer? The same contrasts, measured in another setting, against a committed study's.

A study published with ``python -m ablations.study <folder> --publish --transfers-from <name>`` (``study=horizon``:
real English text, ``--transfers-from default``: the bundled corpus) gets ``"transfers_from": <name>`` in its
``study.json`` and two generated blocks, ``transfer`` (the table and one sentence per contrast) and
``transfer_readme`` (the sentences alone). The contrasts are those of each table's Holm family (:data:`ablations.study.families.FAMILY_METRICS`:
a cell's Δ S and Δ ℓ* against its control) in the regimes both studies have; a cell of the source (a variant, no
factor) is matched with each cell of the other study that has the same variant, one per value of its swept factor
(``no_qk_norm [trainer.max_steps=120]``). Each side keeps its own Welch interval and its Holm correction across its own
table. A contrast's verdict on each side is ``> 0`` or ``< 0`` when shown, else ``not shown``
(:func:`ablations.study.replication.conclusion`), and the pair's:

- **holds**: shown on both sides with the same sign;
- **flips**: shown on both sides with opposite signs;
- **not shown in the new setting**: shown in the source only;
- **new in this setting**: shown in the new setting only;
- **neither can tell**: shown on neither side (no claim either way: not "the same answer");
- **no interval on one side**: a side with fewer than two seeds.

A verdict is not a test of transfer: each side's Holm correction runs over its own table (of its own size, ``m`` in
the sentences) at its own number of seeds, so one side can show what the other cannot for reasons of power alone.
Only verdicts compare, and only for contrasts shown on at least one side; the sign of a contrast that is not shown is
no finding, and magnitudes do not compare (S is measured against ℓ₀ = ln V; the corpora have other vocabularies and
losses). A setting of the other study that also changes the run length (``trainer.max_steps`` other than the source's
steps) changes two things at once: its label says so. Both studies are exploratory (neither is a registered
confirmatory run), on separate runs.
"""

from typing import Any

from ablations.study.families import FAMILY_METRICS
from ablations.study.replication import conclusion, holm_p
from ablations.study.tables import rows, with_ci

SYMBOLS = {"lr_sensitivity": "Δ S", "best_clipped_loss": "Δ ℓ*"}
VERDICTS = ("holds", "flips", "not shown in the new setting", "new in this setting", "neither can tell", "no interval on one side")
HORIZON = "trainer.max_steps"


def verdict(source: str, other: str) -> str:
    """The pair's verdict (module docstring) from each side's :func:`conclusion`."""
    if "no interval" in (source, other):
        return "no interval on one side"
    claimed = ("> 0", "< 0")
    if source in claimed and other in claimed:
        return "holds" if source == other else "flips"
    if source in claimed:
        return "not shown in the new setting"
    return "new in this setting" if other in claimed else "neither can tell"


def setting_label(cell: dict, source_steps: int | None = None) -> str:
    """A cell's factors as the setting they name (``trainer.max_steps=120``), or ``as run`` without any; a run length
    other than the source's ``source_steps`` is flagged (corpus and horizon change together there)."""
    factors = cell.get("factors") or {}
    label = ", ".join(f"{k}={v}" for k, v in sorted(factors.items())) or "as run"
    if source_steps and HORIZON in factors and int(factors[HORIZON]) != int(source_steps):
        label += f" (the source ran {source_steps} steps: corpus and run length both change)"
    return label


def transfer_rows(source: dict, other: dict) -> list[dict[str, Any]]:
    """One row per contrast present in both (restated) studies: ``{regime, variant, control, setting, metric, source,
    other, verdict}``, in the source's row order."""
    found = []
    for regime, cells in source["summary"].items():
        theirs = other["summary"].get(regime, {})
        for _, cell in rows(cells):
            if not cell.get("vs_control") or cell.get("factors"):
                continue
            for _, match in rows(theirs):
                if match["variant"] != cell["variant"] or not match.get("vs_control") or match["control"].split(" [")[0] != cell["control"]:
                    continue
                for metric in FAMILY_METRICS:
                    a, b = cell["vs_control"][metric], match["vs_control"][metric]
                    found.append({"regime": regime, "variant": cell["variant"], "control": cell["control"],
                                  "setting": setting_label(match, source.get("steps")), "metric": metric, "source": a, "other": b,
                                  "verdict": verdict(conclusion(a), conclusion(b))})
    return found


def label(row: dict) -> str:
    return f"{row['regime']}: {SYMBOLS[row['metric']]} of {row['variant']} vs {row['control']}"


def side(stat: dict, study: dict) -> str:
    """One side of a sentence: its conclusion, interval, raw and Holm p, the Holm family's size m and the seeds."""
    n = stat.get("n")
    seeds = "/".join(map(str, n)) if isinstance(n, list) else str(n)
    raw = "–" if stat.get("p") is None else f"{stat['p']:.2g}"
    return (f"{conclusion(stat)} in `{study['name']}` ({with_ci(stat)}; p {raw}, Holm p {holm_p(stat)} over m = "
            f"{stat.get('family_size', '?')}; seeds {seeds})")


def sentences(source: dict, other: dict, found: list[dict]) -> list[str]:
    """One sentence per contrast: the pair's verdict, then each side (:func:`side`), citing its row. Only a contrast
    shown on at least one side is a claim (that holds, flips or fails to transfer)."""
    out = [f"- {label(row)}, {row['setting']}: **{row['verdict']}**: {side(row['source'], source)}; "
           f"{side(row['other'], other)} (transfer table, row `{label(row)}`, {row['setting']})." for row in found]
    return out or ["- The two studies share no contrast."]


def transfer_block(source: dict, other: dict) -> str:
    """``transfer``: the header, the table (each side's Welch interval, Holm p and verdict) and :func:`sentences`."""
    found = transfer_rows(source, other)
    head = (f"`study={other['name']}` ({other['runs']} runs; {other['ok']} finished, {other['collapsed']} collapsed, "
            f"{other['failed']} failed) against `study={source['name']}` ({source['runs']} runs): the contrasts of each table's "
            "Holm family where both have them; Welch 95 % intervals, Holm across each study's own table (of its own size, "
            "at its own seeds: a verdict is not a test of transfer). Only verdicts compare, and only for contrasts shown on "
            "at least one side; the sign of a contrast not shown is no finding, and magnitudes do not compare (other "
            "vocabularies and losses). Both studies are exploratory.")
    table = [f"| contrast | setting | `{source['name']}` | Holm p | `{other['name']}` | Holm p | verdict |", "|---|---|---|---|---|---|---|"]
    table += [f"| {label(r)} | {r['setting']} | {with_ci(r['source'])} | {holm_p(r['source'])} | {with_ci(r['other'])} | "
              f"{holm_p(r['other'])} | {r['verdict']} |" for r in found]
    return "\n\n".join([head, "\n".join(table), "\n".join(sentences(source, other, found))])


def transfer_readme(source: dict, other: dict) -> str:
    """``transfer_readme``: the sentences alone, one per contrast, for README's headline."""
    return "\n".join(sentences(source, other, transfer_rows(source, other)))
