"""This process's memory on Linux: resident now, and the peak so far (what the benchmarks and
:mod:`vindex.build_memory` report)."""

import resource


def rss_bytes() -> int:
    """Resident set size now (``VmRSS`` of ``/proc/self/status``)."""
    with open("/proc/self/status") as f:
        return int(f.read().split("VmRSS:")[1].split()[0]) * 1024


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (``ru_maxrss``, which Linux reports in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
