"""Gate-training data: entity-masked knowledge text (forget) and packed reasoning text (retain).

Forget examples come from the ``forget`` facts of the ``schema: popqa`` sources (:mod:`gates.facts`: the forget
relations' facts less the held-out share): each fact's training texts (the Q/A line and, where a template exists,
the plain statement; see :mod:`lab.data.formats`) with labels on the tokens of the answer entity only (every other
label is -100). The held-out facts and the other relations' facts are in no loss. Retain examples are the documents of
every other source, packed into ``data.seq_len`` blocks.

Per optimizer step: one forget batch of ``data.batch_size`` examples and ``gates.retain_per_forget``
retain batches of the same size, drawn as one retain batch of ``retain_per_forget × batch_size`` blocks
(the seed's forget:retain = 1:2). An epoch is one pass over the forget examples; the retain blocks
are cycled in a seeded order to match.
"""

import random
from dataclasses import dataclass, field

import datasets
import lightning as L
import torch
from omegaconf import DictConfig
from torchdata.stateful_dataloader import StatefulDataLoader
from transformers import PreTrainedTokenizerBase

from gates.facts import FactSplit, split_facts
from lab.config.errors import UserError
from lab.config.registry import check_run_keys, typed_node
from lab.data.formats import knowledge_documents
from lab.data.loaders import fit_resume, resumable_loader
from lab.data.packing import pack_documents
from lab.data.schemas import schema_of
from lab.data.sources import load_split, train_and_held_out
from lab.data.subset import graded_subset


@dataclass
class GateRows:
    """The rows gate training and evaluation use: every fact (split by :mod:`gates.facts`), reasoning train/held-out."""

    knowledge: list[dict] = field(default_factory=list)
    reasoning_train: list[str] = field(default_factory=list)
    reasoning_eval: list[dict] = field(default_factory=list)


def load_gate_rows(data_cfg: DictConfig) -> GateRows:
    """Split the configured sources by schema; a reasoning source's ``eval_split`` (or its tail) is held out."""
    rows = GateRows()
    for name, src in data_cfg.sources.items():
        if src.streaming:
            raise UserError(f"data.sources.{name}: gate training needs map-style data; set streaming=false")
        schema = schema_of(src)
        train = list(load_split(src, src.split))
        if schema.role == "knowledge":
            rows.knowledge += train
            continue
        train, held = train_and_held_out(src, train, data_cfg.val_docs)
        rows.reasoning_train += schema.documents(train, src)
        if schema.graded:
            rows.reasoning_eval += held
    if not rows.knowledge or not rows.reasoning_train:
        raise UserError("gates need a knowledge source (schema: popqa) and a reasoning source (schema: numina or text) "
                        "in data.sources; data=tiny and data=popqa_numina have both")
    rows.reasoning_eval = graded_subset(rows.reasoning_eval, data_cfg.eval_limit)
    return rows


def entity_masked(text: str, entity: str, tokenizer: PreTrainedTokenizerBase, max_len: int) -> dict | None:
    """Token ids of ``text`` (+EOS) with labels only on tokens overlapping the last occurrence of ``entity``."""
    start = text.rfind(entity)
    if start < 0:
        return None
    end = start + len(entity)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, truncation=True, max_length=max_len - 1)
    ids = list(enc["input_ids"]) + [tokenizer.eos_token_id]
    labels = [tok if (s < end and e > start) else -100 for tok, (s, e) in zip(enc["input_ids"], enc["offset_mapping"], strict=True)]
    if all(label == -100 for label in labels[1:]):  # the first token is never predicted
        return None
    return {"input_ids": ids, "labels": labels + [-100]}


def forget_examples(facts: list[dict], tokenizer: PreTrainedTokenizerBase, max_len: int) -> list[dict]:
    examples = []
    for row in facts:
        for text in knowledge_documents(row):
            example = entity_masked(text, str(row["obj"]), tokenizer, max_len)
            if example is not None:
                examples.append(example)
    if not examples:
        raise UserError("no forget example has its answer entity inside data.seq_len tokens; raise data.seq_len")
    return examples


def pad_collate(pad_id: int):
    """Right-pad ``input_ids`` (pad id) and ``labels`` (-100); ``attention_mask`` marks real tokens."""

    def collate(rows: list[dict]) -> dict[str, torch.Tensor]:
        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        labels = torch.full((len(rows), width), -100, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            n = len(r["input_ids"])
            ids[i, :n], mask[i, :n] = torch.tensor(r["input_ids"]), 1
            labels[i, :n] = torch.tensor(r.get("labels", r["input_ids"]))
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}

    return collate


class GateDataModule(L.LightningDataModule):
    """``{"forget": DataLoader, "retain": DataLoader}``: Lightning combines them, one batch of each per step."""

    run_config_keys = ("data", "model", "seed", "gates")  # the run config's nodes from_run_config reads

    @classmethod
    def from_run_config(cls, cfg: DictConfig, tokenizer: PreTrainedTokenizerBase) -> "GateDataModule":
        """The data module a gate run's config names (``datamodule:`` in conf/gates_train.yaml)."""
        gates = typed_node(cfg, "gates")
        return cls(cfg.data, tokenizer, gates.retain_per_forget, seed=check_run_keys(cfg).seed,
                   forget_relations=gates.forget_relations, held_out=gates.held_out)

    def __init__(self, data_cfg: DictConfig, tokenizer: PreTrainedTokenizerBase, retain_per_forget: int, seed: int = 0,
                 forget_relations: list[str] | None = None, held_out: float = 0.0) -> None:
        super().__init__()
        self.cfg, self.tokenizer, self.seed = data_cfg, tokenizer, seed
        self.forget_relations, self.held_out = forget_relations, held_out
        self.split: FactSplit | None = None
        self.retain_per_forget = int(retain_per_forget)
        if self.retain_per_forget < 1:
            raise UserError(f"gates.retain_per_forget={retain_per_forget}; it must be a positive integer")
        self.rows: GateRows | None = None
        self.forget: list[dict] = []
        self.retain: datasets.Dataset | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.rows is not None:
            return
        self.rows = load_gate_rows(self.cfg)
        seq_len = self.cfg.seq_len
        self.split = split_facts(self.rows.knowledge, self.forget_relations, self.held_out, self.seed)
        self.forget = forget_examples(self.split.forget, self.tokenizer, seq_len)
        blocks = pack_documents(datasets.Dataset.from_dict({"text": self.rows.reasoning_train}), self.tokenizer, seq_len)
        if len(blocks) == 0:
            raise UserError(f"the reasoning text holds fewer than data.seq_len={seq_len} tokens; lower seq_len or add data")
        needed = len(self.forget) * self.retain_per_forget
        rng = random.Random(self.seed)
        order = [i for _ in range(-(-needed // len(blocks))) for i in rng.sample(range(len(blocks)), len(blocks))]
        self.retain = blocks.select(order[:needed])

    def train_dataloader(self) -> dict[str, StatefulDataLoader]:
        """Resumable loaders (see :mod:`lab.data.loaders`): a resumed run continues both streams where they were."""
        batch = self.cfg.batch_size
        collate = pad_collate(self.tokenizer.pad_token_id)
        workers, resume = self.cfg.num_workers, fit_resume(self)
        return {
            "forget": resumable_loader(self.forget, batch, collate=collate, seed=self.seed, num_workers=workers, resume=resume),
            "retain": resumable_loader(self.retain, batch * self.retain_per_forget, collate=collate, seed=self.seed + 1,
                                       num_workers=workers, resume=resume),
        }
