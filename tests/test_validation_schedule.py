"""A fractional val_check_interval (seed001's 0.5: twice per epoch) trains, epoch-bounded or step-bounded."""

import json

from ablations.train import train
from lab.train.trainer import validation_schedule
from tests.conftest import FAST, compose_train


def test_a_fraction_of_an_epoch_becomes_what_lightning_runs():
    epochs = {"max_steps": -1, "max_epochs": 3, "val_check_interval": 0.5, "check_val_every_n_epoch": None}
    assert validation_schedule(epochs)["check_val_every_n_epoch"] == 1
    assert validation_schedule({**epochs, "max_steps": 10})["val_check_interval"] == 5
    assert validation_schedule({**epochs, "max_steps": 1, "val_check_interval": 0.25})["val_check_interval"] == 1
    accumulating = {**epochs, "max_steps": 10, "accumulate_grad_batches": 2}  # Lightning counts batches: 5 steps of 2
    assert validation_schedule(accumulating)["val_check_interval"] == 10
    steps = {"max_steps": 10, "val_check_interval": 600, "check_val_every_n_epoch": None}
    assert validation_schedule(steps) == steps


def test_the_validations_a_run_holds_count_as_lightning_counts_its_interval():
    from lab.config.schema import TrainerConfig

    assert TrainerConfig(max_steps=120, val_check_interval=0.1).validations() == 10
    assert TrainerConfig(max_steps=600, val_check_interval=0.1, accumulate_grad_batches=4).validations() == 10  # steps
    assert TrainerConfig(max_steps=120, val_check_interval=12, accumulate_grad_batches=2).validations() == 20  # batches
    assert TrainerConfig(max_steps=120, val_check_interval=600).validations() == 0
    assert TrainerConfig(max_steps=120, val_check_interval=0.1, max_epochs=3).validations() is None  # epochs may end it first
    assert TrainerConfig(max_steps=-1, val_check_interval=0.5).validations() is None


def validation_steps(tmp_path, *overrides: str) -> list[int]:
    # compile off: compile.enabled=auto compiles an epoch-bounded run (max_steps -1), tens of seconds for 4 steps
    cfg = compose_train([*FAST, "logger=none", "eval.accuracy=false", "compile.enabled=false", *overrides], output_root=tmp_path)
    entry = train(cfg)
    assert entry["status"] == "ok", entry
    rows = json.loads((tmp_path / "original_finetuned" / "train_metrics.json").read_text())
    return [r["step"] for r in rows if "val/loss" in r]


def test_a_step_bounded_look_at_an_epoch_bounded_experiment_validates_on_a_derived_step_interval(tmp_path):
    # experiment=seed001 trainer.max_steps=4 on the tiny model: max_epochs 3, twice "per epoch" -> every 2 steps
    assert validation_steps(tmp_path, "trainer.max_epochs=3", "trainer.val_check_interval=0.5", "trainer.max_steps=4") == [2, 4]


def test_an_epoch_bounded_run_validates_at_each_fraction_of_its_epoch(tmp_path):
    steps = validation_steps(tmp_path, "trainer.max_steps=-1", "trainer.max_epochs=1", "trainer.val_check_interval=0.5",
                             "+trainer.limit_train_batches=4")
    assert steps == [2, 4]


def test_the_final_loss_is_the_mean_of_the_last_validations_the_config_names(tmp_path):
    cfg = compose_train([*FAST, "logger=none", "eval.accuracy=false", "eval.final_loss_evaluations=2", "trainer.max_steps=6",
                         "trainer.val_check_interval=0.34", "regime=scratch"], output_root=tmp_path)  # round(0.34 * 6) = 2
    entry = train(cfg)
    rows = json.loads((tmp_path / "original_finetuned" / "train_metrics.json").read_text())
    losses = {r["step"]: r["val/loss"] for r in rows if "val/loss" in r}
    assert sorted(losses) == [0, 2, 4, 6] and losses[4] != losses[6]  # step 0: the evaluation before training
    assert entry["final_val_loss"] == (losses[4] + losses[6]) / 2
    assert entry["last_val_loss"] == losses[6] and entry["val_loss_evaluations"] == 2


def test_the_evaluation_before_training_is_never_averaged_into_the_final_loss(tmp_path):
    """An epoch-bounded run (not refused: its validations are not known ahead) holding fewer validations than k."""
    cfg = compose_train([*FAST, "logger=none", "eval.accuracy=false", "compile.enabled=false", "eval.final_loss_evaluations=3",
                         "trainer.max_steps=-1", "trainer.max_epochs=1", "trainer.val_check_interval=0.5",
                         "+trainer.limit_train_batches=4", "regime=scratch"], output_root=tmp_path)
    entry = train(cfg)
    rows = json.loads((tmp_path / "original_finetuned" / "train_metrics.json").read_text())
    losses = {r["step"]: r["val/loss"] for r in rows if "val/loss" in r}
    assert sorted(losses) == [0, 2, 4]
    assert entry["final_val_loss"] == (losses[2] + losses[4]) / 2 and entry["val_loss_evaluations"] == 2
