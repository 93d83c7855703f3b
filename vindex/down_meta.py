"""``down_meta.bin`` records: the top-K vocabulary projections of each down direction, as LarQL computes them.

For a feature's down direction d ∈ R^H and the raw embedding matrix E ∈ R^{V×H}: logits = E·d (no final
norm, no lm_head, no embed_scale, no softmax). Take the K largest; drop tokens whose decoded text
(special tokens skipped) is empty after trimming whitespace; ``top_token_id``/``c_score`` are the first
survivor. The survivors are stored sorted by logit, zero-padded to K; no survivor gives an all-zero record.
"""

from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer

from vindex.format import record_dtype


def empty_tokens(tokenizer_file: Path, vocab_size: int) -> np.ndarray:
    """Boolean [V]: token decodes to whitespace or nothing (special tokens, ids beyond the tokenizer)."""
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    known = min(tokenizer.get_vocab_size(with_added_tokens=True), vocab_size)
    decoded = tokenizer.decode_batch([[i] for i in range(known)], skip_special_tokens=True)
    empty = np.ones(vocab_size, dtype=bool)
    empty[:known] = [not text.strip() for text in decoded]
    return empty


def down_meta_records(directions: torch.Tensor, embeddings: torch.Tensor, top_k: int, empty: np.ndarray,
                      chunk: int = 256) -> np.ndarray:
    """One record per row of ``directions`` [F, H] (see module docstring); ``embeddings`` [V, H] fp32."""
    records = np.zeros(directions.shape[0], dtype=record_dtype(top_k))
    empty_t = torch.from_numpy(empty)
    for start in range(0, directions.shape[0], chunk):
        logits = directions[start : start + chunk].float() @ embeddings.T
        values, ids = torch.topk(logits, min(top_k, logits.shape[1]), dim=1)
        for row, (vals, toks) in enumerate(zip(values, ids, strict=True)):
            keep = ~empty_t[toks]
            vals, toks = vals[keep].numpy(), toks[keep].numpy()
            rec = records[start + row]
            if len(toks):
                rec["top_token_id"], rec["c_score"] = toks[0], vals[0]
                rec["tokens"]["id"][: len(toks)] = toks
                rec["tokens"]["logit"][: len(toks)] = vals
    return records
