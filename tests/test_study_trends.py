"""The width trend of a size sweep (ablations.study.trends): T(w) = Δ_w − Δ_narrowest, checked by hand."""

import pytest

from ablations.study.families import trend_family
from ablations.study.tables import trend_table
from ablations.study.trends import ordered_widths, width_trends
from lab.report.families import adjust
from lab.report.intervals import contrast, difference


def cell(variant: str, width: str, hidden: int, s: list[float], above: list[float] | None = None, untrained=()) -> dict:
    above = above if above is not None else s
    below = [a - b for a, b in zip(s, above, strict=True)]
    per_seed = {key: {str(i): v for i, v in enumerate(values)}
                for key, values in (("lr_sensitivity", s), ("sensitivity_above", above), ("sensitivity_below", below))}
    return {"variant": variant, "factors": {"width": width}, "hidden_size": hidden, "per_seed": per_seed,
            "untrained_seeds": list(untrained)}


def grid(**overrides) -> dict[str, dict]:
    cells = {
        "original [width=h64]": cell("original", "h64", 64, [0.50, 0.55, 0.60]),
        "no_qk_norm [width=h64]": cell("no_qk_norm", "h64", 64, [1.10, 1.15, 1.20], above=[0.80, 0.85, 0.90]),
        "original [width=h128]": cell("original", "h128", 128, [0.50, 0.52, 0.54]),
        "no_qk_norm [width=h128]": cell("no_qk_norm", "h128", 128, [0.60, 0.61, 0.62], above=[0.55, 0.56, 0.57]),
    }
    cells.update(overrides)
    return cells


def test_a_contrast_of_two_groups_is_their_difference():
    a, b = [1.0, 1.2, 1.4], [0.2, 0.3, 0.7]
    assert contrast([(1.0, a), (-1.0, b)]) == difference(a, b)
    assert contrast([(1.0, a), (-1.0, [])])["mean"] is None and contrast([(1.0, a), (1.0, [2.0])])["ci"] is None


def test_the_trend_is_the_gap_at_the_wider_width_minus_the_gap_at_the_narrowest():
    cells = grid()
    assert ordered_widths(cells) == ["h64", "h128"]  # by hidden size, not by name ("h128" < "h64")
    trend, *alone = width_trends(cells)
    assert (trend["variant"], trend["control"], trend["from"], trend["to"]) == ("no_qk_norm", "original", "h64", "h128")
    # Δ_h64 = 1.15 − 0.55 = 0.60; Δ_h128 = 0.61 − 0.52 = 0.09; T = −0.51
    assert trend["lr_sensitivity"]["mean"] == pytest.approx(-0.51)
    low, high = trend["lr_sensitivity"]["ci"]
    assert low <= -0.51 <= high < 0  # narrows, and the interval says so
    # S⁺: (0.56 − 0.52) − (0.85 − 0.55) = −0.26; S⁻ = T − T⁺
    assert trend["sensitivity_above"]["mean"] == pytest.approx(-0.26)
    assert trend["sensitivity_below"]["mean"] == pytest.approx(-0.25)
    assert trend["lr_sensitivity"]["n"] == [3, 3, 3, 3] and trend["lr_sensitivity"]["method"] == "welch"
    # each variant alone: U = its S at h128 − its S at h64 (which side of the gap moved)
    changes = {(c["variant"], c["control"]): c["lr_sensitivity"] for c in alone}
    assert changes[("no_qk_norm", None)]["mean"] == pytest.approx(0.61 - 1.15)
    assert changes[("original", None)]["mean"] == pytest.approx(0.52 - 0.55) and changes[("original", None)]["n"] == [3, 3]


def test_no_trend_without_two_widths_or_with_an_undefined_sensitivity():
    cells = grid()
    assert width_trends({k: v for k, v in cells.items() if "h64" in k}) == []
    broken = grid(**{"original [width=h128]": cell("original", "h128", 128, [0.5, 0.5, 0.5], untrained=[2])})
    (alone,) = width_trends(broken)  # no gap (its control is undefined at h128), the other variant's own change stays
    assert (alone["variant"], alone["control"]) == ("no_qk_norm", None)
    assert "vs original" not in trend_table(width_trends(broken), "scratch")


def family_trends(cells: dict[str, dict]) -> list[dict]:
    trends = width_trends(cells)
    adjust(trend_family(trends))
    return trends


def test_the_trend_table_states_only_what_survives_holm_across_it():
    text = trend_table(family_trends(grid()), "scratch")
    assert "| no_qk_norm vs original, h64 → h128 | -0.510 [" in text
    assert "the gap shrinks with width: T = -0.510" in text and "row `no_qk_norm vs original, h64 → h128`" in text
    assert "- `no_qk_norm` alone from h64 to h128: its S shrinks with width: U = -0.540" in text
    flat = grid(**{"no_qk_norm [width=h128]": cell("no_qk_norm", "h128", 128, [0.9, 1.1, 1.4])})
    assert "neither growth nor shrinking shown" in trend_table(family_trends(flat), "scratch")
    assert "Holm" in text.splitlines()[2]  # the header says which interval and correction


def test_the_horizon_is_an_ordered_factor_of_its_own():
    """study=horizon sweeps trainer.max_steps: its values are ordered as numbers (600 before 1200), its trend is kept
    under ``horizon_trends`` beside an empty ``width_trends``, and its table speaks of the horizon."""
    from ablations.study.trends import study_trends

    def steps_cell(variant: str, steps: str, s: list[float]) -> dict:
        return cell(variant, "", 128, s) | {"factors": {"trainer.max_steps": steps}}

    cells = {f"{v} [trainer.max_steps={n}]": steps_cell(v, n, [base + 0.1 * i + k * 0.01 for k in range(3)])
             for i, n in enumerate(["1200", "120", "600"]) for v, base in (("original", 0.5), ("no_qk_norm", 1.0))}
    assert ordered_widths(cells, "trainer.max_steps") == ["120", "600", "1200"]
    found = study_trends({"scratch": cells})
    assert found["width_trends"] == {} and [t["to"] for t in found["horizon_trends"]["scratch"] if t["control"]] == ["600", "1200"]
    text = trend_table(found["horizon_trends"]["scratch"], "scratch", "trainer.max_steps")
    assert "scratch: horizon (steps) trend, T = Δ S at the larger horizon (steps) − Δ S at the smallest" in text
    assert "row `no_qk_norm vs original, 120 → 600`" in text and "width" not in text
    assert "horizon_trends" not in study_trends({"scratch": grid()})  # a width sweep has no horizon trend
