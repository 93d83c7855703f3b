"""``SweepStatus``: a Hydra callback that makes a sweep's exit code say whether every job finished ``ok``.

Hydra's basic launcher runs every job of a sweep even when one raises, then exits with code 1 on the
first failed job. A job that *collapses* (non-finite loss, see :mod:`lab.train.health`) returns normally,
so Hydra would exit 0: at the end of the sweep this callback reads the sweep's ``all_*.json`` summaries
and exits with code 1 if any job's status is in ``fail_on`` (``failed`` and ``collapsed`` by default), after
one line listing them. Where collapses are results, not faults (the norm study sweeps learning rates up to
where variants diverge), ``fail_on: [failed]`` lists them in a note and the sweep exits 0.
"""

import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from lab.config.command import SWEEP_LAUNCHED
from lab.runs.artifacts import read_json


def unfinished_jobs(sweep_dir: Path) -> dict[str, str]:
    """``{job: status}`` of every summary entry under ``sweep_dir`` whose status is not ``ok``."""
    bad = {}
    for summary in sorted(Path(sweep_dir).glob("all_*.json")):
        for name, entry in read_json(summary).items():
            if entry.get("status") != "ok":
                bad[name] = str(entry.get("status"))
    return bad


class SweepStatus(Callback):
    def __init__(self, fail_on: list[str] | tuple[str, ...] = ("failed", "collapsed")) -> None:
        self.fail_on = tuple(fail_on)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        SWEEP_LAUNCHED.set()  # the config composed: a code 1 from here on is a job's or this callback's, not a usage error

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        unfinished = unfinished_jobs(sweep_dir)
        bad = {name: status for name, status in unfinished.items() if status != "collapsed" or "collapsed" in self.fail_on}
        noted = {name: status for name, status in unfinished.items() if name not in bad}
        if noted:
            print(f"note: {len(noted)} run(s) collapsed, results of the sweep: {', '.join(noted)}; see {sweep_dir}", flush=True)
        if bad:
            listed = ", ".join(f"{name} ({status})" for name, status in bad.items())
            print(f"error: {len(bad)} job(s) of the sweep did not finish ok: {listed}; see {sweep_dir}", file=sys.stderr, flush=True)
            raise SystemExit(1)
