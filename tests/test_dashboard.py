"""The W&B dashboard's panel spec (building and saving it needs wandb-workspaces and a login: not tested)."""

import pytest

from lab.config.errors import UserError
from lab.report import write_report
from lab.report.wandb_dashboard import STEP, dashboard_spec


def test_the_ablation_dashboard_plots_the_logged_metrics_against_the_global_step():
    spec = dashboard_spec("ablation", group="2026-11-23_10-00-00-000000_p1")
    assert spec["runset"]["filter_group"] == "2026-11-23_10-00-00-000000_p1"
    panels = {p["title"]: p for section in spec["sections"] for p in section["panels"]}
    assert [s["name"] for s in spec["sections"]] == ["Loss", "Accuracy", "Final", "Throughput"]
    assert panels["train loss"]["y"] == ["train/loss"] and panels["train loss"]["x"] == STEP
    assert panels["validation loss"]["y"] == ["val/loss"] and panels["fact recall"]["y"] == ["val/knowledge_acc"]
    assert panels["final losses"]["metrics"] == ["final/final_train_loss", "final/final_val_loss"]


def test_the_panels_name_metrics_the_training_code_logs():
    """Every metric a panel shows is one that a module or callback logs (or the final summary writes)."""
    import inspect

    import ablations.entry
    import gates.export
    import gates.module
    import lab.train.health
    import lab.train.module

    modules = (lab.train.module, lab.train.health, gates.module, gates.export, ablations.entry)  # *.entry, gates.export: the summary's keys
    source = "".join(inspect.getsource(m) for m in modules)
    for kind in ("ablation", "gates"):
        for section in dashboard_spec(kind)["sections"]:
            for panel in section["panels"]:
                for metric in panel.get("y", []) + [m.removeprefix("final/") for m in panel.get("metrics", [])]:
                    assert f'"{metric}"' in source or f'"{metric.split("/")[-1]}"' in source, metric


def test_unknown_kinds_and_folders_are_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="valid: ablation, gates"):
        dashboard_spec("vindex")
    with pytest.raises(UserError, match="is none of the folders this suite writes"):
        write_report(tmp_path)


def test_each_tool_states_its_own_panels():
    """The ground floor holds no tool's metric names: ablations and gates register theirs (qwen3_internals.dashboards)."""
    import inspect

    import lab.report.wandb_dashboard
    from ablations.dashboard import PANELS as ABLATION
    from gates.dashboard import PANELS as GATES
    from lab.report.wandb_dashboard import panel_sets

    assert panel_sets() == {"ablation": ABLATION, "gates": GATES}
    assert "gates/" not in inspect.getsource(lab.report.wandb_dashboard)
