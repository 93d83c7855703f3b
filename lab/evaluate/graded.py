"""Graded generation: greedy answers to knowledge questions and reasoning problems.

- knowledge accuracy = fraction of PopQA rows whose greedy answer to ``Q: <question> A:`` equals one
  of ``possible_answers`` (case-insensitive, first line, trailing period dropped);
- statement recall = the same for the greedy continuation of the fact's statement up to its object
  (``The capital of France is``), which must start with an answer (rows without a statement template: None);
- reasoning accuracy = fraction of NuminaMath rows whose greedy solution's last ``\\boxed{}`` equals the
  reference solution's.
"""

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from lab.data.formats import (
    knowledge_answer_correct,
    possible_answers,
    qa_prompt,
    reasoning_answer_correct,
    reasoning_prompt,
    statement_answer_correct,
    statement_prompt,
)


@torch.no_grad()
def greedy_generate(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: list[str], max_new_tokens: int, batch_size: int = 64
) -> list[str]:
    """Greedy continuations of ``prompts`` (left-padded batches), decoded without special tokens."""
    was_training = model.training
    model.eval()
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    device = next(model.parameters()).device
    outputs: list[str] = []
    try:
        for start in range(0, len(prompts), batch_size):
            enc = tokenizer(prompts[start : start + batch_size], return_tensors="pt", padding=True, add_special_tokens=False).to(device)
            generated = model.generate(
                **enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
            outputs += tokenizer.batch_decode(generated[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    return outputs


def knowledge_correct(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, rows: list[dict], max_new_tokens: int = 12) -> list[bool]:
    """Per row: whether the greedy answer to ``Q: <question> A:`` is one of its ``possible_answers``."""
    answers = greedy_generate(model, tokenizer, [qa_prompt(r["question"]) for r in rows], max_new_tokens) if rows else []
    return [knowledge_answer_correct(a, possible_answers(r)) for a, r in zip(answers, rows, strict=True)]


def statement_correct(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, rows: list[dict], max_new_tokens: int = 12) -> list[bool | None]:
    """Per row: whether the greedy continuation of its statement prompt starts with one of its answers (None: no template)."""
    prompts = [statement_prompt(r) for r in rows]
    asked = [(i, p) for i, p in enumerate(prompts) if p is not None]
    answers = greedy_generate(model, tokenizer, [p for _, p in asked], max_new_tokens) if asked else []
    result: list[bool | None] = [None] * len(rows)
    for (i, _), answer in zip(asked, answers, strict=True):
        result[i] = statement_answer_correct(answer, possible_answers(rows[i]))
    return result


def knowledge_accuracy(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, rows: list[dict], max_new_tokens: int = 12) -> float:
    if not rows:
        return float("nan")
    return sum(knowledge_correct(model, tokenizer, rows, max_new_tokens)) / len(rows)


def reasoning_accuracy(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, rows: list[dict], max_new_tokens: int = 40) -> float:
    if not rows:
        return float("nan")
    answers = greedy_generate(model, tokenizer, [reasoning_prompt(r["problem"]) for r in rows], max_new_tokens)
    return sum(reasoning_answer_correct(a, r["solution"]) for a, r in zip(answers, rows, strict=True)) / len(rows)
