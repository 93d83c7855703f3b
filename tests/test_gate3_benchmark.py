"""Gate 3 as a benchmark (vindex.gate3_benchmark): every fact of a relation, the layer rule fixed before the run,
collateral on every other fact."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from omegaconf import OmegaConf
from transformers import Qwen3Config, Qwen3ForCausalLM

from lab.config import asset_path
from lab.model import load_tokenizer
from tests.conftest import run_here
from vindex.gate3 import attributions, first_token
from vindex.gate3_benchmark import answer_probs, edit_every_fact, relation_prompts, summarize
from vindex.probe import run_with_hooks
from vindex.schema import Gate3Config

ROWS = [r for r in pq.read_table(asset_path("tiny_corpus/popqa/train.parquet")).to_pylist() if r["prop"] == "capital"][:5]


@pytest.fixture
def facts_file(tmp_path):
    path = tmp_path / "facts.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS + [{**ROWS[0], "prop": "continent", "obj": "Europe"}]), path)
    return path


def gate3(**overrides):
    return OmegaConf.structured(Gate3Config(**overrides))


def test_every_fact_is_edited_at_the_rules_layer_and_graded_on_every_other_fact(facts_file):
    tokenizer = load_tokenizer({"tokenizer": asset_path("tiny_tokenizer")})
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(Qwen3Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=48, num_hidden_layers=3,
                                         num_attention_heads=4, num_key_value_heads=2, head_dim=8, initializer_range=0.2)).eval()
    facts = relation_prompts(gate3(facts=str(facts_file)))
    assert [f["subj"] for f in facts] == sorted(r["subj"] for r in ROWS) and facts[0]["prompt"].startswith("The capital of ")
    cov = [torch.eye(32)] * 3
    rows = edit_every_fact(model, tokenizer, facts, cov, gate3(facts=str(facts_file), num_neurons=2), seed=0)
    assert len(rows) == 5 and all(r["control"] != r["subj"] for r in rows)
    for fact, row in zip(facts, rows, strict=True):  # the rule's layer: the one holding the largest contributor
        ids = tokenizer(fact["prompt"], return_tensors="pt", add_special_tokens=False)["input_ids"]
        contrib = attributions(model, run_with_hooks(model, ids), first_token(tokenizer, fact["target"]))
        assert row["layer"] == int(contrib.argmax()) // 48 and row["neurons"] == contrib[row["layer"]].topk(2).indices.tolist()
        assert row["drop"] == pytest.approx(1 - row["p_after"] / row["p_before"])
        assert row["collateral_max"] >= row["collateral_mean"] >= 0
        assert row["passed"] == (row["drop"] >= 0.7 and row["collateral_control"] <= 0.3)
    assert answer_probs(model, tokenizer, facts[:1])[0] == pytest.approx(rows[0]["p_before"])  # the edits were removed
    fixed = edit_every_fact(model, tokenizer, facts, cov, gate3(facts=str(facts_file), layer_rule="1"), seed=0)
    assert {r["layer"] for r in fixed} == {1}
    summary = summarize(rows)
    assert summary["facts"] == 5 and summary["pass_rate"]["mean"] == sum(r["passed"] for r in rows) / 5
    assert summary["drop"]["ci"][0] <= summary["drop"]["mean"] <= summary["drop"]["ci"][1]


@pytest.mark.slow
def test_the_benchmark_command_writes_its_report(quick_reference, facts_file, tmp_path):
    out = tmp_path / "vindex"
    done = run_here(["vindex.gate3_benchmark", f"paths.runs={quick_reference}", f"out={out}", f"gate3.facts={facts_file}",
                    "gate3.num_neurons=4"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "gate3_benchmark.json").read_text())
    assert report["summary"]["facts"] == 5 and report["num_neurons"] == 4 and report["layer_rule"] == "top_contributor"
    assert "pass rate" in done.stdout


@pytest.mark.long
def test_gate3_over_seeds_runs_each_reference_and_neuron_count_and_summarises_over_seeds(quick_reference, facts_file, tmp_path):
    from lab.runs.reference import tiny_reference_dir
    from vindex.gate3_seeds import main, tables

    source, out = str(tiny_reference_dir(quick_reference)), tmp_path / "seeds"
    args = ["--sources", source, source, "--seeds", "0", "1", "--neurons", "2", "--out", str(out), "--override", f"gate3.facts={facts_file}"]
    assert main(args) == 0
    report = json.loads((out / "seeds.json").read_text())
    (row,) = report["rows"]
    one = json.loads((out / "seed0_n2" / "gate3_benchmark.json").read_text())["summary"]
    assert row["num_neurons"] == 2 and row["facts"] == 5 and report["seeds"] == [0, 1]
    assert row["per_seed"]["drop"] == [one["drop"]["mean"]] * 2  # the same model twice: the same per-seed values
    assert row["drop"]["mean"] == pytest.approx(one["drop"]["mean"]) and row["pass_rate"]["n"] == 2
    written = (out / "seed0_n2" / "gate3_benchmark.json").stat().st_mtime_ns
    assert main(args) == 0 and (out / "seed0_n2" / "gate3_benchmark.json").stat().st_mtime_ns == written  # reused
    assert "| 2 |" in tables(report)["table"] and "2 seeds" in tables(report)["readme"]


def test_the_published_gate3_blocks_match_the_committed_json():
    """docs/vindex.md's and README.md's gate3 blocks are what vindex.gate3_seeds renders from docs/results/gate3/seeds.json."""
    from lab.report.markers import marker
    from vindex.gate3_seeds import DOCS, PUBLISHED, update_docs

    report = json.loads(PUBLISHED.read_text())
    assert report["seeds"] == [0, 1, 2] and [r["num_neurons"] for r in report["rows"]] == [1, 32]
    assert {(m["name"], m["block"]) for doc in DOCS for m in marker("gate3").finditer(doc.read_text())} == {
        ("seeds", "table"), ("seeds", "readme")}
    assert update_docs(check=True) == []
