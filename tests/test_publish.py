"""``python -m lab.publish`` (issue 38, part 3): a dry run on an ablation run, a gate run and a vindex lists each seed's
Hub layout and a card that parses; staging in bf16 keeps every folder checkable and loadable; without a token it
stops before anything is staged. A real upload needs the Hub: not here (the offline line is in the bad-input table)."""

import json
import subprocess

import pytest
import torch
from huggingface_hub import ModelCard
from safetensors.torch import load_file

import ablations
from lab.publish.__main__ import hydra_arguments, publish
from lab.publish.staging import plan_upload, stage
from lab.runs.folder_kinds import require_kind
from tests.conftest import compose_vindex, run_module

pytestmark = pytest.mark.slow


def dry_run(folder, *extra: str):
    from hydra import compose

    from lab.config.registry import composing, validate

    with composing():
        cfg = compose(config_name="publish", overrides=[f"folder={folder}", "repo_id=me/tiny", "dry_run=true", *extra])
    validate(cfg)
    return publish(cfg)


def test_a_dry_run_of_an_ablation_run_lists_seed_001s_layout_and_a_card_that_parses(quick_reference, capfd):
    run = quick_reference / "reference" / "tiny"
    planned = {p.path_in_repo: p for p in dry_run(run, "dtype=bfloat16")}
    assert {"all_train_metrics.json", "original/model.safetensors", "original/config.json", "original_finetuned/model.safetensors",
            "original_finetuned/SHA256SUMS", "original_finetuned/tokenizer.json"} <= set(planned)
    assert not any("checkpoints/" in path for path in planned)  # Lightning's checkpoints only when asked
    weights = planned["original_finetuned/model.safetensors"]
    assert weights.convert_to == "bfloat16" and weights.size < 0.55 * weights.source.stat().st_size  # fp32 → bf16 halves it
    out = capfd.readouterr().out
    assert "nothing uploaded" in out and "total:" in out
    card = ModelCard(out[out.index("---\n"):])
    assert "norm-ablation" in card.data.tags and "trust_remote_code=True" in card.text
    base_only = {p.path_in_repo for p in dry_run(run, "stages=[base]", "checkpoints=true")}
    assert "original/model.safetensors" in base_only and not any(p.startswith("original_finetuned/") for p in base_only)


def test_the_root_card_carries_each_stages_lm_eval_scores_and_the_command_takes_a_bare_folder(quick_reference, tmp_path, capfd):
    """The model-index of each uploaded stage's card (what lab.evaluate.lm_eval wrote) at the root, named by folder;
    ``python -m lab.publish <folder> repo_id=... --dry-run`` as the issue writes it."""
    import shutil

    from lab.evaluate.lm_eval.results import update_card, write_results

    run = tmp_path / "tiny"
    shutil.copytree(quick_reference / "reference" / "tiny", run)
    lm_eval_results = {"results": {"tiny_facts": {"alias": "tiny_facts", "acc,none": 0.25, "acc_stderr,none": 0.1}},
                       "config": {"model_dtype": "torch.float32"}}  # lm-eval's record of the weights it scored
    write_results(run / "original_finetuned", lm_eval_results)
    assert update_card(run / "original_finetuned", lm_eval_results, "original_finetuned")
    assert run_module("lab.publish", [str(run), "repo_id=me/tiny", "--dry-run"]) == 0
    out = capfd.readouterr().out
    card = ModelCard(out[out.index("---\n"):])
    (result,) = card.data.eval_results  # scored in the dtype the weights are stored and uploaded in: no label
    assert (result.dataset_type, result.metric_name, result.metric_value) == ("tiny_facts", "acc (original_finetuned)", 0.25)
    assert card.data.model_name == "tiny"
    assert run_module("lab.publish", [str(run), "repo_id=me/tiny", "--dry-run", "dtype=bfloat16"]) == 0
    out = capfd.readouterr().out
    converted = ModelCard(out[out.index("---\n"):])
    (result,) = converted.data.eval_results  # fp32 scores are never labelled as the bf16 upload's own
    assert result.metric_name == "acc (original_finetuned, scored in float32, uploaded in bfloat16)" and result.metric_value == 0.25
    assert "Weights: bfloat16, converted for the upload; lm-eval scores were computed before the conversion" in converted.text
    lm_eval_results["config"]["model_dtype"] = "torch.bfloat16"  # scored in bf16 (make lm-eval on a GPU), uploaded as stored
    write_results(run / "original_finetuned", lm_eval_results)
    assert run_module("lab.publish", [str(run), "repo_id=me/tiny", "--dry-run"]) == 0
    out = capfd.readouterr().out
    (as_stored,) = ModelCard(out[out.index("---\n"):]).data.eval_results
    assert as_stored.metric_name == "acc (original_finetuned, scored in bfloat16, uploaded in float32)"
    assert hydra_arguments(["--cfg", "job", "runs/x", "--dry-run", "repo_id=a/b"]) == [
        "--cfg", "job", "folder=runs/x", "dry_run=true", "repo_id=a/b"]  # Hydra's flags and their values pass through


