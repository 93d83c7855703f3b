"""Knowledge localisation as reviewers test it: the held-out split, the trained random control, the attribution
baseline, relearning, and the benchmark that runs them all (gates.facts, gates.gated_ffn, gates.localise.attribution,
gates.localise.relearn, gates.localise.benchmark)."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from transformers import Qwen3Config, Qwen3ForCausalLM

from gates.data import entity_masked, pad_collate
from gates.facts import SPLIT_FILE, read_split, recall_by_set, split_facts, write_split
from gates.gated_ffn import OPEN_LOGIT, gate_logits, patch_gates, random_neurons
from gates.localise.attribution import neuron_attributions
from gates.localise.benchmark import last_error, overlaps, top_share
from gates.localise.delete import delete_facts
from gates.localise.logit_attribution import answer_tokens, gate3_scores, vindex_feature_scores
from gates.localise.probe import decode_accuracy, fit_ridge, last_position_residuals, probe_accuracy
from gates.localise.relearn import relearn
from gates.masking import scale_neurons
from lab.config import asset_path
from lab.config.errors import UserError
from lab.data.formats import knowledge_documents, qa_prompt
from lab.model import load_tokenizer
from tests.conftest import run_cli

FACTS = pq.read_table(asset_path("tiny_corpus/popqa/train.parquet")).to_pylist()


def key(row: dict) -> tuple[str, str]:
    return row["prop"], row["subj"]


def test_the_split_holds_out_a_seeded_share_of_each_forget_relation_and_keeps_the_others_apart():
    split = split_facts(FACTS, ["capital", "continent"], 0.5, seed=0)
    forget, held, other = ({key(r) for r in s} for s in (split.forget, split.held_out, split.other))
    assert not (forget & held) and not (forget & other) and not (held & other)
    assert len(forget) + len(held) + len(other) == len(FACTS) == 435
    for relation in ("capital", "continent"):
        assert sum(r["prop"] == relation for r in split.held_out) == 58  # int(0.5 · 117)
        assert sum(r["prop"] == relation for r in split.forget) == 59
    assert {r["prop"] for r in split.other} == {"official language", "chemical symbol", "atomic number"}
    again, other_seed = split_facts(FACTS, ["capital", "continent"], 0.5, seed=0), split_facts(FACTS, ["capital", "continent"], 0.5, seed=1)
    assert [key(r) for r in again.held_out] == [key(r) for r in split.held_out]
    assert {key(r) for r in other_seed.held_out} != held
    assert len(split_facts(FACTS, None, 0.0, seed=0).forget) == 435  # every fact, as before the split
    with pytest.raises(UserError, match="capitol"):
        split_facts(FACTS, ["capitol"], 0.5, seed=0)


def test_the_split_is_written_with_the_gates_and_read_back_for_any_graded_rows(tmp_path):
    split = split_facts(FACTS, ["capital"], 0.5, seed=3)
    write_split(tmp_path, split)
    assert json.loads((tmp_path / SPLIT_FILE).read_text())["relations"] == ["capital"]
    subset = FACTS[::5]
    back = read_split(tmp_path, subset)
    assert {key(r) for r in back.held_out} == {key(r) for r in split.held_out} & {key(r) for r in subset}
    assert len(back.forget) + len(back.held_out) + len(back.other) == len(subset)
    assert len(read_split(tmp_path / "none", subset).forget) == len(subset)  # a run from before the split


def test_a_fact_asked_as_a_statement_is_graded_on_its_continuation():
    from lab.data.formats import statement_answer_correct, statement_prompt

    row = {"subj": "France", "prop": "capital", "obj": "Paris"}
    assert statement_prompt(row) == "The capital of France is"
    assert statement_prompt({**row, "prop": "continent", "obj": "Europe"}) == "France is a country in"
    assert statement_prompt({**row, "prop": "occupation"}) is None  # no template: not graded
    assert statement_answer_correct(" Paris. The capital of Spain is Madrid.", ["Paris"])
    assert not statement_answer_correct(" Parisian food.", ["Paris"]) and not statement_answer_correct(" Berlin.", ["Paris"])


def test_recall_is_graded_per_set_and_relation():
    split = split_facts(FACTS, ["capital"], 0.5, seed=0)
    held = {key(r) for r in split.held_out}
    correct = [key(r) in held for r in FACTS]  # only the held-out facts answered
    recall = recall_by_set(FACTS, correct, split)
    assert recall["held_out_recall"] == 1.0 and recall["forget_recall"] == 0.0 and recall["other_recall"] == 0.0
    assert recall["recall/capital"] == pytest.approx(58 / 117) and recall["recall/continent"] == 0.0
    ungraded = [None if r["prop"] == "continent" else ok for r, ok in zip(FACTS, correct, strict=True)]  # None: not asked
    assert recall_by_set(FACTS, ungraded, split)["recall/continent"] != recall_by_set(FACTS, ungraded, split)["recall/continent"]  # NaN


CONFIG = dict(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
              head_dim=8, max_position_embeddings=128, initializer_range=0.2)


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer({"tokenizer": asset_path("tiny_tokenizer")})


def tiny_model(tokenizer, seed: int = 0) -> Qwen3ForCausalLM:
    torch.manual_seed(seed)
    return Qwen3ForCausalLM(Qwen3Config(vocab_size=len(tokenizer), **CONFIG)).eval()


def test_trained_random_gates_train_only_their_subset_and_hold_the_rest_open(tokenizer):
    model = tiny_model(tokenizer)
    patch_gates(model, 0.0, free_fraction=0.25, seed=0)  # what gates.train does with gates.free_fraction=0.25
    free = random_neurons((2, 48), 0.25, seed=0)
    assert int(free.sum()) == 24 and not torch.equal(free, random_neurons((2, 48), 0.25, seed=1))
    assert torch.equal(torch.sigmoid(gate_logits(model))[~free], torch.ones(int((~free).sum())))  # open: g = 1 exactly
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.1, weight_decay=0.0)
    ids = torch.randint(0, len(tokenizer), (2, 9), generator=torch.Generator().manual_seed(0))
    for _ in range(3):
        optimizer.zero_grad()
        model(ids, labels=ids).loss.backward()
        optimizer.step()
    logits = gate_logits(model)
    assert torch.equal(logits[~free], torch.full_like(logits[~free], OPEN_LOGIT))
    assert (logits[free] != 0).all()  # every free gate moved from its start λ = 0
    chosen = top_share(-logits, 0.25)
    assert torch.equal(chosen, free)  # masked at the subset's size, the control masks exactly its subset


def test_attribution_is_the_derivative_of_the_answer_log_probability_by_each_neurons_scale(tokenizer):
    """a_j = Σ h_j · ∂log p/∂h_j is d log p / d s_j at s = 1 when neuron j's activation is scaled by s_j."""
    model = tiny_model(tokenizer)
    facts = [r for r in FACTS if r["prop"] == "capital"][:6]
    got = neuron_attributions(model, tokenizer, facts, max_len=64, batch_size=4)
    scales = [torch.ones(48, requires_grad=True) for _ in range(2)]
    mlps = [layer.mlp for layer in model.model.layers]
    handles = [m.down_proj.register_forward_pre_hook(lambda mod, args, s=s: (args[0] * s,)) for m, s in zip(mlps, scales, strict=True)]
    batch = pad_collate(tokenizer.pad_token_id)([entity_masked(knowledge_documents(f)[0], f["obj"], tokenizer, 64) for f in facts])
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    labels = batch["labels"][:, 1:]
    logp = torch.log_softmax(logits, -1).gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    (logp * (labels != -100)).sum().backward()
    for handle in handles:
        handle.remove()
    assert got.shape == (2, 48)
    torch.testing.assert_close(got, torch.stack([s.grad for s in scales]), rtol=1e-4, atol=1e-5)


