"""Gate math and losses against hand computations, on a tiny random Qwen3."""

import gc
import math

import pytest
import torch
import torch.nn.functional as F
from transformers import Qwen3Config, Qwen3ForCausalLM

from gates.gated_ffn import (
    LambdaGatedFFN,
    gate_logits,
    gated_mlps,
    gates_bypassed,
    patch_gates,
    set_gate_logits,
    set_multipliers,
)
from gates.losses import entity_cross_entropy, forget_loss, kl_from_logits, retain_loss, total_loss
from gates.masking import apply_gates, hard_mask, multipliers
from lab.model.variants import Variant, apply_variant

CONFIG = dict(vocab_size=97, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, head_dim=8, max_position_embeddings=64,
              initializer_range=0.2)  # large weights: the gates move the logits visibly


def tiny_model(seed: int = 0, variant: str | None = None) -> Qwen3ForCausalLM:
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(Qwen3Config(**CONFIG)).eval()
    if variant:
        apply_variant(model, Variant(name=variant, sites=("layer",), replacement="layernorm"))
    return model


def clone(model: Qwen3ForCausalLM) -> Qwen3ForCausalLM:
    copy = Qwen3ForCausalLM(model.config).eval()
    copy.load_state_dict(model.state_dict())
    return copy


IDS = torch.randint(0, 97, (3, 11), generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("variant", [None, "replace_layernorm"])
def test_gate_one_everywhere_reproduces_the_base_logits_exactly(variant):
    model = tiny_model(variant=variant)
    base = model(IDS).logits
    patch_gates(model, init_logit=100.0)  # sigmoid(100) == 1.0 in fp32
    assert all(isinstance(m, LambdaGatedFFN) for m in gated_mlps(model)) and len(gated_mlps(model)) == 2
    assert torch.equal(torch.sigmoid(gate_logits(model)), torch.ones(2, 48))
    assert torch.equal(model(IDS).logits, base)
    with gates_bypassed(model):
        assert torch.equal(model(IDS).logits, base)


def test_only_the_lambdas_are_trainable_and_keys_follow_the_seed():
    model = tiny_model()
    patch_gates(model)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == ["model.layers.0.mlp.lambda_logits", "model.layers.1.mlp.lambda_logits"]
    assert torch.equal(torch.sigmoid(gate_logits(model)), torch.full((2, 48), 0.5))


def test_gate_zero_on_a_neuron_equals_zeroing_its_rows():
    model = tiny_model()
    masked = hard_mask(clone(model), {0: [3, 7], 1: [0]})
    patch_gates(model, init_logit=100.0)
    logits = gate_logits(model)
    logits[0, [3, 7]] = -1e4  # sigmoid(-1e4) == 0.0 in fp32
    logits[1, 0] = -1e4
    set_gate_logits(model, logits)
    assert torch.equal(model(IDS).logits, masked(IDS).logits)


def test_soft_and_hard_weight_folding_match_the_gated_forward():
    model = tiny_model()
    logits = torch.randn(2, 48, generator=torch.Generator().manual_seed(2))
    for mode, threshold in [("soft", 1.0), ("soft", 0.5), ("hard", 0.5)]:
        folded = apply_gates(clone(model), logits, mode, threshold)
        gated = clone(model)
        patch_gates(gated)
        set_multipliers(gated, multipliers(logits, mode, threshold))
        torch.testing.assert_close(folded(IDS).logits, gated(IDS).logits, rtol=1e-5, atol=1e-5)
    full_soft = clone(model)
    patch_gates(full_soft)
    set_gate_logits(full_soft, logits)  # the training-time soft gating, g = sigmoid(λ) everywhere
    torch.testing.assert_close(apply_gates(clone(model), logits, "soft", 1.0)(IDS).logits, full_soft(IDS).logits)


def test_forget_loss_matches_a_hand_computation():
    model = tiny_model()
    patch_gates(model, init_logit=0.3)
    labels = torch.full_like(IDS, -100)
    labels[0, 4:6] = IDS[0, 4:6]
    labels[1, 10] = IDS[1, 10]
    labels[2, 1:3] = IDS[2, 1:3]
    beta = 4.0
    logp = F.log_softmax(model(IDS).logits, dim=-1)
    expected_ce = []
    for i, positions in enumerate([[4, 5], [10], [1, 2]]):
        expected_ce.append(-sum(float(logp[i, t - 1, IDS[i, t]]) for t in positions) / len(positions))
    ce = entity_cross_entropy(model, IDS, labels)
    torch.testing.assert_close(ce, torch.tensor(expected_ce), rtol=1e-5, atol=1e-5)
    loss, mean_ce = forget_loss(model, {"input_ids": IDS, "labels": labels}, beta)
    expected = sum(math.log1p(math.exp(beta - c)) for c in expected_ce) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-5) and mean_ce.item() == pytest.approx(sum(expected_ce) / 3, rel=1e-5)


