"""Every config group composes, and the composed values are the ones the code reads."""

import json

import pytest
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from lab.config import PROJECT_ROOT
from lab.config import group_options as options
from lab.model.variants import Variant
from tests.conftest import VARIANTS, compose_train


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_group(name):
    cfg = compose_train([f"variant={name}"])
    assert cfg.variant.name == name and cfg.run_name == name
    Variant.from_config(OmegaConf.to_container(cfg.variant))


# experiments of another entry point than ablations.train: the config they compose with
EXPERIMENT_ENTRY = {"seed000": "gates_train", "seed002": "vindex"}


@pytest.mark.parametrize("group", ["model", "data", "trainer", "logger", "experiment", "width", "intervention", "dyt", "dyt_sites"])
def test_every_option_of_every_group_composes(group):
    from hydra import compose

    from lab.config.registry import composing

    for option in options(group):
        config_name = EXPERIMENT_ENTRY.get(option, "train") if group == "experiment" else "train"
        with composing():
            cfg = compose(config_name=config_name, overrides=[f"{group}={option}"])
        OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
        assert GlobalHydra.instance() is not None
    assert set(EXPERIMENT_ENTRY) <= set(options("experiment"))


def test_tiny_defaults_point_at_bundled_files():
    cfg = compose_train([])
    assert cfg.model.name == "tiny" and cfg.data.name == "tiny" and cfg.logger.kind == "wandb"
    from pathlib import Path

    assert (Path(cfg.model.tokenizer) / "tokenizer.json").is_file()
    assert Path(cfg.data.sources.knowledge.data_files.train).is_file()


def test_trainer_arguments_are_overridable():
    cfg = compose_train(["trainer.max_steps=5", "+trainer.fast_dev_run=true", "trainer=ddp", "trainer.devices=4"])
    assert cfg.trainer.max_steps == 5 and cfg.trainer.fast_dev_run and cfg.trainer.strategy == "ddp" and cfg.trainer.devices == 4


def test_real_scale_configs_keep_real_sources():
    assert compose_train(["model=qwen3_0.6b"]).model.pretrained == "Qwen/Qwen3-0.6B"
    cfg = compose_train(["data=popqa_numina"])
    assert cfg.data.sources.knowledge.path == "akariasai/PopQA"
    assert cfg.data.sources.reasoning.path == "AI-MO/NuminaMath-CoT"
    assert (cfg.data.sources.reasoning.limit, cfg.data.sources.reasoning.shuffle_seed) == (10000, 0)  # the seed's 10k subset


def test_a_seeded_subset_is_drawn_the_same_way_every_time():
    from lab.config import asset_path
    from lab.data.sources import load_split

    source = {"schema": "numina", "path": "parquet", "data_files": {"train": asset_path("tiny_corpus/numina/train.parquet")},
              "limit": 5, "shuffle_seed": 0}
    first, again = load_split(source, "train"), load_split(source, "train")
    head = load_split({**source, "shuffle_seed": None}, "train")
    assert len(first) == 5 and first["problem"] == again["problem"] and first["problem"] != head["problem"]


def test_slurm_launcher_runs_one_task_per_gpu():
    from hydra import compose

    from lab.config.registry import composing

    with composing():
        cfg = compose("train", overrides=["hydra/launcher=submitit_slurm", "trainer=ddp", "trainer.devices=8", "trainer.num_nodes=2"],
                      return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.tasks_per_node, launcher.gpus_per_node, launcher.nodes) == (8, 8, 2)


def study_grid(name: str) -> dict[str, list[str]]:
    from hydra import compose

    from lab.config.registry import composing

    with composing():
        cfg = compose("train", overrides=["experiment=norm_study", f"study={name}"], return_hydra_config=True)
    return {k: str(v).split(",") for k, v in cfg.hydra.sweeper.params.items()}


def test_the_studies_grids_are_the_documented_ones():
    """Issue 24: every variant, 3 seeds, LRs to 3e-1 in both regimes; the scaling grid's 3 widths x 7 LRs; the
    interventions; each chosen before the run, in config."""
    default = study_grid("default")  # the grid its published JSON holds: a variant added later does not join it silently
    published = json.loads((PROJECT_ROOT / "docs" / "results" / "norm_study" / "default" / "study.json").read_text())
    assert {regime: sorted(default["variant"]) for regime in default["regime"]} == {r: sorted(c) for r, c in published["summary"].items()}
    assert set(default["variant"]) <= set(VARIANTS)
    assert default["seed"] == ["0", "1", "2"] and default["regime"] == ["scratch", "surgery"]
    assert float(default["optimizer.lr"][-1]) == 0.3 and len(default["optimizer.lr"]) == 6
    scaling = study_grid("scaling")
    assert scaling["width"] == ["h64", "h128", "h256"] and scaling["variant"] == ["original", "no_qk_norm"]
    assert len(scaling["optimizer.lr"]) >= 7 and len(scaling["seed"]) >= 3
    interventions = study_grid("interventions")
    assert sorted(interventions["intervention"]) == options("intervention") and len(interventions["seed"]) >= 3
    assert sorted(study_grid("dyt")["dyt"]) == options("dyt") and len(study_grid("quick")["seed"]) >= 3
    sites = study_grid("dyt_sites")
    assert sorted(sites["dyt_sites"]) == options("dyt_sites") and len(sites["seed"]) >= 3
    assert {o: list(compose_train(["variant=replace_dyt", f"dyt_sites={o}"]).variant.sites) for o in ("none", "qk_layer")} == {
        "none": [], "qk_layer": ["qk", "layer"]}
    widths = {w: compose_train([f"width={w}"]).model.config for w in ("h64", "h128", "h256")}
    assert {w: (c.hidden_size, c.num_attention_heads * c.head_dim) for w, c in widths.items()} == {
        "h64": (64, 64), "h128": (128, 128), "h256": (256, 256)}


def test_each_intervention_is_the_override_it_names():
    base = compose_train(["experiment=norm_study"])
    changed = {
        "z_loss": lambda c: c.optimizer.z_loss == 1e-4,
        "long_warmup": lambda c: c.optimizer.warmup_steps == 60 > base.optimizer.warmup_steps,
        "independent_wd": lambda c: (c.optimizer.weight_decay_mode, c.optimizer.weight_decay) == ("independent", 1e-4),
        "no_clip": lambda c: c.trainer.gradient_clip_val is None,
        "none": lambda c: OmegaConf.to_container(c.optimizer) == OmegaConf.to_container(base.optimizer),
    }
    assert sorted(changed) == options("intervention")
    for name, check in changed.items():
        assert check(compose_train(["experiment=norm_study", f"intervention={name}"])), name