def test_gate3_scores_are_vindex_gate3s_attribution_summed_over_facts(tokenizer):
    from vindex.gate3 import attributions
    from vindex.probe import run_with_hooks

    model = tiny_model(tokenizer)
    facts = [r for r in FACTS if r["prop"] == "capital"][:3]
    expected = torch.zeros(2, 48)
    for fact in facts:  # vindex's Gate 3, one prompt at a time, with the answer's first token as its target
        ids = tokenizer(qa_prompt(fact["question"]), return_tensors="pt", add_special_tokens=False)["input_ids"]
        expected += attributions(model, run_with_hooks(model, ids), int(answer_tokens(tokenizer, [fact])[0]))
    torch.testing.assert_close(gate3_scores(model, tokenizer, facts), expected, rtol=1e-5, atol=1e-6)


def test_vindex_feature_scores_are_the_down_meta_logits_of_the_forget_answers(tokenizer):
    """The logit a neuron's down_meta record stores for an answer token is that neuron's score for the fact."""
    from vindex.down_meta import down_meta_records

    model = tiny_model(tokenizer)
    fact = next(r for r in FACTS if r["prop"] == "capital")
    token = int(answer_tokens(tokenizer, [fact])[0])
    scores = vindex_feature_scores(model, tokenizer, [fact])
    embeddings = model.get_input_embeddings().weight.detach().float()
    vocab = embeddings.shape[0]
    found = 0
    for layer, mlp in enumerate(m.mlp for m in model.model.layers):
        records = down_meta_records(mlp.down_proj.weight.detach().float().T, embeddings, vocab, np.zeros(vocab, dtype=bool))
        for neuron, record in enumerate(records):
            logit = record["tokens"]["logit"][list(record["tokens"]["id"]).index(token)]
            assert scores[layer, neuron] == pytest.approx(float(logit), rel=1e-5, abs=1e-6)
            found += 1
    assert found == 96
    both = vindex_feature_scores(model, tokenizer, [fact, fact])
    torch.testing.assert_close(both, 2 * scores)  # summed over facts


