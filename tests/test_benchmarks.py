"""``make bench`` keeps running: every benchmark's smallest path (``python -m benchmarks --smoke``) runs here, so a
change that breaks one fails the suite (``python -m benchmarks.trainer --one`` once ended in a missing-key error that
no test saw). The numbers are the benchmarks' own (benchmarks/results/*.json): a smoke run writes none of them."""

import pytest

from benchmarks.__main__ import BENCHMARKS
from benchmarks.common import RESULTS
from benchmarks.trainer import OPTIM
from lab.config.schema import OptimizerConfig
from tests.conftest import run_module

pytestmark = pytest.mark.slow


def test_the_trainer_benchmark_builds_its_optimizer_from_the_typed_node():
    assert set(OPTIM) == set(OptimizerConfig.__dataclass_fields__)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_each_benchmark_runs_its_smoke_path_and_writes_no_result(name, capfd):
    """One benchmark's smallest path in this process (what ``python -m benchmarks --smoke`` runs for each)."""
    before = {path: path.stat().st_mtime_ns for path in RESULTS.glob("*.json")}
    assert run_module(f"benchmarks.{name}", ["--smoke"]) == 0
    out = capfd.readouterr().out
    assert ("training step, smoke run" in out) if name == "trainer" else ("(smoke run, not written)" in out)
    assert {path: path.stat().st_mtime_ns for path in RESULTS.glob("*.json")} == before


def test_the_dispatcher_runs_a_named_benchmark_s_smoke_path_and_refuses_an_unknown_one(capfd):
    assert run_module("benchmarks", ["svd", "--smoke"]) == 0 and "(smoke run, not written)" in capfd.readouterr().out
    assert run_module("benchmarks", ["nope"]) == 2 and "unknown benchmark(s) ['nope']" in capfd.readouterr().err
