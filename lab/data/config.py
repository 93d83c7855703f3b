"""The typed ``data`` node: the training text's sources, block length and batch (its checks know the source schemas
of :mod:`lab.data.schemas`)."""

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from lab.config.checks import integer, require, require_each
from lab.data.schemas import SCHEMAS


@dataclass
class SourceConfig:
    """One data source (:mod:`lab.data.sources`, :mod:`lab.data.schemas`): ``datasets.load_dataset(path, name=,
    data_files=, data_dir=, revision=, split=, streaming=)``, read by its ``schema`` (popqa, numina or text with
    ``text_column``), optionally shuffled with ``shuffle_seed`` and cut to ``limit`` rows, each document seen
    ``repeat`` times per epoch; ``eval_split`` holds out graded rows."""

    schema: str = MISSING
    path: str = MISSING
    name: str | None = None
    data_files: Any = None
    data_dir: str | None = None
    revision: str | None = None
    split: str = "train"
    eval_split: str | None = None
    text_column: str = "text"   # the text schema's column
    streaming: bool = False
    repeat: int = 1
    shuffle_seed: int | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        require("data.sources", "schema", self.schema, self.schema in SCHEMAS, f"one of {', '.join(sorted(SCHEMAS))}")
        require("data.sources", "repeat", self.repeat, integer(1)(self.repeat), "a positive integer")
        require("data.sources", "limit", self.limit, self.limit is None or integer(1)(self.limit), "null or a positive integer")


@dataclass
class DataConfig:
    """The training text (:class:`lab.data.datamodule.CorpusDataModule`): the ``sources`` packed into blocks of
    ``seq_len`` tokens, ``batch_size`` blocks a step; ``val_docs`` documents of each source held out for the
    validation loss, and at most ``eval_limit`` rows of each kind graded (null: all). ``tokenizer`` is the tokenizer
    trained for this corpus, which a model trained from scratch on it takes (``model=tiny``'s ``tokenizer:
    ${data.tokenizer}``); a pretrained model keeps its own."""

    name: str = MISSING
    tokenizer: str = "${asset:tiny_tokenizer}"  # the bundled tiny corpus's; data=tiny_text names its own
    seq_len: int = MISSING       # each data option states its own
    batch_size: int = MISSING
    num_workers: int = 0
    val_docs: int = 200
    eval_limit: int | None = None
    sources: dict[str, SourceConfig] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require_each("data", self, (("seq_len", integer(2), "an integer >= 2"), ("batch_size", integer(1), "a positive integer"),
                                     ("num_workers", integer(0), "a non-negative integer"), ("val_docs", integer(0), "a non-negative integer")))
        require("data", "eval_limit", self.eval_limit, self.eval_limit is None or integer(1)(self.eval_limit), "null or a positive integer")
