"""Does a study's answer transfer (ablations.study.transfer): each contrast of a committed study against the same
contrast in each setting of another, with both sides' Holm verdicts, published as generated blocks."""

import json
import shutil

from ablations.study.publish import RESULTS, committed_blocks, publish_study
from ablations.study.transfer import transfer_block, transfer_readme, transfer_rows, verdict


def contrast(mean: float, shown: bool) -> dict:
    return {"mean": mean, "ci": [mean - 0.1, mean + 0.1], "p": 0.01 if shown else 0.5, "p_holm": 0.02 if shown else 0.9,
            "shown": shown, "n": [3, 3], "method": "welch"}


def cell(variant: str, control: str | None, factors: dict, s: dict | None = None, best: dict | None = None) -> dict:
    vs = {"lr_sensitivity": s, "best_clipped_loss": best} if control else None
    return {"variant": variant, "factors": factors, "control": control, "vs_control": vs}


SOURCE = {"name": "bundled", "runs": 12, "summary": {"scratch": {
    "original": cell("original", None, {}),
    "no_qk_norm": cell("no_qk_norm", "original", {}, contrast(0.6, True), contrast(0.03, False)),
    "no_layer_norm": cell("no_layer_norm", "original", {}, contrast(0.5, True), contrast(0.2, True))}}}
SHORT, LONG = {"trainer.max_steps": "120"}, {"trainer.max_steps": "600"}
OTHER = {"name": "text", "runs": 40, "ok": 39, "collapsed": 1, "failed": 0, "summary": {"scratch": {
    "original [trainer.max_steps=120]": cell("original", None, SHORT),
    "original [trainer.max_steps=600]": cell("original", None, LONG),
    "no_qk_norm [trainer.max_steps=120]": cell("no_qk_norm", "original [trainer.max_steps=120]", SHORT, contrast(-0.4, True), contrast(0.05, True)),
    "no_qk_norm [trainer.max_steps=600]": cell("no_qk_norm", "original [trainer.max_steps=600]", LONG, contrast(0.3, False), contrast(0.01, False))}}}


def test_each_contrast_is_matched_per_setting_and_gets_the_pairs_verdict():
    found = {(r["setting"], r["metric"]): r["verdict"] for r in transfer_rows(SOURCE, OTHER)}
    assert found == {("trainer.max_steps=120", "lr_sensitivity"): "flips", ("trainer.max_steps=120", "best_clipped_loss"): "new in this setting",
                     ("trainer.max_steps=600", "lr_sensitivity"): "not shown in the new setting",
                     ("trainer.max_steps=600", "best_clipped_loss"): "neither can tell"}  # no_layer_norm: not in the other study
    assert verdict("> 0", "> 0") == "holds" and verdict("< 0", "> 0") == "flips"
    block = transfer_block(SOURCE, OTHER)
    assert block.count("\n| scratch: ") == 4 and "| scratch: Δ S of no_qk_norm vs original | trainer.max_steps=120 | 0.600 [0.500, 0.700] |" in block
    readme = transfer_readme(SOURCE, OTHER).splitlines()
    assert len(readme) == 4 and readme[0].startswith("- scratch: Δ S of no_qk_norm vs original, trainer.max_steps=120: **flips**: > 0 in")
    assert "(0.600 [0.500, 0.700]; p 0.01, Holm p 0.02 over m = ?; seeds 3/3)" in readme[0]
    assert readme[-1].startswith("- scratch: Δ ℓ* of no_qk_norm vs original, trainer.max_steps=600: **neither can tell**: not shown in")
    assert verdict("no interval", "> 0") == "no interval on one side"
    flagged = {r["setting"] for r in transfer_rows({**SOURCE, "steps": 120}, OTHER)}
    assert flagged == {"trainer.max_steps=120", "trainer.max_steps=600 (the source ran 120 steps: corpus and run length both change)"}


def test_a_study_published_with_transfers_from_gets_its_blocks_from_the_committed_files(tmp_path):
    results, docs = tmp_path / "results", tmp_path / "doc.md"
    shutil.copytree(RESULTS / "default", results / "default")
    other = json.loads((RESULTS / "default" / "study.json").read_text())
    other["name"] = "rerun"
    (tmp_path / "rerun.json").write_text(json.dumps(other))
    docs.write_text("<!-- study:rerun:transfer -->\n<!-- /study:rerun:transfer -->\n")
    written = publish_study(tmp_path / "rerun.json", results=results, figures=tmp_path / "figures", docs=(docs,), transfers_from="default")
    assert results / "rerun" / "study.json" in written and docs in written
    assert json.loads((results / "rerun" / "study.json").read_text())["transfers_from"] == "default"
    text = docs.read_text()
    assert "`study=rerun`" in text and "| verdict |" in text and " flips |" not in text  # the same data cannot flip
    assert "over m = 16; seeds 3/3" in text  # the default study's family: 8 cells x 2 metrics per regime
    assert committed_blocks(results)[("rerun", "transfer_readme")].startswith("- ")
