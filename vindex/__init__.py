"""LarQL-compatible vindex of a Qwen3 checkpoint (seed 002), its constants C1-C5 and the Gate 3 DELETE test.

    python -m vindex.build [source=<hub id | folder>]     # the index
    python -m vindex.verify PATH                          # checksums, sizes, headers
    python -m vindex.constants [source=...] [probe=...]   # C1-C5 into constants.json and the card
    python -m vindex.gate3 [source=...]                   # rank-1 gate_proj DELETE patch, forward pass

``vindex.load(path)`` opens an index memory-mapped (:class:`vindex.reader.VIndex`).
"""

from vindex.reader import VIndex, load, verify

__all__ = ["VIndex", "load", "verify"]
