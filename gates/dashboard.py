"""The W&B workspace panels of a gate sweep (``python -m lab.report.wandb_dashboard --kind gates``; registered under
``qwen3_internals.dashboards`` in pyproject.toml), as plain data (:mod:`ablations.dashboard` says the fields)."""

PANELS = [
    {"section": "Loss", "kind": "line", "title": "total loss", "y": ["train/loss"], "log_y": True},
    {"section": "Loss", "kind": "line", "title": "forget and retain losses", "y": ["train/forget_loss", "train/retain_loss"], "log_y": True},
    {"section": "Gates", "kind": "line", "title": "fraction of gates below each threshold", "y_regex": "gates/frac_below_.*"},
    {"section": "Gates", "kind": "line", "title": "mean gate", "y": ["gates/mean"]},
    {"section": "Final", "kind": "bar", "title": "final losses", "metrics": ["final/final_forget_loss", "final/final_retain_loss"]},
]
