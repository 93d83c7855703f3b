"""The README's headline (benchmarks.headline): each number over seeds with its 95 % interval, and docs/headline.md's
generated block equal to what the committed JSON renders."""

import pytest

from benchmarks.headline import DOCS, PUBLISHED, markdown, spread, summary, update_docs
from lab.report.markers import marker
from lab.runs.artifacts import read_json


def test_each_result_is_its_mean_with_the_interval_std_and_range_over_seeds():
    table = {"main/val_loss": spread([0.5, 0.6, 0.7]), "gates/5%_masked/held_out_recall": spread([0.1, 0.2, 0.3]),
             "gate3/passed": spread([0.0, 1.0, 0.0])}
    half = 4.302652729911275 * 0.1 / 3**0.5  # t_{0.975, 2} · s / √3
    assert table["main/val_loss"]["ci"] == pytest.approx([0.6 - half, 0.6 + half])
    text = markdown(table, [0, 1, 2])
    assert "| main/val_loss | 0.600 [0.352, 0.848] | 0.100 | 0.500 – 0.700 |  |" in text
    assert "| gates/5%_masked/held_out_recall | 20.0% [0.0%, 44.8%] | 10.0% | 10.0% – 30.0% |  |" in text  # a rate: clipped at 0
    assert "| Gate 3 PASS (one prompt pair) | 1 of 3 seeds | | | |" in text
    assert spread([0.5])["ci"] is None and "| x | 0.500 | 0.000 |" in markdown({"x": spread([0.5])}, [0])


def test_gates_minus_random_is_paired_by_seed():
    per_seed = {str(s): {"gates/5%_masked/arithmetic": g, "random/5%_masked/arithmetic": r, "main/val_loss": 0.5}
                for s, (g, r) in enumerate([(0.2, 0.3), (0.6, 0.7), (0.9, 1.0)])}
    table = summary(per_seed, [0, 1, 2])
    assert table["gates_minus_random/5%_masked/arithmetic"]["ci"] == pytest.approx([-0.1, -0.1])  # seeds' spread cancels
    spread_out = summary({str(s): {"gates/5%_masked/arithmetic": g, "random/5%_masked/arithmetic": 0.5, "gates/5%_masked/held_out_recall": g,
                                   "random/5%_masked/held_out_recall": 0.4} for s, g in enumerate([0.2, 0.3, 0.5])}, [0, 1, 2])
    rows = [v for k, v in spread_out.items() if k.startswith("gates_minus_random/")]
    assert len(rows) == 2 and all(r["family_size"] == 2 and r["p_holm"] >= r["p"] for r in rows)  # one Holm family
    assert "gates_minus_random/5%_masked/arithmetic" not in per_seed["0"]  # the input is not changed


def test_the_published_headline_block_matches_the_committed_json():
    report = read_json(PUBLISHED)
    assert len(report["seeds"]) >= 3 and all(s["n"] == len(report["seeds"]) for s in report["spread"].values())
    assert {(m["name"], m["block"]) for doc in DOCS for m in marker("headline").finditer(doc.read_text())} == {("seeds", "table")}
    assert update_docs(check=True) == []
