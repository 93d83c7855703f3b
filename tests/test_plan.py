"""``lab.plan``: the grid it expands, and parameters, tokens, FLOPs and GPU-hours against hand computations."""

import pytest
from transformers import Qwen3Config

from lab.config.errors import UserError
from lab.plan import PEAK_TFLOPS, plan
from tests.conftest import QWEN3_06B_CONFIG


def test_the_study_grid_expands_like_hydras_sweeper_and_the_command_line_wins():
    quick = plan("train", ["experiment=norm_study", "study=quick"])
    assert quick["total"]["jobs"] == 54
    assert {(j["variant"], j["model"]) for j in quick["jobs"]} == {(v, "tiny_reference") for v in ("original", "no_qk_norm", "no_layer_norm")}
    narrowed = plan("train", ["experiment=norm_study", "study=quick", "variant=original", "optimizer.lr=1e-3,1e-2"])
    assert narrowed["total"]["jobs"] == 1 * 2 * 3 * 2
    assert plan("train", [])["total"]["jobs"] == 1


def test_the_horizon_study_is_priced_on_real_text_with_the_corpus_tokenizer_and_a_warmup_share():
    """make study STUDY=horizon (experiment=text_study): 2 variants x 6 LRs x 5 seeds x 2 horizons, each job the tiny
    model from scratch with data=tiny_text's own vocabulary, its tokens its steps' blocks."""
    from lab.config import asset_path
    from lab.model import load_tokenizer
    from tests.conftest import compose_train

    result = plan("train", ["experiment=text_study"])
    assert result["total"]["jobs"] == 2 * 6 * 5 * 2
    steps = {j["tokens"]: next(o for o in j["overrides"] if o.startswith("trainer.max_steps=")) for j in result["jobs"]}
    assert steps == {n * 16 * 128: f"trainer.max_steps={n}" for n in (120, 600)}  # 16 blocks of 128 tokens a step
    assert {j["model"] for j in result["jobs"]} == {"tiny"}
    vocab = len(load_tokenizer({"tokenizer": compose_train(["experiment=text_study"]).data.tokenizer}))
    assert vocab == len(load_tokenizer({"tokenizer": asset_path("tiny_text/tokenizer")})) != len(load_tokenizer({"tokenizer": asset_path("tiny_tokenizer")}))
    assert {j["embedding_params"] for j in result["jobs"]} == {vocab * 128}


GPU_HORIZON = ["experiment=text_study", "width=h512_l12", "data=hf", "data.sources.text.path=HuggingFaceFW/fineweb",
               "data.sources.text.name=sample-10BT", "data.sources.text.streaming=true", "data.tokenizer=${asset:tiny_text/tokenizer}",
               "trainer=gpu"]  # docs/real-scale.md


def test_the_horizon_study_on_a_gpu_is_priced_at_40m_non_embedding_parameters_on_a_hub_corpus():
    """docs/real-scale.md's GPU command: study=horizon's grid at ~40 M non-embedding parameters (width=h512_l12) on a
    hub text corpus (not read to price it: nothing is downloaded), in H100-hours, bf16-mixed on the GPU."""
    result = plan("train", GPU_HORIZON)
    assert result["total"]["jobs"] == 2 * 6 * 5 * 2
    job = result["jobs"][0]
    assert 35e6 < job["params"] - job["embedding_params"] < 45e6 and job["memory"]["precision"] == "bf16-mixed"
    assert {j["tokens"] for j in result["jobs"]} == {n * 8 * 1024 for n in (120, 600)}  # data=hf's 8 blocks of 1,024 tokens a step
    assert result["total"]["gpu_hours"]["H100"] == pytest.approx(sum(j["gpu_hours"]["H100"] for j in result["jobs"]))
    longer = plan("train", [*GPU_HORIZON, "variant=original", "optimizer.lr=1e-2", "seed=0", "trainer.max_steps=600,6000"])  # extended
    assert {j["tokens"] for j in longer["jobs"]} == {n * 8 * 1024 for n in (600, 6000)}


