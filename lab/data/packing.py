"""Tokenize documents and pack them into fixed-length blocks (no padding).

Each document is followed by the EOS token; the token stream is cut into blocks of ``seq_len``
tokens and the final partial block is dropped (as Hugging Face's ``run_clm`` ``group_texts``).
Labels equal inputs: the model shifts them, so every position predicts the next token.

Packing a real corpus takes seconds (tokenizing 3.5 M tokens is most of a short job's setup), and the jobs of a sweep
with the same seed pack the same documents in the same order: with a ``cache_dir`` the blocks are kept as an Arrow
file named by the SHA-256 of what they depend on (:data:`PACKING_FORMAT`, the tokenizer, the EOS id, ``seq_len`` and
the documents in their order), written by ``datasets`` through a temporary file and a rename, so concurrent jobs never
read a partial one. A cache that cannot be read or written costs time, never the run: a file that does not load is
moved aside (``.damaged``) and the blocks are packed again. The cache is ``datasets``' own folder
(:func:`packing_cache_dir`); deleting ``lab_packed_blocks`` there clears it.
"""

import contextlib
import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import datasets
import pyarrow as pa
import torch
from transformers import PreTrainedTokenizerBase

log = logging.getLogger(__name__)

GROUP_BATCH = 1000   # documents per grouping batch: each batch drops its own last partial block
PACKING_FORMAT = f"eos-after-each-document,no-special-tokens,group-batch-{GROUP_BATCH},v1"  # in the cache key: change it
                                                                                      # with anything else packing does


def pack_documents(
    docs: datasets.Dataset | datasets.IterableDataset, tokenizer: PreTrainedTokenizerBase, seq_len: int,
    cache_dir: Path | None = None,
) -> datasets.Dataset | datasets.IterableDataset:
    """``docs`` (a ``text`` column) -> rows of ``input_ids`` of exactly ``seq_len`` tokens; read from
    ``cache_dir`` when the same documents were packed the same way before (map-style ``docs`` only)."""
    eos = tokenizer.eos_token_id

    def tokenize(batch: dict) -> dict:
        ids = tokenizer(batch["text"], add_special_tokens=False)["input_ids"]
        return {"input_ids": [x + [eos] for x in ids]}

    def group(batch: dict) -> dict:
        stream = [t for ids in batch["input_ids"] for t in ids]
        usable = len(stream) // seq_len * seq_len
        return {"input_ids": [stream[i : i + seq_len] for i in range(0, usable, seq_len)]}

    if isinstance(docs, datasets.IterableDataset):
        return docs.map(tokenize, batched=True, remove_columns=["text"]).map(group, batched=True, batch_size=GROUP_BATCH)
    if cache_dir is None or not getattr(tokenizer, "is_fast", False):
        return _pack(docs, tokenize, group, None)
    texts = docs.with_format("arrow")["text"].to_pylist()  # through the indices of a select or shuffle view
    cached = Path(cache_dir) / f"blocks-{packing_key(texts, tokenizer, seq_len)}.arrow"
    try:
        if cached.is_file():
            return datasets.Dataset.from_file(str(cached))
    except (OSError, pa.ArrowInvalid) as err:
        log.warning("cached packed blocks %s do not load (%s); moved aside to %s.damaged, packing again", cached, err, cached.name)
        with contextlib.suppress(OSError):
            cached.replace(cached.with_name(cached.name + ".damaged"))
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        return _pack(docs, tokenize, group, cached)
    except OSError as err:  # a full or read-only cache costs time, never the run
        log.warning("packed blocks not cached at %s (%s); packing in memory", cached, err.strerror or err)
        return _pack(docs, tokenize, group, None)


def _pack(docs: datasets.Dataset, tokenize: Callable, group: Callable, cached: Path | None) -> datasets.Dataset:
    with _quiet_progress():
        tokenized = docs.map(tokenize, batched=True, remove_columns=["text"], load_from_cache_file=False)
        return tokenized.map(group, batched=True, batch_size=GROUP_BATCH, load_from_cache_file=False,
                             cache_file_name=None if cached is None else str(cached))


def packing_key(texts: list[str], tokenizer: PreTrainedTokenizerBase, seq_len: int) -> str:
    """SHA-256 of everything the packed blocks depend on: :data:`PACKING_FORMAT`, the tokenizer (its full serialised
    state), EOS, ``seq_len`` and the documents in order (each one's length first, so no two lists of documents share a
    byte stream)."""
    digest = hashlib.sha256(PACKING_FORMAT.encode())
    digest.update(tokenizer.backend_tokenizer.to_str().encode())
    digest.update(f"\0{tokenizer.eos_token_id}\0{seq_len}\0".encode())
    for text in texts:
        data = text.encode()
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def block_collate(rows: list[dict]) -> dict[str, torch.Tensor]:
    """Packed blocks as a causal-LM batch: ``input_ids`` [batch, seq_len], and the same ids as ``labels``."""
    ids = torch.tensor([r["input_ids"] for r in rows], dtype=torch.long)
    return {"input_ids": ids, "labels": ids}


@contextlib.contextmanager
def _quiet_progress() -> Iterator[None]:
    """In-memory maps take well under a second: their progress bars are noise."""
    was_enabled = datasets.utils.logging.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


def count_tokens(rows: Iterable[dict]) -> int:
    return sum(len(r["input_ids"]) for r in rows)


def packing_cache_dir() -> Path:
    """Where packed blocks are cached: under ``datasets``' own cache (``HF_DATASETS_CACHE``, or ``HF_HOME``'s
    ``datasets``), where a user of the library looks for processed data and knows how to move or clear it."""
    return Path(datasets.config.HF_DATASETS_CACHE) / "lab_packed_blocks"
