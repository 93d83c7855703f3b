"""``python -m lab.report FOLDER``: figures and a ``report.md`` for any folder the suite writes.

The folder's kind (:mod:`lab.runs.folder_kinds`: an ablation run or sweep, a norm study, a gate run, a vindex) is
recognised from its files, and its tool writes the report. Everything goes into ``FOLDER/report/`` (or ``--out``).
"""

from pathlib import Path

from lab.config.errors import UserError
from lab.runs.artifacts import atomic_write
from lab.runs.folder_kinds import require_kind


def write_report(folder: str | Path, out: str | Path | None = None) -> Path:
    """Write the figures and ``report.md`` of ``folder`` into ``out`` (default ``folder/report``); returns ``report.md``."""
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder")
    kind = require_kind(folder)
    if kind.report is None:
        raise UserError(f"{folder} is {kind.description}, which has no report")
    out = Path(out) if out else folder / "report"
    out.mkdir(parents=True, exist_ok=True)
    markdown = kind.report(folder, out)
    path = out / "report.md"
    atomic_write(path, lambda tmp: tmp.write_text(markdown))
    return path