def test_a_grid_composes_once_per_choice_of_config_groups_and_equals_hydras_composition_of_each_job():
    from hydra import compose
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    from lab.config.registry import composing
    from lab.plan import compose_jobs, expand_grid

    GlobalHydra.instance().clear()
    with composing():
        grid = expand_grid("train", ["experiment=norm_study", "study=quick", "variant=original,no_qk_norm", "optimizer.lr=1e-3,0.3",
                                     "seed=0,1", "regime=scratch", "run_name=lr${optimizer.lr}"])
        assert len(grid) == 8
        fast = compose_jobs("train", grid)
        each = [compose(config_name="train", overrides=job) for job in grid]
    for job, a, b in zip(grid, fast, each, strict=True):
        assert OmegaConf.to_yaml(a) == OmegaConf.to_yaml(b), job
    assert {(c.optimizer.lr, c.seed, c.run_name) for c in fast} == {(lr, s, f"lr{lr}") for lr in (1e-3, 0.3) for s in (0, 1)}


def test_qwen3_06b_parameters_tokens_flops_and_gpu_hours():
    config = Qwen3Config.from_json_file(str(QWEN3_06B_CONFIG / "config.json"))
    result = plan("train", ["model=qwen3_0.6b", "trainer.max_steps=100", "data.seq_len=2048", "data.batch_size=8", "trainer.devices=4",
                            "plan.mfu=0.5"])
    (job,) = result["jobs"]
    assert job["params"] == 596_049_920 and job["embedding_params"] == config.vocab_size * config.hidden_size  # tied head
    assert job["tokens"] == 100 * 8 * 2048 * 4
    matmul = job["params"]  # tied: the head's matrix is the embedding's, computed once per token, the lookup is free
    attention = 6 * config.num_hidden_layers * 2048 * config.num_attention_heads * config.head_dim
    assert job["flops"] == (6 * matmul + attention) * job["tokens"]
    assert job["gpu_hours"]["H100"] == pytest.approx(job["flops"] / (PEAK_TFLOPS["H100"] * 1e12 * 0.5) / 3600)
    assert result["mfu"] == 0.5


def test_bad_plan_options_are_refused():
    with pytest.raises(UserError, match="unknown plan option plan.mfuu"):
        plan("train", ["plan.mfuu=0.3"])
    with pytest.raises(UserError, match="plan.mfu=1.5 is outside"):
        plan("train", ["plan.mfu=1.5"])


def test_memory_per_device_follows_precision_strategy_and_what_trains():
    n = 596_049_920
    base = ["model=qwen3_0.6b", "trainer.max_steps=10", "data.seq_len=1024", "data.batch_size=8"]
    fp32 = plan("train", [*base, "optimizer.warmup_steps=2", "trainer.accelerator=cpu"])["jobs"][0]["memory"]
    assert fp32["device"] == "cpu" and fp32["precision"] == "32-true"
    step = fp32["step"]
    assert (step["weights"], step["gradients"], step["optimizer"], step["autocast"], step["ddp_buckets"]) == (4 * n, 4 * n, 8 * n, 0, 0)
    assert fp32["peak_bytes"] == max(fp32["step_bytes"], fp32["save_bytes"])
    mixed = plan("train", [*base, "optimizer.warmup_steps=2", "trainer.accelerator=gpu", "trainer=ddp", "trainer.devices=8"])["jobs"][0]["memory"]
    assert mixed["precision"] == "bf16-mixed" and mixed["save"] == {}  # the save's copy is made in host memory
    assert mixed["step"]["autocast"] > 0 and mixed["step"]["ddp_buckets"] == 4 * n
    assert mixed["step"]["activations"] == fp32["step"]["activations"] // 2  # 16-bit activations
    gates = plan("gates_train", [*base, "trainer.accelerator=gpu"])["jobs"][0]["memory"]["step"]
    assert gates["weights"] == 2 * n and gates["autocast"] == 0  # the frozen model in bf16 (lab.model.weights_dtype)
    assert gates["gradients"] == 4 * 28 * 3072  # the λ only