def test_kl_at_temperature_matches_a_hand_computation():
    base, gated, T = torch.tensor([[0.0, math.log(3.0)]]), torch.tensor([[0.0, 0.0]]), 2.0
    p = torch.tensor([1 / (1 + 3**0.5), 3**0.5 / (1 + 3**0.5)])  # softmax([0, ln 3] / 2)
    expected = T**2 * float((p * (p / 0.5).log()).sum())
    assert kl_from_logits(base, gated, T).item() == pytest.approx(expected, rel=1e-6)
    assert kl_from_logits(base, base, T).item() == pytest.approx(0.0, abs=1e-7)
    assert total_loss(torch.tensor(2.0), torch.tensor(3.0), 0.1, 0.5).item() == pytest.approx(0.1 * 2 + 0.5 * 3)


def _unchunked_retain(model, ids, mask, T):
    with torch.no_grad(), gates_bypassed(model):
        base = model(input_ids=ids, attention_mask=mask).logits
    gated = model(input_ids=ids, attention_mask=mask).logits
    return (kl_from_logits(base, gated, T) * mask).sum() / mask.sum()


@pytest.mark.parametrize("frozen", [True, False], ids=["fused (frozen weights)", "checkpointed"])
def test_chunked_retain_kl_equals_the_unchunked_one_in_value_and_gradient(frozen, monkeypatch):
    import gates.losses

    fused_calls = []
    fused = gates.losses.FusedChunkedKL.apply
    monkeypatch.setattr(gates.losses.FusedChunkedKL, "apply", lambda *a: fused_calls.append(1) or fused(*a))
    model = tiny_model()
    patch_gates(model)
    for name, p in model.named_parameters():
        p.requires_grad_(not frozen or name.endswith("lambda_logits"))
    set_gate_logits(model, torch.randn(2, 48, generator=torch.Generator().manual_seed(3)))
    mask = torch.ones_like(IDS)
    mask[2, 8:] = 0
    reference = _unchunked_retain(model, IDS, mask, 2.0)
    (ref_grad,) = torch.autograd.grad(reference, gated_mlps(model)[0].lambda_logits)
    for chunk in (1, 3, 4, 64):
        value = retain_loss(model, {"input_ids": IDS, "attention_mask": mask}, 2.0, chunk_size=chunk)
        (grad,) = torch.autograd.grad(value, gated_mlps(model)[0].lambda_logits)
        torch.testing.assert_close(value, reference, rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(grad, ref_grad, rtol=1e-4, atol=1e-8)
    assert reference.item() > 0 and len(fused_calls) == (4 if frozen else 0)


def test_retain_loss_uses_one_copy_of_the_weights():
    model = tiny_model()
    patch_gates(model)
    modes_seen: list[tuple[int, str]] = []
    first = gated_mlps(model)[0]
    first.register_forward_hook(lambda module, args, out: modes_seen.append((id(module), module.gate_mode)))
    gc.collect()
    models_before = sum(type(o) is Qwen3ForCausalLM for o in gc.get_objects())
    created: list[object] = []
    original_init = Qwen3ForCausalLM.__init__

    def spy(self, *args, **kwargs):
        created.append(self)
        original_init(self, *args, **kwargs)

    Qwen3ForCausalLM.__init__ = spy
    try:
        retain_loss(model, {"input_ids": IDS}, 2.0, chunk_size=4).backward()
    finally:
        Qwen3ForCausalLM.__init__ = original_init
    gc.collect()
    assert created == [] and sum(type(o) is Qwen3ForCausalLM for o in gc.get_objects()) == models_before
    assert modes_seen == [(id(first), "bypass"), (id(first), "soft")]  # base and gated pass: the same module
    assert first.lambda_logits.grad is not None and first.gate_proj.weight.grad is None


def test_selected_thresholds_hit_their_off_fractions_exactly():
    from gates.stats import gate_stats, knowledge_neurons

    gates = torch.sigmoid(torch.randn(28, 3072, generator=torch.Generator().manual_seed(4)))  # the seed's shape
    stats = gate_stats(gates)
    assert stats["total_gates"] == 86016
    for point, q in zip(stats["selected_thresholds"], (0.05, 0.25, 0.5, 0.75, 0.95), strict=True):
        assert point["neurons_masked"] == round(q * 86016) == int((gates < point["threshold"]).sum())
        assert point["fraction_masked"] == pytest.approx(q, abs=1 / 86016)
        assert float(repr(point["threshold"])) == point["threshold"]  # the text file round-trips exactly
    neurons = knowledge_neurons(gates)
    assert sum(len(v) for v in neurons.values()) == stats["knowledge_neurons_at_default"] == int((gates < 0.5).sum())


def test_the_random_control_masks_the_same_number_per_layer():
    from gates.evaluate import permuted_logits

    logits = torch.randn(4, 384, generator=torch.Generator().manual_seed(5))
    control = permuted_logits(logits, seed=0)
    assert not torch.equal(control, logits) and torch.equal(permuted_logits(logits, seed=0), control)
    for t in (0.3, 0.5, 0.6):
        assert torch.equal((multipliers(control, "hard", t) == 0).sum(1), (multipliers(logits, "hard", t) == 0).sum(1))
    assert torch.equal(control.sort(dim=1).values, logits.sort(dim=1).values)
