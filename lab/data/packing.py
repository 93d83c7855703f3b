"""Tokenize documents and pack them into fixed-length blocks (no padding).

Each document is followed by the EOS token; the token stream is cut into blocks of ``seq_len``
tokens and the final partial block is dropped (as Hugging Face's ``run_clm`` ``group_texts``).
Labels equal inputs: the model shifts them, so every position predicts the next token.
"""

import contextlib
from collections.abc import Iterable, Iterator

import datasets
import torch
from transformers import PreTrainedTokenizerBase


def pack_documents(
    docs: datasets.Dataset | datasets.IterableDataset, tokenizer: PreTrainedTokenizerBase, seq_len: int
) -> datasets.Dataset | datasets.IterableDataset:
    """``docs`` (a ``text`` column) -> rows of ``input_ids`` of exactly ``seq_len`` tokens."""
    eos = tokenizer.eos_token_id

    def tokenize(batch: dict) -> dict:
        ids = tokenizer(batch["text"], add_special_tokens=False)["input_ids"]
        return {"input_ids": [x + [eos] for x in ids]}

    def group(batch: dict) -> dict:
        stream = [t for ids in batch["input_ids"] for t in ids]
        usable = len(stream) // seq_len * seq_len
        return {"input_ids": [stream[i : i + seq_len] for i in range(0, usable, seq_len)]}

    if isinstance(docs, datasets.IterableDataset):
        return docs.map(tokenize, batched=True, remove_columns=["text"]).map(group, batched=True, batch_size=1000)
    with _quiet_progress():
        tokenized = docs.map(tokenize, batched=True, remove_columns=["text"], load_from_cache_file=False)
        return tokenized.map(group, batched=True, batch_size=1000, load_from_cache_file=False)


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
