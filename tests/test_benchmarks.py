"""``make bench`` keeps running: a benchmark's training loop is the suite's real one, fed the typed optimizer config, so a
key the schema gains cannot break it silently (``python -m benchmarks.trainer --one`` once ended in a missing-key
error that no test saw). The numbers are the benchmarks' own (benchmarks/results/*.json), never asserted here."""

import json

import pytest

from benchmarks.trainer import OPTIM, STEPS
from lab.config.schema import OptimizerConfig
from tests.conftest import run_module

pytestmark = pytest.mark.slow


def test_the_trainer_benchmark_runs_one_system_on_the_suites_typed_optimizer(capfd):
    assert set(OPTIM) == set(OptimizerConfig.__dataclass_fields__)
    assert run_module("benchmarks.trainer", ["--one", "ours_eager", "4096"]) == 0
    result = json.loads(capfd.readouterr().out.strip().splitlines()[-1])
    assert result["steps"] == STEPS[4096] and result["tokens_per_s"] > 0 and result["peak_rss_mib"] > 0
