"""Build the bundled real-English corpus (``data=tiny_text``) and its tokenizer from WordNet 3.0's glosses.

    apt-get install wordnet-base                 # Debian's package of the WordNet 3.0 database (offline input)
    python -m lab.data.make_tiny_text            # rewrites lab/config/assets/tiny_text

Each synset is one document (:mod:`lab.data.wordnet`); exact duplicate documents are dropped (the first kept);
a document goes to validation when the first 8 hex digits of SHA-256(synset id), read as an integer, are
divisible by ``val_every`` (so the split depends on the id alone, never on order or on the other documents).
Writes ``train.parquet`` and ``validation.parquet`` (columns ``id``, ``text``; zstd level 19), ``tokenizer/`` (byte-level BPE
of :mod:`lab.data.tiny_tokenizer`, trained on the training documents only), ``stats.json`` (documents, bytes,
tokens, the unigram baseline of :mod:`lab.data.unigram`, the documents' SHA-256), the licence, a dataset card, and a
``SHA256SUMS`` in each folder. Deterministic: rerunning it on the same package rebuilds the same documents and
vocabulary (``tests/test_tiny_text.py``).
"""

import argparse
import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from huggingface_hub import DatasetCard, DatasetCardData
from transformers import PreTrainedTokenizerBase

from lab.config import asset_path
from lab.config.errors import UserError, exit_on_user_error
from lab.data.tiny_tokenizer import train_tokenizer
from lab.data.unigram import token_counts, unigram_cross_entropy, unigram_entropy
from lab.data.wordnet import LICENCE_FILE, WORDNET_DIR, read_synsets
from lab.runs.artifacts import write_json
from lab.runs.checksums import write_sha256sums

SPLITS = ("train", "validation")
VOCAB_SIZE = 4096  # the issue's ~4-8 k: a tiny model's embedding stays small
VAL_EVERY = 50     # about 2 % of the documents in validation
SOURCE = "WordNet 3.0 glosses (Princeton University), as installed by Debian's wordnet-base package"


def is_validation(synset_id: str, val_every: int) -> bool:
    """The split rule: SHA-256 of the id, first 8 hex digits as an integer, divisible by ``val_every``."""
    return int(hashlib.sha256(synset_id.encode()).hexdigest()[:8], 16) % val_every == 0


def split_documents(wordnet_dir: Path, val_every: int) -> tuple[dict[str, list[dict]], int]:
    """``({"train": rows, "validation": rows}, duplicates dropped)``; a row is ``{"id", "text"}``."""
    splits: dict[str, list[dict]] = {name: [] for name in SPLITS}
    seen: set[str] = set()
    duplicates = 0
    for synset in read_synsets(wordnet_dir):
        text = synset.document()
        if text in seen:
            duplicates += 1
            continue
        seen.add(text)
        splits["validation" if is_validation(synset.id, val_every) else "train"].append({"id": synset.id, "text": text})
    return splits, duplicates


def documents_digest(splits: dict[str, list[dict]]) -> str:
    """SHA-256 over every split's ids and texts, in order: what a rebuild must reproduce."""
    digest = hashlib.sha256()
    for name in SPLITS:
        for row in splits[name]:
            digest.update(f"{name}\t{row['id']}\t{row['text']}\n".encode())
    return digest.hexdigest()


def corpus_stats(splits: dict[str, list[dict]], tokenizer: PreTrainedTokenizerBase, duplicates: int) -> dict:
    """Documents, UTF-8 bytes and tokens per split (each document's tokens plus the EOS that packing adds), and the
    unigram baseline: entropy of the training tokens and the smoothed unigram cross-entropy on validation (nats)."""
    counts = {}
    stats: dict = {"source": SOURCE, "duplicates_dropped": duplicates, "vocab_size": len(tokenizer),
                   "documents_sha256": documents_digest(splits), "splits": {}}
    for name, rows in splits.items():
        ids = tokenizer([row["text"] for row in rows], add_special_tokens=False)["input_ids"]
        counts[name] = token_counts(seq + [tokenizer.eos_token_id] for seq in ids)
        stats["splits"][name] = {"documents": len(rows), "bytes": sum(len(r["text"].encode()) for r in rows),
                                 "tokens": sum(counts[name].values())}
    stats["unigram_entropy_train_nats"] = unigram_entropy(counts["train"])
    stats["unigram_cross_entropy_validation_nats"] = unigram_cross_entropy(counts["train"], counts["validation"], len(tokenizer))
    return stats


