"""The norm study's numbers on hand-made run summaries, and the diagnostics against hand computations."""

import math

import pytest
import torch
from transformers import Qwen3Config, Qwen3ForCausalLM
from transformers.models.qwen3.modeling_qwen3 import apply_rotary_pos_emb, repeat_kv

from ablations.study.metrics import (
    cell_statistics,
    cell_summary,
    control_key,
    lr_sensitivity,
    max_stable_lr,
    reference_loss,
    seed_sensitivity,
    summarize,
)
from lab.report.intervals import difference, excludes_zero
from lab.train.diagnostics import InstabilityDiagnostics, block_grad_norms, forward_diagnostics

V = 1000  # ℓ₀ = ln 1000 = 6.9078


def run(lr: float, seed: int, status: str, loss: float | None = None, variant: str = "v", **extra) -> dict:
    return {"variant": variant, "regime": "scratch", "lr": lr, "seed": seed, "status": status, "final_val_loss": loss,
            "initial": {"loss": 7.0}, "vocab_size": V, **extra}


CELL = [
    run(1e-3, 0, "ok", 2.0, knowledge_acc=0.5), run(1e-2, 0, "ok", 1.0, knowledge_acc=0.8), run(1e-1, 0, "collapsed"),
    run(1e-3, 1, "ok", 2.2, knowledge_acc=0.4), run(1e-2, 1, "ok", 1.2, knowledge_acc=0.6), run(1e-1, 1, "ok", 8.0),
    {**run(1e-3, 2, "failed"), "initial": None},  # an error, not a divergence: its seed is left out
]
L0 = math.log(V)


def test_sensitivity_uses_one_reference_ln_v_and_splits_above_and_below_the_best_lr():
    # seed 0: c = [2.0, 1.0, ℓ₀ (collapsed)], best 1.0 at 1e-2 -> below (2.0-1.0)/3, above (ℓ₀-1.0)/3
    # seed 1: c = [2.2, 1.2, min(8.0, ℓ₀) = ℓ₀], best 1.2 -> below 1.0/3, above (ℓ₀-1.2)/3
    summary = cell_summary(CELL)
    assert summary["loss_ref"] == pytest.approx(L0) and summary["loss_after_surgery"] == 7.0  # reported, bounds nothing
    per_seed = summary["per_seed"]
    assert per_seed["sensitivity_below"] == pytest.approx({"0": 1 / 3, "1": 1 / 3})
    assert per_seed["sensitivity_above"] == pytest.approx({"0": (L0 - 1.0) / 3, "1": (L0 - 1.2) / 3})
    assert per_seed["lr_sensitivity"] == pytest.approx({"0": L0 / 3, "1": (L0 - 0.2) / 3})
    assert summary["lr_sensitivity"]["mean"] == pytest.approx((L0 / 3 + (L0 - 0.2) / 3) / 2)
    assert summary["lr_sensitivity"]["n"] == 2 and summary["incomplete_seeds"] == [2]
    low, high = summary["lr_sensitivity"]["ci"]  # two values: Student-t with 1 degree of freedom, wide around both
    assert low < (L0 - 0.2) / 3 < L0 / 3 < high and summary["lr_sensitivity"]["method"] == "t"
    assert lr_sensitivity({1e-3: 1.0, 1e-2: 1.0}) == 0.0  # flat curve: insensitive


def test_the_surgery_case_of_the_issue_is_no_longer_clipped_at_the_post_surgery_loss():
    """`original` after surgery starts at 0.598; fine-tuned at 3e-2 and 1e-1 it ends at 0.75 and 1.0, worse than not
    training at all. With the old per-variant ceiling both points were clipped to 0.598; with ℓ₀ = ln V they count."""
    curve = {1e-3: 0.58, 3e-3: 0.57, 1e-2: 0.60, 3e-2: 0.75, 1e-1: 1.0}
    runs = [{**run(lr, 0, "ok", loss), "initial": {"loss": 0.598}} for lr, loss in curve.items()]
    cell = cell_summary(runs)
    above = (0.60 - 0.57 + 0.75 - 0.57 + 1.0 - 0.57) / 5
    assert cell["sensitivity_above"]["mean"] == pytest.approx(above) and cell["sensitivity_below"]["mean"] == pytest.approx(0.01 / 5)
    clipped_at_surgery = (0.01 + 0 + 0.028 + 0.028 + 0.028) / 5  # what the old metric gave: a cap of 0.028 per point
    assert cell["lr_sensitivity"]["mean"] > 4 * clipped_at_surgery
    assert cell["lr_sensitivity"]["ci"] is None  # one seed: no interval


