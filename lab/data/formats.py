"""How rows of the two schemas become training text, prompts and gradable answers.

- PopQA schema (``subj, prop, obj, question, possible_answers``): knowledge text. Each fact gives a
  question/answer line ``Q: <question> A: <obj>.`` and, for known properties, a plain statement.
- NuminaMath-CoT schema (``problem, solution, messages``): reasoning text
  ``Problem: <problem>\\nSolution: <solution>``; the gradable answer is the last ``\\boxed{...}``.
"""

import json
import re

from lab.data.world_facts import STATEMENTS

KNOWLEDGE_COLUMNS = ("subj", "prop", "obj", "question", "possible_answers")
REASONING_COLUMNS = ("problem", "solution")


def qa_prompt(question: str) -> str:
    return f"Q: {question} A:"


def knowledge_documents(row: dict) -> list[str]:
    """Training texts of one fact: the Q/A line, plus a statement when the property has a template."""
    docs = [f"{qa_prompt(row['question'])} {row['obj']}."]
    template = STATEMENTS.get(row["prop"])
    if template:
        docs.append(template.format(subj=row["subj"], obj=row["obj"]))
    return docs


def statement_prompt(row: dict) -> str | None:
    """The fact's statement up to its object, ``The capital of France is`` (None when the property has no template
    ending in the object): the same fact asked in the statement form instead of the Q/A one."""
    template = STATEMENTS.get(row["prop"], "")
    head, found, _ = template.partition("{obj}")
    return head.format(subj=row["subj"]).rstrip() if found and head.strip() else None


def statement_answer_correct(generated: str, answers: list[str]) -> bool:
    """Whether a statement's continuation starts with one of ``answers`` as a whole word (``Paris. The …``)."""
    guess = normalize_answer(generated)
    return any(guess.startswith(a) and not guess[len(a):][:1].isalnum()
               for a in (normalize_answer(x) for x in answers) if a)


def possible_answers(row: dict) -> list[str]:
    """PopQA stores ``possible_answers`` as a JSON-encoded list of strings."""
    value = row["possible_answers"]
    answers = json.loads(value) if isinstance(value, str) else list(value)
    return [str(a) for a in answers] or [str(row["obj"])]


def reasoning_prompt(problem: str) -> str:
    return f"Problem: {problem}\nSolution:"


def reasoning_document(row: dict) -> str:
    return f"{reasoning_prompt(row['problem'])} {row['solution']}"


_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")


def boxed_answer(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` in ``text``, stripped; None if there is none."""
    found = _BOXED.findall(text)
    return found[-1].strip() if found else None


def normalize_answer(text: str) -> str:
    """Lower-case, first line, no surrounding spaces or final period: how generated answers are compared."""
    text = text.strip().split("\n")[0]
    return text.strip().rstrip(".").strip().lower()


def knowledge_answer_correct(generated: str, answers: list[str]) -> bool:
    guess = normalize_answer(generated)
    return any(guess == normalize_answer(a) for a in answers)


def reasoning_answer_correct(generated: str, solution: str) -> bool:
    guess, truth = boxed_answer(generated), boxed_answer(solution)
    return guess is not None and truth is not None and guess == truth
