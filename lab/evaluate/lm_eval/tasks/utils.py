"""The suite's own lm-eval tasks: the bundled facts and held-out arithmetic, graded exactly as training grades them.

Same prompts (:func:`lab.data.formats.qa_prompt`, :func:`lab.data.formats.reasoning_prompt`), same generation
budget (12 and 40 greedy tokens) and the same answer matching (:func:`lab.data.formats.knowledge_answer_correct`,
:func:`lab.data.formats.reasoning_answer_correct`) as ``val/knowledge_acc`` and ``val/reasoning_acc``, on the same
rows (every bundled fact; every problem of the held-out test split). The data comes from the parquet files
bundled in ``lab/config/assets``: nothing is downloaded.
"""

import datasets

from lab.config import asset_path
from lab.data.formats import (
    knowledge_answer_correct,
    possible_answers,
    qa_prompt,
    reasoning_answer_correct,
    reasoning_document,
    reasoning_prompt,
)


def _parquet(relative: str) -> datasets.DatasetDict:
    return datasets.DatasetDict({"test": datasets.Dataset.from_parquet(asset_path(relative))})


def tiny_facts_dataset(**_: object) -> datasets.DatasetDict:
    return _parquet("tiny_corpus/popqa/train.parquet")


def tiny_arith_dataset(**_: object) -> datasets.DatasetDict:
    return _parquet("tiny_corpus/numina/test.parquet")


def facts_prompt(doc: dict) -> str:
    return qa_prompt(doc["question"])


def arith_prompt(doc: dict) -> str:
    return reasoning_prompt(doc["problem"])


def arith_document(doc: dict) -> str:
    """The whole problem-and-solution document, as training packs it."""
    return reasoning_document(doc)


def facts_correct(doc: dict, results: list[str]) -> dict[str, float]:
    return {"acc": float(knowledge_answer_correct(results[0], possible_answers(doc)))}


def arith_correct(doc: dict, results: list[str]) -> dict[str, float]:
    return {"acc": float(reasoning_answer_correct(results[0], doc["solution"]))}


def popqa_correct(doc: dict, results: list[str]) -> dict[str, float]:
    """PopQA at real scale: the answer's first line equals one of ``possible_answers`` (as for the bundled facts)."""
    return {"exact_match": float(knowledge_answer_correct(results[0], possible_answers(doc)))}