def test_seed_sensitivity_parts_sum_to_the_total():
    result = seed_sensitivity({1e-3: 3.0, 1e-2: 1.0, 1e-1: 2.0, 1.0: 5.0})
    assert result["best_lr"] == 1e-2 and result["best_clipped_loss"] == 1.0
    assert result["sensitivity_below"] == pytest.approx(2.0 / 4) and result["sensitivity_above"] == pytest.approx(5.0 / 4)
    assert result["lr_sensitivity"] == pytest.approx(7.0 / 4)
    assert reference_loss(151936) == pytest.approx(11.9312, abs=1e-4)


def test_best_loss_stable_lr_censoring_and_counts():
    summary = cell_summary(CELL)
    assert summary["best_lr"] == 1e-2  # 1e-1 is not a candidate: a seed collapsed there
    assert summary["best_val_loss"]["mean"] == pytest.approx(1.1) and summary["best_val_loss"]["n"] == 2
    assert summary["best_knowledge_acc"] == pytest.approx(0.7)
    assert summary["max_stable_lr"] == 1e-2 and not summary["max_stable_lr_censored"]
    assert (summary["collapsed"], summary["failed"], summary["runs"]) == (1, 1, 7)
    assert max_stable_lr([run(1e-3, 0, "ok", 1.0), run(1e-2, 0, "failed")]) == 1e-3  # a failure says nothing of stability
    assert max_stable_lr([run(1e-3, 0, "collapsed")]) is None
    stable = cell_summary([run(1e-3, 0, "ok", 2.0), run(1e-1, 0, "ok", 1.0)])
    assert stable["max_stable_lr"] == 1e-1 and stable["max_stable_lr_censored"]  # the top of the grid: "≥ 0.1"


def test_cell_differences_are_welch_and_restated_from_the_per_seed_values():
    apart = difference([5.0, 5.1, 5.2], [1.0, 1.1, 1.2])
    assert apart["mean"] == pytest.approx(4.0) and excludes_zero(apart["ci"]) and apart["method"] == "welch"
    overlapping = difference([1.0, 2.0, 3.0], [1.5, 2.0, 2.5])
    assert not excludes_zero(overlapping["ci"]) and difference([1.0], [2.0, 3.0])["ci"] is None
    cell = cell_summary(CELL)
    stale = {**cell, "lr_sensitivity": {"mean": 0.0, "ci": [0.0, 0.0], "n": 2}}
    assert cell_statistics(stale)["lr_sensitivity"] == cell["lr_sensitivity"]  # an interval is recomputed, never trusted


def test_summarize_groups_cells_by_factors_and_contrasts_them_with_their_control():
    def cell(variant: str, losses: list[float], **swept) -> list[dict]:
        return [run(lr, seed, "ok", loss + 0.01 * seed, variant=variant, swept={"optimizer.lr": lr, "seed": seed, "variant": variant, **swept})
                for seed in (0, 1, 2) for lr, loss in zip((1e-3, 1e-2, 1e-1), losses, strict=True)]

    entries = cell("original", [2.0, 1.0, 1.1], width="64") + cell("no_qk_norm", [2.0, 1.0, 4.0], width="64") + \
        cell("original", [2.0, 1.0, 1.2], width="128")
    summary = summarize({f"r{i}": e for i, e in enumerate(entries)})["scratch"]
    assert sorted(summary) == ["no_qk_norm [width=64]", "original [width=128]", "original [width=64]"]
    qk = summary["no_qk_norm [width=64]"]
    assert qk["control"] == "original [width=64]" and qk["factors"] == {"width": "64"}
    assert qk["vs_control"]["lr_sensitivity"]["mean"] == pytest.approx((4.0 - 1.1) / 3)
    assert excludes_zero(qk["vs_control"]["sensitivity_above"]["ci"]) and qk["vs_control"]["sensitivity_below"]["mean"] == pytest.approx(0)
    assert "vs_control" not in summary["original [width=128]"]
    assert control_key("no_qk_norm", {"intervention": "z_loss"}) == ("no_qk_norm", {"intervention": "none"})
    assert control_key("no_qk_norm", {"intervention": "none"}) == ("original", {"intervention": "none"})


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
    log_z = torch.logsumexp(out.logits, -1)
    assert metrics["diag/log_z"] == pytest.approx(float(log_z.mean()), rel=1e-5)
    assert (metrics["diag/log_z_min"], metrics["diag/log_z_max"]) == pytest.approx((float(log_z.min()), float(log_z.max())), rel=1e-5)
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


def test_probes_run_every_step_through_dense_steps_then_every_n():
    probe = InstabilityDiagnostics(every_n_steps=10, dense_steps=30)
    assert [s for s in range(60) if probe.due(s)] == list(range(30)) + [30, 40, 50]
    assert [s for s in range(25) if InstabilityDiagnostics(every_n_steps=10).due(s)] == [0, 10, 20]


