"""Load one configured data source with Hugging Face ``datasets`` and check its schema.

A source config names a dataset the way ``datasets.load_dataset`` does (``path``: a hub id, a local
folder, or a builder such as ``parquet`` with ``data_files``; ``name``; ``split``), optionally a seeded
subset (``shuffle_seed`` then ``limit`` rows), plus the ``schema``
of its rows: ``popqa`` (knowledge), ``numina`` (reasoning) or ``text`` (``text_column``).
"""

import glob
import hashlib
import os
from pathlib import Path
from typing import Any

import datasets
from omegaconf import DictConfig, OmegaConf

from lab.config.errors import UserError
from lab.data.schemas import schema_of


def required_columns(source: dict) -> tuple[str, ...]:
    """The columns the source's schema needs (:mod:`lab.data.schemas`)."""
    return schema_of(source).columns(source)


def _check_local_files(src: dict) -> None:
    """Name a missing local dataset folder or data file before ``datasets`` says something vaguer."""
    path = str(src["path"])
    if path.startswith((".", "/", "~")) and not Path(path).expanduser().exists():
        raise UserError(f"dataset path {path} not found; pass an existing folder/file or a hub dataset name")
    files = src.get("data_files")
    patterns = list(files.values()) if isinstance(files, dict) else [files] if files else []
    for pattern in [p for group in patterns for p in ([group] if isinstance(group, str) else group)]:
        if "://" not in pattern and not glob.glob(os.path.expanduser(pattern)):
            raise UserError(f"data file {pattern} not found; check data.sources.*.data_files")


def train_and_held_out(source: DictConfig | dict, rows: list, val_docs: int) -> tuple[list, list]:
    """(training rows, held-out rows) of a map-style source: its ``eval_split`` when set, else its last
    ``min(val_docs, len(rows) // 10)`` rows."""
    if source.get("eval_split"):
        return rows, list(load_split(source, source["eval_split"]))
    n_val = min(int(val_docs), len(rows) // 10)
    return rows[: len(rows) - n_val], rows[len(rows) - n_val :]


def row_key(row: dict) -> str:
    """A row's identity, whatever order or process it is read in: SHA-1 of its sorted items."""
    return hashlib.sha1(repr(sorted(row.items())).encode()).hexdigest()


def streamed_and_held_out(source: DictConfig | dict, stream: datasets.IterableDataset,
                          val_docs: int) -> tuple[datasets.IterableDataset, list]:
    """(the training stream, held-out rows) of a streamed source: the first rows of its ``eval_split`` (streamed)
    when set, else the stream's own first rows, which the training stream then leaves out by content (a skip would
    not do: datasets splits a skip between loader workers and reseeds a shuffle in each). As many as ``val_docs``, a
    tenth of ``limit`` at most where the stream is cut to one (so most of it is left to train on)."""
    limit = source.get("limit")
    count = min(int(val_docs), int(limit) // 10) if limit else int(val_docs)
    if source.get("eval_split"):
        return stream, list(load_split(source, source["eval_split"]).take(count))
    held = list(stream.take(count))
    keys = {row_key(row) for row in held}
    return stream.filter(lambda row, k=keys: row_key(row) not in k), held


def load_split(source: DictConfig | dict, split: str) -> datasets.Dataset | datasets.IterableDataset:
    """``split`` of the source, with its columns checked; one clear :class:`UserError` on any failure."""
    src: dict[str, Any] = OmegaConf.to_container(source, resolve=True) if isinstance(source, DictConfig) else dict(source)
    columns = required_columns(src)
    if not src.get("path"):
        raise UserError("data source has no path: set data.sources.<name>.path to a dataset name or folder")
    _check_local_files(src)
    kwargs = {k: src[k] for k in ("name", "data_files", "data_dir", "revision") if src.get(k) is not None}
    try:
        data = datasets.load_dataset(src["path"], split=split, streaming=bool(src.get("streaming")), **kwargs)
    except FileNotFoundError as err:
        raise UserError(f"dataset {src['path']!r} not found ({str(err).splitlines()[0]}); check data.sources.*.path / data_files") from None
    except (ValueError, datasets.exceptions.DatasetNotFoundError, ConnectionError) as err:
        raise UserError(f"cannot load split {split!r} of dataset {src['path']!r}: {str(err).splitlines()[0]}") from None
    names = data.column_names or list(next(iter(data)).keys())
    missing = [c for c in columns if c not in names]
    if missing:
        hint = " (set text_column=...)" if src.get("schema") == "text" else ""
        raise UserError(f"dataset {src['path']!r} split {split!r} lacks column(s) {missing}{hint}; it has {names}")
    if src.get("shuffle_seed") is not None:  # a seeded subset (with limit) instead of the first rows
        data = data.shuffle(seed=src["shuffle_seed"])
    if src.get("limit") and isinstance(data, datasets.Dataset):
        data = data.select(range(min(src["limit"], len(data))))
    elif src.get("limit"):
        data = data.take(src["limit"])
    return data
