"""A saved W&B workspace that compares the variants of a sweep, without clicking it together by hand.

    python -m lab.report.wandb_dashboard --entity E --project qwen3-internals [--group <sweep folder name>] [--kind ablation|gates]

Runs are already named after their variant, grouped per sweep (``group`` = the sweep folder's name) and carry
the resolved config and ``final/*`` summary (see :mod:`lab.train.loggers`); this builds a workspace with the
loss-curve panels against ``trainer/global_step``, the accuracy curves and bar charts of the final metrics,
through ``wandb-workspaces`` (``pip install wandb-workspaces``; needs ``wandb login``). The panel spec is plain
data (:func:`dashboard_spec`), so it can be checked or reused without the network; each tool states its own panels
(``ablations.dashboard``, ``gates.dashboard``) under the entry-point group ``qwen3_internals.dashboards``.
"""

import argparse
from importlib.metadata import entry_points
from typing import Any

from lab.config.errors import UserError, exit_on_user_error

STEP = "trainer/global_step"
GROUP = "qwen3_internals.dashboards"  # each tool's panels: name = "package.module:PANELS" (pyproject.toml)


def panel_sets() -> dict[str, list[dict[str, Any]]]:
    """``{kind: panels}`` of every tool that registers a dashboard (installed entry points, as folder kinds)."""
    return {ep.name: ep.load() for ep in sorted(entry_points(group=GROUP), key=lambda ep: ep.name)}


def dashboard_spec(kind: str = "ablation", group: str | None = None) -> dict[str, Any]:
    """The workspace as data: name, runset filter (one sweep's group), grouping and the panels per section."""
    panels = panel_sets()
    if kind not in panels:
        raise UserError(f"--kind {kind}; valid: {', '.join(panels)}")
    sections: dict[str, list[dict]] = {}
    for panel in panels[kind]:
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
    parser.add_argument("--kind", default="ablation", choices=sorted(panel_sets()))
    args = parser.parse_args(argv)
    workspace = build_workspace(dashboard_spec(args.kind, args.group), args.entity, args.project)
    workspace.save()
    print(f"saved: {workspace.url}")


if __name__ == "__main__":
    main()
