"""``lab.train.memory``: a command's peak RSS is its own, whatever started it."""

import subprocess
import sys

from lab.train.memory import peak_rss_bytes, rss_bytes
from tests.conftest import child_env

GIB = 2**30


def test_a_child_reports_its_own_peak_not_its_parents():
    ballast = b"\x01" * (2 * GIB)  # written, so resident: this process's peak is now above 2 GiB
    assert peak_rss_bytes() >= rss_bytes() > 2 * GIB
    probe = "from lab.train.memory import peak_rss_bytes; print(peak_rss_bytes())"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=child_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert int(proc.stdout.split()[-1]) < GIB  # ru_maxrss would report the 2 GiB of the parent here
    del ballast
