"""A claim file is registered by its commit: the confirmatory run starts only from a committed, unchanged file, records
that commit and the file's SHA-256, and publishing refuses a file that changed after the run started."""

import hashlib
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lab.config.errors import UserError


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _git(path: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=path.parent, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise UserError(f"{path}: git is needed to register a claim file ({err})") from None
    if done.returncode:
        raise UserError(f"{path} is not in a git repository: commit the claim file before the confirmatory run")
    return done.stdout.strip()


def register(path: Path) -> dict[str, Any]:
    """``{"file", "sha256", "commit", "committed_at", "run_started_at", "code_commit", "code_dirty"}`` of a committed,
    unchanged claim file, with the code the run starts from (HEAD and whether the working tree differs from it); a
    file never committed, or changed since its last commit, is a :class:`UserError` (nothing runs)."""
    path = Path(path).resolve()
    name = path.name
    if _git(path, "status", "--porcelain", "--", name):
        raise UserError(f"{path} has uncommitted changes: commit the claims before the confirmatory run (its registration)")
    log = _git(path, "log", "-n", "1", "--format=%H %cI", "--", name)
    if not log:
        raise UserError(f"{path} was never committed: commit the claims before the confirmatory run (its registration)")
    commit, committed_at = log.split()
    return {"file": str(path), "sha256": sha256(path), "commit": commit, "committed_at": committed_at,
            "run_started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "code_commit": _git(path, "rev-parse", "HEAD"), "code_dirty": bool(_git(path, "status", "--porcelain", "--untracked-files=no"))}


def check_unchanged(path: Path, registration: dict[str, Any]) -> None:
    """Refuse (:class:`UserError`) a claim file whose content differs from what the run registered."""
    now = sha256(path)
    if now != registration["sha256"]:
        raise UserError(f"{path} changed after the confirmatory run started (registered {registration['sha256'][:12]} at commit "
                        f"{registration['commit'][:12]}, now {now[:12]}): a changed claim needs a new run with fresh seeds")
