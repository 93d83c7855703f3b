"""Benchmark 3: the vindex's randomized top-128 SVD vs exact ``torch.linalg.svd`` and ``torch.svd_lowrank``.

At Qwen3-8B's ``gate_proj`` shape (12,288 × 4,096), on two spectra:

* decaying like a trained layer's: σ_i = i^-1 (trained FFN matrices show a power-law singular spectrum with
  exponent near 1; a stated assumption, measured on no 8B checkpoint here);
* flat, the worst case: σ_i = i^-0.5.

A = U diag(σ) Vᵀ with Haar-random U, V (QR of Gaussians), so the exact answer is known. Reported per method:
seconds, max relative error of the top-128 σ, and mean |cos| between the recovered and true top-128 right
singular vectors. Target: ≥ 10× faster than exact with σ within 1 % on the decaying spectrum.

    python -m benchmarks.svd [--rows 12288 --cols 4096 --k 128]
"""

import argparse

import torch

from benchmarks.common import best_time, matmul_gflops, print_table, write_result
from vindex.svd import randomized_svd


def synthetic(rows: int, cols: int, exponent: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A = U diag(σ) Vᵀ with σ_i = i^-exponent; returns (A, σ, Vᵀ)."""
    g = torch.Generator().manual_seed(seed)
    r = min(rows, cols)
    u, _ = torch.linalg.qr(torch.randn(rows, r, generator=g))
    v, _ = torch.linalg.qr(torch.randn(cols, r, generator=g))
    sigma = torch.arange(1, r + 1, dtype=torch.float32) ** -exponent
    return (u * sigma) @ v.T, sigma, v.T


def accuracy(s: torch.Tensor, vh: torch.Tensor, true_s: torch.Tensor, true_vh: torch.Tensor, k: int) -> tuple[float, float]:
    sigma_error = ((s[:k] - true_s[:k]).abs() / true_s[:k]).max().item()
    cosines = (vh[:k] * true_vh[:k]).sum(dim=1).abs()
    return sigma_error, cosines.mean().item()


def run(rows: int, cols: int, k: int) -> dict:
    gflops = matmul_gflops()
    methods = {
        "exact torch.linalg.svd": lambda a: torch.linalg.svd(a, full_matrices=False),
        "torch.svd_lowrank(q=k+16, niter=2)": lambda a: _lowrank(a, k, 2),
        "torch.svd_lowrank(q=k+16, niter=4)": lambda a: _lowrank(a, k, 4),
        "vindex randomized_svd (p=32, q=4)": lambda a: randomized_svd(a, k),
    }
    results = {}
    for spectrum, exponent in (("decaying σ_i = i^-1", 1.0), ("flat σ_i = i^-0.5", 0.5)):
        a, true_s, true_vh = synthetic(rows, cols, exponent)
        rows_out = {}
        for name, fn in methods.items():
            out = {}
            seconds = best_time(lambda fn=fn, out=out, a=a: out.update(r=fn(a)), repeats=1 if name.startswith("exact") else 2)
            _, s, vh = out["r"]
            sigma_error, cos = accuracy(s, vh, true_s, true_vh, k)
            rows_out[name] = {"seconds": seconds, "max_rel_sigma_error": sigma_error, "mean_abs_cos": cos}
        exact = rows_out["exact torch.linalg.svd"]["seconds"]
        for r in rows_out.values():
            r["speedup_vs_exact"] = exact / r["seconds"]
        results[spectrum] = rows_out
    return {"shape": [rows, cols], "k": k, "matmul_gflops": gflops, "spectra": results,
            "targets": {"speedup_vs_exact": ">= 10x", "max_rel_sigma_error (decaying)": "<= 1%"}}


def _lowrank(a: torch.Tensor, k: int, niter: int):
    u, s, v = torch.svd_lowrank(a, q=k + 16, niter=niter)
    return u, s, v.T


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.svd", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=12288)
    parser.add_argument("--cols", type=int, default=4096)
    parser.add_argument("--k", type=int, default=128)
    parser.add_argument("--smoke", action="store_true", help="the smallest path (a 256×128 matrix, k=8); writes no result")
    args = parser.parse_args(argv)
    if args.smoke:
        args.rows, args.cols, args.k = 256, 128, 8
    result = run(args.rows, args.cols, args.k)
    path = "(smoke run, not written)" if args.smoke else write_result("svd", result)
    table = [[spectrum, name, r["seconds"], r["speedup_vs_exact"], r["max_rel_sigma_error"], r["mean_abs_cos"]]
             for spectrum, rows in result["spectra"].items() for name, r in rows.items()]
    print_table(f"top-{args.k} SVD of {args.rows}×{args.cols} (matmul {result['matmul_gflops']:.0f} GFLOP/s) -> {path}",
                ["spectrum", "method", "seconds", "× exact", "max σ rel. error", "mean |cos| Vᵀ"], table)


if __name__ == "__main__":
    main()