def test_a_cell_missing_learning_rates_has_no_sensitivity_and_no_contrast():
    """A partial study: a cell that ran only the lowest LR is not 'insensitive'; it is incomplete."""
    def runs(variant: str, lrs: tuple[float, ...]) -> list[dict]:
        return [run(lr, seed, "ok", 1.0 + lr + 0.01 * seed, variant=variant, swept={"variant": variant}) for seed in (0, 1, 2) for lr in lrs]

    summary = summarize({f"r{i}": e for i, e in enumerate(runs("original", (1e-3, 1e-1)) + runs("no_layer_norm", (1e-3,)))})["scratch"]
    partial = summary["no_layer_norm"]
    assert partial["lrs"] == [1e-3, 1e-1] and partial["missing_lrs"] == [1e-1] and partial["incomplete_seeds"] == [0, 1, 2]
    assert (partial["lr_sensitivity"]["mean"], partial["lr_sensitivity"]["ci"], partial["lr_sensitivity"]["n"]) == (None, None, 0)
    assert partial["vs_control"]["lr_sensitivity"]["mean"] is None
    assert summary["original"]["lr_sensitivity"]["n"] == 3


def test_a_cell_where_no_learning_rate_trains_has_an_undefined_sensitivity_not_zero():
    """Every η collapsed (or ended at ℓ₀) in some seed: the formula would say S = 0, "insensitive"; it is undefined,
    and neither the cell nor a cell compared with it as control gets a contrast."""
    from ablations.study.tables import findings, regime_table

    def runs(variant: str, intervention: str, statuses: dict[int, str]) -> list[dict]:
        return [run(lr, seed, statuses.get(seed, "collapsed"), 1.5 + lr if statuses.get(seed) == "ok" else None, variant=variant,
                    swept={"variant": variant, "intervention": intervention}) for seed in (0, 1, 2) for lr in (3e-2, 1e-1)]

    entries = runs("no_layer_norm", "none", {}) + runs("no_layer_norm", "long_warmup", {0: "ok", 1: "ok"})
    cells = summarize({f"r{i}": e for i, e in enumerate(entries)})["scratch"]
    control, rescued = cells["no_layer_norm [intervention=none]"], cells["no_layer_norm [intervention=long_warmup]"]
    assert control["untrained_seeds"] == [0, 1, 2] and control["lr_sensitivity"]["mean"] is None
    assert rescued["untrained_seeds"] == [2] and rescued["lr_sensitivity"]["mean"] is None  # not a mean over the 2 seeds that train
    assert rescued["control"] == "no_layer_norm [intervention=none]" and "vs_control" not in rescued
    table = regime_table(cells, "scratch")
    assert "| no_layer_norm [intervention=none] | 3 | undefined (3 of 3 seeds train at no LR) |" in table
    assert "| no_layer_norm [intervention=long_warmup] | 3 | undefined (1 of 3 seeds train at no LR) |" in table
    assert "0.000" not in table.split("\n")[2]
    text = findings(cells, "scratch")
    assert "S is undefined where no learning rate of the grid trains, so there is no contrast" in text
    assert "`no_layer_norm [intervention=long_warmup]` 2/6 runs collapsed, no LR trains in 1 of 3 seeds" in text


def test_the_numbers_right_after_a_surgery_are_kept_per_seed_with_an_interval():
    """A rule surgery gives every seed the same loss (a zero-width interval); a fitted one varies with the seed
    (its calibration blocks follow the seed's shuffle), so its mean gets an interval over the seeds."""
    rule = [{**run(lr, seed, "ok", 1.0), "initial": {"loss": 0.6, "knowledge_acc": 0.9}} for lr in (1e-3, 1e-2) for seed in (0, 1, 2)]
    after = cell_summary(rule)["after_surgery"]
    assert after["loss"]["mean"] == pytest.approx(0.6) and after["loss"]["ci"] == pytest.approx([0.6, 0.6])
    assert after["knowledge_acc"]["n"] == 3 and "norm_fit_error" not in after
    fitted = [{**run(lr, seed, "ok", 1.0), "initial": {"loss": 2.0 + seed}, "norm_fit_error": {"mean": 0.05, "max": 0.07}}
              for lr in (1e-3, 1e-2) for seed in (0, 1, 2)]
    after = cell_summary(fitted)["after_surgery"]
    assert after["loss"]["mean"] == pytest.approx(3.0) and after["loss"]["values"] == [2.0, 3.0, 4.0]
    assert after["loss"]["ci"] == pytest.approx([3.0 - 4.302652729911275 / 3**0.5, 3.0 + 4.302652729911275 / 3**0.5])  # t, s = 1
    assert after["norm_fit_error"]["mean"] == pytest.approx(0.05)
