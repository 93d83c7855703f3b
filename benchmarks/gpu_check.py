"""``make gpu-check`` (``python -m benchmarks.gpu_check``): what a GPU node must show before the seeds run on it.

Three checks through the suite's own commands (``ablations.train``, ``gates.train``), about 5 minutes on one GPU:

1. **precision**: the tiny model trained from the same seed and data in ``bf16-mixed`` and in ``32-true``. The
   curves agree when the mean train loss of the last ``window`` steps differs by at most 5 % of the fp32 one and no
   step by more than 15 % (bf16 rounds every matmul to 8 bits of mantissa: the curves separate a little, never
   systematically).
2. **throughput at Qwen3-0.6B's shape** (random weights from :mod:`lab.dev.synthetic`, batch 8 × 1,024 tokens,
   ``bf16-mixed``): tokens/s over the steps after the warm-up, MFU = tokens/s · FLOPs per token / peak (FLOPs per
   token as :mod:`lab.plan` counts them; the peak from the GPU's name, A100 312 / H100 989 dense bf16 TFLOP/s, or
   ``--peak-tflops``), and the peak GPU memory (``torch.cuda.max_memory_allocated``) against ``lab.plan``'s
   prediction without the CUDA context: within ±25 %.
3. **the gate step** at the same shape: seconds per step and peak memory against the plan, within ±25 %.

Results go to ``benchmarks/results/gpu_check.json`` (``--out``); the exit code is 1 when a check fails.

Without a GPU it runs as a smoke test (``--smoke``, automatic on CPU): 3 steps per precision, the 0.6B shape cut to
2 layers, fp32 for the shape runs (bf16 matmuls are ~100x slower on CPU), memory reported against the plan's
peak RSS but not judged; CI runs it (``make test-scale``) so that it keeps working.

    python -m benchmarks.gpu_check [--smoke] [--out FILE] [--peak-tflops 989]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.common import RESULTS, print_table
from lab.config import PROJECT_ROOT
from lab.dev.synthetic import write_checkpoint
from lab.plan import PEAK_TFLOPS, plan
from lab.plan.memory import CUDA_CONTEXT_BYTES

REPO = PROJECT_ROOT
MEAN_TOLERANCE, STEP_TOLERANCE, MEMORY_TOLERANCE = 0.05, 0.15, 0.25
QUIET = ["logger=none", "trainer.enable_progress_bar=false", "eval.accuracy=false", "diagnostics.every_n_steps=0",
         "optimizer.warmup_fraction=0.1"]  # 30 of the precision check's 300 steps; a share, so short runs warm up too


def run(module: str, overrides: list[str], folder: Path) -> list[dict]:
    """``python -m module overrides`` into ``folder``; its ``train_metrics.json`` training rows."""
    proc = subprocess.run([sys.executable, "-m", module, *overrides, f"hydra.run.dir={folder}"], cwd=REPO, text=True,
                          capture_output=True, env={k: v for k, v in os.environ.items() if k != "WANDB_SERVICE"})
    if proc.returncode != 0:
        raise RuntimeError(f"{module} failed ({proc.returncode}):\n{(proc.stdout + proc.stderr)[-3000:]}")
    metrics = next(folder.rglob("train_metrics.json"))
    return [row for row in json.loads(metrics.read_text()) if "train/loss" in row]


def precision_check(tmp: Path, gpu: bool, steps: int, window: int) -> dict:
    common = ["model=tiny", f"trainer.max_steps={steps}", "trainer.val_check_interval=null", "trainer.limit_val_batches=0",
              f"trainer.accelerator={'gpu' if gpu else 'cpu'}", "compile.enabled=false", "seed=0", *QUIET]
    curves = {p: [r["train/loss"] for r in run("ablations.train", [*common, f"trainer.precision={p}"], tmp / p)]
              for p in ("32-true", "bf16-mixed")}
    fp32, bf16 = curves["32-true"], curves["bf16-mixed"]
    tail = min(window, len(fp32))
    mean_diff = abs(statistics.mean(bf16[-tail:]) - statistics.mean(fp32[-tail:])) / statistics.mean(fp32[-tail:])
    step_diff = max(abs(b - f) / f for b, f in zip(bf16, fp32, strict=True))
    return {"steps": steps, "window": tail, "fp32_final": fp32[-1], "bf16_final": bf16[-1], "mean_rel_diff": mean_diff,
            "max_step_rel_diff": step_diff, "tolerance": {"mean": MEAN_TOLERANCE, "step": STEP_TOLERANCE},
            "passed": mean_diff <= MEAN_TOLERANCE and step_diff <= STEP_TOLERANCE}


def peak_tflops(requested: float | None) -> float | None:
    if requested:
        return requested
    name = torch.cuda.get_device_name() if torch.cuda.is_available() else ""
    return next((peak for gpu, peak in PEAK_TFLOPS.items() if gpu in name), None)


def shape_run(module: str, config_name: str, overrides: list[str], folder: Path, gpu: bool, warmup: int, peak: float | None) -> dict:
    """Time and memory of a run at the synthetic shape against ``lab.plan``'s prediction for the same overrides."""
    start = time.perf_counter()
    rows = run(module, overrides, folder)
    wall = time.perf_counter() - start
    job = plan(config_name, [*overrides, f"trainer.accelerator={'gpu' if gpu else 'cpu'}"])["jobs"][0]
    timed = rows[warmup:] or rows[-1:]
    step_s = statistics.median(r["train/step_s"] for r in timed)
    tokens_per_step = job["tokens"] / len(rows) if job["tokens"] else None
    measured = max(r["train/peak_memory_gib"] for r in rows) * 2**30
    predicted = job["memory"]["step_bytes"] - CUDA_CONTEXT_BYTES if gpu else job["memory"]["peak_bytes"]
    result = {"steps": len(rows), "wall_s": wall, "step_s": step_s, "params": job["params"],
              "peak_memory_gib": measured / 2**30, "planned_memory_gib": predicted / 2**30,
              "memory_ratio": measured / predicted, "memory_judged": gpu}
    if tokens_per_step:
        tokens_per_s = tokens_per_step / step_s
        result.update(tokens_per_s=tokens_per_s, mfu=tokens_per_s * job["flops_per_token"] / (peak * 1e12) if peak else None)
    result["passed"] = not gpu or abs(result["memory_ratio"] - 1) <= MEMORY_TOLERANCE
    return result


