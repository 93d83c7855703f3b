"""What every benchmark shares: the machine description, a reference matmul, timing, the results file and table."""

import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import torch

from lab.train.memory import peak_rss_bytes, rss_bytes

RESULTS = Path(__file__).parent / "results"


def machine() -> dict:
    """The machine and versions a result was measured on."""
    import lightning
    import transformers

    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
            "torch": torch.__version__, "transformers": transformers.__version__, "lightning": lightning.__version__,
            "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None}


def best_time(fn: Callable[[], object], repeats: int = 3) -> float:
    """The fastest of ``repeats`` wall-clock timings of ``fn()`` in seconds (timings here swing up to 3×)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_gflops(n: int = 2048) -> float:
    """fp32 GFLOP/s of an n×n matmul, timed in this process: the yardstick every other figure is read against."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n**3 / best_time(lambda: a @ b, repeats=5) / 1e9


def write_result(name: str, result: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **result}, indent=2) + "\n")
    return path


def print_table(title: str, header: list[str], rows: list[list]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in header:
        table.add_column(column)
    for row in rows:
        table.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
    Console(width=160).print(table)


def rss_mib() -> float:
    """This process's resident set size now, in MiB."""
    return rss_bytes() / 2**20


def peak_rss_mib() -> float:
    """This process's peak resident set size so far, in MiB."""
    return peak_rss_bytes() / 2**20


def random_qwen3(**config):
    """A randomly initialised fp32 ``Qwen3ForCausalLM`` of ``Qwen3Config(**config)``, the same weights every call."""
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(0)
    return Qwen3ForCausalLM(Qwen3Config(**config)).float()


class PeakRSS:
    """Peak RSS while the ``with`` block runs, sampled every millisecond, minus the RSS when it started.

    What a step itself allocates (activations, logits, optimizer state), without the interpreter, torch and
    the model that every compared program holds alike.
    """

    def __enter__(self) -> "PeakRSS":
        import threading

        self.base = self.peak = rss_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.001):
            self.peak = max(self.peak, rss_mib())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mib())

    @property
    def over_base_mib(self) -> float:
        return self.peak - self.base
