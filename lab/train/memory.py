"""This process's memory on Linux: resident now, and the peak so far (what the benchmarks and
:mod:`vindex.build_memory` report)."""


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        return int(f.read().split(f"{field}:")[1].split()[0])


def rss_bytes() -> int:
    """Resident set size now (``VmRSS`` of ``/proc/self/status``)."""
    return _status_kib("VmRSS") * 1024


def peak_rss_bytes() -> int:
    """Peak resident set size of this program so far (``VmHWM`` of ``/proc/self/status``).

    Not ``ru_maxrss``: Linux carries the parent's peak into a child's ``ru_maxrss`` across ``fork``/``exec``,
    so a command started by a large process (a test session, a notebook) would report the parent's peak.
    ``VmHWM`` belongs to the address space, which ``exec`` starts afresh.
    """
    return _status_kib("VmHWM") * 1024
