"""``python -m benchmarks [NAME ...]`` (``make bench``): run the named benchmarks, or all of them."""

import argparse
import importlib
import sys

BENCHMARKS = ["trainer", "svd", "vindex_build", "gate_step", "scaling"]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}")
    parser.add_argument("--smoke", action="store_true", help="each one's smallest path, writing no result (make test runs it)")
    args = parser.parse_args(argv)
    names = args.names or BENCHMARKS
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"error: unknown benchmark(s) {unknown}; valid: {', '.join(BENCHMARKS)}", file=sys.stderr)
        sys.exit(2)
    for name in names:
        importlib.import_module(f"benchmarks.{name}").main(["--smoke"] if args.smoke else [])


if __name__ == "__main__":
    main(sys.argv[1:])
