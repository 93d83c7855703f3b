"""The bundled real-English corpus (``data=tiny_text``, issue 40): its committed files are what its build script
writes, its split is by document, its card's numbers are computed, and a run trains on it with its own tokenizer."""

import json
import math
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from lab.config import asset_path
from lab.data.make_tiny_text import SPLITS, build, card, corpus_stats, documents_digest, is_validation
from lab.data.unigram import unigram_cross_entropy, unigram_entropy
from lab.data.wordnet import WORDNET_DIR, parse_line
from lab.model import load_tokenizer
from lab.runs.checksums import check_sha256sums, read_sha256sums
from tests.conftest import FAST, compose_train, run_here

CORPUS = Path(asset_path("tiny_text"))


def rounded(tree):
    """``tree`` with its floats to 9 decimals: the stats compared across machines (sums of logs)."""
    if isinstance(tree, dict):
        return {k: rounded(v) for k, v in tree.items()}
    return round(tree, 9) if isinstance(tree, float) else tree


def committed_splits() -> dict[str, list[dict]]:
    return {name: pq.read_table(CORPUS / f"{name}.parquet").to_pylist() for name in SPLITS}


def test_the_committed_files_match_their_sha256sums():
    assert sorted(read_sha256sums(CORPUS)) == ["LICENSE", "README.md", "stats.json", "train.parquet", "validation.parquet"]
    assert sorted(read_sha256sums(CORPUS / "tokenizer")) == ["tokenizer.json", "tokenizer_config.json"]
    assert check_sha256sums(CORPUS) == 5 and check_sha256sums(CORPUS / "tokenizer") == 2
    assert "WordNet 3.0 Copyright 2006 by Princeton University" in (CORPUS / "LICENSE").read_text()
    assert sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file()) < 5e6  # "a few MB at most"


def test_the_split_is_by_document_and_the_stats_and_card_are_computed_from_the_files():
    splits = committed_splits()
    stats = json.loads((CORPUS / "stats.json").read_text())
    ids = {name: {row["id"] for row in rows} for name, rows in splits.items()}
    texts = {name: {row["text"] for row in rows} for name, rows in splits.items()}
    assert not ids["train"] & ids["validation"] and not texts["train"] & texts["validation"]
    assert all(is_validation(i, stats["val_every"]) for i in ids["validation"])
    assert not any(is_validation(i, stats["val_every"]) for i in ids["train"])
    assert documents_digest(splits) == stats["documents_sha256"]
    tokenizer = load_tokenizer({"tokenizer": str(CORPUS / "tokenizer")})
    recomputed = corpus_stats(splits, tokenizer, stats["duplicates_dropped"]) | {"val_every": stats["val_every"]}
    assert rounded(recomputed) == rounded(stats)
    assert (CORPUS / "README.md").read_text() == card(stats)
    assert 4000 <= stats["vocab_size"] <= 8192 and stats["splits"]["train"]["tokens"] > 1_000_000


@pytest.mark.skipif(not (WORDNET_DIR / "data.noun").is_file(), reason="Debian's wordnet-base is not installed: the rebuild "
                    "is skipped (the committed files are still checked against their SHA256SUMS and their stats above)")
def test_the_build_script_rebuilds_the_committed_corpus(tmp_path):
    stats = build(tmp_path / "tiny_text")
    committed = json.loads((CORPUS / "stats.json").read_text())
    assert rounded(stats) == rounded(committed)
    assert (tmp_path / "tiny_text" / "tokenizer" / "tokenizer.json").read_text() == (CORPUS / "tokenizer" / "tokenizer.json").read_text()


def test_a_wordnet_line_becomes_one_document():
    line = ('00217593 04 n 01 kill 1 002 @ 00217014 n 0000 + 00355365 v 0101 | the destruction of an enemy plane or ship '
            'or tank or missile; "the pilot reported two kills during the mission"  \n')
    synset = parse_line(line)
    assert synset.id == "n00217593" and synset.words == ("kill",)
    assert synset.document() == ("kill: the destruction of an enemy plane or ship or tank or missile. "
                                 "The pilot reported two kills during the mission.")
    adjective = parse_line("01234567 00 s 02 galore(ip) 0 in_abundance 0 000 | plentiful  \n")
    assert adjective.document() == "galore, in abundance: plentiful."
    assert parse_line("  1 This software and database is being provided to you\n") is None


def test_the_unigram_baseline_on_known_counts():
    assert unigram_entropy(Counter({1: 2, 2: 2})) == pytest.approx(math.log(2))
    assert unigram_entropy(Counter({7: 5})) == 0
    # add-one smoothing over V = 3 ids: p(2) = (0 + 1) / (4 + 3), p(0) = (3 + 1) / 7
    assert unigram_cross_entropy(Counter({0: 3, 1: 1}), Counter({2: 1}), 3) == pytest.approx(math.log(7))
    assert unigram_cross_entropy(Counter({0: 3, 1: 1}), Counter({0: 1, 2: 1}), 3) == pytest.approx(
        -(math.log(4 / 7) + math.log(1 / 7)) / 2)


def test_data_tiny_text_gives_the_tiny_model_its_own_tokenizer_and_trains(tmp_path):
    cfg = compose_train(["data=tiny_text"])
    assert cfg.model.tokenizer == asset_path("tiny_text/tokenizer") and compose_train([]).model.tokenizer == asset_path("tiny_tokenizer")
    out = run_here(["ablations.train", "data=tiny_text", *FAST, "eval.accuracy=false", "logger=none",
                    f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    config = json.loads((tmp_path / "run" / "original_finetuned" / "config.json").read_text())
    assert config["vocab_size"] == len(load_tokenizer({"tokenizer": str(CORPUS / "tokenizer")}))
    saved = load_tokenizer({"tokenizer": str(tmp_path / "run" / "original_finetuned")})
    assert saved.get_vocab() == load_tokenizer({"tokenizer": str(CORPUS / "tokenizer")}).get_vocab()
