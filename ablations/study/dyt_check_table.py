"""The DyT check's published table (:mod:`ablations.dyt_check`): per final norm, the training loss and the final
norm's input RMS at :data:`REPORTED_STEPS`, seed means with their 95 % Student-t intervals, from ``dyt_check.json``
alone (:mod:`ablations.study.publish` writes it into docs/norm-study.md)."""

import math

from ablations.study.tables import with_ci
from lab.report.intervals import stat

KINDS = {"rmsnorm": "stock RMSNorm", "dyt": "DyT (γ ⊙ tanh(αx) + β, α₀ = 0.5)", "identity": "identity (no final norm)"}
REPORTED_STEPS = (15, 60, 150)


def _at(result: dict, kind: str, step: int, column: int) -> dict:
    values = [point[column] for trace in result["traces"][kind].values() for point in trace if point[0] == step and math.isfinite(point[column])]
    return stat(values)


def check_table(result: dict) -> str:
    """The markdown table of a :func:`run_check` result: per final norm, the training loss and the final norm's
    input RMS at :data:`REPORTED_STEPS`, seed means with 95 % intervals."""
    steps = [s for s in REPORTED_STEPS if s <= result["steps"]]
    head = ["final norm (mean [95 % t] over seeds)"] + [f"train loss, step {s}" for s in steps] + [f"input RMS, step {s}" for s in steps]
    lines = [f"`python -m ablations.dyt_check`: lr {result['lr']:g}, {result['steps']} steps of 16 × 128 tokens, seeds "
             f"{', '.join(map(str, result['seeds']))}; seed means with 95 % Student-t intervals over the seeds. Exploratory.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for kind, label in KINDS.items():
        cells = [with_ci(_at(result, kind, s, 1)) for s in steps] + [with_ci(_at(result, kind, s, 2), ".3g") for s in steps]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
