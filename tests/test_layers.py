"""The layers of the suite, drawn from the imports: ``lab`` is the ground floor and imports none of the tools above it;
inside it the sub-packages stand in one order (:data:`LAB_ORDER`, docs/architecture.md), each importing only those
below it; a tool imports another only along an edge named here (:data:`TOOL_EDGES`); and no module anywhere is on an
import circle, lazy imports inside functions included."""

import ast
from dataclasses import fields
from pathlib import Path

from lab.runs.folder_kinds import folder_kinds

REPO = Path(__file__).resolve().parents[1]
TOOLS = {"ablations", "gates", "vindex"}
# lab's sub-packages, bottom first: config knows no other; runs (folders, identity, artifacts, process helpers) stands on
# config; data and model on those; evaluate grades models; train runs them; plan prices a run; report and claims read
# results; dev is tooling for tests and benchmarks
LAB_ORDER = ("config", "runs", "data", "model", "evaluate", "train", "plan", "report", "publish", "claims", "dev")
TOOL_EDGES = {("gates", "vindex")}  # gates' localisation methods use vindex's Gate 3 and features (docs/architecture.md)
PACKAGES = ("lab", *sorted(TOOLS), "benchmarks")


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
    assert entries == ["__init__.py", *sorted(LAB_ORDER)]


def test_the_ground_floor_holds_no_gate_rules():
    """Gates type their own node (``gates.schema.GatesConfig``, an entry point); lab's rules and schema name none."""
    from gates.schema import GatesConfig
    from lab.config.registry import typed_nodes
    from lab.config.schema import LAB_NODES, RunKeys

    assert not any(f.name.startswith("gates") for f in fields(RunKeys)) and "gates" not in LAB_NODES
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
    pyproject's entry points, before it composes (lab.config.registry.register_schemas)."""
    import subprocess
    import sys

    code = "import sys, lab; print(sorted(m for m in ('gates', 'ablations', 'vindex') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def module_graph() -> dict[str, set[str]]:
    """``{module: the suite's modules it imports}`` for every module of :data:`PACKAGES`, imports inside functions and
    relative imports included (an import of ``a.b.c`` counts as one of the longest module prefix that exists)."""
    files = {".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): p
             for package in PACKAGES for p in (REPO / package).rglob("*.py")}

    def known(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, *([base] if base else [])])
                targets |= {base, *(f"{base}.{alias.name}" for alias in node.names)}
        graph[module] = {m for t in targets if (m := known(t)) and m != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_module_is_on_an_import_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]  # the check finds one
    assert cycles(module_graph()) == []


def test_lab_s_sub_packages_import_only_those_below_them():
    def floor(module: str) -> int | None:
        parts = module.split(".")
        return LAB_ORDER.index(parts[1]) if parts[0] == "lab" and len(parts) > 1 and parts[1] in LAB_ORDER else None

    upward = sorted(f"{a} -> {b}" for a, bs in module_graph().items() for b in bs
                    if floor(a) is not None and floor(b) is not None and floor(b) > floor(a))
    assert upward == []


def test_a_tool_imports_another_only_along_a_named_edge():
    edges = {(a.split(".")[0], b.split(".")[0]) for a, bs in module_graph().items() for b in bs}
    assert {(a, b) for a, b in edges if a in TOOLS and b in TOOLS and a != b} <= TOOL_EDGES
    assert not {(a, b) for a, b in edges if a in TOOLS and b == "benchmarks"}  # benchmarks stand on top
