"""The W&B workspace panels of a norm-ablation sweep (``python -m lab.report.wandb_dashboard --kind ablation``;
registered under ``qwen3_internals.dashboards`` in pyproject.toml). Each panel is plain data: its section, kind
(``line`` against the global step, or ``bar`` of ``final/*`` summaries), title and metrics."""

PANELS = [
    {"section": "Loss", "kind": "line", "title": "train loss", "y": ["train/loss"], "log_y": True},
    {"section": "Loss", "kind": "line", "title": "validation loss", "y": ["val/loss"], "log_y": True},
    {"section": "Loss", "kind": "line", "title": "gradient norm", "y": ["train/grad_norm"], "log_y": True},
    {"section": "Accuracy", "kind": "line", "title": "fact recall", "y": ["val/knowledge_acc"]},
    {"section": "Accuracy", "kind": "line", "title": "held-out arithmetic", "y": ["val/reasoning_acc"]},
    {"section": "Final", "kind": "bar", "title": "final losses", "metrics": ["final/final_train_loss", "final/final_val_loss"]},
    {"section": "Final", "kind": "bar", "title": "final accuracies", "metrics": ["final/knowledge_acc", "final/reasoning_acc"]},
    {"section": "Throughput", "kind": "line", "title": "tokens/s", "y": ["train/tokens_per_s"]},
]
