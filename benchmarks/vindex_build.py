"""Benchmark 4: vindex build time and peak memory at Qwen3-8B's layer shapes, extrapolated to 36 layers.

A synthetic bf16 checkpoint (:mod:`lab.dev.synthetic`, hidden 4,096, intermediate 12,288, the tiny
vocabulary) of ``--layers`` layers is built in a fresh process (:mod:`vindex.build_memory`, ``svd`` mode, the
default); its peak RSS over
the imports and its seconds per layer are measured. The build streams one tensor at a time, so memory does not
grow with the layer count and time grows linearly: 36 × seconds per layer is Qwen3-8B's FFN part (the 151,936-
token embedding adds one streamed pass over a 1.2 GB tensor, not measured here).

    python -m benchmarks.vindex_build [--layers 4]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import matmul_gflops, print_table, write_result
from lab.dev.synthetic import write_checkpoint

HIDDEN, INTERMEDIATE, QWEN3_8B_LAYERS, TINY_VOCAB = 4096, 12288, 36, 1696


def run(layers: int, shape: str = "qwen3-8b") -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / f"{shape}-shapes"
        start = time.perf_counter()
        shard_bytes = write_checkpoint(ckpt, shape, layers=layers, vocab=TINY_VOCAB)["bytes"]
        written = time.perf_counter() - start
        proc = subprocess.run([sys.executable, "-m", "vindex.build_memory", f"source={ckpt}", f"out={Path(tmp) / 'vx'}"],
                              capture_output=True, text=True, check=True)
    cost = json.loads(proc.stdout.strip().splitlines()[-1])
    base, peak, seconds = cost["rss_before_bytes"], cost["peak_rss_bytes"], cost["seconds"]
    per_layer = seconds / layers
    return {"layers": layers, "hidden": HIDDEN, "intermediate": INTERMEDIATE, "checkpoint_gib": shard_bytes / 2**30,
            "checkpoint_write_s": written, "build_s": seconds, "seconds_per_layer": per_layer,
            "peak_rss_mib": peak / 2**20, "build_rss_over_imports_mib": (peak - base) / 2**20,
            "extrapolated_36_layers_min": per_layer * QWEN3_8B_LAYERS / 60, "matmul_gflops": matmul_gflops()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.vindex_build", description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--smoke", action="store_true", help="the smallest path (one layer at Qwen3-0.6B's shape); writes no result")
    args = parser.parse_args(argv)
    result = run(1, "qwen3-0.6b") if args.smoke else run(args.layers)
    path = "(smoke run, not written)" if args.smoke else write_result("vindex_build", result)
    print_table(f"vindex build at Qwen3-8B layer shapes -> {path}", ["measure", "value"],
                [["layers built", result["layers"]], ["seconds per layer", result["seconds_per_layer"]],
                 ["peak RSS (MiB)", result["peak_rss_mib"]], ["build RSS over imports (MiB)", result["build_rss_over_imports_mib"]],
                 ["36 layers, extrapolated (min)", result["extrapolated_36_layers_min"]],
                 ["matmul GFLOP/s", result["matmul_gflops"]]])


if __name__ == "__main__":
    main()
