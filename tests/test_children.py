"""A command's workers and the runs they start stop when the command is killed (lab.runs.children)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import child_env

PARENT = """
import signal, subprocess, sys, time
from concurrent.futures import ProcessPoolExecutor
import multiprocessing, os
from lab.runs.children import die_with_parent

if __name__ == "__main__":
    # both ignore SIGTERM, as Lightning's handler does inside Trainer.fit
    sleeper = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"],
                               preexec_fn=die_with_parent)
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(1, mp_context=context, initializer=die_with_parent, initargs=(os.getpid(),))
    pool.submit(signal.signal, signal.SIGTERM, signal.SIG_IGN).result()
    pool.submit(time.sleep, 120)
    while not pool._processes:
        time.sleep(0.05)
    print(sleeper.pid, *pool._processes, flush=True)
    time.sleep(120)
"""


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped by init, counts as stopped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_killed_parents_subprocess_and_pool_worker_stop_with_it(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[1],
                              env=child_env({"PYTHONPATH": str(Path(__file__).parents[1])}))
    children = [int(pid) for pid in parent.stdout.readline().split()]
    assert len(children) == 2 and all(alive(pid) for pid in children)
    os.kill(parent.pid, signal.SIGKILL)  # kill <pid>: the parent alone is signalled, not its group
    parent.wait()
    deadline = time.monotonic() + 20
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in children)
