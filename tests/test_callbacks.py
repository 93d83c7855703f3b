"""Callbacks from the ``callbacks`` config group (lab.train.callbacks): switched by config, added from the command line."""

import csv
import json

import pytest
from lightning.pytorch.callbacks import LearningRateMonitor
from omegaconf import OmegaConf

from ablations.train import train
from lab.config.errors import UserError
from lab.train.callbacks import instantiate_callbacks
from lab.train.diagnostics import InstabilityDiagnostics
from lab.train.initial_eval import InitialEvaluation
from tests.conftest import FAST, compose_train

MONITOR = "lightning.pytorch.callbacks.LearningRateMonitor"


def test_entries_are_instantiated_in_order_and_switched_off_by_null_or_enabled():
    callbacks = instantiate_callbacks(OmegaConf.create({
        "off": None,
        "initial": {"_target_": "lab.train.initial_eval.InitialEvaluation", "enabled": "loss", "mode": "loss", "accuracy": True},
        "probes_off": {"_target_": "lab.train.diagnostics.InstabilityDiagnostics", "enabled": 0, "every_n_steps": 0},
        "monitor": {"_target_": MONITOR, "logging_interval": "step"},
    }))
    assert [type(c) for c in callbacks] == [InitialEvaluation, LearningRateMonitor]
    assert callbacks[0].accuracy is False  # mode loss: no accuracies whatever eval.accuracy says
    assert instantiate_callbacks(None) == []


@pytest.mark.parametrize("entry, message", [
    ({"logging_interval": "step"}, "callbacks.bad has no _target_"),
    ({"_target_": "collections.OrderedDict"}, "callbacks.bad: collections.OrderedDict is not a Lightning callback"),
    ({"_target_": MONITOR, "no_such_argument": 1}, "callbacks.bad: "),
    ("LearningRateMonitor", "callbacks.bad='LearningRateMonitor': a callback entry is a mapping with a _target_"),
])
def test_a_bad_entry_is_one_line_naming_it(entry, message):
    with pytest.raises(UserError, match=message.replace(".", r"\.")):
        instantiate_callbacks(OmegaConf.create({"bad": entry}))


def test_the_group_gives_a_norm_ablation_its_probes_and_a_surgery_its_initial_evaluation():
    def kinds(*overrides: str) -> list[type]:
        return [type(c) for c in instantiate_callbacks(compose_train(list(overrides)).callbacks)]

    assert kinds() == [InstabilityDiagnostics]
    assert kinds("regime=surgery") == [InitialEvaluation, InstabilityDiagnostics]
    assert kinds("regime=scratch", "diagnostics.every_n_steps=0") == [InitialEvaluation]


def test_a_callback_added_on_the_command_line_runs_in_training(tmp_path):
    cfg = compose_train([*FAST, "logger=csv", "trainer.max_steps=3", "eval.accuracy=false", "callbacks.diagnostics=null",
                         f"+callbacks.lr_monitor._target_={MONITOR}", "+callbacks.lr_monitor.logging_interval=step"],
                        output_root=tmp_path)
    train(cfg)
    (metrics,) = tmp_path.rglob("metrics.csv")
    rows = list(csv.DictReader(metrics.open()))
    assert [float(r["lr-AdamW/pg1"]) for r in rows if r.get("lr-AdamW/pg1")][:1], rows[:2]  # the monitor's column (per param group)
    history = json.loads((tmp_path / "original_finetuned" / "train_metrics.json").read_text())
    assert not any(k.startswith("diag/") for row in history for k in row)  # the probes were switched off
