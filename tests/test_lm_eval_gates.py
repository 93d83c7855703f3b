"""lm-evaluation-harness on gate runs (issue 18): gates masked on the fly score as the applied model, and
``gates.evaluate tasks=[...]`` adds lm-eval tasks to the trade-off beside the random control. All offline."""

import json

import pytest

from tests.conftest import run_here, run_module

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gates(quick_gate_run):
    """conftest's gate run on the quick reference, this module's own copy."""
    return quick_gate_run


@pytest.fixture(scope="module")
def quick_reference(gates):
    """The runs folder the gate run and its reference are in (the session's quick reference is another copy)."""
    return gates.parents[1]


TASKS = "tasks=[tiny_facts,tiny_arith_text]"


@pytest.fixture(scope="module")
def on_the_fly(gates, quick_reference) -> dict:
    """lab.evaluate.lm_eval on the gate run, hard-masked at g < 0.5 on the fly: lm-eval's results."""
    out = run_here(["lab.evaluate.lm_eval", str(gates), TASKS, "limit=24", "mode=hard", "threshold=0.5", f"paths.runs={quick_reference}"],
                  cwd=gates.parent)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads((gates / "lm_eval" / "hard-0.5" / "results.json").read_text())["results"]


def test_gates_masked_on_the_fly_score_as_the_applied_model(gates, on_the_fly, quick_reference, tmp_path):
    applied = tmp_path / "applied"
    out = run_here(["gates.apply", f"gates_dir={gates}", "mode=hard", "threshold=0.5", f"out={applied}", f"paths.runs={quick_reference}"],
                  cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    out = run_here(["lab.evaluate.lm_eval", str(applied), TASKS, "limit=24"], cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    written = json.loads((applied / "lm_eval" / "results.json").read_text())["results"]
    assert on_the_fly["tiny_facts"]["acc,none"] == written["tiny_facts"]["acc,none"]
    bits = on_the_fly["tiny_arith_text"]["bits_per_byte,none"]
    assert bits == pytest.approx(written["tiny_arith_text"]["bits_per_byte,none"], rel=1e-5) and bits > 0
    assert not (gates / "model.safetensors").exists()  # no model written for the on-the-fly masking


def test_gates_evaluate_adds_lm_eval_tasks_to_the_tradeoff_beside_the_random_control(gates, on_the_fly, quick_reference):
    out = run_here(["gates.evaluate", f"gates_dir={gates}", f"paths.runs={quick_reference}", TASKS, "lm_eval.limit=24", "modes=[hard]",
                   "thresholds=[0.5]", "random_seeds=[0,1]", "data.eval_limit=8", "data.val_docs=16", "max_new_tokens.reasoning=6",
                   "tradeoff.reasoning=tiny_arith_text/bits_per_byte"], cwd=gates.parent)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads((gates / "evaluation" / "evaluation.json").read_text())
    assert report["tasks"] == ["tiny_facts", "tiny_arith_text"]
    assert report["tradeoff"] == {"knowledge": "knowledge_acc", "reasoning": "tiny_arith_text/bits_per_byte"}
    rows = {(r["mode"], r["selection"], r["seed"]): r for r in report["settings"]}
    # the masked model lm-eval scored inside gates.evaluate is the one lab.evaluate.lm_eval masks on the fly
    assert rows["hard", "gates", None]["tiny_arith_text/bits_per_byte"] == pytest.approx(on_the_fly["tiny_arith_text"]["bits_per_byte,none"], rel=1e-5)
    assert rows["hard", "gates", None]["tiny_facts/acc"] == on_the_fly["tiny_facts"]["acc,none"]
    unmasked = rows["none", "gates", None]["tiny_arith_text/bits_per_byte"]
    assert len({unmasked, rows["hard", "random", 0]["tiny_arith_text/bits_per_byte"], rows["hard", "random", 1]["tiny_arith_text/bits_per_byte"]}) == 3
    (random_row,) = [r for r in report["summary"] if r["selection"] == "random"]
    assert random_row["n"] == 2 and "tiny_arith_text/bits_per_byte_std" in random_row
    table = (gates / "evaluation" / "evaluation.md").read_text()
    assert "| KL to base | tiny_facts/acc | tiny_arith_text/word_perplexity |" in table and "| tiny_arith_text/bits_per_byte |" in table
    assert "| hard | random |" in table
    assert run_module("lab.report", [str(gates)]) == 0  # in this process (runpy), as python -m would run it
    assert "tiny_arith_text/bits_per_byte" in (gates / "report" / "report.md").read_text()


def test_gates_evaluate_refuses_a_tradeoff_axis_it_does_not_measure(gates, quick_reference, tmp_path, capfd, monkeypatch):
    monkeypatch.chdir(tmp_path)  # refused before it evaluates: in this process (runpy), as python -m would run it
    code = run_module("gates.evaluate", [f"gates_dir={gates}", f"paths.runs={quick_reference}", "modes=[hard]", "thresholds=[0.5]",
                                         "random_seeds=[0]", "data.eval_limit=4", "data.val_docs=4", "max_new_tokens.reasoning=2",
                                         f"out={tmp_path / 'ev'}", "tradeoff.reasoning=gsm8k/exact_match"])
    _, err = capfd.readouterr()
    assert code == 2 and "tradeoff axes ['gsm8k/exact_match'] are not metrics of this evaluation" in err
    assert "Traceback" not in err and not (tmp_path / "ev").exists()
