"""Child processes that stop with their parent.

Ctrl-C signals the whole foreground process group, but ``kill <pid>`` of a command signals that process alone: its
worker processes and the runs they started would go on writing into its output folder. On Linux a child can ask
the kernel for a signal when the thread that started it exits (``prctl(PR_SET_PDEATHSIG)``, kept across
``exec``); :func:`die_with_parent` asks for ``SIGKILL``, in a pool's initializer or as a ``subprocess``
``preexec_fn``. Not ``SIGTERM``: Lightning catches it inside ``Trainer.fit`` and stops the fit, after which a pool
worker waits for its dead parent's next task for ever. A run killed so resumes from its last checkpoint like any
killed run. Elsewhere there is no such call and nothing is set.
"""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # linux/prctl.h
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None  # loaded before any fork


def die_with_parent(parent: int | None = None) -> None:
    """SIGKILL this process when its parent exits (Linux; a no-op elsewhere). With ``parent`` (the pid that started
    it), exit at once if that parent is already gone: it may have died before the request was made."""
    if _LIBC is None:
        return
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if parent is not None and os.getppid() != parent:
        os._exit(1)
