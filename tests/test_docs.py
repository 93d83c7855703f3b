"""The README and docs/: every relative link resolves, every command in a shell block names a real module or target."""

import importlib.util
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
SHELL_BLOCK = re.compile(r"```(?:bash|sh|shell)\n(.*?)```", re.S)
MODULE = re.compile(r"python -m ([A-Za-z_][\w.]*)")
MAKE = re.compile(r"(?:^|[;&|]\s*)make ((?:-\S+\s+)*)([a-z][\w-]*)")


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][\w-]*):", (REPO / "Makefile").read_text(), re.M))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(page):
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+://", target) or target.startswith(("#", "mailto:")):
            continue
        if not (page.parent / target.split("#")[0]).exists():
            broken.append(target)
    assert not broken, f"{page.name}: broken links {broken}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_shell_commands_name_existing_modules_and_make_targets(page):
    targets = make_targets()
    for block in SHELL_BLOCK.findall(page.read_text()):
        for line in block.splitlines():
            command = line.split("#", 1)[0]
            for module in MODULE.findall(command):
                assert importlib.util.find_spec(module) is not None, f"{page.name}: no module {module} in {line!r}"
            for _, target in MAKE.findall(command.strip()):
                assert target in targets, f"{page.name}: no make target {target!r} in {line!r}"


def test_the_readme_stays_an_overview():
    assert len((REPO / "README.md").read_text().splitlines()) <= 200
    assert "make train" in (REPO / "README.md").read_text() and "make test" in (REPO / "README.md").read_text()