def card(stats: dict) -> str:
    """The corpus's dataset card (``README.md``): front matter by ``huggingface_hub``, the numbers from ``stats``."""
    train, val = stats["splits"]["train"], stats["splits"]["validation"]
    data = DatasetCardData(language=["en"], license="other", license_name="wordnet-3.0", license_link="LICENSE",
                           pretty_name="tiny_text (WordNet 3.0 glosses)", task_categories=["text-generation"],
                           size_categories=["100K<n<1M"])
    body = f"""
# tiny_text: WordNet 3.0's glosses as English documents

The bundled real-English corpus of this suite (`data=tiny_text`), built by `python -m lab.data.make_tiny_text` from
{SOURCE}. Each synset is one document: its words, its definition and its example sentences, e.g.
`kill: the destruction of an enemy plane or ship or tank or missile. The pilot reported two kills during the mission.`

| split | documents | UTF-8 bytes | tokens (with one EOS per document) |
|---|---|---|---|
| train | {train['documents']:,} | {train['bytes']:,} | {train['tokens']:,} |
| validation | {val['documents']:,} | {val['bytes']:,} | {val['tokens']:,} |

- Split by document: a synset is in validation when SHA-256 of its id is divisible by the build's `val_every`
  (see the module); {stats['duplicates_dropped']} exact duplicate documents were dropped.
- Tokenizer (`tokenizer/`): byte-level BPE of {stats['vocab_size']:,} tokens trained on the training split only.
- Unigram baseline: entropy of the training tokens {stats['unigram_entropy_train_nats']:.3f} nats/token; the
  add-one smoothed unigram model's cross-entropy on validation {stats['unigram_cross_entropy_validation_nats']:.3f}
  nats/token. A validation loss below it is learned from context.
- Documents' SHA-256: `{stats['documents_sha256']}`.

## Licence

WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved. Distributed under the WordNet 3.0 licence
(permission to use, copy, modify and distribute for any purpose without fee, with the copyright notice and the
disclaimer kept on all copies): the full text, as Debian ships it, is in `LICENSE`.
"""
    return str(DatasetCard(f"---\n{data.to_yaml()}\n---\n{body}"))


def build(out: Path, wordnet_dir: Path = WORDNET_DIR, licence: Path = LICENCE_FILE, vocab_size: int = VOCAB_SIZE,
          val_every: int = VAL_EVERY) -> dict:
    """Write the corpus folder ``out`` (see the module docstring); returns its stats."""
    if not (wordnet_dir / "data.noun").is_file():
        raise UserError(f"no WordNet database in {wordnet_dir}; install Debian's wordnet-base (apt-get install wordnet-base)")
    splits, duplicates = split_documents(wordnet_dir, val_every)
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in splits.items():
        table = pa.table({"id": [r["id"] for r in rows], "text": [r["text"] for r in rows]})
        pq.write_table(table, out / f"{name}.parquet", compression="zstd", compression_level=19)
    texts = (row["text"] for row in splits["train"])
    tokenizer = train_tokenizer(texts, vocab_size, out / "tokenizer")
    stats = corpus_stats(splits, tokenizer, duplicates) | {"val_every": val_every}
    write_json(out / "stats.json", stats)
    (out / "LICENSE").write_text(licence.read_text())
    (out / "README.md").write_text(card(stats))
    write_sha256sums(out / "tokenizer")
    write_sha256sums(out)
    return stats


@exit_on_user_error
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(asset_path("tiny_text")))
    parser.add_argument("--wordnet", type=Path, default=WORDNET_DIR)
    parser.add_argument("--vocab-size", type=int, default=VOCAB_SIZE)
    parser.add_argument("--val-every", type=int, default=VAL_EVERY)
    args = parser.parse_args()
    stats = build(args.out, args.wordnet, vocab_size=args.vocab_size, val_every=args.val_every)
    train, val = stats["splits"]["train"], stats["splits"]["validation"]
    print(f"{train['documents']:,}+{val['documents']:,} documents, {train['tokens']:,}+{val['tokens']:,} tokens, "
          f"vocab {stats['vocab_size']:,}, unigram CE on validation {stats['unigram_cross_entropy_validation_nats']:.3f} -> {args.out}")


if __name__ == "__main__":
    main()
