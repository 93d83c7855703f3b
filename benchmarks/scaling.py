"""Benchmark 5: how a training step's time grows with sequence length and with model width.

A training step of a random Qwen3 (4 layers, vocabulary 4,096; the suite's AdamW, :func:`lab.train.optim.adamw_with_schedule`; fp32 on CPU) at batch 8, for three
sequence lengths at hidden 256 and three widths (hidden = 128, 256, 512, intermediate = 3 × hidden) at
sequence 256. Each point gives seconds per step, tokens/s and the model FLOPs utilisation against a matmul
timed in the same process: MFU = 6 · N_params · tokens / step time / matmul FLOP/s (attention FLOPs left out,
so MFU falls as the sequence grows). The exponent of a power-law fit tells how cost scales: ~1 in tokens at
these sizes, ~2 in width once the matmuls dominate.

    python -m benchmarks.scaling
"""

import argparse
import math

import torch

from benchmarks.common import best_time, matmul_gflops, print_table, random_qwen3, write_result
from lab.config.schema import OptimizerConfig
from lab.train.optim import adamw_with_schedule

BATCH, LAYERS, VOCAB = 8, 4, 4096


def step_time(hidden: int, seq: int) -> tuple[float, int]:
    model = random_qwen3(hidden_size=hidden, intermediate_size=3 * hidden, num_hidden_layers=LAYERS, num_attention_heads=4,
                         num_key_value_heads=2, head_dim=hidden // 4, vocab_size=VOCAB, tie_word_embeddings=True).train()
    optimizer, _ = adamw_with_schedule(model.named_parameters(), OptimizerConfig(), total_steps=1_000)  # the suite's AdamW
    ids = torch.randint(0, VOCAB, (BATCH, seq))

    def step():
        optimizer.zero_grad(set_to_none=True)
        model(input_ids=ids, labels=ids).loss.backward()
        optimizer.step()

    step()
    return best_time(step, repeats=3), sum(p.numel() for p in model.parameters())


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares exponent b of y = a · x^b."""
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sum((a - mx) ** 2 for a in lx)


def run(smoke: bool = False) -> dict:
    gflops = matmul_gflops()
    points = {"sequence": [(256, s) for s in (128, 256, 512)], "width": [(h, 256) for h in (128, 256, 512)]}
    if smoke:  # the code path at two small points per axis, not the numbers
        points = {"sequence": [(32, 16), (32, 32)], "width": [(32, 16), (64, 16)]}
    out: dict[str, list[dict]] = {}
    for axis, settings in points.items():
        out[axis] = []
        for hidden, seq in settings:
            seconds, params = step_time(hidden, seq)
            tokens = BATCH * seq
            out[axis].append({"hidden": hidden, "seq": seq, "params": params, "seconds": seconds, "tokens_per_s": tokens / seconds,
                              "mfu": 6 * params * tokens / seconds / (gflops * 1e9)})
    return {"batch": BATCH, "layers": LAYERS, "vocab": VOCAB, "matmul_gflops": gflops, "points": out,
            "exponent_in_sequence": slope([p["seq"] for p in out["sequence"]], [p["seconds"] for p in out["sequence"]]),
            "exponent_in_width": slope([p["hidden"] for p in out["width"]], [p["seconds"] for p in out["width"]])}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scaling", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="the smallest path (two tiny points per axis); writes no result")
    smoke = parser.parse_args(argv).smoke
    result = run(smoke)
    path = "(smoke run, not written)" if smoke else write_result("scaling", result)
    rows = [[axis, p["hidden"], p["seq"], p["params"], p["seconds"], p["tokens_per_s"], p["mfu"]]
            for axis, points in result["points"].items() for p in points]
    rows += [["fit: time ∝ seq^b", "", "", "", result["exponent_in_sequence"], "", ""],
             ["fit: time ∝ hidden^b", "", "", "", result["exponent_in_width"], "", ""]]
    print_table(f"training-step scaling (matmul {result['matmul_gflops']:.0f} GFLOP/s) -> {path}",
                ["axis", "hidden", "seq", "params", "s/step", "tokens/s", "MFU"], rows)


if __name__ == "__main__":
    main()
