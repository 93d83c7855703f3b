"""A saved W&B workspace that compares the variants of a sweep, without clicking it together by hand.

    python -m lab.report.wandb_dashboard --entity E --project qwen3-internals [--group <sweep folder name>] [--kind ablation|gates]

Runs are already named after their variant, grouped per sweep (``group`` = the sweep folder's name) and carry
the resolved config and ``final/*`` summary (see :mod:`lab.train.loggers`); this builds a workspace with the
loss-curve panels against ``trainer/global_step``, the accuracy curves and bar charts of the final metrics,
through ``wandb-workspaces`` (``pip install wandb-workspaces``; needs ``wandb login``). The panel spec is plain
data (:func:`dashboard_spec`), so it can be checked or reused without the network.
"""

import argparse
from typing import Any

from lab.errors import UserError, exit_on_user_error

STEP = "trainer/global_step"
PANELS: dict[str, list[dict[str, Any]]] = {
    "ablation": [
        {"section": "Loss", "kind": "line", "title": "train loss", "y": ["train/loss"], "log_y": True},
        {"section": "Loss", "kind": "line", "title": "validation loss", "y": ["val/loss"], "log_y": True},
        {"section": "Loss", "kind": "line", "title": "gradient norm", "y": ["train/grad_norm"], "log_y": True},
        {"section": "Accuracy", "kind": "line", "title": "fact recall", "y": ["val/knowledge_acc"]},
        {"section": "Accuracy", "kind": "line", "title": "held-out arithmetic", "y": ["val/reasoning_acc"]},
        {"section": "Final", "kind": "bar", "title": "final losses", "metrics": ["final/final_train_loss", "final/final_val_loss"]},
        {"section": "Final", "kind": "bar", "title": "final accuracies", "metrics": ["final/knowledge_acc", "final/reasoning_acc"]},
        {"section": "Throughput", "kind": "line", "title": "tokens/s", "y": ["train/tokens_per_s"]},
    ],
    "gates": [
        {"section": "Loss", "kind": "line", "title": "total loss", "y": ["train/loss"], "log_y": True},
        {"section": "Loss", "kind": "line", "title": "forget and retain losses", "y": ["train/forget_loss", "train/retain_loss"], "log_y": True},
        {"section": "Gates", "kind": "line", "title": "fraction of gates below each threshold", "y_regex": "gates/frac_below_.*"},
        {"section": "Gates", "kind": "line", "title": "mean gate", "y": ["gates/mean"]},
        {"section": "Final", "kind": "bar", "title": "final losses", "metrics": ["final/final_forget_loss", "final/final_retain_loss"]},
    ],
}


def dashboard_spec(kind: str = "ablation", group: str | None = None) -> dict[str, Any]:
    """The workspace as data: name, runset filter (one sweep's group), grouping and the panels per section."""
    if kind not in PANELS:
        raise UserError(f"--kind {kind}; valid: {', '.join(PANELS)}")
    sections: dict[str, list[dict]] = {}
    for panel in PANELS[kind]:
        body = {k: v for k, v in panel.items() if k != "section"}
        if body["kind"] == "line":
            body["x"] = STEP
        sections.setdefault(panel["section"], []).append(body)
    return {
        "name": f"{kind} comparison" + (f": {group}" if group else ""),
        "runset": {"filter_group": group},
        "sections": [{"name": name, "panels": panels} for name, panels in sections.items()],
    }


def build_workspace(spec: dict[str, Any], entity: str, project: str):
    """The ``wandb_workspaces`` ``Workspace`` of ``spec`` (not saved)."""
    try:
        import wandb_workspaces.reports.v2 as wr
        import wandb_workspaces.workspaces as ws
        from wandb_workspaces import expr
    except ImportError:
        raise UserError("the dashboard needs wandb-workspaces: pip install wandb-workspaces") from None

    def panel(p: dict[str, Any]):
        if p["kind"] == "bar":
            return wr.BarPlot(title=p["title"], metrics=p["metrics"])
        if "y_regex" in p:
            return wr.LinePlot(title=p["title"], x=p["x"], metric_regex=p["y_regex"])
        return wr.LinePlot(title=p["title"], x=p["x"], y=p["y"], log_y=p.get("log_y", False))

    filters = []
    if spec["runset"]["filter_group"]:
        filters.append(expr.Metric("Group") == spec["runset"]["filter_group"])
    return ws.Workspace(
        name=spec["name"], entity=entity, project=project,
        sections=[ws.Section(name=s["name"], panels=[panel(p) for p in s["panels"]], is_open=True) for s in spec["sections"]],
        runset_settings=ws.RunsetSettings(filters=filters),
    )


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lab.report.wandb_dashboard", description=__doc__.splitlines()[0])
    parser.add_argument("--entity", required=True)
    parser.add_argument("--project", default="qwen3-internals")
    parser.add_argument("--group", help="show one sweep: its W&B group (the sweep folder's name)")
    parser.add_argument("--kind", default="ablation", choices=sorted(PANELS))
    args = parser.parse_args(argv)
    workspace = build_workspace(dashboard_spec(args.kind, args.group), args.entity, args.project)
    workspace.save()
    print(f"saved: {workspace.url}")


if __name__ == "__main__":
    main()
