"""Folder kinds: what the generic commands (``lab.report``, ``lab.runs.verify``) do with a folder one of the tools wrote.

``lab`` is the ground floor: it imports none of the tools. Each tool registers its kinds under the entry-point
group ``qwen3_internals.folder_kinds`` in ``pyproject.toml`` (``name = "package.module:OBJECT"``, a
:class:`FolderKind`), and the commands find them through :func:`folder_kinds` (installed metadata, as pip
writes it for an editable install too). The first kind, by descending ``priority``, whose ``matches`` accepts
a folder is that folder's kind (a norm study is also an ablation sweep, so the study ranks first).
"""

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from lab.config.errors import UserError

GROUP = "qwen3_internals.folder_kinds"


@dataclass(frozen=True)
class FolderKind:
    name: str
    description: str                                    # how a folder of this kind is recognised, for error messages
    matches: Callable[[Path], bool]
    report: Callable[[Path, Path], str] | None = None   # (folder, out) -> report.md's markdown, figures written into out
    verify: Callable[[Path], None] | None = None        # checks beyond SHA256SUMS; raises UserError
    priority: int = 0
    load_model: Callable[[Path, Any], tuple[Any, Any]] | None = None  # (folder, options) -> (model, tokenizer), eval mode
    members: Callable[[Path], dict[str, Path]] | None = None          # a sweep's {run name: model folder}
    setting: Callable[[Any], str] | None = None       # options -> the label of what load_model applies (e.g. "hard-0.5")
    layout: Callable[[Path], dict[str, Path]] | None = None  # what lab.publish uploads, in the seed's layout:
    # {path in the repo ("" for the root): a local artifact folder (its SHA256SUMS-covered files) or a file}


def folder_kinds() -> list[FolderKind]:
    """Every registered kind, highest priority first."""
    kinds = [ep.load() for ep in entry_points(group=GROUP)]
    return sorted(kinds, key=lambda k: (-k.priority, k.name))


def kind_of(folder: Path) -> FolderKind | None:
    """The kind of ``folder``, or None when no tool recognises it."""
    return next((kind for kind in folder_kinds() if kind.matches(Path(folder))), None)


def require_kind(folder: Path) -> FolderKind:
    """:func:`kind_of`, or a :class:`UserError` listing what each kind looks like."""
    kind = kind_of(folder)
    if kind is None:
        known = ", ".join(f"{k.description}" for k in folder_kinds())
        raise UserError(f"{folder} is none of the folders this suite writes: {known}")
    return kind
