"""Packed blocks cached under datasets' cache: the same blocks as packing afresh, one file per input, never fatal."""

import logging

import datasets

from lab.config import asset_path
from lab.data.packing import pack_documents, packing_key
from lab.model import load_tokenizer

DOCS = [f"document {i}: the capital of land {i} is city {i * 7}." for i in range(300)]


def _tokenizer():
    return load_tokenizer({"tokenizer": asset_path("tiny_tokenizer")})


def _pack(docs, tokenizer, seq_len, cache):
    return pack_documents(datasets.Dataset.from_dict({"text": docs}), tokenizer, seq_len, cache)


def test_a_cached_packing_reads_back_the_blocks_packing_afresh_gives(tmp_path):
    tokenizer = _tokenizer()
    afresh = _pack(DOCS, tokenizer, 16, None)["input_ids"]
    written = _pack(DOCS, tokenizer, 16, tmp_path)
    files = list(tmp_path.glob("blocks-*.arrow"))
    assert len(files) == 1 and written["input_ids"] == afresh
    read = _pack(DOCS, tokenizer, 16, tmp_path)
    assert [f["filename"] for f in read.cache_files] == [str(files[0])]  # read from the file, not packed again
    assert read["input_ids"] == afresh and len(afresh) > 10


def test_the_cache_key_changes_with_the_order_the_length_and_the_tokenizer():
    tokenizer = _tokenizer()
    key = packing_key(DOCS, tokenizer, 16)
    assert packing_key(list(DOCS), tokenizer, 16) == key
    assert packing_key(DOCS[::-1], tokenizer, 16) != key
    assert packing_key(DOCS, tokenizer, 32) != key
    assert packing_key(["ab", "c"], tokenizer, 16) != packing_key(["a", "bc"], tokenizer, 16)
    tokenizer.add_tokens(["capital"])
    assert packing_key(DOCS, tokenizer, 16) != key


def test_an_unwritable_cache_warns_and_packs_in_memory(tmp_path, caplog):
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache folder should be")
    tokenizer = _tokenizer()
    with caplog.at_level(logging.WARNING, logger="lab.data.packing"):
        packed = _pack(DOCS, tokenizer, 16, blocked)
    assert packed["input_ids"] == _pack(DOCS, tokenizer, 16, None)["input_ids"]
    assert "packed blocks not cached at" in caplog.text and str(blocked) in caplog.text


def test_a_view_is_keyed_by_its_own_rows_and_a_damaged_cache_file_is_set_aside(tmp_path, caplog):
    tokenizer = _tokenizer()
    parent = datasets.Dataset.from_dict({"text": DOCS})
    view = parent.select(range(100, 200))  # datasets keeps the parent's table and an index mapping
    assert pack_documents(view, tokenizer, 16, tmp_path)["input_ids"] == _pack(DOCS[100:200], tokenizer, 16, None)["input_ids"]
    (written,) = tmp_path.glob("blocks-*.arrow")
    written.write_bytes(written.read_bytes()[:200])  # a truncated file under the final name
    with caplog.at_level(logging.WARNING, logger="lab.data.packing"):
        again = pack_documents(view, tokenizer, 16, tmp_path)
    assert again["input_ids"] == _pack(DOCS[100:200], tokenizer, 16, None)["input_ids"]
    assert f"cached packed blocks {written} do not load" in caplog.text
    assert (tmp_path / f"{written.name}.damaged").is_file() and written.is_file()  # kept aside, and written anew
