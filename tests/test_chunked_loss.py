"""The chunked LM loss equals Hugging Face's full-logits loss, in value and in every gradient."""

import pytest
import torch
from transformers import Qwen3Config, Qwen3ForCausalLM

from lab.config.schema import CompileConfig, EvalConfig, OptimizerConfig
from lab.train.chunked_loss import chunk_loss_and_grads, chunked_lm_loss, compiled_chunk_fn
from lab.train.module import CausalLMModule, resolve_chunk_size

EVAL = EvalConfig()


def tiny_model(vocab: int = 300) -> Qwen3ForCausalLM:
    torch.manual_seed(0)
    return Qwen3ForCausalLM(Qwen3Config(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                        num_key_value_heads=2, head_dim=8, vocab_size=vocab)).float()


@pytest.mark.parametrize(("chunk", "compiled"), [(1, False), (7, False), (64, False), (1000, False), (7, True), (1000, True)])
def test_chunked_loss_matches_the_stock_loss_and_its_gradients(chunk, compiled):
    """Several chunks (the last one shorter) and a single one; eager, and compiled as ``compile.enabled`` runs it
    (aot_eager: Dynamo + AOTAutograd, no C++ toolchain needed)."""
    chunk_fn = compiled_chunk_fn("aot_eager") if compiled else chunk_loss_and_grads
    model = tiny_model()
    ids = torch.randint(0, 300, (3, 40))
    labels = ids.clone()
    labels[0, :5] = -100  # ignored positions count the same way
    stock = model(input_ids=ids, labels=labels).loss
    stock.backward()
    expected = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    hidden = model.model(input_ids=ids).last_hidden_state
    chunked = chunked_lm_loss(hidden, model.lm_head, labels, chunk, chunk_fn)
    chunked.backward()
    torch.testing.assert_close(chunked, stock, rtol=1e-5, atol=1e-6)
    with torch.no_grad():  # validation: the loss alone
        torch.testing.assert_close(chunked_lm_loss(hidden.detach(), model.lm_head, labels, chunk, chunk_fn), stock.detach(), rtol=1e-5, atol=1e-6)
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.grad, expected[name], rtol=1e-4, atol=1e-6, msg=name)


def test_the_module_loss_is_the_stock_loss_chunked_or_not():
    assert resolve_chunk_size("auto", 151_936) == 256  # 156 MB of fp32 logits per chunk, not 1.24 GB per 8 x 256 batch
    assert resolve_chunk_size("auto", 4096) == 1024 and resolve_chunk_size("auto", 300) == 13_981
    assert resolve_chunk_size(None, 4096) is None and resolve_chunk_size(64, 4096) == 64
    model = tiny_model()
    optim = OptimizerConfig(lr=1e-3, weight_decay=0.0, warmup_steps=0)
    ids = torch.randint(0, 300, (2, 16))
    chunked = CausalLMModule(model, None, optim, EVAL, loss_chunk_size=4)(ids, labels=ids).loss
    stock = CausalLMModule(model, None, optim, EVAL, loss_chunk_size=None)(ids, labels=ids).loss
    torch.testing.assert_close(chunked, stock, rtol=1e-5, atol=1e-6)


def test_compiled_training_steps_match_eager_ones_and_leave_the_checkpoint_keys_alone():
    """``compile.enabled``: the decoder and the loss chunk are compiled for gradient steps only (aot_eager:
    Dynamo + AOTAutograd, no C++ toolchain needed); loss and gradients equal the eager ones, validation stays eager."""
    optim = OptimizerConfig(lr=1e-3, weight_decay=0.0, warmup_steps=0, fused=True)
    ids = torch.randint(0, 300, (2, 16))
    eager = CausalLMModule(tiny_model(), None, optim, EVAL)
    compiled = CausalLMModule(tiny_model(), None, optim, EVAL,
                              compile_cfg=CompileConfig(enabled=True, backend="aot_eager"))
    for module in (eager, compiled):
        module(ids, labels=ids).loss.backward()
    torch.testing.assert_close(compiled(ids, labels=ids).loss, eager(ids, labels=ids).loss)
    for (name, p), q in zip(compiled.named_parameters(), eager.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-5, atol=1e-6, msg=name)
    assert compiled._compiled_decoder is not None and eager._compiled_decoder is None
    assert compiled._compiled_loss_chunk is not None and eager._compiled_loss_chunk is None
    assert "forward" in vars(compiled.model.model.rotary_emb) and "forward" not in vars(eager.model.model.rotary_emb)
    with torch.no_grad():
        assert compiled.decoder() is compiled.model.model and compiled.loss_chunk_fn() is chunk_loss_and_grads
    assert list(compiled.state_dict()) == list(eager.state_dict())


@pytest.mark.parametrize(("chunk", "compiled"), [(7, False), (1000, False), (7, True)])
def test_the_z_loss_objective_and_its_gradients_equal_autograd_on_full_logits(chunk, compiled):
    """objective = CE + c · mean log² Z (PaLM's z-loss); the CE is reported apart, unchanged."""
    from lab.train.chunked_loss import chunked_lm_losses

    chunk_fn = compiled_chunk_fn("aot_eager") if compiled else chunk_loss_and_grads
    c = 0.05  # large, so that the term matters in the gradients
    model = tiny_model()
    ids = torch.randint(0, 300, (3, 40))
    labels = ids.clone()
    labels[1, :4] = -100
    logits = model(input_ids=ids).logits
    valid = labels[:, 1:] != -100
    log_z = torch.logsumexp(logits[:, :-1].float(), -1)
    ce = model.loss_function(logits, labels, vocab_size=300)
    expected = ce + c * (log_z.square() * valid).sum() / valid.sum()
    expected.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    objective, chunked_ce = chunked_lm_losses(model.model(input_ids=ids).last_hidden_state, model.lm_head, labels, chunk, chunk_fn, c)
    objective.backward()
    torch.testing.assert_close(objective, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(chunked_ce, ce.detach(), rtol=1e-5, atol=1e-6)
    assert float(objective - chunked_ce) > 1.0  # the term is there
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.grad, grads[name], rtol=1e-4, atol=1e-6, msg=name)


def test_independent_weight_decay_decays_by_the_schedule_not_the_learning_rate():
    """AdamW with zero gradients only decays: θ₁ = θ₀ (1 − η_t · wd). ``independent`` gives wd = λ/η, so the decay per
    step is (η_t/η) λ whatever the peak LR η; ``coupled`` scales it with η."""
    from lab.train.optim import adamw_weight_decay

    decays = {}
    for mode in ("coupled", "independent"):
        for lr in (1e-3, 1e-1):
            param = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
            optimizer = torch.optim.AdamW([param], lr=lr, weight_decay=adamw_weight_decay(1e-2, lr, mode))
            param.grad = torch.zeros(3, dtype=torch.float64)
            optimizer.step()
            decays[(mode, lr)] = 1.0 - float(param[0])
    assert decays[("independent", 1e-3)] == pytest.approx(1e-2, rel=1e-4) and decays[("independent", 1e-1)] == pytest.approx(1e-2, rel=1e-4)
    assert decays[("coupled", 1e-3)] == pytest.approx(1e-5, rel=2e-3) and decays[("coupled", 1e-1)] == pytest.approx(1e-3, rel=1e-4)
    with pytest.raises(ValueError, match="weight_decay_mode"):
        adamw_weight_decay(0.1, 1e-3, "decoupled")
