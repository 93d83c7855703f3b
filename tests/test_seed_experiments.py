"""One command per seed (issue 17): experiment=seed001 / seed000 compose the seeds' own settings at real scale."""

from hydra import compose

from lab.config.registry import composing
from lab.plan import plan
from tests.conftest import compose_vindex

SEED_001_VARIANTS = ["original", "no_qk_norm", "no_layer_norm", "no_all_norm", "replace_l2norm", "replace_layernorm",
                     "replace_scalenorm", "replace_dyt"]


def compose_with_hydra(config_name: str, overrides: list[str]):
    with composing():
        return compose(config_name=config_name, overrides=overrides, return_hydra_config=True)


def test_seed001_is_the_eight_variants_of_qwen3_0_6b_for_three_epochs_on_gpus():
    cfg = compose_with_hydra("train", ["experiment=seed001"])
    assert (cfg.model.name, cfg.model.pretrained, cfg.model.init) == ("qwen3_0.6b", "Qwen/Qwen3-0.6B", "pretrained")
    assert cfg.data.name == "popqa_numina"
    t = cfg.trainer
    assert (t.max_epochs, t.max_steps, t.precision, t.strategy, t.accelerator, t.devices) == (3, -1, "bf16-mixed", "ddp", "gpu", -1)
    assert cfg.hydra.mode.name == "MULTIRUN" and cfg.hydra.sweeper.params.variant.split(",") == SEED_001_VARIANTS
    assert cfg.hydra.sweep.dir.endswith("ablations/sweeps/seed001")
    assert (list(cfg.artifacts.formats), cfg.artifacts.dtype, cfg.artifacts.keep_optimizer_state) == (["safetensors", "pt"], "bfloat16", False)
    slurm = compose_with_hydra("train", ["experiment=seed001", "hydra/launcher=submitit_slurm", "trainer.devices=8"])
    assert (slurm.hydra.launcher.tasks_per_node, slurm.hydra.launcher.gpus_per_node) == (8, 8)


def test_seed000_is_the_seeds_gate_settings_on_qwen3_0_6b():
    cfg = compose_with_hydra("gates_train", ["experiment=seed000"])
    assert (cfg.model.name, cfg.data.name, cfg.trainer.precision, cfg.trainer.strategy) == ("qwen3_0.6b", "popqa_numina", "bf16-mixed", "ddp")
    g = cfg.gates
    assert (g.beta, g.lambda_forget, g.lambda_retain, g.temperature, g.retain_per_forget, g.optimizer.lr, g.epochs) == (4.0, 0.1, 0.5, 2.0, 2, 1e-2, 3)
    assert cfg.data.sources.reasoning.limit == 10000 and cfg.data.sources.knowledge.path == "akariasai/PopQA"


def test_the_planner_lists_seed001s_grid_and_counts_every_visible_gpu_as_plan_gpus():
    result = plan("train", ["experiment=seed001"])
    assert [j["variant"] for j in result["jobs"]] == SEED_001_VARIANTS
    assert all(j["params"] > 5e8 and j["tokens"] is None for j in result["jobs"])  # epoch-bounded: no token count yet
    steps = plan("train", ["experiment=seed001", "trainer.max_steps=100", "variant=original", "plan.gpus=4"])["jobs"]
    assert steps[0]["tokens"] == 100 * 8 * 1024 * 4


def test_a_pretrained_model_starts_training_with_every_module_in_train_mode(tmp_path):
    """from_pretrained returns eval mode; build_model hands Lightning a model whose every module trains."""
    from transformers import Qwen3Config, Qwen3ForCausalLM

    from lab.model import build_model
    from lab.model.variants import Variant

    config = Qwen3Config(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                         num_key_value_heads=1, head_dim=16)
    Qwen3ForCausalLM(config).save_pretrained(tmp_path / "pretrained")
    for variant in ("original", "replace_dyt"):
        model = build_model({"pretrained": str(tmp_path / "pretrained"), "init": "pretrained"}, Variant(name=variant))
        assert all(m.training for m in model.modules()), variant


def test_seed002_is_the_qwen3_8b_vindex_as_the_seed_built_it():
    cfg = compose_vindex(["experiment=seed002"])
    assert (cfg.source, cfg.features, cfg.num_features, cfg.dtype, cfg.torch_dtype) == ("Qwen/Qwen3-8B", "svd", 128, "f16", "bfloat16")
    assert compose_vindex(["experiment=seed002", "source=/my/copy"]).source == "/my/copy"  # the command line still wins
