"""The norm study's families of contrasts, and a committed study restated with the current statistics.

Each published table is one family (:mod:`lab.report.families`: Holm at α = 0.05):

- **a regime's table**: every non-control cell's Δ S and Δ per-seed best loss ℓ* against its control (the two
  contrast columns of the table; the README's compact table shows the same Δ S with the same verdicts);
- **a regime's width-trend table**: every row's T (or U) for S, S⁺ and S⁻.

Δ S⁺ and Δ S⁻ split a Δ S into its parts above and below the best LR; they are reported with their intervals to
say where a shown Δ S sits, and are not claims of their own.

:func:`restate` recomputes every statistic of a ``study.json`` from the per-seed values it keeps (S, S⁺, S⁻ and ℓ*
per seed, the run records, the after-surgery values), then its contrasts, trends and families, so the publisher
(``make docs``) shows the current intervals and verdicts whatever code wrote the file.
"""

from typing import Any

from ablations.study.metrics import add_contrasts, cell_statistics
from ablations.study.trends import METRICS, study_trends, trend_tables
from lab.report.families import adjust

FAMILY_METRICS = ("lr_sensitivity", "best_clipped_loss")  # the regime table's two contrast columns
DEFINITIONS = ("ablations.study.metrics (LR sensitivity: Wortsman et al. 2023; ℓ₀ = ln V; 95 % Student-t intervals over seeds, "
               "Welch for differences); ablations.study.families (Holm across each table at α = 0.05)")


def regime_family(cells: dict[str, dict]) -> list[dict[str, Any]]:
    """The contrasts of one regime's table: each cell's Δ S and Δ ℓ* against its control."""
    return [cell["vs_control"][metric] for _, cell in sorted(cells.items()) if cell.get("vs_control") for metric in FAMILY_METRICS]


def trend_family(trends: list[dict]) -> list[dict[str, Any]]:
    """The contrasts of one regime's width-trend table: each row's T (or U) for S, S⁺ and S⁻."""
    return [trend[metric] for trend in trends for metric in METRICS]


def apply_families(study: dict) -> dict:
    """Holm across each family of ``study`` (``p_holm``, ``shown`` in every contrast); returns ``study``."""
    for cells in study["summary"].values():
        adjust(regime_family(cells))
    for _, _, trends in trend_tables(study):
        adjust(trend_family(trends))
    return study


def restate(study: dict) -> dict:
    """``study`` with every interval, contrast, trend and family recomputed from its per-seed values."""
    for cells in study["summary"].values():
        for cell in cells.values():
            cell_statistics(cell)
        add_contrasts(cells)
    study.update(study_trends(study["summary"]))
    study["definitions"] = DEFINITIONS
    return apply_families(study)
