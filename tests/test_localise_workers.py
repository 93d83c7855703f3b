"""The benchmark's seeds in worker processes (gates.localise.benchmark.run_seeds): its own file, so that ``--dist loadfile``
runs it beside test_localise.py's end-to-end benchmark, not after it."""

import json
import os

import pytest

from tests.conftest import QUICK_REFERENCE, run_cli


@pytest.mark.slow
@pytest.mark.long
def test_seeds_run_at_once_in_worker_processes_give_what_one_process_gives(tmp_path):
    """On an empty ``paths.runs`` (a first run from a fresh clone), the benchmark trains the reference once before
    its two seeds start in two spawned processes (one torch thread each on 2 cores); then seed 1 again alone in the
    command's own process at the same thread count: the same JSON, key for key."""
    threads = max(1, (os.cpu_count() or 1) // 2)
    out, runs = tmp_path / "bench", tmp_path / "runs"
    reference = "model.reference_overrides=[" + ",".join(f"'{o}'" for o in QUICK_REFERENCE) + "]"
    common = ["methods=[random]", "modes=[hard]", "random_draws=1", "budgets=[]", "relearn.steps=[0,1]", "relearn.contrast_step=1",
              "relearn.attacks=[unrelated]", "max_new_tokens.reasoning=4", "max_new_tokens.knowledge=4", f"paths.runs={runs}",
              f"out={out}", f"train=['trainer.max_steps=1','data.batch_size=4','data.eval_limit=30',\"{reference}\"]"]
    done = run_cli(["gates.localise", "seeds=[0,1]", "workers=2", *common], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("tiny reference model not cached") == 1 and "waiting for another process" not in done.stderr
    logs = [log.read_text() for log in out.glob("seed*/*.log")]  # the gate runs the workers started found it there
    assert len(logs) == 2 and not any("tiny reference model not cached" in t or "waiting for another process" in t for t in logs)
    at_once = json.loads((out / "seed1.json").read_text())
    assert at_once["threads"] == threads and json.loads((out / "seed0.json").read_text())["seed"] == 0
    (out / "seed1.json").unlink()  # its gate run stays, finished: the rerun reuses it
    done = run_cli(["gates.localise", "seeds=[0,1]", "workers=1", *common], cwd=tmp_path, env={"OMP_NUM_THREADS": str(threads)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((out / "seed1.json").read_text()) == at_once
    assert [s["seed"] for s in json.loads((out / "benchmark.json").read_text())["per_seed"]] == [0, 1]
