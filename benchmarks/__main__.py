"""``python -m benchmarks [NAME ...]`` (``make bench``): run the named benchmarks, or all of them."""

import importlib
import sys

BENCHMARKS = ["trainer", "svd", "vindex_build", "gate_step", "scaling"]


def main(argv: list[str]) -> None:
    names = argv or BENCHMARKS
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        sys.exit(f"error: unknown benchmark(s) {unknown}; valid: {', '.join(BENCHMARKS)}")
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        sys.argv = [f"benchmarks.{name}"]
        module.main()


if __name__ == "__main__":
    main(sys.argv[1:])