def check(smoke: bool, peak: float | None) -> dict:
    gpu = torch.cuda.is_available() and not smoke
    steps, window, shape_steps = (3, 3, 3) if smoke else (300, 30, 13)
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp_name:
        tmp = Path(tmp_name)
        results = {"device": torch.cuda.get_device_name() if gpu else "cpu (smoke)", "smoke": not gpu,
                   "precision": precision_check(tmp, gpu, steps, window)}
        ckpt = tmp / "qwen3-0.6b"
        write_checkpoint(ckpt, "qwen3-0.6b", layers=2 if not gpu else None)
        shape = ["model=qwen3_0.6b", f"model.pretrained={ckpt}", f"trainer.max_steps={shape_steps}",
                 f"data.seq_len={1024 if gpu else 128}", f"data.batch_size={8 if gpu else 2}",
                 f"trainer.precision={'bf16-mixed' if gpu else '32-true'}", f"trainer.accelerator={'gpu' if gpu else 'cpu'}",
                 "trainer.val_check_interval=null", "trainer.limit_val_batches=0", *QUIET]
        results["throughput"] = shape_run("ablations.train", "train", [*shape, "artifacts.formats=[safetensors]", "compile.enabled=false"],
                                          tmp / "train", gpu, warmup=3 if gpu else 1, peak=peak_tflops(peak))
        gate = [o for o in shape if not o.startswith(("eval.", "diagnostics.", "optimizer.", "trainer.val_check", "trainer.limit_val"))] + ["data=tiny"]
        results["gate_step"] = shape_run("gates.train", "gates_train", gate, tmp / "gates", gpu, warmup=3 if gpu else 1, peak=None)
    results["passed"] = all(results[k]["passed"] for k in ("precision", "throughput", "gate_step"))
    return results


def _judged(result: dict) -> str:
    return str(result["passed"]) if result["memory_judged"] else "reported (smoke)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--smoke", action="store_true", help="small sizes on any device (the default without a GPU)")
    parser.add_argument("--out", type=Path, default=RESULTS / "gpu_check.json")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the GPU's dense bf16 peak, for MFU (default: by name)")
    args = parser.parse_args(argv)
    results = check(args.smoke, args.peak_tflops)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    p, t, g = results["precision"], results["throughput"], results["gate_step"]
    print_table(f"gpu check on {results['device']} -> {args.out}", ["check", "result", "passed"], [
        ["bf16-mixed vs fp32 loss", f"mean {p['mean_rel_diff']:.2%}, max step {p['max_step_rel_diff']:.2%}", p["passed"]],
        ["0.6B-shape train step", f"{t['step_s']:.3f} s, {t.get('tokens_per_s') or 0:,.0f} tok/s, MFU {t.get('mfu') or float('nan'):.2f}", t["passed"]],
        ["  peak memory vs plan", f"{t['peak_memory_gib']:.2f} / {t['planned_memory_gib']:.2f} GiB", _judged(t)],
        ["0.6B-shape gate step", f"{g['step_s']:.3f} s", g["passed"]],
        ["  peak memory vs plan", f"{g['peak_memory_gib']:.2f} / {g['planned_memory_gib']:.2f} GiB", _judged(g)],
    ])
    sys.exit(0 if results["passed"] else 1)


if __name__ == "__main__":
    main()
