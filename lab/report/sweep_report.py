"""``SweepReport``: a Hydra callback that writes a sweep's report into the sweep folder when its last job ends.

``make sweep``, any ``-m`` run and ``make study`` end with ``<sweep>/report/report.md`` and its figures
(:mod:`lab.report`, by folder kind: a norm study gets the study summary) and print its path; a rerun that
skips finished jobs writes it again from everything the folder holds. A report that cannot be written is a
warning, never a failed sweep. Listed after ``sweep_status`` so that it runs first (Hydra calls
``on_multirun_end`` in reverse order) and a sweep with failed jobs still gets its report.
"""

import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from lab.report import write_report
from lab.runs.folder_kinds import kind_of


class SweepReport(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        if kind_of(sweep_dir) is None:
            return
        try:
            path = write_report(sweep_dir)
        except Exception as err:  # noqa: BLE001 - a report is a convenience; the sweep's results stand without it
            print(f"warning: the sweep's report could not be written: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
            return
        print(f"report: {path}", flush=True)
