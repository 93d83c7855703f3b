"""The block an entry point ends with: what ran and how it ended, where it went, how to load it and look at it.

    ── ablations.train original: ok in 1 min 27 s ──────────────────────────
    train loss 0.7810 · val loss 0.8060 · fact recall 11.5 % · arithmetic 5.0 %
    output  runs/ablations/2026-11-30_12-00-00-000000_p1/original_finetuned
    load    ablations.load("runs/ablations/.../original_finetuned")
    look    make report RUN=runs/ablations/2026-11-30_12-00-00-000000_p1
            wandb sync runs/ablations/.../wandb/offline-run-*
"""

import shutil
from pathlib import Path

PERCENT_KEYS = ("recall", "arithmetic", "acc", "fraction")


def _value(name: str, value) -> str:
    if isinstance(value, float):
        return f"{value:.1%}" if any(k in name for k in PERCENT_KEYS) else f"{value:.4f}"
    return str(value)


def duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def format_summary(title: str, status: str, wall_s: float | None, metrics: dict, output: Path | str | None,
                   load: str | None = None, look: list[str] | None = None) -> str:
    """The block as text; ``None`` metrics are left out."""
    head = f"── {title}: {status}" + (f" in {duration(wall_s)}" if wall_s is not None else "") + " "
    width = max(60, min(100, shutil.get_terminal_size((100, 20)).columns))
    lines = [head + "─" * max(4, width - len(head))]
    shown = [f"{name} {_value(name, value)}" for name, value in metrics.items() if value is not None]
    if shown:
        lines.append(" · ".join(shown))
    for label, items in (("output", [str(output)] if output else []), ("load", [load] if load else []), ("look", look or [])):
        for i, item in enumerate(items):
            lines.append(f"{label if i == 0 else '':<7} {item}")
    return "\n".join(lines)


def print_summary(*args, **kwargs) -> None:
    print(format_summary(*args, **kwargs), flush=True)


def wandb_sync_hint(folder: Path) -> str | None:
    """``wandb sync <offline run folders>`` when ``folder`` holds offline W&B runs."""
    runs = sorted(Path(folder).glob("wandb/offline-run-*"))
    return f"wandb sync {Path(folder) / 'wandb' / 'offline-run-*'}" if runs else None
