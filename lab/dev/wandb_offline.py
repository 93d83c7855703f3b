"""Read an offline W&B run (``run-*.wandb``) back from disk, without the W&B service.

wandb >= 0.31 ships no Python reader for these files. The format: a 7-byte header
(``":W&B"``, uint16 magic ``0xBEE1``, uint8 version 0), then a LevelDB-style log: 32 KiB blocks of
records, each with a 7-byte header (uint32 checksum, uint16 length, uint8 type: 1 full, 2 first,
3 middle, 4 last); a block tail shorter than 7 bytes is zero padding. Each assembled record is a
protobuf ``wandb.proto.wandb_internal_pb2.Record``.

    python -m lab.dev.wandb_offline runs/ablations/<run>/wandb/offline-run-*/   # prints config, summary, last history row
"""

import json
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2 as pb

FILE_HEADER = struct.Struct("<4sHB")
RECORD_HEADER = struct.Struct("<IHB")
BLOCK_SIZE = 32 * 1024
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def iter_records(path: Path) -> Iterator[pb.Record]:
    """Every protobuf ``Record`` of a ``.wandb`` file, in order."""
    data = Path(path).read_bytes()
    ident, magic, version = FILE_HEADER.unpack_from(data, 0)
    if ident != b":W&B" or magic != 0xBEE1 or version != 0:
        raise ValueError(f"{path} is not a W&B transaction log (header {ident!r}, {magic:#x}, v{version})")
    pos, pending = FILE_HEADER.size, b""
    while pos + RECORD_HEADER.size <= len(data):
        left_in_block = BLOCK_SIZE - pos % BLOCK_SIZE
        if left_in_block < RECORD_HEADER.size:
            pos += left_in_block
            continue
        _checksum, length, kind = RECORD_HEADER.unpack_from(data, pos)
        pos += RECORD_HEADER.size
        payload, pos = data[pos : pos + length], pos + length
        if kind == 0 and length == 0:  # zero padding at the end of a block or file
            continue
        if kind == FULL:
            pending = payload
        elif kind == FIRST:
            pending = payload
            continue
        elif kind == MIDDLE:
            pending += payload
            continue
        elif kind == LAST:
            pending += payload
        else:
            raise ValueError(f"{path}: bad record type {kind} at byte {pos - length - RECORD_HEADER.size}")
        record = pb.Record()
        record.ParseFromString(pending)
        yield record


def _key(item: Any) -> str:
    return item.key or "/".join(item.nested_key)


def _value(item: Any) -> Any:
    if item.value_json:
        return json.loads(item.value_json)
    kind = item.WhichOneof("value") if "value" in item.DESCRIPTOR.oneofs_by_name else None
    if kind and kind != "none":
        value = getattr(item, kind)
        return json.loads(value) if kind == "json" else value
    return None


@dataclass
class OfflineRun:
    """What an offline run holds: run record fields, config, every history row, the final summary."""

    run: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)


def read_run(path: str | Path) -> OfflineRun:
    """Parse a run folder (``offline-run-*``) or its ``run-*.wandb`` file."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.wandb"))
        if not files:
            raise FileNotFoundError(f"no .wandb file in {path}")
        path = files[0]
    out = OfflineRun()
    for record in iter_records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            r = record.run
            out.run = {"id": r.run_id, "project": r.project, "entity": r.entity, "name": r.display_name,
                       "group": r.run_group, "job_type": r.job_type, "tags": list(r.tags), "resume": bool(r.resume)}
            out.config.update({_key(i): _value(i) for i in r.config.update})
        elif kind == "config":
            out.config.update({_key(i): _value(i) for i in record.config.update})
        elif kind == "history":
            out.history.append({_key(i): _value(i) for i in record.history.item})
        elif kind == "summary":
            out.summary.update({_key(i): _value(i) for i in record.summary.update})
    return out


def find_runs(root: str | Path) -> list[Path]:
    """Every offline run folder below ``root``."""
    return sorted(p for p in Path(root).rglob("offline-run-*") if p.is_dir())


def main() -> None:
    for arg in sys.argv[1:] or ["."]:
        for folder in find_runs(arg) if not Path(arg).name.startswith("offline-run-") else [Path(arg)]:
            run = read_run(folder)
            print(json.dumps({"folder": str(folder), "run": run.run, "summary": run.summary,
                              "history_rows": len(run.history), "last_row": run.history[-1] if run.history else None},
                             indent=2, default=str))


if __name__ == "__main__":
    main()
