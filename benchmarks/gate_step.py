"""Benchmark 2: the cost of one gate-training step.

Three steps on the same random Qwen3 (hidden 512, 4 layers, intermediate 1,536, vocabulary 32,000) and the same
retain batch (4 × 256 tokens), each in a fresh process so that its peak RSS is its own:

* ``plain``: one forward + backward of the model's own LM loss into every weight (a normal training step);
* ``gates``: our step, :func:`gates.losses.retain_loss` - base forward under no_grad with the gates bypassed,
  gated forward of the *same* weights, T²·KL in vocabulary chunks with its gradient computed in the forward
  pass (:class:`gates.losses.FusedChunkedKL`, the LM head being frozen), backward into the λ only;
* ``two_copy``: the naive implementation of the same loss - a deep-copied teacher, full logits of both
  models, KL over the full [B, T, V] tensors, backward through the student (frozen weights, λ trainable).

Memory is the weights a step needs (one copy, or two) plus the peak RSS the step itself adds (sampled every
millisecond during the first step: activations, logits, gradients), so the interpreter and torch, which every
variant carries alike, do not hide the difference; the whole process's peak RSS is reported beside it.

Targets: gates ≤ 1.5× the plain step's time and ≤ 0.6× the two-copy step's memory.

    python -m benchmarks.gate_step
"""

import argparse
import copy
import json
import subprocess
import sys

import torch

from benchmarks.common import (
    PeakRSS,
    best_time,
    matmul_gflops,
    peak_rss_mib,
    print_table,
    random_qwen3,
    write_result,
)

CONFIG = {"hidden_size": 512, "intermediate_size": 1536, "num_hidden_layers": 4, "num_attention_heads": 8,
          "num_key_value_heads": 4, "head_dim": 64, "vocab_size": 32000, "tie_word_embeddings": True}
BATCH, SEQ = 4, 256
SMOKE = {**CONFIG, "hidden_size": 64, "intermediate_size": 192, "num_hidden_layers": 2, "num_attention_heads": 4,
         "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 1000}  # --smoke: the same code path on a small model


def step_fn(kind: str, config: dict = CONFIG):
    from gates.gated_ffn import gate_logits, gates_bypassed, patch_gates
    from gates.losses import kl_from_logits, retain_loss

    model = random_qwen3(**config).train()
    ids = torch.randint(0, config["vocab_size"], (BATCH, SEQ), generator=torch.Generator().manual_seed(1))
    if kind == "plain":
        def step():
            model.zero_grad(set_to_none=True)
            model(input_ids=ids, labels=ids).loss.backward()
        return step, [model]
    patch_gates(model)
    for name, p in model.named_parameters():
        p.requires_grad_(name.endswith("lambda_logits"))
    if kind == "gates":
        def step():
            model.zero_grad(set_to_none=True)
            retain_loss(model, {"input_ids": ids}, temperature=2.0).backward()
            assert gate_logits(model).shape[0] == config["num_hidden_layers"]
        return step, [model]
    teacher = copy.deepcopy(model).eval()

    def step():
        model.zero_grad(set_to_none=True)
        with torch.no_grad(), gates_bypassed(teacher):
            base = teacher(input_ids=ids).logits
        kl_from_logits(base, model(input_ids=ids).logits, temperature=2.0).mean().backward()
    return step, [model, teacher]


def measure_one(kind: str, repeats: int = 3, config: dict = CONFIG) -> dict:
    """In this process: time the step (best of ``repeats`` after a warm-up) and report the peak RSS."""
    step, models = step_fn(kind, config)
    model_mib = sum(p.numel() * p.element_size() for m in models for p in m.parameters()) / 2**20
    with PeakRSS() as memory:
        step()
    seconds = best_time(step, repeats=repeats)
    return {"seconds": seconds, "peak_rss_mib": peak_rss_mib(),
            "step_memory_mib": memory.over_base_mib, "model_mib": model_mib, "tokens_per_s": BATCH * SEQ / seconds}


def run(rounds: int = 2, smoke: bool = False) -> dict:
    gflops = matmul_gflops(256 if smoke else 2048)
    results: dict[str, list[dict]] = {"plain": [], "gates": [], "two_copy": []}
    for _ in range(rounds):  # interleaved, so a slow minute hits every kind alike
        for kind in results:
            if smoke:  # in this process, one timed step: the code path, not the numbers
                results[kind].append(measure_one(kind, repeats=1, config=SMOKE))
                continue
            out = subprocess.run([sys.executable, "-m", "benchmarks.gate_step", "--one", kind], capture_output=True, text=True,
                                 check=True)
            results[kind].append(json.loads(out.stdout.strip().splitlines()[-1]))
    best = {kind: min(runs, key=lambda r: r["seconds"]) | {"peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
                                                           "step_memory_mib": max(r["step_memory_mib"] for r in runs)}
            for kind, runs in results.items()}
    return {"config": SMOKE if smoke else CONFIG, "batch": [BATCH, SEQ], "matmul_gflops": gflops, "runs": results, "best": best,
            "gates_time_vs_plain": best["gates"]["seconds"] / best["plain"]["seconds"],
            "gates_memory_vs_two_copy": (best["gates"]["step_memory_mib"] + best["gates"]["model_mib"])
            / (best["two_copy"]["step_memory_mib"] + best["two_copy"]["model_mib"]),
            "targets": {"gates_time_vs_plain": "<= 1.5", "gates_memory_vs_two_copy": "<= 0.6"}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gate_step", description=__doc__.splitlines()[0])
    parser.add_argument("--one", metavar="KIND", help="measure one kind of step in this process (internal)")
    parser.add_argument("--smoke", action="store_true", help="the smallest path (one round in this process, on a small model); writes no result")
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure_one(args.one)))
        return
    result = run(rounds=1, smoke=True) if args.smoke else run()
    path = "(smoke run, not written)" if args.smoke else write_result("gate_step", result)
    rows = [[kind, r["seconds"], r["tokens_per_s"], r["model_mib"] + r["step_memory_mib"], r["peak_rss_mib"]]
            for kind, r in result["best"].items()]
    rows += [["gates / plain time", result["gates_time_vs_plain"], "target <= 1.5", "", ""],
             ["gates / two-copy memory", result["gates_memory_vs_two_copy"], "target <= 0.6", "", ""]]
    print_table(f"one gate-training step (matmul {result['matmul_gflops']:.0f} GFLOP/s) -> {path}",
                ["step", "seconds", "tokens/s", "weights + step peak (MiB)", "process peak RSS (MiB)"], rows)


if __name__ == "__main__":
    main()
