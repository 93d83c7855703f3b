"""Matplotlib without a display, and figures saved atomically as PNG."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lab.runs.artifacts import atomic_write  # noqa: E402

__all__ = ["finish_figure", "label_axes", "plt", "save_figure"]


def save_figure(fig, path: Path) -> Path:
    """Write ``fig`` to ``path`` (PNG, 120 dpi) through a temporary file, then close it."""
    atomic_write(Path(path), lambda tmp: fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight"))
    plt.close(fig)
    return Path(path)


def label_axes(ax, *, title: str, xlabel: str, ylabel: str | None = None, grid_axis: str = "both", **legend) -> None:
    """Label ``ax``, add a light grid and a small legend."""
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis=grid_axis, alpha=0.3)
    ax.legend(fontsize=8, **legend)


def finish_figure(fig, ax, path: Path, **labels) -> Path:
    """:func:`label_axes` on ``ax``, then save ``fig`` to ``path``."""
    label_axes(ax, **labels)
    return save_figure(fig, path)
