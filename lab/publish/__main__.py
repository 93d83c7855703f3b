"""``python -m lab.publish <run | sweep | gate run | vindex> repo_id=<owner/name> [--dry-run]`` (``make publish``;
``folder=<path>`` and ``dry_run=true`` are the same keys in Hydra's form): the module docstring of :mod:`lab.publish`."""

import sys
import tempfile
from pathlib import Path

from omegaconf import DictConfig

from lab.config.command import hydra_cli, hydra_command
from lab.config.errors import UserError
from lab.publish.card import check_card, root_card
from lab.publish.staging import Planned, plan_upload, stage
from lab.publish.upload import check_hub_access, upload
from lab.runs.artifacts import check_writable
from lab.runs.folder_kinds import require_kind


def publish(cfg: DictConfig) -> list[Planned]:
    """Plan the upload of ``cfg.folder``; print it (``dry_run``) or stage and upload it. Returns the planned files."""
    folder = Path(cfg.folder).expanduser()
    if not folder.is_dir():
        raise UserError(f"folder={cfg.folder} is not a folder")
    kind = require_kind(folder)
    if kind.layout is None:
        raise UserError(f"{folder} is a {kind.name} folder; lab.publish uploads ablation runs and sweeps, gate runs and vindexes")
    layout = kind.layout(folder)
    planned = plan_upload(layout, list(cfg.stages), cfg.dtype, cfg.checkpoints)
    card = root_card(folder, layout, list(cfg.stages), cfg.dtype)
    if card is not None:
        check_card(card)
    total = sum(p.size for p in planned) + len(card or "")
    if cfg.dry_run:
        print_plan(planned, card, total, cfg.repo_id)
        return planned
    staging = check_writable(Path(cfg.staging_dir or folder.parent).expanduser(), "staging_dir=...")  # before the Hub is asked
    token = check_hub_access()
    staging.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".publish.", dir=staging) as tmp:
        staged = stage(planned, Path(tmp))
        if card is not None:
            (staged / "README.md").write_text(card)
        url = upload(staged, cfg.repo_id, token, cfg.private, cfg.revision, total > cfg.large_folder_gb * 2**30,
                     cfg.commit_message or f"{kind.name} {folder.name} (qwen3-internals)")
    print(f"uploaded {len(planned)} files ({total / 2**20:,.1f} MiB) to {url}")
    return planned


def print_plan(planned: list[Planned], card: str | None, total: int, repo_id: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"dry run: {repo_id} (nothing uploaded)")
    for column in ("path in the repo", "size", "from"):
        table.add_column(column)
    if card is not None:
        table.add_row("README.md", f"{len(card):,} B", "generated (below)")
    for item in planned:
        size = f"{'≈' if item.convert_to else ''}{item.size / 2**20:,.2f} MiB"
        table.add_row(item.path_in_repo, size, f"{item.source}{f' as {item.convert_to}' if item.convert_to else ''}")
    console = Console(width=160)
    console.print(table)
    console.print(f"total: {total / 2**20:,.2f} MiB in {len(planned) + (card is not None)} files")
    if card is not None:
        console.print(card, markup=False, highlight=False)


@hydra_command("publish")
def main(cfg: DictConfig) -> None:
    publish(cfg)


HYDRA_FLAGS_WITH_VALUE = {"--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn", "--config-dir",
                          "-cd", "--experimental-rerun"}  # (--info's value is optional: a bare path after it is the folder)


def hydra_arguments(argv: list[str]) -> list[str]:
    """The command line in Hydra's form: a bare first path is ``folder=<path>``, ``--dry-run`` is ``dry_run=true``;
    Hydra's own flags and ``key=value`` overrides pass unchanged."""
    out, folder_given, takes_value = [], False, False
    for arg in argv:
        if arg == "--dry-run":
            out.append("dry_run=true")
        elif not folder_given and not takes_value and "=" not in arg and not arg.startswith("-"):
            out.append(f"folder={arg}")
            folder_given = True
        else:
            out.append(arg)
        takes_value = arg in HYDRA_FLAGS_WITH_VALUE
    return out


if __name__ == "__main__":
    sys.argv[1:] = hydra_arguments(sys.argv[1:])
    hydra_cli(main)
