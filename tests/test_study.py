"""The norm study through the real CLI: a 2-variant x 2-LR x 1-seed grid in both regimes, its summary, the
post-surgery evaluation and the diagnostics in the offline W&B runs (issue 16)."""

import json
import math
from pathlib import Path

import pytest
import torch
from hydra import compose

from ablations.layout import finetuned_dir
from lab.config.registry import composing, validate
from lab.data.datamodule import CorpusDataModule
from lab.dev.wandb_offline import find_runs, read_run
from lab.model import build_model, load_tokenizer
from lab.train.initial_eval import validation_loss
from lab.train.module import CausalLMModule
from tests.conftest import run_cli, run_here
from tests.report_checks import assert_report

pytestmark = [pytest.mark.slow, pytest.mark.long]
GRID = ["variant=original,no_qk_norm", "optimizer.lr=1e-3,1e-1", "seed=0"]
FEW = ["trainer.max_steps=6", "trainer.val_check_interval=6", "data.eval_limit=4", "optimizer.warmup_steps=2", "diagnostics.every_n_steps=2",
       "diagnostics.dense_steps=3", "trainer.limit_val_batches=2"]
# the surgery's reference, trained by the study itself: 6 steps are enough to test that it is trained first
REFERENCE = "model.reference_overrides=[" + ",".join(f"'{o}'" for o in [*FEW[:4], "trainer.limit_val_batches=2", "trainer.enable_progress_bar=false", "logger=none"]) + "]"
FIGURES = ["lr_sweep.png", "attention_logits.png", "surgery.png"]


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> tuple[Path, str]:
    """The grid into an empty runs/ folder: the reference model the surgery needs is trained first. One job at a time
    (Hydra's basic launcher): the study's joblib pair starts two workers that each import the stack again, and the
    suite's two workers already fill the cores (test_study_grids runs its grid through the pair)."""
    tmp = tmp_path_factory.mktemp("study")
    out = run_cli(["ablations.train", "experiment=norm_study", "study=quick", *GRID, *FEW, REFERENCE, f"paths.runs={tmp / 'runs'}",
                   "hydra/launcher=basic"], cwd=tmp, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return tmp / "runs" / "ablations" / "studies" / "quick", out.stdout


def test_the_grid_runs_every_job_in_both_regimes_and_ends_with_its_report(study):
    folder, stdout = study
    assert (folder.parents[2] / "reference" / "tiny" / "original_finetuned" / "metadata.json").is_file()  # trained first
    entries = json.loads((folder / "all_train_metrics.json").read_text())
    assert len(entries) == 8 and {e["status"] for e in entries.values()} == {"ok"}
    assert {(e["variant"], e["lr"], e["regime"]) for e in entries.values()} == {
        (v, lr, r) for v in ("original", "no_qk_norm") for lr in (1e-3, 1e-1) for r in ("scratch", "surgery")}
    assert f"report: {folder / 'report' / 'report.md'}" in stdout
    summary = json.loads((folder / "report" / "study.json").read_text())["summary"]
    for regime in ("scratch", "surgery"):
        for variant in ("original", "no_qk_norm"):
            cell = summary[regime][variant]
            assert cell["lrs"] == [1e-3, 1e-1] and cell["lr_sensitivity"]["mean"] >= 0 and cell["lr_sensitivity"]["n"] == 1
            assert cell["max_stable_lr"] == 1e-1 and cell["max_stable_lr_censored"]  # the top of the grid: "≥ 0.1"
            assert cell["best_lr"] in (1e-3, 1e-1) and cell["best_val_loss"]["mean"] < cell["loss_ref"] == pytest.approx(math.log(cell["vocab_size"]))
            assert cell["sensitivity_above"]["mean"] + cell["sensitivity_below"]["mean"] == pytest.approx(cell["lr_sensitivity"]["mean"])
        assert "vs_control" in summary[regime]["no_qk_norm"] and summary[regime]["no_qk_norm"]["control"] == "original"
    assert summary["surgery"]["original"]["initial_knowledge_acc"] is not None


def test_the_summary_command_and_make_report_write_the_tables_and_figures(study, tmp_path):
    folder, _ = study
    out = run_here(["ablations.study", str(folder), "--out", str(tmp_path / "cli")], cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert (tmp_path / "cli" / "study.json").is_file() and list((tmp_path / "cli" / "wandb").glob("offline-run-*"))
    markdown = assert_report(folder, tmp_path / "report", FIGURES)  # make report on a study folder: the study summary
    assert "**scratch**" in markdown and "**surgery**" in markdown and "| no_qk_norm | 1 |" in markdown
    assert "zero-shot recall" in markdown and "(n < 2)" in markdown and "≥ 0.1 (top of grid)" in markdown


def test_the_post_surgery_metrics_equal_a_separate_evaluation_of_the_patched_reference(study):
    """... whatever the seed and the LR: a rule surgery and its evaluation involve no randomness, so its loss after
    surgery is one number per variant (a fitted surgery's calibration blocks follow the seed: docs/norm-study.md)."""
    folder, _ = study
    entries = json.loads((folder / "all_train_metrics.json").read_text())
    surgeries = [e for e in entries.values() if e["variant"] == "no_qk_norm" and e["regime"] == "surgery"]
    (entry,) = [e for e in surgeries if e["lr"] == 1e-3]
    assert len(surgeries) == 2 and all(e["initial"] == entry["initial"] for e in surgeries)  # the LR does not enter
    with composing():
        cfg = compose(config_name="train", overrides=["variant=no_qk_norm", "regime=surgery", "model=tiny_reference", *FEW,
                                                      f"paths.runs={folder.parents[2]}"])
    tokenizer = load_tokenizer(cfg.model)
    for seed in (0, 1):  # nor does the seed: the study's seed 0 run against a separate evaluation seeded 0, then 1
        torch.manual_seed(seed)
        model = build_model(cfg.model, validate(cfg).variant, vocab_size=len(tokenizer))
        data = CorpusDataModule(cfg.data, tokenizer, seed=seed)
        data.setup("fit")
        typed = validate(cfg)
        module = CausalLMModule(model, tokenizer, typed.optimizer, typed.eval)
        module.eval_rows = data.eval_rows
        with torch.no_grad():
            expected = {"loss": validation_loss(module, data.val_dataloader(), max_batches=2),  # limit_val_batches, as trained
                        **{k.removeprefix("val/"): v for k, v in module.graded_accuracies().items()}}
        assert entry["initial"] == pytest.approx(expected, rel=1e-6)
    rows = json.loads((finetuned_dir(folder, next(k for k, v in entries.items() if v is entry)) / "train_metrics.json").read_text())
    assert rows[0] == {"step": 0, **{f"val/{k}": v for k, v in entry["initial"].items()}}  # logged as step 0


def test_the_diagnostics_are_in_the_offline_wandb_runs(study):
    folder, _ = study
    runs = {read_run(p).run["name"]: read_run(p) for p in find_runs(folder) if "report" not in p.parts}
    assert len(runs) == 8
    run = runs["no_qk_norm/lr=0.1,regime=scratch,seed=0"]
    logged = [row for row in run.history if "diag/attn_logit_max" in row]
    assert [row["trainer/global_step"] for row in logged] == [1, 2, 3, 5]  # every step through dense_steps, then every 2
    row = logged[-1]
    assert {"diag/log_z", "diag/log_z_min", "diag/log_z_max", "diag/attn_logit_max/layer_03", "diag/residual_rms/layer_03", "diag/grad_norm/layer_00",
            "diag/norm_input_rms/layer_00.q_norm", "diag/norm_input_rms/final_norm"} <= set(row)
    on_disk = json.loads((folder / "no_qk_norm" / "lr=0.1,regime=scratch,seed=0_finetuned" / "train_metrics.json").read_text())
    assert [r["diag/attn_logit_max"] for r in on_disk if "diag/attn_logit_max" in r] == pytest.approx(
        [r["diag/attn_logit_max"] for r in logged])
    surgery = runs["original/lr=0.001,regime=surgery,seed=0"]
    assert any(row.get("trainer/global_step") == 0 and "val/knowledge_acc" in row for row in surgery.history)
