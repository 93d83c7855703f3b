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


@pytest.mark.long
def test_every_benchmark_runs_its_smoke_path_and_writes_no_result(capfd):
    assert set(OPTIM) == set(OptimizerConfig.__dataclass_fields__)  # the trainer benchmark's optimizer is the typed one
    before = {path: path.stat().st_mtime_ns for path in RESULTS.glob("*.json")}
    assert run_module("benchmarks", ["--smoke"]) == 0
    out = capfd.readouterr().out
    assert out.count("(smoke run, not written)") == len(BENCHMARKS) - 1 and "training step, smoke run" in out
    assert {path: path.stat().st_mtime_ns for path in RESULTS.glob("*.json")} == before