def test_the_probe_reads_an_answer_that_is_linearly_in_the_residual_and_not_one_that_is_not():
    generator = torch.Generator().manual_seed(0)
    vocab, hidden, facts = 50, 16, 120
    unembed = torch.randn(vocab, hidden, generator=generator)
    tokens = torch.randint(0, vocab, (facts,), generator=generator)
    mixing = torch.randn(hidden, hidden, generator=generator)  # the answer, linearly but not trivially encoded
    readable = (unembed[tokens] @ mixing + 0.1 * torch.randn(facts, hidden, generator=generator)).unsqueeze(0)
    noise = torch.randn(1, facts, hidden, generator=generator)
    train, test = slice(0, 80), slice(80, None)
    hit = decode_accuracy(readable[:, train], readable[:, test], tokens[train], tokens[test], unembed, ridge=1e-3)
    miss = decode_accuracy(noise[:, train], noise[:, test], tokens[train], tokens[test], unembed, ridge=1e-3)
    assert hit == [1.0] and miss[0] < 0.2  # chance: 1 in ~45 candidates
    x = torch.randn(30, 4, generator=generator)
    weight, mean = fit_ridge(x, x @ torch.tensor([[1.0], [2.0], [-1.0], [0.5]]) + 3.0, ridge=1e-9)
    torch.testing.assert_close(weight.flatten(), torch.tensor([1.0, 2.0, -1.0, 0.5]), rtol=1e-4, atol=1e-4)


