"""Gate 3 as a benchmark: the rank-1 DELETE edit of :mod:`vindex.gate3` on every fact of one relation, under a rule
fixed before the run.

    python -m vindex.gate3_benchmark                              # every capital fact of the bundled corpus
    python -m vindex.gate3_benchmark gate3.num_neurons=16 gate3.layer_rule=3 source=<checkpoint>

For each fact (subject s, answer o) of ``gate3.relation`` in ``gate3.facts``: the prompt ``gate3.template`` with s,
the target o's first token. The layer is the rule's (``gate3.layer_rule``: ``top_contributor``, the layer of the
neuron with the largest direct contribution to the target, or a fixed layer); never the best of several. There
the ``gate3.num_neurons`` largest contributors get the rank-1 gate_proj edit (:func:`vindex.gate3.layer_edit`).
Measured per fact:

- drop = 1 − P'(o | prompt) / P(o | prompt);
- collateral on every other fact of the relation: |P' − P| / P of its own answer after its own prompt; reported as
  the mean and the maximum over them, and for the one control drawn for the fact (seeded by ``seed``), as the
  single-pair test does;
- PASS: drop ≥ ``gate3.min_drop`` and the drawn control's collateral ≤ ``gate3.max_collateral``.

The pass rate, mean drop and mean collateral carry 95 % Student-t intervals over the facts
(:func:`lab.report.intervals.stat`). Written to ``<vindex>/gate3_benchmark.json`` beside the single-pair
``gate3.json``; the single pair stays ``python -m vindex.gate3 gate3.prompt=...``.
"""

import random

import pyarrow.parquet as pq
import torch
from omegaconf import DictConfig
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from lab.config import asset_path
from lab.config.command import hydra_cli, hydra_command
from lab.config.errors import UserError
from lab.report.intervals import stat
from lab.runs.artifacts import write_json
from vindex.gate3 import attributions, first_token, key_covariance, layer_edit, next_token_prob
from vindex.probe import load_model, probe_ids, run_with_hooks
from vindex.source import resolve_source
from vindex.update import ensure_vindex

DEFAULT_FACTS = "tiny_corpus/popqa/train.parquet"


def relation_prompts(g: DictConfig) -> list[dict]:
    """``{"subj", "prompt", "target"}`` for every fact of ``g.relation`` (by subject), the answer with a leading space."""
    path = str(g.facts) if g.facts else asset_path(DEFAULT_FACTS)
    rows = [r for r in pq.read_table(path).to_pylist() if r.get("prop") == str(g.relation)]
    if len(rows) < 2:
        raise UserError(f"gate3.relation={g.relation!r}: {path} holds {len(rows)} such facts; the benchmark needs two or more")
    return [{"subj": r["subj"], "prompt": str(g.template).format(subj=r["subj"]), "target": " " + str(r["obj"])}
            for r in sorted(rows, key=lambda r: str(r["subj"]))]


def answer_probs(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, facts: list[dict]) -> torch.Tensor:
    """P(first token of each fact's target | its prompt), one forward pass per fact."""
    return torch.tensor([next_token_prob(model, tokenizer, fact["prompt"], fact["token"]) for fact in facts])


def rule_layer(rule: str, contrib: torch.Tensor) -> int:
    """The layer the rule names: the top contributor's, or the fixed one."""
    return int(contrib.argmax()) // contrib.shape[1] if rule == "top_contributor" else int(rule)


def edit_every_fact(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, facts: list[dict], cov: list[torch.Tensor],
                    g: DictConfig, seed: int) -> list[dict]:
    """The module docstring's measurements, one row per fact."""
    for fact in facts:
        fact["token"] = first_token(tokenizer, fact["target"])
    before = answer_probs(model, tokenizer, facts)
    rng, rows = random.Random(seed), []
    for i, fact in enumerate(facts):
        ids = tokenizer(fact["prompt"], return_tensors="pt", add_special_tokens=False)["input_ids"]
        acts = run_with_hooks(model, ids)
        contrib = attributions(model, acts, fact["token"])
        layer = rule_layer(str(g.layer_rule), contrib)
        if not 0 <= layer < contrib.shape[0]:
            raise UserError(f"gate3.layer_rule={g.layer_rule} is outside the model's layers 0..{contrib.shape[0] - 1}")
        neurons, overlay = layer_edit(model, acts, contrib, layer, cov[layer], g)
        overlay.apply(model)
        after = answer_probs(model, tokenizer, facts)
        overlay.remove()
        change = ((after - before).abs() / before).tolist()
        others = [j for j in range(len(facts)) if j != i]
        control = rng.choice(others)
        drop = 1 - float(after[i] / before[i])
        rows.append({"subj": fact["subj"], "layer": layer, "neurons": neurons, "p_before": float(before[i]),
                     "p_after": float(after[i]), "drop": drop, "control": facts[control]["subj"],
                     "collateral_control": change[control], "collateral_mean": sum(change[j] for j in others) / len(others),
                     "collateral_max": max(change[j] for j in others),
                     "passed": drop >= float(g.min_drop) and change[control] <= float(g.max_collateral)})
    return rows


def summarize(rows: list[dict]) -> dict:
    """Pass rate, drop and collateral over the facts: mean with its 95 % interval, and the quartiles."""
    def quartiles(values: list[float]) -> list[float]:
        return torch.tensor(values).quantile(torch.tensor([0.25, 0.5, 0.75])).tolist()

    keys = ("drop", "collateral_control", "collateral_mean", "collateral_max")
    return {"facts": len(rows), "pass_rate": stat([float(r["passed"]) for r in rows]),
            **{k: {**stat([r[k] for r in rows]), "quartiles": quartiles([r[k] for r in rows])} for k in keys},
            "layers": {str(layer): sum(r["layer"] == layer for r in rows) for layer in sorted({r["layer"] for r in rows})}}


def run_benchmark(cfg: DictConfig) -> dict:
    g = cfg.gate3
    source = resolve_source(cfg)
    model, tokenizer = load_model(source, cfg)
    facts = relation_prompts(g)
    probe = run_with_hooks(model, probe_ids(tokenizer, cfg)[0])
    cov = [key_covariance(keys) for keys in probe.keys]
    rows = edit_every_fact(model, tokenizer, facts, cov, g, cfg.seed)
    report = {"source": source, "relation": str(g.relation), "template": str(g.template), "layer_rule": str(g.layer_rule),
              "num_neurons": int(g.num_neurons), "criteria": {"min_drop": float(g.min_drop), "max_collateral": float(g.max_collateral)},
              "summary": summarize(rows), "facts": rows}
    folder = ensure_vindex(cfg, source)
    write_json(folder / "gate3_benchmark.json", report)
    s = report["summary"]
    low, high = s["pass_rate"]["ci"] or (s["pass_rate"]["mean"],) * 2
    print(f"Gate 3 over {s['facts']} {g.relation} facts ({g.layer_rule}, {g.num_neurons} neurons): pass rate "
          f"{s['pass_rate']['mean']:.1%} [{low:.1%}, {high:.1%}], mean drop {s['drop']['mean']:.1%}, mean collateral on every "
          f"other fact {s['collateral_mean']['mean']:.1%} -> {folder / 'gate3_benchmark.json'}")
    return report


@hydra_command("vindex")
def main(cfg: DictConfig) -> None:
    run_benchmark(cfg)


if __name__ == "__main__":
    hydra_cli(main)
