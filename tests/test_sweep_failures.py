"""A sweep survives a bad job: every job runs, each status is recorded, and the exit code says what happened."""

import json

import pytest
from omegaconf import OmegaConf

from lab.runs.sweep_status import SweepStatus
from tests.conftest import run_here


@pytest.mark.slow
def test_a_failing_and_a_collapsing_job_do_not_stop_the_sweep(tmp_path):
    out = run_here(["ablations.train", "-m", "optimizer.lr=1e30,nan,3e-3", "run_name=lr${optimizer.lr}", "trainer.max_steps=6",
                   "trainer.val_check_interval=3", "data.eval_limit=4", "data.batch_size=4", "trainer.enable_progress_bar=false",
                   "optimizer.warmup_steps=0", "trainer.limit_val_batches=2", "logger=none", f"paths.runs={tmp_path / 'runs'}"], cwd=tmp_path)
    assert out.returncode == 1, out.stderr[-2000:]
    (sweep,) = (tmp_path / "runs" / "ablations" / "multirun").iterdir()
    summary = json.loads((sweep / "all_train_metrics.json").read_text())
    assert summary["lr1e+30"]["status"] == "collapsed" and summary["lr1e+30"]["collapsed_at_step"] is not None
    assert summary["lrnan"]["status"] == "failed" and "optimizer.lr=nan is invalid" in summary["lrnan"]["error"]
    assert summary["lr0.003"]["status"] == "ok" and summary["lr0.003"]["steps"] == 6  # ran after the failure
    assert (sweep / "lr0.003_finetuned" / "model.safetensors").is_file()
    assert f"report: {sweep / 'report' / 'report.md'}" in out.stdout  # the sweep's end wrote its report, failures and all
    assert "lrnan" in (sweep / "report" / "report.md").read_text()

    from tests.report_checks import assert_report

    markdown = assert_report(sweep, sweep / "report", ["loss_curves.png", "final_losses.png", "accuracies.png"])
    assert "| run | variant | optimizer.lr | status |" in markdown  # the swept values as recorded, not parsed from names
    assert "| lr1e+30 | original | 1e+30 | collapsed |" in markdown and "| lr0.003 | original | 0.003 | ok | 6 |" in markdown
    assert "- **lrnan**: UserError: optimizer.lr=nan is invalid" in markdown  # the failed job's error is listed


def test_a_sweep_with_a_collapsed_job_exits_1_with_one_line(tmp_path, capsys):
    (tmp_path / "all_train_metrics.json").write_text(json.dumps({"original": {"status": "ok"}, "no_all_norm": {"status": "collapsed"}}))
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}})
    with pytest.raises(SystemExit) as exit_info:
        SweepStatus().on_multirun_end(config)
    assert exit_info.value.code == 1
    assert capsys.readouterr().err.strip() == f"error: 1 job(s) of the sweep did not finish ok: no_all_norm (collapsed); see {tmp_path}"
    (tmp_path / "all_train_metrics.json").write_text(json.dumps({"original": {"status": "ok"}}))
    SweepStatus().on_multirun_end(config)  # all ok: no exit


def test_a_study_lists_collapses_as_results_and_still_fails_on_errors(tmp_path, capsys):
    (tmp_path / "all_train_metrics.json").write_text(json.dumps({"a": {"status": "ok"}, "b": {"status": "collapsed"}}))
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}})
    SweepStatus(fail_on=["failed"]).on_multirun_end(config)  # no exit
    assert capsys.readouterr().out.strip() == f"note: 1 run(s) collapsed, results of the sweep: b; see {tmp_path}"
    (tmp_path / "all_train_metrics.json").write_text(json.dumps({"b": {"status": "collapsed"}, "c": {"status": "failed"}}))
    with pytest.raises(SystemExit):
        SweepStatus(fail_on=["failed"]).on_multirun_end(config)
    assert "c (failed)" in capsys.readouterr().err
