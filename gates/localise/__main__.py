"""``python -m gates.localise``: :func:`gates.localise.benchmark.main` (conf/gates_benchmark.yaml)."""

from gates.localise.benchmark import main
from lab.config.command import hydra_cli

if __name__ == "__main__":
    hydra_cli(main)
