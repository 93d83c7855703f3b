"""The published norm study: README.md and docs/norm-study.md hold exactly what ``ablations.study`` writes from the
committed ``docs/results/norm_study/*/study.json`` (issue 24: tables written by the command that computed them)."""

from ablations.study.publish import DOCS, FIGURES, MARKER, RESULTS, committed_blocks, stale_docs
from lab.runs.artifacts import read_json


def test_the_committed_study_blocks_equal_what_their_study_json_gives():
    assert stale_docs() == [], "run `make docs` (python -m ablations.study.publish) and commit the result"


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


def test_each_committed_study_holds_the_current_statistics_of_its_per_seed_values():
    """Every interval, contrast, width trend and Holm verdict in a committed ``study.json`` is what
    :func:`ablations.study.families.restate` computes from its per-seed values: the JSON and the docs agree."""
    import copy
    import json

    from ablations.study.families import restate

    for path in sorted(RESULTS.glob("*/study.json")):
        study = read_json(path)
        assert study == json.loads(json.dumps(restate(copy.deepcopy(study)))), f"{path}: restate it (ablations.study.families)"
    trends = read_json(RESULTS / "scaling" / "study.json")["width_trends"]["scratch"]
    assert trends and all("p_holm" in t["lr_sensitivity"] for t in trends), "the scaling study has a trend, Holm-corrected"


def test_a_rerun_is_published_as_a_re_execution_that_counts_only_claims(tmp_path):
    """``--replicates scaling``: the rerun is committed as ``scaling_replication``. Only contrasts shown after Holm in
    the first run are claims (never S > 0, never two "not shown"); one the other run does not show is named, with
    both runs' values, and what only the other run shows is listed apart."""
    import copy

    from ablations.study.families import restate
    from ablations.study.publish import publish_study
    from ablations.study.replication import conclusion, replication_block
    from lab.config.errors import UserError
    from lab.runs.artifacts import write_json

    assert [conclusion({"mean": m, "ci": ci, "shown": s}) for m, ci, s in ((0.2, [0.1, 0.3], True), (-0.2, [-0.3, -0.1], True),
                                                                           (0.2, [0.1, 0.3], False))] == ["> 0", "< 0", "not shown"]
    assert conclusion({"mean": 1.0, "ci": None}) == "no interval"
    original = read_json(RESULTS / "scaling" / "study.json")
    rerun = read_json(RESULTS / "scaling_replication" / "study.json")
    text = replication_block(restate(copy.deepcopy(rerun)), restate(copy.deepcopy(original)))
    label = "scratch: Δ S of no_qk_norm [width=h64] vs original [width=h64]"
    row = next(line for line in text.splitlines() if line.startswith(f"| {label} |"))
    assert row.endswith("| no |") and f"(re-execution table, row `{label}`)" in text and "these do not:" in text
    assert "0 of the 3 claims of `scaling_replication` hold" in text
    assert not any(line.startswith("| scratch: S of") for line in text.splitlines())  # S itself (≥ 0) is never a claim
    reverse = replication_block(restate(copy.deepcopy(original)), restate(copy.deepcopy(rerun)))
    assert "0 of the 0 claims of `scaling` hold" in reverse and "Shown in the re-execution only:" in reverse
    assert "126 runs finished in both; 7 have bit-equal final validation losses" in reverse
    rerun = copy.deepcopy(original)
    rerun["summary"]["scratch"]["no_qk_norm [width=h64]"]["run_records"][0]["final_val_loss"] += 0.5
    text = replication_block(original, {**rerun, "name": "scaling_replication"})
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
    from ablations.dyt_check import RESULT
    from ablations.study.dyt_check_table import check_table
    from lab.report.intervals import stat

    result = read_json(RESULT)
    assert result["seeds"] == [0, 1, 2] and set(result["traces"]) == {"rmsnorm", "dyt", "identity"}
    finals = [trace[-1][1] for trace in result["traces"]["dyt"].values()]
    assert len(finals) == 3 and all(t[-1][0] == 150 for t in result["traces"]["dyt"].values())
    row = next(line for line in check_table(result).splitlines() if line.startswith("| DyT"))
    s = stat(finals)
    assert f"{s['mean']:.3f} [{s['ci'][0]:.3f}, {s['ci'][1]:.3f}]" in row
