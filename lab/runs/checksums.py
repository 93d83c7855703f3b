"""``SHA256SUMS``: one ``<sha256 hex>  <file>`` line per artifact file, as ``sha256sum`` writes and ``sha256sum -c`` checks.

An artifact folder's sums cover its top-level files except dotfiles, logs, Lightning checkpoints
(``*.ckpt``: resumable training state, not the artifact) and sweep-level summaries that later jobs
update (``all_*.json``). Subfolders (``checkpoints/``, ``wandb/``, ``evaluation/``) are not covered.
"""

import hashlib
from pathlib import Path

from lab.config.errors import UserError
from lab.runs.artifacts import atomic_write

SUMS_FILE = "SHA256SUMS"
SKIPPED_SUFFIXES = (".ckpt", ".log", ".lock", ".tmp")


def sha256_file(path: Path, chunk: int = 1 << 24) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def artifact_files(folder: Path) -> list[Path]:
    """The files ``SHA256SUMS`` covers (see module docstring), sorted."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.name != SUMS_FILE and not p.name.startswith(".")
                  and not p.name.endswith(SKIPPED_SUFFIXES) and not (p.name.startswith("all_") and p.suffix == ".json"))


def write_sha256sums(folder: Path) -> dict[str, str]:
    """Hash the artifact files of ``folder`` into ``folder/SHA256SUMS`` (atomically); returns {name: hex}."""
    folder = Path(folder)
    sums = {p.name: sha256_file(p) for p in artifact_files(folder)}
    atomic_write(folder / SUMS_FILE, lambda tmp: tmp.write_text("".join(f"{h}  {name}\n" for name, h in sums.items())))
    return sums


def read_sha256sums(folder: Path) -> dict[str, str]:
    path = Path(folder) / SUMS_FILE
    if not path.is_file():
        raise UserError(f"{path} is missing: cannot check the folder's integrity")
    sums = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            raise UserError(f"{path}:{number} is not a '<sha256>  <file>' line")
        sums[name.lstrip("*")] = digest
    return sums


def check_sha256sums(folder: Path, names: list[str] | None = None) -> int:
    """Raise :class:`UserError` naming the first listed file that is missing or whose hash differs; returns files checked."""
    folder = Path(folder)
    sums = read_sha256sums(folder)
    names = list(sums) if names is None else names
    for name in names:
        if name not in sums:
            raise UserError(f"{folder / name} is not listed in {SUMS_FILE}")
        path = folder / name
        if not path.is_file():
            raise UserError(f"{path} is missing (listed in {SUMS_FILE})")
        if sha256_file(path) != sums[name]:
            raise UserError(f"{path} does not match its SHA256SUMS entry: the file is corrupted or was modified")
    return len(names)


def check_if_summed(folder: Path, names: list[str]) -> None:
    """Check ``names`` against ``folder/SHA256SUMS`` when the folder has one (files made elsewhere may not)."""
    folder = Path(folder)
    if (folder / SUMS_FILE).is_file():
        listed = read_sha256sums(folder)
        check_sha256sums(folder, [n for n in names if n in listed or (folder / n).exists()])
