"""Typed config (lab.config.schema): the typed nodes' keys, defaults and checks are their dataclasses', stated once."""

from dataclasses import fields

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from lab.config import CONF_DIR
from lab.config.errors import UserError
from lab.config.registry import typed_nodes, validate
from lab.config.schema import LAB_NODES, CompileConfig, OptimizerConfig
from tests.conftest import compose_train


def test_each_typed_node_is_its_dataclass_with_the_dataclass_defaults():
    cfg = compose_train([])
    for node, schema in {name: typed_nodes()[name] for name in LAB_NODES}.items():
        assert OmegaConf.get_type(cfg[node]) is schema
        assert set(cfg[node]) == {f.name for f in fields(schema)}
    assert OmegaConf.to_object(cfg.optimizer) == OptimizerConfig() and OmegaConf.to_object(cfg.compile) == CompileConfig()
    train_yaml = OmegaConf.load(CONF_DIR / "train.yaml")
    assert not set(LAB_NODES) & set(train_yaml), "a typed node's defaults live in its dataclass only"


def test_validate_gives_the_instances_the_code_reads_from_a_composed_or_a_saved_config():
    """A run reads its typed nodes as dataclass instances (``ctx.typed``), never a cast; a config loaded back from
    YAML (a DDP child rank's, a saved run's) gives the same instances, extra Trainer arguments kept in the config."""
    cfg = compose_train(["variant=no_qk_norm", "optimizer.lr=2e-3", "+trainer.detect_anomaly=false", "seed=3"])
    typed = validate(cfg)
    assert isinstance(typed.optimizer, OptimizerConfig) and typed.optimizer.lr == 2e-3
    assert typed.variant.sites == ["qk"] and typed.run.seed == 3 and typed.trainer.max_steps == cfg.trainer.max_steps
    saved = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    assert OmegaConf.get_type(saved.optimizer) is dict and validate(saved) == typed
    with pytest.raises(AttributeError, match="no typed node 'gates'"):
        getattr(typed, "gates")  # noqa: B009
    saved.variant.sites = ["mlp"]
    with pytest.raises(UserError, match="bad variant config: .*unknown sites \\['mlp'\\]"):
        validate(saved)


def test_experiments_set_only_what_differs_and_keep_the_types():
    cfg = compose_train(["experiment=norm_study", "intervention=z_loss"])
    assert OmegaConf.get_type(cfg.optimizer) is OptimizerConfig and cfg.optimizer.z_loss == pytest.approx(1e-4)
    assert cfg.diagnostics.dense_steps > 0 and cfg.optimizer.betas == [0.9, 0.95]  # the dataclass's, untouched


@pytest.mark.parametrize("override", ["optimizer.lrr=1", "optimizer.lr=abc", "diagnostics.rows=two", "eval.accuracy=maybe"])
def test_hydra_refuses_unknown_keys_and_wrong_types_while_composing(override):
    with pytest.raises(ConfigCompositionException):
        compose_train([override])


@pytest.mark.parametrize("override, message", [
    ("optimizer.min_lr_ratio=2", "optimizer.min_lr_ratio=2.0 is invalid; expected a number in [0, 1]"),
    ("optimizer.betas=[0.9,1.5]", "optimizer.betas=[0.9, 1.5] is invalid"),
    ("optimizer.weight_decay_mode=decoupled", "expected one of coupled, independent"),
    ("compile.enabled=maybe", "compile.enabled='maybe' is invalid; expected true, false or auto"),
    ("compile.auto_min_steps=0", "compile.auto_min_steps=0 is invalid"),
    ("diagnostics.rows=0", "diagnostics.rows=0 is invalid; expected a positive integer"),
    ("diagnostics.every_n_steps=-1", "diagnostics.every_n_steps=-1 is invalid"),
    ("artifacts.formats=[onnx]", "artifacts.formats=['onnx'] is invalid; expected one or more of safetensors, pt"),
    ("seed=-1", "seed=-1 is invalid; expected a non-negative integer"),                 # the top-level keys: RunKeys
    ("seed=abc", "seed='abc' is invalid; expected an integer"),
    ("checkpoint_every_n_steps=0", "checkpoint_every_n_steps=0 is invalid; expected a positive integer"),
    ("loss_chunk_size=0", "loss_chunk_size=0 is invalid; expected auto, null or a positive integer"),
    ("loss_chunk_size=big", "loss_chunk_size='big' is invalid; expected auto, null or a positive integer"),
])
def test_each_node_checks_its_own_values_in_one_line(override, message):
    cfg = compose_train([override])
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        validate(cfg)
    validate(compose_train([]))  # the defaults pass


def test_a_mistyped_typed_key_is_answered_with_the_valid_keys():
    from lab.config.hints import unknown_key_hint

    assert unknown_key_hint(["variant=original", "diagnostics.dense_step=30"]) == (
        "valid diagnostics keys: every_n_steps, dense_steps, rows; did you mean diagnostics.dense_steps?")
    assert unknown_key_hint(["optimizer.lr=1e-3", "+compile.zzz=1"]).startswith("valid compile keys: enabled")
    assert unknown_key_hint(["optimizer.lr=1e-3", "data.seq_len=64"]) is None  # valid, or not a typed node


