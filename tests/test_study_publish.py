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
