"""``SHA256SUMS``: one ``<sha256 hex>  <relative path>`` line per file, as ``sha256sum`` writes and ``sha256sum -c`` checks."""

import hashlib
from pathlib import Path

from lab.artifacts import atomic_write
from lab.errors import UserError

SUMS_FILE = "SHA256SUMS"


def sha256_file(path: Path, chunk: int = 1 << 24) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def write_sha256sums(folder: Path, exclude: tuple[str, ...] = ()) -> dict[str, str]:
    """Hash every file under ``folder`` (sorted, dotfiles and ``exclude`` skipped) into ``folder/SHA256SUMS``."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
                   and p.name != SUMS_FILE and p.relative_to(folder).as_posix() not in exclude)
    sums = {p.relative_to(folder).as_posix(): sha256_file(p) for p in files}
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


def check_sha256sums(folder: Path, names: list[str] | None = None) -> None:
    """Raise :class:`UserError` naming the first listed file that is missing or whose hash differs."""
    folder = Path(folder)
    sums = read_sha256sums(folder)
    for name in names if names is not None else list(sums):
        if name not in sums:
            raise UserError(f"{folder / name} is not listed in {SUMS_FILE}")
        path = folder / name
        if not path.is_file():
            raise UserError(f"{path} is missing (listed in {SUMS_FILE})")
        if sha256_file(path) != sums[name]:
            raise UserError(f"{path} does not match its SHA256SUMS entry: the file is corrupted or was modified")
