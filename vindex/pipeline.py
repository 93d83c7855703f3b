"""``python -m vindex.pipeline [source=...]``: seed 002 as one command: build the vindex, measure C1-C5, run Gate 3.

    python -m vindex.pipeline experiment=seed002        # Qwen/Qwen3-8B: svd F=128, f16 files, bf16 forward passes
    python -m vindex.pipeline source=<folder | hub id>  # any Qwen3 checkpoint, with the vindex config's options

The steps are :mod:`vindex.build` (skipped when ``out`` already holds a vindex of the same source and build keys;
another config there stops with one line unless ``overwrite=true``), :mod:`vindex.constants` and
:mod:`vindex.gate3`, with the model loaded once for both measurements. Every input (source, probe, Gate 3
prompts and layers) is checked before the build starts. Ends with a summary block naming the folder.
"""

import time

from omegaconf import DictConfig

from lab.config.command import hydra_cli, hydra_command
from lab.runs.summary import print_summary
from vindex.constants import run_constants
from vindex.gate3 import gate3_inputs, run_gate3
from vindex.probe import load_model
from vindex.source import resolve_source, vindex_dir


def run_pipeline(cfg: DictConfig) -> dict:
    """Build (or reuse), constants, Gate 3; returns ``{"folder", "constants", "gate3"}``."""
    start = time.perf_counter()
    source = resolve_source(cfg)
    loaded = load_model(source, cfg)
    gate3_inputs(cfg, *loaded)  # run_constants checks the probe, then builds: Gate 3's inputs are checked first
    constants = run_constants(cfg, loaded)
    gate3 = run_gate3(cfg, loaded)
    folder = vindex_dir(cfg, source)
    best = gate3["best"]
    metrics = {**constants["summary"],
               "Gate 3": f"{'PASS' if gate3['passed'] else 'FAIL'} (layer {best['layer']}, drop {best['drop']:.1%}, "
                         f"collateral {best['collateral']:.1%})"}
    print_summary(f"vindex.pipeline {source}", "ok", time.perf_counter() - start, metrics, folder,
                  load=f'vindex.load("{folder}")', look=[f"make report RUN={folder}", f"python -m vindex.verify {folder}"])
    return {"folder": folder, "constants": constants, "gate3": gate3}


@hydra_command("vindex")
def main(cfg: DictConfig) -> None:
    run_pipeline(cfg)


if __name__ == "__main__":
    hydra_cli(main)
