"""``python -m vindex.build_memory <vindex overrides>``: build a vindex and report what it cost, as one JSON line.

    {"rss_before_bytes": ..., "peak_rss_bytes": ..., "seconds": ...}

Run it in a fresh process: the peak (``ru_maxrss``) is the process's, and ``rss_before_bytes`` is taken after
the imports and the config, so ``peak - before`` is what the build itself holds at most.
"""

import json
import sys
import time

from hydra import compose

import lab  # noqa: F401  (registers the config resolvers)
from lab.config.registry import composing
from lab.train.memory import peak_rss_bytes, rss_bytes
from vindex.build import build


def main(overrides: list[str]) -> dict:
    with composing():
        cfg = compose(config_name="vindex", overrides=overrides)
    before, start = rss_bytes(), time.perf_counter()
    build(cfg)
    return {"rss_before_bytes": before, "peak_rss_bytes": peak_rss_bytes(),
            "seconds": time.perf_counter() - start}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
