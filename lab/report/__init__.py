"""``python -m lab.report FOLDER``: figures and a ``report.md`` for an ablation run or sweep, a gate run or a vindex.

Everything goes into ``FOLDER/report/`` (or ``--out``); the kind of folder is recognised from its files.
"""

from pathlib import Path

from lab.artifacts import atomic_write
from lab.errors import UserError
from lab.report import ablations, gates, vindex

KINDS = {"ablations": (ablations.is_ablation_folder, ablations.report), "gates": (gates.is_gate_folder, gates.report),
         "vindex": (vindex.is_vindex_folder, vindex.report)}


def folder_kind(folder: Path) -> str:
    for kind, (matches, _) in KINDS.items():
        if matches(folder):
            return kind
    raise UserError(f"{folder} is not an ablation run or sweep (all_train_metrics.json), a gate run (lambda_logits.pt) "
                    "or a vindex (index.json)")


def write_report(folder: str | Path, out: str | Path | None = None) -> Path:
    """Write the figures and ``report.md`` of ``folder`` into ``out`` (default ``folder/report``); returns ``report.md``."""
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder")
    kind = folder_kind(folder)
    out = Path(out) if out else folder / "report"
    out.mkdir(parents=True, exist_ok=True)
    markdown = KINDS[kind][1](folder, out)
    path = out / "report.md"
    atomic_write(path, lambda tmp: tmp.write_text(markdown))
    return path