def test_dry_runs_of_a_gate_run_and_a_vindex_put_their_files_at_the_root(quick_gate_run, quick_reference, tmp_path):
    from vindex.build import build

    gate_files = {p.path_in_repo for p in dry_run(quick_gate_run)}
    assert {"lambda_logits.pt", "neuron_indices.json", "gate_stats.json", "metadata.json", "README.md", "SHA256SUMS"} <= gate_files
    folder = build(compose_vindex([f"paths.runs={quick_reference}", f"out={tmp_path / 'tiny.vindex'}"]))
    vindex_files = {p.path_in_repo for p in dry_run(folder)}
    assert {"index.json", "gate_vectors.bin", "README.md", "SHA256SUMS"} <= vindex_files and not any("/" in f for f in vindex_files)


def test_staging_in_bf16_keeps_every_folder_checkable_and_loadable(quick_reference, tmp_path):
    run = quick_reference / "reference" / "tiny"
    staged = stage(plan_upload(require_kind(run).layout(run), ["base", "finetuned"], "bfloat16", False), tmp_path / "staged")
    finetuned = staged / "original_finetuned"
    assert {t.dtype for t in load_file(finetuned / "model.safetensors").values()} == {torch.bfloat16}
    assert subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=finetuned).returncode == 0
    loaded, trained = ablations.load(finetuned), ablations.load(run / "original_finetuned")
    assert torch.equal(loaded.model.embed_tokens.weight, trained.model.embed_tokens.weight.to(torch.bfloat16).float())
    original = run / "original_finetuned"  # the run itself is untouched: the staged SHA256SUMS is a new file, not a link
    assert subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=original).returncode == 0
    assert json.loads((staged / "all_train_metrics.json").read_text()) == json.loads((run / "all_train_metrics.json").read_text())


def test_without_a_token_it_says_how_to_log_in_and_uploads_nothing(quick_gate_run, tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))  # no token file there
    before = sorted(p.name for p in quick_gate_run.parent.iterdir())
    assert run_module("lab.publish", [f"folder={quick_gate_run}", "repo_id=me/gates"]) == 2
    err = capfd.readouterr().err
    assert "no Hugging Face token: log in with `hf auth login`" in err and "Traceback" not in err
    assert sorted(p.name for p in quick_gate_run.parent.iterdir()) == before  # no staging folder left behind


def test_a_dry_run_of_a_sweep_ships_each_variants_code_and_merges_every_stages_scores(wandb_sweep, tmp_path, capfd):
    """A sweep with a patched variant: its folders go up with the code their auto_map names (configuration_ and
    modeling_qwen3_norm_ablation.py), the control's without; the root model-index holds the scores of every stage
    card, each named with its folder."""
    import shutil

    from lab.evaluate.lm_eval.results import update_card, write_results
    from lab.model.remote_code import CONFIG_FILE, MODELING_FILE

    (sweep,) = [p.parent for p in wandb_sweep.rglob("all_train_metrics.json")]
    folder = tmp_path / "sweep"
    shutil.copytree(sweep, folder)
    for name, score in (("replace_dyt_finetuned", 0.5), ("original_finetuned", 0.25), ("original", 0.125)):
        results = {"results": {"tiny_facts": {"alias": "tiny_facts", "acc,none": score}}, "config": {"model_dtype": "torch.float32"}}
        write_results(folder / name, results)
        assert update_card(folder / name, results, name)
    planned = {p.path_in_repo for p in dry_run(folder)}
    for name in ("replace_dyt", "replace_dyt_finetuned"):
        assert {f"{name}/{CONFIG_FILE}", f"{name}/{MODELING_FILE}", f"{name}/config.json"} <= planned
    assert f"original_finetuned/{MODELING_FILE}" not in planned and "original_finetuned/config.json" in planned
    out = capfd.readouterr().out
    card = ModelCard(out[out.index("---\n"):])
    assert sorted((r.metric_name, r.metric_value) for r in card.data.eval_results) == [
        ("acc (original)", 0.125), ("acc (original_finetuned)", 0.25), ("acc (replace_dyt_finetuned)", 0.5)]
