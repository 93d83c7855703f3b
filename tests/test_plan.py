"""``lab.plan``: the grid it expands, and parameters, tokens, FLOPs and GPU-hours against hand computations."""

import pytest
from transformers import Qwen3Config

from lab.errors import UserError
from lab.plan import PEAK_TFLOPS, plan
from tests.conftest import QWEN3_06B_CONFIG


def test_the_study_grid_expands_like_hydras_sweeper_and_the_command_line_wins():
    quick = plan("train", ["experiment=norm_study", "study=quick"])
    assert quick["total"]["jobs"] == 36
    assert {(j["variant"], j["model"]) for j in quick["jobs"]} == {(v, "tiny_reference") for v in ("original", "no_qk_norm", "replace_dyt")}
    narrowed = plan("train", ["experiment=norm_study", "study=quick", "variant=original", "optimizer.lr=1e-3,1e-2"])
    assert narrowed["total"]["jobs"] == 1 * 2 * 2 * 2
    assert plan("train", [])["total"]["jobs"] == 1


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
