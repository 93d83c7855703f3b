"""The layers of the suite: ``lab`` is the ground floor and imports none of the tools above it."""

import ast
from dataclasses import fields
from pathlib import Path

from lab.runs.folder_kinds import folder_kinds

REPO = Path(__file__).resolve().parents[1]
TOOLS = {"ablations", "gates", "vindex"}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_module_under_lab_imports_a_tool():
    upward = {str(p.relative_to(REPO)): sorted(imported_packages(p) & TOOLS) for p in sorted((REPO / "lab").rglob("*.py"))}
    assert {k: v for k, v in upward.items() if v} == {}


def test_each_tool_registers_its_folder_kinds():
    kinds = {k.name: k for k in folder_kinds()}
    assert list(kinds) == ["study", "ablations", "gates", "vindex"]  # the study first: it is also an ablation sweep
    assert all(k.report is not None for k in kinds.values()) and kinds["vindex"].verify is not None
    assert {k.matches.__module__.split(".")[0] for k in kinds.values()} == TOOLS


def imported_modules(path: Path) -> set[str]:
    """Every absolute module name ``path`` imports (``import a.b``, ``from a.b import c``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return names


def test_the_tools_never_import_the_development_tooling():
    """``lab.dev`` (local SLURM, synthetic checkpoints, the offline W&B reader) is for tests and benchmarks only."""
    used = {str(p.relative_to(REPO)): sorted(m for m in imported_modules(p) if m == "lab.dev" or m.startswith("lab.dev."))
            for tool in sorted(TOOLS) for p in sorted((REPO / tool).rglob("*.py"))}
    assert {k: v for k, v in used.items() if v} == {}
    product = {str(p.relative_to(REPO)) for p in (REPO / "lab").rglob("*.py") if "dev" not in p.relative_to(REPO / "lab").parts
               and any(m.startswith("lab.dev") for m in imported_modules(p))}
    assert product == set()


def test_the_ground_floor_is_a_few_sub_packages():
    entries = sorted(p.name for p in (REPO / "lab").iterdir() if p.name != "__pycache__")
    assert entries == ["__init__.py", "config", "data", "dev", "evaluate", "model", "plan", "report", "runs", "train"]


def test_the_ground_floor_holds_no_gate_rules():
    """Gates type their own node (``gates.schema.GatesConfig``, an entry point); lab's rules and schema name none."""
    from gates.schema import GatesConfig
    from lab.config.schema import TRAINING_NODES, RunKeys, typed_nodes

    assert not any(f.name.startswith("gates") for f in fields(RunKeys)) and "gates" not in TRAINING_NODES
    assert typed_nodes()["gates"] is GatesConfig


def test_the_ground_floor_reads_no_gate_config():
    """The planner's gate terms are the tool's (``plan_terms: gates.plan.gate_terms``): no lab module reads a
    ``gates`` config node or branches on one."""
    import re

    pattern = re.compile(r"cfg\.gates\b|[\"']gates[\"'] in cfg|cfg\[[\"']gates[\"']\]")
    offenders = [str(p.relative_to(REPO)) for p in (REPO / "lab").rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []
    assert (REPO / "conf" / "gates_train.yaml").read_text().count("plan_terms: gates.plan.gate_terms") == 1


def test_importing_the_ground_floor_imports_no_tool():
    """``import lab`` registers nothing and imports no tool: every command registers every typed node, from
    pyproject's entry points, before it composes (lab.config.schema.register_schemas)."""
    import subprocess
    import sys

    code = "import sys, lab; print(sorted(m for m in ('gates', 'ablations', 'vindex') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
