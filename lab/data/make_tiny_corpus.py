"""Generate the bundled tiny corpus and train its tokenizer.

    python -m lab.data.make_tiny_corpus                 # rewrites lab/config/assets/tiny_corpus and tiny_tokenizer

Writes ``popqa/train.parquet`` (the world facts of :mod:`lab.data.world_facts` in PopQA's schema) and
``numina/{train,test}.parquet`` (seeded synthetic arithmetic with worked solutions in NuminaMath-CoT's
schema); the test problems never occur in train. Deterministic for a given seed.
"""

import argparse
import json
import random
from pathlib import Path

from datasets import Dataset

from lab.config import asset_path
from lab.data.formats import knowledge_documents, reasoning_document
from lab.data.tiny_tokenizer import train_tokenizer
from lab.data.world_facts import QUESTIONS, fact_triples

NAMES = ["Tom", "Anna", "Ben", "Mia", "Sam", "Lily", "Max", "Zoe"]
THINGS = ["apples", "books", "coins", "pens", "cards", "shells", "stamps", "marbles"]


def popqa_rows() -> list[dict]:
    return [
        {"subj": s, "prop": p, "obj": o, "question": QUESTIONS[p].format(subj=s), "possible_answers": json.dumps([o])}
        for s, p, o in fact_triples()
    ]


def _problem(rng: random.Random) -> tuple[str, str]:
    kind = rng.choice(["add", "sub", "mul", "story_add", "story_sub"])
    if kind == "mul":
        a, b = rng.randint(2, 9), rng.randint(2, 9)
        return f"What is {a} times {b}?", f"{a} * {b} = {a * b}. The answer is \\boxed{{{a * b}}}."
    a, b = rng.randint(1, 50), rng.randint(1, 49)
    if kind in ("sub", "story_sub") and b > a:
        a, b = b, a
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    if kind == "add":
        return f"What is {a} plus {b}?", f"{a} + {b} = {a + b}. The answer is \\boxed{{{a + b}}}."
    if kind == "sub":
        return f"What is {a} minus {b}?", f"{a} - {b} = {a - b}. The answer is \\boxed{{{a - b}}}."
    if kind == "story_add":
        problem = f"{name} has {a} {thing} and gets {b} more. How many {thing} does {name} have?"
        return problem, f"{name} has {a} + {b} = {a + b} {thing}. The answer is \\boxed{{{a + b}}}."
    problem = f"{name} has {a} {thing} and gives away {b}. How many {thing} are left?"
    return problem, f"{name} has {a} - {b} = {a - b} {thing} left. The answer is \\boxed{{{a - b}}}."


def numina_rows(n_train: int, n_test: int, seed: int) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    seen: set[str] = set()
    rows: list[dict] = []
    while len(rows) < n_train + n_test:
        problem, solution = _problem(rng)
        if problem in seen:
            continue
        seen.add(problem)
        messages = [{"role": "user", "content": problem}, {"role": "assistant", "content": solution}]
        rows.append({"problem": problem, "solution": solution, "messages": messages})
    return rows[n_test:], rows[:n_test]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(asset_path()))
    parser.add_argument("--n-train", type=int, default=4000)
    parser.add_argument("--n-test", type=int, default=200)
    parser.add_argument("--vocab-size", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    corpus = args.out / "tiny_corpus"
    (corpus / "popqa").mkdir(parents=True, exist_ok=True)
    (corpus / "numina").mkdir(parents=True, exist_ok=True)
    facts = popqa_rows()
    train, test = numina_rows(args.n_train, args.n_test, args.seed)
    Dataset.from_list(facts).to_parquet(str(corpus / "popqa" / "train.parquet"))
    Dataset.from_list(train).to_parquet(str(corpus / "numina" / "train.parquet"))
    Dataset.from_list(test).to_parquet(str(corpus / "numina" / "test.parquet"))
    texts = [doc for row in facts for doc in knowledge_documents(row)] + [reasoning_document(r) for r in train + test]
    tokenizer = train_tokenizer(texts, args.vocab_size, args.out / "tiny_tokenizer")
    print(f"{len(facts)} facts, {len(train)}+{len(test)} problems, vocab {len(tokenizer)} -> {args.out}")


if __name__ == "__main__":
    main()