def test_disk_per_job_and_grid():
    n = 596_049_920
    base = ["model=qwen3_0.6b", "trainer.max_steps=1000", "checkpoint_every_n_steps=500", "trainer.accelerator=gpu"]
    bf16 = plan("train", [*base, "artifacts.dtype=bfloat16"])["jobs"][0]["disk"]
    assert bf16["stage_bytes"] == 2 * 2 * n and bf16["final_checkpoint_bytes"] == 4 * n  # two formats; fp32 masters
    assert bf16["finished_bytes"] == 2 * bf16["stage_bytes"] + 4 * n < 8e9  # seed 001's target per variant
    assert bf16["during_run_bytes"] == 2 * bf16["stage_bytes"] + 3 * 12 * n  # step-500, step-1000 and last, with AdamW
    kept = plan("train", [*base, "artifacts.keep_optimizer_state=true", "artifacts.formats=[pt]"])["jobs"][0]["disk"]
    assert kept["stage_bytes"] == 4 * n and kept["final_checkpoint_bytes"] == 12 * n
    grid = plan("train", [*base, "variant=original,no_qk_norm"])
    assert grid["total"]["disk_bytes"] == sum(j["disk"]["finished_bytes"] for j in grid["jobs"])


def test_weights_dtype_keeps_fp32_masters_only_where_weights_train():
    import torch

    from lab.model import weights_dtype

    assert weights_dtype("bf16-mixed", trains_weights=True) == torch.float32
    assert weights_dtype("bf16-mixed", trains_weights=False) == torch.bfloat16
    assert weights_dtype("16-mixed", trains_weights=False) == torch.float16
    assert weights_dtype("bf16-true", trains_weights=True) == torch.bfloat16
    assert weights_dtype("32-true", trains_weights=False) == torch.float32


def test_a_plan_says_whether_it_fits_the_stated_device_memory_and_what_to_change():
    from lab.plan import render

    big = ["model=qwen3_0.6b", "data.seq_len=2048", "data.batch_size=16"]
    tight = plan("train", [*big, "plan.device_memory_gb=8"])
    assert tight["too_large"] == [0] and tight["jobs"][0]["memory"]["peak_bytes"] > 8e9
    text = render(tight)
    assert "does not fit: 1 of 1 job(s) predict more than plan.device_memory_gb=8 GB" in text
    assert "largest term: activations" in text and "data.batch_size=<smaller>" in text and "trainer.precision=bf16-true" in text
    roomy = plan("train", [*big, "plan.device_memory_gb=141"])
    assert roomy["too_large"] == [] and "fits: every job's predicted peak" in render(roomy)
    unstated = render(plan("train", big))
    assert "fits:" not in unstated and "does not fit" not in unstated  # no limit stated: no verdict


def test_an_epoch_bounded_plan_counts_the_batches_its_data_holds(quick_reference):
    from lab.data.datamodule import CorpusDataModule
    from lab.model import load_tokenizer
    from tests.conftest import compose_train

    cfg = compose_train(["trainer.max_steps=-1", "trainer.max_epochs=2"])
    datamodule = CorpusDataModule.from_run_config(cfg, load_tokenizer(cfg.model))
    datamodule.setup("fit")
    batches = len(datamodule.train_dataloader())  # what one device trains per epoch
    (job,) = plan("train", ["trainer.max_steps=-1", "trainer.max_epochs=2"])["jobs"]
    assert job["tokens"] == 2 * batches * int(cfg.data.batch_size) * int(cfg.data.seq_len)
    # two devices split each epoch: half the batches each, the same tokens in all (up to the dropped last batch)
    (ddp,) = plan("train", ["trainer.max_steps=-1", "trainer.max_epochs=2", "trainer.devices=2"])["jobs"]
    assert 0 <= job["tokens"] - ddp["tokens"] <= 2 * 2 * int(cfg.data.batch_size) * int(cfg.data.seq_len)
    # gate training is epoch-bounded (gates.epochs); its data is read with the reference model's tokenizer
    gates = plan("gates_train", [f"paths.runs={quick_reference}"])["jobs"][0]
    assert gates["tokens"] and gates["flops"]
    unreadable = plan("train", ["experiment=seed001"])  # Qwen3-0.6B's tokenizer and PopQA from the hub: offline here
    assert all(j["tokens"] is None for j in unreadable["jobs"]) and unreadable["total"]["flops"] is None


