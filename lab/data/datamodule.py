"""``CorpusDataModule``: the configured sources as packed train/val blocks plus graded eval sets."""

import itertools
import random

import datasets
import lightning as L
import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader
from torchdata.stateful_dataloader import StatefulDataLoader
from transformers import PreTrainedTokenizerBase

from lab.config.errors import UserError
from lab.config.registry import check_run_keys
from lab.data.loaders import fit_resume, resumable_loader, worker_context
from lab.data.packing import block_collate, pack_documents, packing_cache_dir
from lab.data.schemas import schema_of
from lab.data.sources import load_split, streamed_and_held_out, train_and_held_out
from lab.data.subset import graded_subset


class CorpusDataModule(L.LightningDataModule):
    """Train on every source's train split (``repeat`` times, shuffled docs, packed); validate on held-out docs.

    Held-out docs: a source's ``eval_split`` if set, else its knowledge facts themselves for ``popqa``
    sources (recall of held-in facts), else the last ``val_docs`` documents of its train split; a streamed source
    (``streaming: true``) holds out the first ``val_docs`` documents of its ``eval_split`` or, without one, of its
    stream, which training then leaves out (:func:`lab.data.sources.streamed_and_held_out`).
    ``eval_rows`` keeps the graded rows: knowledge questions and held-out reasoning problems.
    """

    run_config_keys = ("data", "model", "seed")  # the run config's nodes from_run_config reads (lab.plan caches on them)

    @classmethod
    def from_run_config(cls, cfg: DictConfig, tokenizer: PreTrainedTokenizerBase) -> "CorpusDataModule":
        """The data module a run's config names (``datamodule:`` in conf/train.yaml), built from that config (its
        ``data`` node, typed by :class:`lab.data.config.DataConfig`, and its typed seed)."""

        return cls(cfg.data, tokenizer, seed=check_run_keys(cfg).seed)

    def __init__(self, data_cfg: DictConfig, tokenizer: PreTrainedTokenizerBase, seed: int = 0) -> None:
        super().__init__()
        self.cfg = data_cfg
        self.tokenizer = tokenizer
        self.seed = seed
        self.eval_rows: dict[str, list[dict]] = {"knowledge": [], "reasoning": []}
        self.train_set = self.val_set = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        if not self.cfg.sources:
            raise UserError("data config has no sources; pick data=tiny, data=hf dataset=..., or data=popqa_numina")
        train_docs: list[str] = []
        val_docs: list[str] = []
        streamed = []
        for src in self.cfg.sources.values():
            schema = schema_of(src)
            train = load_split(src, src.split)
            if isinstance(train, datasets.IterableDataset):
                if schema.role != "knowledge" or src.eval_split:  # as a map-style source (a stream's facts are not graded)
                    train, held_rows = streamed_and_held_out(src, train, self.cfg.val_docs)
                    val_docs += schema.documents(held_rows, src)
                plain = {"text_column": src.text_column}  # a plain dict: datasets fingerprints the function
                streamed.append(train.map(lambda r, s=schema, c=plain: {"text": s.documents([r], c)[0]}))
                continue
            rows = train.to_list()  # Arrow's columnar conversion: row-by-row iteration is ~10x slower
            held = None  # a knowledge source without eval_split: recall is graded on the held-in facts themselves
            if schema.role != "knowledge" or src.eval_split:
                rows, held = train_and_held_out(src, rows, self.cfg.val_docs)
            train_docs += schema.documents(rows, src) * int(src.repeat)
            val_docs += schema.documents(held if held is not None else rows, src)
            if schema.role == "knowledge":
                self.eval_rows["knowledge"] += rows
            elif schema.graded and held:
                self.eval_rows["reasoning"] += held
        if streamed and train_docs:
            raise UserError("mixing streaming and non-streaming sources is not supported; set streaming on all or none")
        random.Random(self.seed).shuffle(train_docs)
        seq_len, cache = self.cfg.seq_len, packing_cache_dir()
        if streamed:
            stream = datasets.interleave_datasets(streamed) if len(streamed) > 1 else streamed[0]
            self.train_set = pack_documents(stream.select_columns(["text"]), self.tokenizer, seq_len)
        else:
            self.train_set = pack_documents(datasets.Dataset.from_dict({"text": train_docs}), self.tokenizer, seq_len, cache)
            if len(self.train_set) == 0:
                raise UserError(f"the training data holds fewer than data.seq_len={seq_len} tokens; lower seq_len or add data")
        self.val_set = pack_documents(datasets.Dataset.from_dict({"text": val_docs}), self.tokenizer, seq_len, cache)
        for key, rows in self.eval_rows.items():
            self.eval_rows[key] = graded_subset(rows, self.cfg.eval_limit)

    def calibration_ids(self, rows: int) -> torch.Tensor:
        """The first ``rows`` packed training blocks, [rows, seq_len]: what a fitted norm surgery is fitted on."""
        blocks = list(itertools.islice(iter(self.train_set), rows))
        return block_collate(blocks)["input_ids"]

    def train_dataloader(self) -> StatefulDataLoader:
        """Resumable: its position and shuffle state go into every checkpoint (see :func:`lab.data.loaders.resumable_loader`)."""
        shuffle = not isinstance(self.train_set, datasets.IterableDataset)
        return resumable_loader(self.train_set, self.cfg.batch_size, collate=block_collate, seed=self.seed, shuffle=shuffle,
                                num_workers=self.cfg.num_workers, resume=fit_resume(self))

    def val_dataloader(self) -> DataLoader | list:
        if self.val_set is None or len(self.val_set) == 0:
            return []
        return DataLoader(self.val_set, batch_size=self.cfg.batch_size, collate_fn=block_collate,
                          num_workers=self.cfg.num_workers, multiprocessing_context=worker_context(self.cfg.num_workers))
