"""Shared check of a ``lab.report`` output: the CLI runs, every linked figure exists and is a real image."""

import re
from pathlib import Path

import matplotlib.image

from lab.report.__main__ import main


def assert_report(folder: Path, out: Path, figures: list[str]) -> str:
    """Run ``python -m lab.report folder --out out`` (in-process); return report.md after checking its figures."""
    main([str(folder), "--out", str(out)])
    markdown = (out / "report.md").read_text()
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert sorted(linked) == sorted(figures), linked
    for name in linked:
        pixels = matplotlib.image.imread(out / name)
        assert pixels.shape[0] > 200 and pixels.shape[1] > 300 and pixels.std() > 0.05, name  # a drawn figure, not a blank
    return markdown
