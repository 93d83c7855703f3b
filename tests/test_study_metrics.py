"""The norm study's numbers on hand-made run summaries, and the diagnostics against hand computations."""

import math

import pytest
import torch
from transformers import Qwen3Config, Qwen3ForCausalLM
from transformers.models.qwen3.modeling_qwen3 import apply_rotary_pos_emb, repeat_kv

from ablations.study_metrics import cell_summary, lr_sensitivity, max_stable_lr, summarize
from lab.pl.diagnostics import block_grad_norms, forward_diagnostics


def run(lr: float, seed: int, status: str, loss: float | None = None, **extra) -> dict:
    return {"variant": "v", "regime": "scratch", "lr": lr, "seed": seed, "status": status, "final_val_loss": loss,
            "initial": {"loss": 7.0}, **extra}


CELL = [
    run(1e-3, 0, "ok", 2.0, knowledge_acc=0.5), run(1e-2, 0, "ok", 1.0, knowledge_acc=0.8), run(1e-1, 0, "collapsed"),
    run(1e-3, 1, "ok", 2.2, knowledge_acc=0.4), run(1e-2, 1, "ok", 1.2, knowledge_acc=0.6), run(1e-1, 1, "ok", 8.0),
    {**run(1e-3, 2, "failed"), "initial": None},  # an error, not a divergence: left out of every number
]


def test_lr_sensitivity_clips_at_the_initial_loss_and_counts_a_collapse_as_no_progress():
    # seed 0: c = [2.0, 1.0, 7.0 (collapsed)], best 1.0 -> mean(1.0, 0, 6.0) = 7/3
    # seed 1: c = [2.2, 1.2, min(8.0, 7.0)], best 1.2 -> mean(1.0, 0, 5.8) = 6.8/3
    summary = cell_summary(CELL)
    assert summary["loss_init"] == 7.0
    assert summary["lr_sensitivity"] == pytest.approx((7 / 3 + 6.8 / 3) / 2)
    assert summary["lr_sensitivity_std"] == pytest.approx(math.sqrt(2) * abs(7 / 3 - 6.8 / 3) / 2)
    assert lr_sensitivity({1e-3: 1.0, 1e-2: 1.0}) == 0.0  # flat curve: insensitive


def test_best_loss_stable_lr_and_counts():
    summary = cell_summary(CELL)
    assert summary["best_lr"] == 1e-2  # 1e-1 is not a candidate: a seed collapsed there
    assert summary["best_val_loss"] == pytest.approx(1.1) and summary["best_val_loss_std"] == pytest.approx(math.sqrt(0.02))
    assert summary["best_knowledge_acc"] == pytest.approx(0.7)
    assert summary["max_stable_lr"] == 1e-2
    assert (summary["collapsed"], summary["failed"], summary["runs"]) == (1, 1, 7)
    assert max_stable_lr([run(1e-3, 0, "ok", 1.0), run(1e-2, 0, "failed")]) == 1e-3  # a failure says nothing of stability
    assert max_stable_lr([run(1e-3, 0, "collapsed")]) is None


def test_summarize_groups_by_regime_and_variant():
    entries = {f"r{i}": e for i, e in enumerate(CELL + [{**run(1e-3, 0, "ok", 0.5), "regime": "surgery", "variant": "w"}])}
    summary = summarize(entries)
    assert sorted(summary) == ["scratch", "surgery"] and list(summary["surgery"]) == ["w"]
    assert summary["surgery"]["w"]["lr_sensitivity"] == 0.0 and summary["surgery"]["w"]["max_stable_lr"] == 1e-3


def tiny_model() -> Qwen3ForCausalLM:
    torch.manual_seed(0)
    config = Qwen3Config(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, head_dim=8, attn_implementation="sdpa")
    model = Qwen3ForCausalLM(config)
    with torch.no_grad():  # sharper q/k so that the max logit is far from 0 and from its neighbours
        model.model.layers[0].self_attn.q_norm.weight.mul_(3.0)
    return model


def test_the_attention_logit_metric_equals_a_hand_computation():
    model = tiny_model()
    ids = torch.randint(0, 64, (2, 9), generator=torch.Generator().manual_seed(1))
    metrics = forward_diagnostics(model, ids)

    attn = model.model.layers[0].self_attn
    h = model.model.layers[0].input_layernorm(model.model.embed_tokens(ids))
    q = attn.q_norm(attn.q_proj(h).view(2, 9, -1, 8)).transpose(1, 2)  # [B, H, T, D]
    k = attn.k_norm(attn.k_proj(h).view(2, 9, -1, 8)).transpose(1, 2)
    cos, sin = model.model.rotary_emb(h, torch.arange(9)[None])
    q, k = apply_rotary_pos_emb(q, k, cos, sin)
    scores = q @ repeat_kv(k, 2).transpose(-1, -2) / math.sqrt(8)  # [B, H, T, T]
    causal = torch.ones(9, 9, dtype=torch.bool).tril()
    expected = scores.masked_fill(~causal, -float("inf")).amax()
    assert metrics["diag/attn_logit_max/layer_00"] == pytest.approx(float(expected), rel=1e-5)
    assert scores.amax() > expected  # the mask matters: a future position would have given more
    assert metrics["diag/attn_logit_max"] == max(metrics[f"diag/attn_logit_max/layer_0{i}"] for i in range(2))

    out = model(ids, output_hidden_states=True)
    # hidden_states: the embeddings, then each block's output but the last, then the last after the final norm
    assert metrics["diag/residual_rms/layer_00"] == pytest.approx(float(out.hidden_states[1].pow(2).mean().sqrt()), rel=1e-5)
    assert metrics["diag/norm_input_rms/final_norm"] == pytest.approx(metrics["diag/residual_rms/layer_01"])
    assert metrics["diag/log_z"] == pytest.approx(float(torch.logsumexp(out.logits, -1).mean()), rel=1e-5)
    assert metrics["diag/norm_input_rms/layer_00.input_layernorm"] == pytest.approx(
        float(model.model.embed_tokens(ids).pow(2).mean().sqrt()), rel=1e-5)
    assert len([k for k in metrics if k.startswith("diag/norm_input_rms/")]) == 2 * 4 + 1
    assert model.config._attn_implementation == "sdpa" and model.training  # restored after the pass


def test_block_gradient_norms_partition_the_gradient():
    model = tiny_model()
    ids = torch.randint(0, 64, (2, 9))
    model(ids, labels=ids).loss.backward()
    norms = block_grad_norms(model)
    assert sorted(norms) == ["diag/grad_norm/embed", "diag/grad_norm/final_norm", "diag/grad_norm/layer_00", "diag/grad_norm/layer_01",
                             "diag/grad_norm/lm_head"]  # this config's head is untied
    total = torch.nn.utils.get_total_norm([p.grad for p in model.parameters() if p.grad is not None])
    assert math.sqrt(sum(v**2 for v in norms.values())) == pytest.approx(float(total), rel=1e-5)