def test_the_localisation_benchmark_is_priced_as_its_gate_runs_relearning_and_grading():
    """``--config-name gates_benchmark``: the gate runs (the trained random control at each budget), R = S · attacks − 2
    relearning runs of full fine-tuning, and forward-only grading of every budget's models (gates.localise.plan)."""
    from gates.localise.plan import PROMPT_TOKENS, REASONING_PROMPT_TOKENS

    overrides = ["train=['experiment=seed000','trainer.max_steps=100','data.eval_limit=500']", "seeds=[0,1]", "random_draws=2",
                 "budgets=[0.01]", "relearn.steps=[0,10,50,200]", "relearn.attacks=[held_out,held_out_frozen,unrelated]"]
    gates_run, control_small, control, relearn, grade = plan("gates_benchmark", overrides)["jobs"]
    config = Qwen3Config.from_json_file(str(QWEN3_06B_CONFIG / "config.json"))
    seq = 1024  # data=popqa_numina, via experiment=seed000
    assert gates_run["params"] == 596_049_920 and gates_run["tokens"] == 2 * 100 * 8 * 8 * seq  # 2 seeds x steps x batch x 8 GPUs x T
    assert "gates.free_fraction=0.05" in control["overrides"] and "gates.free_fraction=0.01" in control_small["overrides"]
    settings = 1 + 2 * 2 + 3 + 2 + 1  # unedited; gates and trained_random, hard and soft; 3 other masks; 2 random draws; rank-1
    runs = settings * 3 - 2  # 3 attacks; the unedited model's frozen attack is its free one, the rank-1 edit has none
    assert relearn["tokens"] == 2 * runs * 200 * 16 * seq
    assert relearn["overrides"][0] == f"relearning: {runs}x200 steps x2 seeds, 1 at once"  # a GPU job: one seed at a time (workers: null)
    matmul = relearn["params"] - relearn["embedding_params"] + config.vocab_size * config.hidden_size  # tied head
    attention = 6 * config.num_hidden_layers * seq * config.num_attention_heads * config.head_dim
    assert relearn["flops"] == (6 * matmul + attention) * relearn["tokens"]
    assert relearn["memory"]["precision"] == "32-true" and relearn["memory"]["peak_bytes"] > gates_run["memory"]["peak_bytes"]
    models = settings + (settings - 1)  # the main budget's, and the 1 % budget's edited ones (graded, not attacked)
    graded = 2 * (models * (500 * (3 * PROMPT_TOKENS + 2 * 12) + 500 * (REASONING_PROMPT_TOKENS + 40)) + runs * 4 * 500 * (PROMPT_TOKENS + 12))
    assert grade["tokens"] == graded and grade["flops"] == 2 * matmul * graded
    assert relearn["gpu_hours"]["H100"] == pytest.approx(relearn["flops"] / (PEAK_TFLOPS["H100"] * 1e12 * 0.4) / 3600)
    assert grade["disk"]["finished_bytes"] == 0  # nothing saved by default
    *_, saving = plan("gates_benchmark", [*overrides, "save_edits=true"])["jobs"]
    assert saving["disk"]["finished_bytes"] == 2 * (settings - 2) * 596_049_920 * 4  # every edit but the unedited and the 2nd draw, fp32
    *_, soft = plan("gates_benchmark", [*overrides, "save_edits=true", "modes=[soft]"])["jobs"]
    assert soft["disk"]["finished_bytes"] == 2 * 3 * 596_049_920 * 4  # the two gate methods' soft edits and the rank-1: no random draw
