"""lm-evaluation-harness on a sweep (issue 18): every run, a patched variant through the same path, results.json,
model cards with a parseable model-index, W&B summaries and the comparison table in the report. All offline."""

import json
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from lab.dev.wandb_offline import find_runs, read_run
from lab.runs.checksums import check_sha256sums
from tests.conftest import run_here, run_module

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sweep(wandb_sweep) -> Path:
    """conftest's 2-variant sweep (original and replace_dyt) whose runs log to offline W&B."""
    (folder,) = (wandb_sweep / "runs" / "ablations" / "multirun").iterdir()
    return folder


def test_a_sweep_evaluates_every_run_and_writes_results_cards_wandb_and_a_table(sweep, tmp_path):
    out = run_here(["lab.evaluate.lm_eval", str(sweep), "tasks=[tiny_facts]", "limit=16"], cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    table = (sweep / "lm_eval" / "comparison.md").read_text()
    assert "| original |" in table and "| replace_dyt |" in table and "tiny_facts acc" in table
    for name in ("original", "replace_dyt"):  # a patched variant goes through the same path
        folder = sweep / f"{name}_finetuned"
        results = json.loads((folder / "lm_eval" / "results.json").read_text())
        accuracy = results["results"]["tiny_facts"]["acc,none"]
        assert results["n-samples"]["tiny_facts"]["effective"] == 16 and 0 <= accuracy <= 1
        card = ModelCard.load(folder / "README.md")  # the model-index parses back
        (result,) = [r for r in card.data.eval_results if r.dataset_type == "tiny_facts"]
        assert (result.metric_type, result.metric_value, result.source_name) == ("acc", accuracy, "lm-evaluation-harness")
        assert check_sha256sums(folder) >= 5  # SHA256SUMS follows the card
        (run,) = [read_run(p) for p in find_runs(folder / "lm_eval")]
        assert run.run["id"] == (folder / ".wandb_run_id").read_text() and run.summary["lm_eval/tiny_facts/acc"] == accuracy
    assert run_module("lab.report", [str(sweep)]) == 0  # in this process (runpy), as python -m would run it
    assert "## lm-evaluation-harness" in (sweep / "report" / "report.md").read_text()


