"""The published norm study: README.md and docs/norm-study.md hold exactly what ``ablations.study`` writes from the
committed ``docs/results/norm_study/*/study.json`` (issue 24: tables written by the command that computed them)."""

from ablations.study_publish import DOCS, FIGURES, MARKER, RESULTS, committed_blocks, stale_docs
from lab.runs.artifacts import read_json


def test_the_committed_study_blocks_equal_what_their_study_json_gives():
    assert stale_docs() == [], "run `make docs` (python -m ablations.study_publish) and commit the result"


def test_every_committed_study_is_published_with_its_figures():
    studies = sorted(p.parent.name for p in RESULTS.glob("*/study.json"))
    assert "default" in studies
    marked = {(m["name"], m["block"]) for doc in DOCS for m in MARKER.finditer(doc.read_text())}
    assert ("default", "readme") in marked and ("default", "tables") in marked and ("default", "departures") in marked
    assert marked <= set(committed_blocks())
    for name in studies:
        study = read_json(RESULTS / name / "study.json")
        assert study["name"] == name and (FIGURES / f"norm_study_{name}_lr_sweep.png").is_file()
        seeds = {len(c["seeds"]) for cells in study["summary"].values() for c in cells.values()}
        assert min(seeds) >= 3, f"{name}: a published study has at least 3 seeds per cell"


def test_each_committed_width_trend_is_what_its_summary_gives():
    import json

    from ablations.study_trends import width_trends

    for path in sorted(RESULTS.glob("*/study.json")):
        study = read_json(path)
        expected = {r: t for r, cells in study["summary"].items() if (t := width_trends(cells))}
        assert study.get("width_trends", {}) == json.loads(json.dumps(expected)), path
    assert read_json(RESULTS / "scaling" / "study.json")["width_trends"]["scratch"], "the scaling study has a trend"


def test_a_rerun_is_published_as_a_replication_compared_conclusion_by_conclusion(tmp_path):
    """``--replicates scaling``: the rerun is committed as ``scaling_replication`` and each quantity's conclusion
    (the sign class of its interval) is compared; one that flips is named, with both runs' values."""
    import copy

    from ablations.study_publish import publish_study
    from ablations.study_replication import conclusion, replication_block
    from lab.config.errors import UserError
    from lab.runs.artifacts import write_json

    assert [conclusion({"mean": m, "ci": ci}) for m, ci in ((0.2, [0.1, 0.3]), (-0.2, [-0.3, -0.1]), (0.1, [-0.1, 0.3]))] == [
        "> 0", "< 0", "includes 0"] and conclusion({"mean": 1.0, "ci": None}) == "no interval"
    original = read_json(RESULTS / "scaling" / "study.json")
    rerun = copy.deepcopy(original)
    cell = rerun["summary"]["scratch"]["no_qk_norm [width=h64]"]
    cell["vs_control"]["lr_sensitivity"] = {"mean": 0.1, "ci": [-0.2, 0.4], "n": [3, 3]}
    cell["run_records"][0]["final_val_loss"] += 0.5
    text = replication_block(original, {**rerun, "name": "scaling_replication"})
    label = "scratch: Δ S of no_qk_norm [width=h64] vs original [width=h64]"
    assert f"| {label} | 0.630 [0.407, 0.854] | 0.100 [-0.200, 0.400] | no |" in text
    assert f"(replication table, row `{label}`)" in text and "these do not:" in text
    assert "126 runs finished in both; 125 have bit-equal final validation losses" in text and "the largest 0.500" in text

    results = tmp_path / "results"
    (results / "scaling").mkdir(parents=True)
    write_json(results / "scaling" / "study.json", original)
    write_json(tmp_path / "study.json", rerun)
    publish_study(tmp_path / "study.json", results, tmp_path / "figures", docs=(), replicates="scaling")
    published = read_json(results / "scaling_replication" / "study.json")
    assert (published["name"], published["replicates"]) == ("scaling_replication", "scaling")
    assert committed_blocks(results)[("scaling_replication", "replication")] == text
    write_json(tmp_path / "other.json", {**rerun, "name": "quick"})
    try:
        publish_study(tmp_path / "other.json", results, tmp_path / "figures", docs=(), replicates="scaling")
        raise AssertionError("a rerun of another study was published as a replication")
    except UserError as err:
        assert "ran study=quick, not a rerun of scaling" in str(err)


def test_the_dyt_check_table_is_its_committed_seeds_means_and_intervals():
    from ablations.dyt_check import RESULT, check_table
    from lab.report.intervals import stat

    result = read_json(RESULT)
    assert result["seeds"] == [0, 1, 2] and set(result["traces"]) == {"rmsnorm", "dyt", "identity"}
    finals = [trace[-1][1] for trace in result["traces"]["dyt"].values()]
    assert len(finals) == 3 and all(t[-1][0] == 150 for t in result["traces"]["dyt"].values())
    row = next(line for line in check_table(result).splitlines() if line.startswith("| DyT"))
    s = stat(finals)
    assert f"{s['mean']:.3f} [{s['ci'][0]:.3f}, {s['ci'][1]:.3f}]" in row
