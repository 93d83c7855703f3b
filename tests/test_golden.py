"""The main job and the tiny reference keep their recorded losses, step by step, and weights (tests/golden_values.py)."""

from ablations.train import train
from tests.conftest import FAST, compose_train
from tests.golden_values import check_golden, check_golden_weights, load_weights, metric_series


def test_golden_main_job_keeps_its_recorded_losses(tmp_path):
    cfg = compose_train([*FAST, "trainer.limit_val_batches=null", "logger=none", "eval.accuracy=false"], output_root=tmp_path)
    train(cfg)
    check_golden("main_job", metric_series(tmp_path / "original_finetuned" / "train_metrics.json"))
    check_golden_weights("main_job", load_weights(tmp_path / "original_finetuned" / "model.safetensors"))


def test_golden_tiny_reference_keeps_its_recorded_losses(quick_reference):
    folder = quick_reference / "reference" / "tiny" / "original_finetuned"
    check_golden("tiny_reference", metric_series(folder / "train_metrics.json"))
    check_golden_weights("tiny_reference", load_weights(folder / "model.safetensors"))
