"""Whether a run's training steps are compiled: ``compile.enabled`` = ``true`` | ``false`` | ``auto`` (the default).

``auto`` compiles when the run is long enough for the one-off compile to pay for itself: at least
``compile.auto_min_steps`` optimizer steps (see :class:`lab.config.schema.CompileConfig` for the measured cost and gain behind the
default). Inductor, the default backend, builds C++ kernels on a CPU: without a C++ compiler on the machine
a run that asked for compilation (``true`` or ``auto``) trains eagerly after one warning line.
"""

import logging
import os
import shutil

from lab.config.schema import CompileConfig

log = logging.getLogger(__name__)
CXX_NAMES = ("g++", "c++", "clang++")


def cxx_available() -> bool:
    """Whether a C++ compiler Inductor could use is on this machine (``$CXX`` or one of :data:`CXX_NAMES`)."""
    return any(shutil.which(name) for name in ((os.environ.get("CXX") or "").split()[:1] + list(CXX_NAMES)))


def should_compile(compile_cfg: CompileConfig, max_steps: int, on_gpu: bool) -> bool:
    """The decision of the module docstring for a run of ``max_steps`` optimizer steps (-1: bounded by epochs)."""
    enabled = compile_cfg.enabled
    if enabled == "auto":
        enabled = max_steps >= compile_cfg.auto_min_steps or max_steps < 0
    if not enabled:
        return False
    if compile_cfg.backend == "inductor" and not on_gpu and not cxx_available():
        log.warning("compile.enabled: no C++ compiler on this machine for Inductor; training eagerly "
                    "(install g++, or pass compile.enabled=false to silence this)")
        return False
    return True
