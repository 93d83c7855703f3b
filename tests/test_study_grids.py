"""The study's other grids (issue 24): an intervention sweep through the real CLI at a few steps (one override each,
in the run's config and its offline W&B run; every option's override is checked in test_config), the scaling
figure, and the published markdown regenerated from ``study.json`` alone."""

import json
from pathlib import Path

import matplotlib.image
import pytest

from ablations.study.publish import publish_study, stale_docs, update_docs
from lab.config.errors import UserError
from lab.dev.wandb_offline import find_runs, read_run
from tests.conftest import run_cli

pytestmark = pytest.mark.slow
FEW = ["trainer.max_steps=4", "trainer.val_check_interval=4", "data.eval_limit=2", "diagnostics.every_n_steps=2", "diagnostics.dense_steps=2",
       "model=tiny", "optimizer.warmup_steps=2", "trainer.limit_val_batches=2"]


def study(tmp: Path, name: str, grid: list[str]) -> Path:
    out = run_cli(["ablations.train", "experiment=norm_study", f"study={name}", *grid, *FEW, f"paths.runs={tmp / 'runs'}"], cwd=tmp, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return tmp / "runs" / "ablations" / "studies" / name


@pytest.fixture(scope="module")
def interventions(tmp_path_factory) -> Path:
    return study(tmp_path_factory.mktemp("interventions"), "interventions",
                 ["variant=no_qk_norm", "intervention=none,z_loss", "optimizer.lr=1e-2", "seed=0"])


@pytest.mark.long
def test_each_intervention_is_one_override_in_the_runs_config_and_wandb(interventions):
    entries = json.loads((interventions / "all_train_metrics.json").read_text())
    assert len(entries) == 2 and {e["swept"]["intervention"] for e in entries.values()} == {"none", "z_loss"}
    assert all(e["vocab_size"] > 0 and e["non_embedding_params"] > 0 for e in entries.values())  # ℓ₀ = ln V, the scaling x axis
    runs = {read_run(p).run["name"]: read_run(p) for p in find_runs(interventions) if "report" not in p.parts}
    z_run = runs["no_qk_norm/intervention=z_loss,lr=0.01,seed=0"]
    assert z_run.config["optimizer"]["z_loss"] == 1e-4 and any("train/z_loss" in row for row in z_run.history)
    assert runs["no_qk_norm/intervention=none,lr=0.01,seed=0"].config["optimizer"]["z_loss"] == 0.0
    assert not any("train/z_loss" in row for row in runs["no_qk_norm/intervention=none,lr=0.01,seed=0"].history)
    summary = json.loads((interventions / "report" / "study.json").read_text())["summary"]["scratch"]
    z = summary["no_qk_norm [intervention=z_loss]"]
    assert z["control"] == "no_qk_norm [intervention=none]" and z["vs_control"]["lr_sensitivity"]["n"] == [1, 1]


def test_the_scaling_figure_is_drawn_from_a_width_sweeps_summary(tmp_path):
    """Three panels from hand-made cells of two widths and two variants (the figure reads study.json alone)."""
    from ablations.study.metrics import summarize
    from ablations.study.plots import scaling

    entries = {}
    for width, hidden, params in (("h64", 64, 197_000), ("h128", 128, 788_000)):
        for variant in ("original", "no_qk_norm"):
            for seed in (0, 1):
                for lr, loss in ((1e-2, 1.0), (1e-1, 1.5 if variant == "original" else 3.0)):
                    entries[f"{variant}/{width},{lr},{seed}"] = {
                        "variant": variant, "regime": "scratch", "lr": lr, "seed": seed, "status": "ok", "final_val_loss": loss + 0.01 * seed,
                        "vocab_size": 1696, "hidden_size": hidden, "non_embedding_params": params, "max_attn_logit": 10.0 * hidden,
                        "swept": {"width": width}}
    cells = summarize(entries)["scratch"]
    assert cells["no_qk_norm [width=h64]"]["control"] == "original [width=h64]"
    pixels = matplotlib.image.imread(scaling(cells, tmp_path / "scaling.png"))
    assert pixels.shape[1] > 1000 and pixels.std() > 0.05


def test_published_blocks_are_regenerated_from_study_json_alone(interventions, tmp_path):
    results, figures = tmp_path / "results", tmp_path / "figures"
    doc = tmp_path / "doc.md"
    doc.write_text("intro\n<!-- study:interventions:tables -->\nstale\n<!-- /study:interventions:tables -->\nmiddle\n"
                   "<!-- study:interventions:departures -->\n<!-- /study:interventions:departures -->\nend\n")
    written = publish_study(interventions / "report" / "study.json", results, figures, (doc,))
    assert (results / "interventions" / "study.json").is_file() and doc in written
    assert (figures / "norm_study_interventions_lr_sweep.png").is_file()
    text = doc.read_text()
    assert "stale" not in text and "| no_qk_norm [intervention=z_loss] | 1 |" in text and text.endswith("end\n")
    assert stale_docs((doc,), results) == [] and update_docs((doc,), results) == []
    doc.write_text(text.replace("| no_qk_norm [intervention=z_loss] | 1 |", "| no_qk_norm [intervention=z_loss] | 3 |"))
    assert stale_docs((doc,), results) == [doc]  # a hand edit inside a block is caught
    doc.write_text("<!-- study:nonesuch:tables -->\nx\n<!-- /study:nonesuch:tables -->\n")
    with pytest.raises(UserError, match="nonesuch"):
        update_docs((doc,), results)


@pytest.mark.long
def test_the_horizon_study_runs_on_real_text_and_reports_its_trend(tmp_path):
    """make study STUDY=horizon (experiment=text_study) at 2 and 4 steps: every run on data=tiny_text with the
    corpus's own vocabulary and a 5 % warmup, and the report's horizon trend (T from 2 to 4 steps, Holm across it)."""
    from lab.config import asset_path
    from lab.model import load_tokenizer

    grid = ["variant=original,no_qk_norm", "optimizer.lr=1e-2,1e-1", "seed=0,1", "trainer.max_steps=2,4"]
    few = ["diagnostics.every_n_steps=2", "diagnostics.dense_steps=2", "trainer.limit_val_batches=2",
           "data.sources.text.limit=2000",  # 2,000 training documents: each seed's job tokenizes its corpus once
           "eval.final_loss_evaluations=2"]  # of a validation at every step (0.1 of 2 or 4 steps rounds to 1)
    out = run_cli(["ablations.train", "experiment=text_study", *grid, *few, f"paths.runs={tmp_path / 'runs'}"], cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    folder = tmp_path / "runs" / "ablations" / "studies" / "horizon"
    entries = json.loads((folder / "all_train_metrics.json").read_text())
    vocab = len(load_tokenizer({"tokenizer": asset_path("tiny_text/tokenizer")}))
    assert len(entries) == 16 and {e["vocab_size"] for e in entries.values()} == {vocab}
    assert sorted({(e["swept"]["trainer.max_steps"], e["steps"]) for e in entries.values()}) == [(2, 2), (4, 4)]
    config = json.loads((folder / "original" / "lr=0.01,max_steps=4,seed=0_finetuned" / ".run_config.json").read_text())
    assert config["optimizer.warmup_fraction"] == 0.05 and config["data.name"] == "tiny_text"
    assert config["trainer.val_check_interval"] == 0.1 and {e["val_loss_evaluations"] for e in entries.values()} == {2}
    study = json.loads((folder / "report" / "study.json").read_text())
    assert study["width_trends"] == {} and study["final_loss_evaluations"] == [2]
    (gap,) = [t for t in study["horizon_trends"]["scratch"] if t["control"]]
    assert (gap["variant"], gap["control"], gap["from"], gap["to"]) == ("no_qk_norm", "original", "2", "4")
    assert gap["lr_sensitivity"]["n"] == [2, 2, 2, 2] and "p_holm" in gap["lr_sensitivity"]
    report = (folder / "report" / "report.md").read_text()
    assert "2 or 4 steps per run (the horizon swept)" in report and "scratch: horizon (steps) trend" in report


@pytest.mark.long
def test_the_horizon_study_runs_on_a_streamed_text_source_with_loader_workers_under_the_joblib_launcher(tmp_path):
    """docs/real-scale.md's GPU grid in small: data=hf streaming a parquet of text (as a hub corpus is streamed) with
    loader worker processes, inside a job of Hydra's joblib launcher. The stream's first data.val_docs documents
    are held out and validated on (the training stream starts after them), so the final loss is the mean of the last
    validations; the workers start under loky's job (once: "'Process' object has no attribute 'env'")."""
    from lab.config import asset_path

    stream = ["data=hf", "data.sources.text.path=parquet", f"data.sources.text.data_files={{train: {asset_path('tiny_text/train.parquet')}}}",
              "data.sources.text.streaming=true", "data.sources.text.limit=1000", "data.val_docs=100",
              "data.tokenizer=${asset:tiny_text/tokenizer}", "data.seq_len=64", "data.batch_size=4", "data.num_workers=1"]
    out = run_cli(["ablations.train", "experiment=text_study", "variant=original", "optimizer.lr=1e-2", "seed=0", "trainer.max_steps=10",
                   "eval.final_loss_evaluations=2", "trainer.limit_val_batches=2", *stream, f"paths.runs={tmp_path / 'runs'}"],
                  cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    (entry,) = json.loads((tmp_path / "runs" / "ablations" / "studies" / "horizon" / "all_train_metrics.json").read_text()).values()
    assert entry["status"] == "ok" and entry["steps"] == 10 and entry["val_loss_evaluations"] == 2 and entry["final_val_loss"] > 0
