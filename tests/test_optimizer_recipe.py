"""docs/architecture.md's recipe for an optimizer key, checked against the code: ``OptimizerConfig`` is the one typed
node every tool's AdamW is built from, by one builder (``lab.train.optim.adamw_with_schedule``), so a key added there
reaches the norm ablations, the gates, the relearning attacks and the trainer benchmark alike (the benchmark once
broke on a key the study had added to the ablations' copy only)."""

import re
from dataclasses import asdict, fields
from pathlib import Path

import lightning as L
import pytest
import torch
from hydra import compose
from transformers import Qwen3Config, Qwen3ForCausalLM

from lab.config.registry import composing, validate
from lab.config.schema import EvalConfig, OptimizerConfig
from lab.train.module import CausalLMModule
from tests.conftest import compose_train

ROOT = Path(__file__).resolve().parents[1]
CHANGED = ["optimizer.lr=2e-3", "optimizer.betas=[0.8,0.9]", "optimizer.eps=1e-6", "optimizer.weight_decay=0.05",
           "optimizer.warmup_steps=3", "optimizer.min_lr_ratio=0.5"]


def tiny_model() -> Qwen3ForCausalLM:
    torch.manual_seed(0)
    return Qwen3ForCausalLM(Qwen3Config(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=1,
                                        num_attention_heads=2, num_key_value_heads=1, head_dim=16))


def built(module: L.LightningModule, max_steps: int = 10) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    module.trainer = L.Trainer(max_steps=max_steps, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    out = module.configure_optimizers()
    return out["optimizer"], out["lr_scheduler"]["scheduler"]


def assert_follows(optimizer: torch.optim.Optimizer, schedule: torch.optim.lr_scheduler.LambdaLR, opt: OptimizerConfig,
                   decays: bool) -> None:
    assert optimizer.defaults["lr"] == opt.lr and optimizer.defaults["betas"] == tuple(opt.betas)
    assert optimizer.defaults["eps"] == opt.eps
    if decays:
        assert [g["weight_decay"] for g in optimizer.param_groups] == [opt.weight_decay, 0.0]
    factors = [schedule.lr_lambdas[0](step) for step in (0, opt.warmup_steps, 10)]
    assert factors == pytest.approx([1 / max(1, opt.warmup_steps), 1.0, opt.min_lr_ratio])


def test_the_ablation_module_builds_adamw_from_the_typed_optimizer_node():
    opt = validate(compose_train(CHANGED)).optimizer
    assert (opt.lr, opt.betas, opt.eps) == (2e-3, [0.8, 0.9], 1e-6)
    optimizer, schedule = built(CausalLMModule(tiny_model(), None, opt, EvalConfig(accuracy=False)))
    assert_follows(optimizer, schedule, opt, decays=True)


def test_the_gates_build_adamw_from_the_same_node_under_gates_optimizer():
    from gates.gated_ffn import patch_gates
    from gates.module import GateTrainingModule

    with composing():
        typed = validate(compose(config_name="gates_train", overrides=[f"gates.{o}" for o in CHANGED]))
    assert isinstance(typed.gates.optimizer, OptimizerConfig) and typed.gates.optimizer.eps == 1e-6
    model = tiny_model()
    patch_gates(model, 0.0, None, 0)
    optimizer, schedule = built(GateTrainingModule(model, typed.gates))
    assert_follows(optimizer, schedule, typed.gates.optimizer, decays=False)
    assert [len(g["params"]) for g in optimizer.param_groups] == [1]  # the λ only, one vector per layer: never decayed


def test_the_seeds_gate_optimizer_is_the_default():
    from gates.schema import GatesConfig

    opt = GatesConfig().optimizer
    assert (opt.lr, opt.betas, opt.warmup_steps, opt.min_lr_ratio, opt.weight_decay, opt.fused) == (1e-2, [0.9, 0.999], 0, 0.0, 0.0, False)


def test_the_trainer_benchmark_records_every_key_of_the_node_it_trains_with():
    from benchmarks.trainer import OPTIM, OPTIMIZER

    assert isinstance(OPTIMIZER, OptimizerConfig) and OPTIM == asdict(OPTIMIZER)
    assert set(OPTIM) == {f.name for f in fields(OptimizerConfig)}


def test_one_builder_constructs_adamw_for_every_tool_that_trains():
    """Outside ``lab/train/optim.py`` only one fixed, documented experiment builds its own AdamW: the DyT check, an
    independent reproduction in plain torch (with the suite's betas, weight decay and clipping as values)."""
    sources = [p for pkg in ("lab", "ablations", "gates", "vindex", "benchmarks") for p in (ROOT / pkg).rglob("*.py")]
    builders = sorted(str(p.relative_to(ROOT)) for p in sources if re.search(r"\boptim\.AdamW\(", p.read_text()))
    assert builders == ["ablations/dyt_check.py", "lab/train/optim.py"]
