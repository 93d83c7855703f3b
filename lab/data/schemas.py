"""The row schemas a data source can have (``data.sources.<name>.schema``), in one registry: which columns each
needs, how its rows become training text, and what role it plays.

- ``popqa`` (knowledge): PopQA's ``subj, prop, obj, question, possible_answers``; each fact gives a few training
  texts (:func:`lab.data.formats.knowledge_documents`) and its questions are graded for recall;
- ``numina`` (reasoning): NuminaMath-CoT's ``problem, solution, messages``; one document per problem, held-out
  problems graded for arithmetic;
- ``text`` (reasoning, ungraded): any text column (``text_column``, default ``text``).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lab.config.errors import UserError
from lab.data.formats import KNOWLEDGE_COLUMNS, REASONING_COLUMNS, knowledge_documents, reasoning_document


def text_column(source: Any) -> str:
    return str(source["text_column"])


def text_documents(rows: list[dict], column: str) -> list[str]:
    """One document per row: its ``column`` as a string (the column is read from the source config once, not per row)."""
    return [str(row[column]) for row in rows]


@dataclass(frozen=True)
class Schema:
    name: str
    role: str                                              # "knowledge" (facts) or "reasoning" (the retain text)
    graded: bool                                           # its held-out rows are graded (fact recall, arithmetic)
    columns: Callable[[Any], tuple[str, ...]]              # source config -> the columns its rows must have
    documents: Callable[[list[dict], Any], list[str]]      # (rows, source config) -> training documents


SCHEMAS: dict[str, Schema] = {
    "popqa": Schema("popqa", "knowledge", True, lambda src: KNOWLEDGE_COLUMNS,
                    lambda rows, src: [doc for row in rows for doc in knowledge_documents(row)]),
    "numina": Schema("numina", "reasoning", True, lambda src: REASONING_COLUMNS,
                     lambda rows, src: [reasoning_document(row) for row in rows]),
    "text": Schema("text", "reasoning", False, lambda src: (text_column(src),),
                   lambda rows, src: text_documents(rows, text_column(src))),
}


def schema_of(source: Any) -> Schema:
    """The schema a source config names; refuses an unknown one with the valid names."""
    name = source.get("schema")
    if name not in SCHEMAS:
        raise UserError(f"data source schema={name!r}; valid: {', '.join(SCHEMAS)}")
    return SCHEMAS[name]
