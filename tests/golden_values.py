"""Values recorded before a refactor, compared after it: a change meant to keep behaviour (issue 26's redesign)
must give the same losses, step by step. Recorded on one machine, compared on any: CPU float results differ in the
last bits between machines, so the comparison allows a relative 1e-4 (on the recording machine they were bit-equal).

    RECORD_GOLDEN=1 pytest tests/test_golden.py tests/test_gates_cli.py -k golden    # rewrite the recorded values
"""

import json
import math
import os
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"
REL_TOL = 1e-4


def metric_series(train_metrics: Path) -> dict[str, list[float]]:
    """Every ``train/loss``, ``val/loss`` (and a gate run's forget/retain losses) of a run's train_metrics.json, in order."""
    rows = json.loads(train_metrics.read_text())
    keys = ("train/loss", "val/loss", "train/forget_loss", "train/retain_loss", "gates/mean")
    return {k: [float(r[k]) for r in rows if k in r] for k in keys if any(k in r for r in rows)}


def check_golden(name: str, series: dict[str, list[float]]) -> None:
    """Assert ``series`` equals the values recorded as ``tests/golden/<name>.json`` (or record them)."""
    path = GOLDEN / f"{name}.json"
    if os.environ.get("RECORD_GOLDEN") == "1":
        path.write_text(json.dumps(series, indent=1) + "\n")
        return
    recorded = json.loads(path.read_text())
    assert set(series) == set(recorded), f"{name}: metrics {sorted(series)} != recorded {sorted(recorded)}"
    for key, values in recorded.items():
        assert len(series[key]) == len(values), f"{name} {key}: {len(series[key])} values, {len(values)} recorded"
        for step, (got, want) in enumerate(zip(series[key], values, strict=True)):
            assert math.isclose(got, want, rel_tol=REL_TOL, abs_tol=1e-6), f"{name} {key}[{step}]: {got} != recorded {want}"