def test_the_probe_reads_the_residual_stream_at_the_prompts_last_position(tokenizer):
    model = tiny_model(tokenizer)
    facts = [r for r in FACTS if r["prop"] == "capital"][:3]
    got = last_position_residuals(model, tokenizer, facts)
    assert got.shape == (3, 3, 32)  # embeddings and 2 layers, 3 facts, hidden 32
    ids = tokenizer(qa_prompt(facts[1]["question"]), return_tensors="pt", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        hidden = model(input_ids=ids, output_hidden_states=True).hidden_states
    torch.testing.assert_close(got[:, 1], torch.stack([h[0, -1] for h in hidden]))
    accuracy = probe_accuracy(model, tokenizer, facts, facts, ridge=1.0)
    assert len(accuracy) == 3 and all(0.0 <= a <= 1.0 for a in accuracy)


def test_the_rank1_delete_drives_each_facts_top_contributors_to_the_target_preactivation(tokenizer):
    """One fact: Gate 3's layer rule and its top contributor, W_gate − a vᵀ, so that neuron's pre-activation on the
    prompt's last key is the target (−10) afterwards, and no other gate row changed."""
    from vindex.gate3 import attributions
    from vindex.probe import run_with_hooks

    model = tiny_model(tokenizer)
    fact = next(r for r in FACTS if r["prop"] == "capital")
    ids = tokenizer(qa_prompt(fact["question"]), return_tensors="pt", add_special_tokens=False)["input_ids"]
    contrib = attributions(model, run_with_hooks(model, ids), int(answer_tokens(tokenizer, [fact])[0]))
    layer, neuron = divmod(int(contrib.argmax()), 48)
    before = [m.mlp.gate_proj.weight.detach().clone() for m in model.model.layers]
    touched = delete_facts(model, tokenizer, [fact], budget_neurons=1)
    assert touched.sum() == 1 and touched[layer, neuron]
    seen = []
    handle = model.model.layers[layer].mlp.gate_proj.register_forward_hook(lambda m, a, out: seen.append(out[0, -1].detach()))
    with torch.no_grad():
        model(input_ids=ids)
    handle.remove()
    assert seen[0][neuron].item() == pytest.approx(-10.0, abs=1e-3)
    for i, (old, m) in enumerate(zip(before, model.model.layers, strict=True)):
        changed = (m.mlp.gate_proj.weight.detach() != old).any(dim=1)
        assert changed.tolist() == [i == layer and j == neuron for j in range(48)]  # only that neuron's gate row
    two = delete_facts(tiny_model(tokenizer), tokenizer, [fact] * 2, budget_neurons=6)
    assert two.sum() == 3  # k = 6 over 2 facts: 3 neurons each (the same fact twice: the same 3)


def test_relearning_grades_before_and_after_each_step_count_and_changes_the_weights(tokenizer):
    model = tiny_model(tokenizer)
    before = model.model.layers[0].mlp.down_proj.weight.detach().clone()
    calls = []

    def grade(m) -> float:
        calls.append(m.training)
        return float(len(calls))

    curve = relearn(model, tokenizer, [text for r in FACTS[:40] for text in knowledge_documents(r)],
                    [0, 2, 3], grade, lr=1e-2, batch_size=4, seq_len=32, seed=0, accelerator="cpu")
    assert list(curve) == [0, 2, 3] and curve == {0: 1.0, 2: 2.0, 3: 3.0}
    assert not torch.equal(before, model.model.layers[0].mlp.down_proj.weight.detach())
    untouched = tiny_model(tokenizer)
    weight = untouched.model.layers[0].mlp.down_proj.weight.detach().clone()
    assert relearn(untouched, tokenizer, [], [0], lambda m: 0.5, lr=1e-2, batch_size=4, seq_len=32, seed=0) == {0: 0.5}  # budget 0
    assert torch.equal(weight, untouched.model.layers[0].mlp.down_proj.weight.detach())  # the step-0 row only: nothing trained


def test_relearning_with_the_edit_frozen_keeps_the_edited_columns_exactly(tokenizer):
    model = tiny_model(tokenizer)
    frozen = torch.zeros(2, 48, dtype=torch.bool)
    frozen[0, [1, 5, 9]], frozen[1, 7] = True, True
    scale_neurons(model, torch.where(frozen, torch.zeros(()), torch.ones(())))  # the hard edit: those columns 0
    before = [layer.mlp.down_proj.weight.detach().clone() for layer in model.model.layers]
    relearn(model, tokenizer, [text for r in FACTS[:40] for text in knowledge_documents(r)], [0, 3], lambda m: 0.0,
            lr=1e-2, batch_size=4, seq_len=32, seed=0, accelerator="cpu", frozen=frozen)
    for layer, (row, old) in enumerate(zip(frozen, before, strict=True)):
        new = model.model.layers[layer].mlp.down_proj.weight.detach()
        assert torch.equal(new[:, row], torch.zeros_like(new[:, row]))  # the edit held, bit for bit
        assert (new[:, ~row] != old[:, ~row]).float().mean() > 0.5  # every other column trained
    assert not model.model.layers[0].mlp.down_proj.weight._backward_hooks  # the hooks are gone after the attack
    with pytest.raises(UserError, match="frozen neurons of shape"):
        relearn(tiny_model(tokenizer), tokenizer, ["x " * 80], [1], lambda m: 0.0, lr=1e-2, batch_size=1, seq_len=32, seed=0,
                accelerator="cpu", frozen=torch.zeros(3, 48, dtype=torch.bool))


def test_overlap_is_the_jaccard_of_the_neuron_sets_per_layer():
    a = torch.tensor([[True, True, False, False], [False, False, False, False]])
    b = torch.tensor([[True, False, True, False], [False, False, False, False]])
    result = overlaps({"gates": a, "random/0": b, "random/1": a})
    assert list(result) == ["gates~random"]
    assert result["gates~random"] == {"all": pytest.approx(1 / 3), "per_layer": [pytest.approx(1 / 3), None]}


def check_saved_edits(seed_folder, runs) -> None:
    """save_edits=true: each method's edit at the main budget is a stock Qwen3 folder (no remote code) that differs
    from the reference only where its rule edits, by as many neurons as its setting records."""
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    from gates.localise.edited import edited_dir
    from lab.runs.reference import tiny_reference_dir

    base = load_file(tiny_reference_dir(runs) / "model.safetensors")
    settings = {(s["method"], s["mode"]): s for s in json.loads((seed_folder.parent / "seed0.json").read_text())["settings"]
                if s["budget"] == 0.05 and s["draw"] in (None, 0)}
    assert sorted(p.name for p in (seed_folder / "edited").iterdir()) == sorted(f"{m}_{mode}" for m, mode in settings)
    for (method, mode), setting in settings.items():
        folder = edited_dir(seed_folder, method, mode)
        model = AutoModelForCausalLM.from_pretrained(folder)  # stock: no trust_remote_code
        weights = {k: v for k, v in model.state_dict().items() if k in base}
        changed = {k.split(".")[-2] for k, v in weights.items() if not torch.equal(v, base[k])}
        assert changed == ({"gate_proj"} if mode == "rank1" else {"down_proj"}), (method, mode, changed)
        if mode == "hard":
            zeroed = sum(int((layer.mlp.down_proj.weight == 0).all(dim=0).sum()) for layer in model.model.layers)
            assert zeroed == round(setting["fraction_edited"] * len(model.model.layers) * model.config.intermediate_size)
        recorded = json.loads((folder / "metadata.json").read_text())
        assert (recorded["method"], recorded["draw"]) == (method, 0 if method == "random" else None)  # the first draw


@pytest.mark.slow
@pytest.mark.long
def test_the_benchmark_runs_every_method_on_one_seed_and_writes_its_report(quick_reference, tmp_path):
    out = tmp_path / "bench"
    # a real process: the benchmark composes the gate runs' config itself, so its own registration is what is tested
    done = run_cli(["gates.localise", "seeds=[0]", "random_draws=2", "budgets=[0.02]", "relearn.steps=[0,1]", "relearn.contrast_step=1", "max_new_tokens.reasoning=8",
                    "max_new_tokens.knowledge=6",
                    "tasks=[tiny_facts]", "lm_eval.limit=8", f"paths.runs={quick_reference}",
                    f"out={out}", "train=['trainer.max_steps=3','data.batch_size=4','data.eval_limit=60']", "save_edits=true"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "benchmark.json").read_text())
    check_saved_edits(out / "seed0", quick_reference)
    every = report["per_seed"][0]["settings"]
    small = [s for s in every if s["budget"] == 0.02]  # the further budget: graded, not attacked, no lm-eval
    assert small and all(s["relearn"] == {} and not any(k.startswith("tiny_facts/") for k in s) for s in small)
    assert all(s["fraction_edited"] == pytest.approx(0.02, abs=1e-3) for s in small if s["method"] != "gate3_delete")
    assert (out / "seed0" / "trained_random_0.02" / "lambda_logits.pt").is_file()  # the trained random control at that share
    assert {(r["budget"], r["method"]) for r in report["budgets"]} >= {(0.02, "gates"), (0.05, "gates"), (0.02, "random")}
    report["per_seed"][0]["settings"] = [s for s in every if s["budget"] in (None, 0.05)]
    assert all(0 <= s["statement_held_out_recall"] <= 1 for s in every)  # the same facts asked as statements
    settings = {(s["method"], s["mode"]) for s in report["per_seed"][0]["settings"]}
    assert settings == {("none", "none"), ("gates", "hard"), ("gates", "soft"), ("trained_random", "hard"), ("trained_random", "soft"),
                        ("attribution", "hard"), ("gate3_attribution", "hard"), ("vindex_features", "hard"), ("random", "hard"),
                        ("gate3_delete", "rank1")}
    edited = [s for s in report["per_seed"][0]["settings"] if s["method"] not in ("none", "gate3_delete")]
    assert all(s["fraction_edited"] == pytest.approx(0.05, abs=1e-3) for s in edited)
    assert sum(s["method"] == "random" for s in edited) == 2
    assert all(set(s["relearn"]) == {"held_out", "held_out_frozen", "unrelated", "other_facts"} for s in report["per_seed"][0]["settings"]
               if s["method"] != "gate3_delete")
    delete = next(s for s in report["per_seed"][0]["settings"] if s["method"] == "gate3_delete")
    assert set(delete["relearn"]) == {"held_out", "unrelated", "other_facts"} and 0 < delete["fraction_edited"] <= 0.05 + 1e-3  # at most k rows
    assert all(set(curve) == {"0", "1"} for s in edited for curve in s["relearn"].values())
    unedited = next(s for s in report["per_seed"][0]["settings"] if s["method"] == "none")["relearn"]
    assert unedited["held_out_frozen"] == unedited["held_out"]  # nothing edited, nothing frozen: the same attack
    contrasts = {(c["method"], c["mode"], c["attack"]) for c in report["relearn_contrasts"]}
    assert ("gates", "hard", "held_out_frozen") in contrasts and all(c["step"] == "1" for c in report["relearn_contrasts"])
    assert [m for m in report["lm_eval_metrics"] if m.startswith("tiny_facts/acc")]  # lm-eval graded at every setting
    assert all(any(k.startswith("tiny_facts/") for k in s) for s in report["per_seed"][0]["settings"])
    layers = report["probe"]["layers"]  # the probe: every model read at every layer, the middle one in the tables
    assert layers >= 3 and report["probe"]["layer"] == (layers - 1) // 2
    assert all(len(s["probe"]) == layers and s["probe_acc"] == s["probe"][s["probe_layer"]] for s in report["per_seed"][0]["settings"])
    facts = report["facts"]  # 60 graded facts, evenly spaced over the 435 (data.eval_limit), 117 of them capitals
    assert facts["forget"] + facts["held_out"] + facts["other"] == 60 and facts["forget"] > 0 and facts["held_out"] > 0
    assert {"gates~trained_random", "attribution~gates", "gates~random"} <= set(report["overlap"])
    assert (out / "benchmark.png").stat().st_size > 0 and "held-out facts" in (out / "benchmark.md").read_text()
    assert (out / "seed0" / "gates" / SPLIT_FILE).is_file()


def test_method_contrasts_are_paired_by_seed_and_every_budget_is_summarised():
    """Seeds that move every method together: the paired difference is exact, where resampling each method's seeds
    apart would give an interval as wide as the seeds' spread; a further budget gets its own rows."""
    from gates.localise.report import summarize

    def setting(method, budget, held_out, mode="hard"):
        return {"method": method, "mode": mode, "draw": None, "budget": budget, "forget_recall": held_out, "held_out_recall": held_out,
                "other_recall": 0.9, "reasoning_acc": 0.5, "statement_held_out_recall": held_out, "relearn": {}}

    seeds = [{"seed": s, "facts": {"forget": 10, "held_out": 10, "other": 10}, "relations": ["capital"], "num_neurons": 100,
              "overlap": {}, "settings": [setting("none", None, base, "none"), setting("gates", 0.05, base - 0.5),
                                          setting("random", 0.05, base - 0.1), setting("gates", 0.2, base - 0.7),
                                          setting("random", 0.2, base - 0.2)]}
             for s, base in enumerate((0.6, 0.8, 1.0))]
    cfg = {"seeds": [0, 1, 2], "budget": 0.05, "budgets": [0.2], "methods": ["gates", "random"], "modes": ["hard"], "random_draws": 1,
           "train": [], "relearn": {"steps": [0], "attacks": ["held_out"], "contrast_step": 0}}
    report = summarize(cfg, seeds)
    contrast = next(c for c in report["contrasts"] if c["control"] == "random")
    assert contrast["held_out_recall"]["mean"] == pytest.approx(-0.4) and contrast["held_out_recall"]["ci"] == pytest.approx([-0.4, -0.4])
    # every seed the same difference: t is undefined, so no test (and not counted in the family); other recall: 0, p = 1
    assert contrast["held_out_recall"]["method"] == "paired-t" and contrast["held_out_recall"]["p"] is None
    assert contrast["other_recall"]["p"] == 1.0 and contrast["other_recall"]["family_size"] == 1
    assert {r["method"] for r in report["summary"]} == {"none", "gates", "random"}  # the main budget's tables
    rows = {(r["budget"], r["method"]): r for r in report["budgets"]}
    assert rows[(0.2, "gates")]["held_out_recall"]["mean"] == pytest.approx(0.1)
    assert rows[(0.2, "gates")]["held_out_recall_minus_random"]["ci"] == pytest.approx([-0.5, -0.5])


def test_the_published_benchmark_blocks_match_the_committed_json():
    """docs/gates.md's localise blocks are what gates.localise.report renders from docs/results/localise/benchmark.json."""
    import copy

    from gates.localise.report import DOCS, PUBLISHED, published, restate, update_docs
    from lab.report.markers import marker

    report = json.loads(PUBLISHED.read_text())
    for path in published().values():  # the committed JSON holds the current statistics of its per-seed results
        committed = json.loads(path.read_text())
        assert committed == json.loads(json.dumps(restate(copy.deepcopy(committed)))), path
    assert len(report["per_seed"]) >= 3 and report["rule"]["budget"] == 0.05
    blocks = {(m["name"], m["block"]) for doc in DOCS for m in marker("localise").finditer(doc.read_text())}
    assert {name for name, _ in blocks} == set(published())  # every published run in the docs, every block's run published
    assert {b for b in blocks if b[0] == "benchmark"} == {
        ("benchmark", "table"), ("benchmark", "contrasts"), ("benchmark", "overlap"), ("benchmark", "readme"), ("benchmark", "relations"),
        ("benchmark", "training"), ("benchmark", "relearning"), ("benchmark", "relearn_contrasts"),
        ("benchmark", "probe"), ("benchmark", "budgets"), ("benchmark", "statements")}
    assert update_docs(check=True) == []


def test_a_failed_gate_run_is_told_by_its_cause_not_its_exit_code(tmp_path):
    log = tmp_path / "gates.log"
    log.write_text("[info] starting\nerror: gates.temperature=0.0 is invalid; expected a positive number\n")
    assert last_error(log) == "gates.temperature=0.0 is invalid; expected a positive number"
    log.write_text("Traceback (most recent call last):\nKeyError: 'x'\n")
    assert last_error(log) == "KeyError: 'x'" and last_error(tmp_path / "missing.log") == "it printed nothing"