def test_a_tool_types_its_own_node_through_an_entry_point():
    """gates.schema.GatesConfig is registered as qwen3_internals.schemas: the gate config composes typed, with the
    seed's defaults, and its checks run with the training run's."""
    from hydra import compose

    from gates.schema import GatesConfig
    from lab.config.registry import composing

    with composing():
        cfg = compose(config_name="gates_train", overrides=["gates.temperature=0"])
        assert OmegaConf.get_type(cfg.gates) is GatesConfig and cfg.gates.beta == 4.0 and cfg.gates.retain_per_forget == 2
        with pytest.raises(UserError, match=r"gates\.temperature=0\.0 is invalid; expected a positive number"):
            validate(cfg)
        with pytest.raises(ConfigCompositionException):
            compose(config_name="gates_train", overrides=["gates.tempreature=1"])


@pytest.mark.parametrize("config, schema, override, message", [
    ("vindex", "vindex.schema:VindexConfig", "dtype=f8", "dtype='f8' is invalid; expected one of f16, f32"),
    ("vindex", "vindex.schema:VindexConfig", "constants.cka_threshold=2", "constants.cka_threshold=2.0 is invalid"),
    ("gates_apply", "gates.schema:ApplyConfig", "mode=medium", "mode='medium' is invalid; expected one of hard, soft"),
    ("gates_evaluate", "gates.schema:EvaluateConfig", "data.seq_len=1", "data.seq_len=1 is invalid; expected an integer >= 2"),
    ("lm_eval", "lab.evaluate.lm_eval.schema:LmEvalConfig", "dtype=fp8", "dtype='fp8' is invalid; expected one of auto"),
])
def test_every_command_s_config_is_typed_and_checked(config, schema, override, message):
    """The non-training commands' configs are typed as a whole (vindex, gates.apply, gates.evaluate, lm_eval): each
    default is the dataclass's, a mistyped key is refused while composing, a wrong value is one line."""
    from importlib import import_module

    from hydra import compose

    from lab.config.registry import composing, validate

    module, name = schema.split(":")
    with composing():
        cfg = compose(config_name=config, overrides=["folder=x"] if config == "lm_eval" else [])
        assert OmegaConf.get_type(cfg) is getattr(import_module(module), name)
        with pytest.raises(ConfigCompositionException):
            compose(config_name=config, overrides=["not_a_key=1"])
        bad = compose(config_name=config, overrides=[override, *(["folder=x"] if config == "lm_eval" else [])])
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("(", r"\(")):
        validate(bad)


def test_the_trainer_node_types_the_suite_s_arguments_and_passes_any_other_lightning_one():
    """``trainer``: the arguments the suite sets are typed (a wrong one is one line before anything runs); any
    other lightning.Trainer argument is added with ``+trainer.<arg>=`` and reaches the Trainer as before."""
    from lab.config.hints import unknown_key_hint
    from lab.config.schema import TrainerConfig

    cfg = compose_train(["+trainer.fast_dev_run=true", "trainer=ddp"])
    assert OmegaConf.get_type(cfg.trainer) is TrainerConfig and cfg.trainer.fast_dev_run is True
    assert cfg.trainer.ddp.timeout_s == 1800 and cfg.trainer.strategy == "ddp"
    validate(cfg)  # the extra argument is Lightning's to check
    with pytest.raises(ConfigCompositionException):
        compose_train(["trainer.fast_dev_run=true"])
    assert unknown_key_hint(["trainer.fast_dev_run=true"]).endswith("any other lightning.Trainer argument: +trainer.<argument>=<value>")
    with pytest.raises(UserError, match=r"trainer.max_steps=0 is invalid; expected a positive integer, or -1"):
        validate(compose_train(["trainer.max_steps=0"]))


def test_one_registry_holds_every_typed_node_and_every_command_composes_through_it():
    """pyproject's ``qwen3_internals.schemas`` entry points are the only registration: in a fresh process ``import lab``
    stores no schema, and :func:`lab.config.registry.composing` (what every command's entry point calls first) makes
    every command's config compose."""
    import subprocess
    import sys

    from lab.config.registry import typed_nodes

    assert set(LAB_NODES) <= set(typed_nodes())
    code = """
from hydra import compose
from hydra.core.config_store import ConfigStore
import lab
from lab.config.registry import composing
assert "schema" not in ConfigStore.instance().repo, "import lab registered a schema"
with composing():
    for name, extra in [("train", []), ("gates_train", []), ("gates_apply", []), ("gates_evaluate", []), ("gates_benchmark", []),
                        ("vindex", []), ("lm_eval", ["folder=x"]), ("confirm", []),
                        ("publish", ["folder=x", "repo_id=me/x"])]:
        compose(config_name=name, overrides=extra)
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=CONF_DIR.parents[2])
    assert out.stdout.strip() == "ok", out.stderr[-2000:]
