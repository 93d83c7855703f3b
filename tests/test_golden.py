"""The main job and the tiny reference keep their recorded losses, step by step (tests/golden_values.py)."""

from ablations.train import train
from tests.conftest import FAST, compose_train
from tests.golden_values import check_golden, metric_series


def test_golden_main_job_keeps_its_recorded_losses(tmp_path):
    cfg = compose_train([*FAST, "trainer.limit_val_batches=null", "logger=none", "eval.accuracy=false"], output_root=tmp_path)
    train(cfg)
    check_golden("main_job", metric_series(tmp_path / "original_finetuned" / "train_metrics.json"))


def test_golden_tiny_reference_keeps_its_recorded_losses(quick_reference):
    check_golden("tiny_reference", metric_series(quick_reference / "reference" / "tiny" / "original_finetuned" / "train_metrics.json"))
