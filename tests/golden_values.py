"""Values recorded before a refactor, compared after it: a change meant to keep behaviour (issue 26's redesign)
must give the same losses, step by step, and the same weights. Recorded on one machine, compared on any: CPU float
results differ in the last bits between machines, so elsewhere the comparison allows a relative 1e-4; on a machine
like the recording one (same CPU model, architecture, torch and threads) the weights must be bit-identical (their sha256).
The main job's weights were bit-identical before the redesign (21e5eac) and after it, on the recording machine.
The gate run's values were recorded again when issue 25 changed what gates train on (the forget facts are the
capital relation less a held-out half, gates.facts): a change of behaviour, meant.
All three were recorded again (issue 37) on an AMD EPYC of family 25, whose single-thread kernels round apart from
the first recording machine's, which the model name alone ("AMD EPYC") could not tell apart: the code before and after
that issue's refactors gave bit-identical runs there, and the new values lie within the tolerance of the old ones.
The tiny reference's and the gate run's values were recorded again (issue 40) when a run shorter than its warmup
became an error: the tests' quick reference (20 steps) had kept the recipe's 30-step warmup and now warms up over its
20 steps (tests/conftest.py QUICK_REFERENCE), a change of the fixture, meant; the main job's values stayed as recorded.

    RECORD_GOLDEN=1 pytest tests/test_golden.py tests/test_gates_cli.py -k golden    # rewrite the recorded values
"""

import hashlib
import json
import math
import os
import platform
from pathlib import Path

import torch
from safetensors.torch import load_file

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


def machine() -> str:
    """What decides CPU float results bit for bit here: the CPU model (name, family, model and stepping), the
    architecture, torch's version and its thread count (a reduction split over more threads adds in another order; ``make test``'s workers use one)."""
    cpu = platform.processor()
    if Path("/proc/cpuinfo").is_file():  # the model name alone ("AMD EPYC") spans generations whose kernels round apart
        fields = dict(line.split(":", 1) for line in Path("/proc/cpuinfo").read_text().split("\n\n")[0].splitlines() if ":" in line)
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        cpu = (f"{fields.get('model name', cpu)} (family {fields.get('cpu family', '?')}, model {fields.get('model', '?')}, "
               f"stepping {fields.get('stepping', '?')})")
    return f"{cpu} | {platform.machine()} | torch {torch.__version__} | {torch.get_num_threads()} threads"


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """A run's weights: a ``.safetensors`` file, or a ``torch.save``'d state dict (the gates' ``lambda_logits.pt``)."""
    if path.suffix == ".safetensors":
        return load_file(path)
    return torch.load(path, map_location="cpu", weights_only=True)


def fingerprint(weights: dict[str, torch.Tensor]) -> dict:
    """The sha256 of every tensor's bytes (by name), and each tensor's Σw and ‖w‖₂ in float64."""
    digest = hashlib.sha256()
    for name in sorted(weights):
        digest.update(name.encode())
        digest.update(weights[name].detach().contiguous().cpu().numpy().tobytes())
    stats = {name: [float(t.double().sum()), float(t.double().norm())] for name, t in sorted(weights.items())}
    return {"machine": machine(), "sha256": digest.hexdigest(), "tensors": stats}


def check_golden_weights(name: str, weights: dict[str, torch.Tensor]) -> None:
    """Assert ``weights`` match ``tests/golden/<name>.weights.json`` (or record them): bit-identical on a machine like
    the recording one, else each tensor's sum and norm within a relative 1e-4 (of the norm, for the sum)."""
    path = GOLDEN / f"{name}.weights.json"
    got = fingerprint(weights)
    if os.environ.get("RECORD_GOLDEN") == "1":
        path.write_text(json.dumps(got, indent=1) + "\n")
        return
    recorded = json.loads(path.read_text())
    assert sorted(got["tensors"]) == sorted(recorded["tensors"]), f"{name}: tensors differ from the recorded ones"
    if got["machine"] == recorded["machine"]:
        assert got["sha256"] == recorded["sha256"], f"{name}: weights are not bit-identical to the recorded ones"
    for tensor, (total, norm) in recorded["tensors"].items():
        got_total, got_norm = got["tensors"][tensor]
        assert math.isclose(got_norm, norm, rel_tol=REL_TOL, abs_tol=1e-6), f"{name} {tensor}: ‖w‖ {got_norm} != {norm}"
        assert abs(got_total - total) <= REL_TOL * max(norm, 1e-6) * 10, f"{name} {tensor}: Σw {got_total} != {total}"
