"""The unigram baseline of a tokenized corpus: the loss a model that ignores context reaches.

With c(t) the count of token t in the training tokens (N of them) over a vocabulary of V tokens:

* unigram entropy of the training tokens, H = −Σ_t (c(t)/N) · ln(c(t)/N) (nats per token, as the LM loss);
* the unigram model's cross-entropy on held-out tokens x_1..x_M, add-one smoothed so an unseen token has
  non-zero probability: CE = −(1/M) Σ_i ln p(x_i), p(t) = (c(t) + 1) / (N + V).

A language model's validation loss below CE has learned something a unigram count cannot.
"""

import math
from collections import Counter
from collections.abc import Iterable


def token_counts(sequences: Iterable[list[int]]) -> Counter:
    """How often each token id occurs across ``sequences``."""
    counts: Counter = Counter()
    for ids in sequences:
        counts.update(ids)
    return counts


def unigram_entropy(counts: Counter) -> float:
    """H = −Σ p ln p of the empirical unigram distribution (nats per token)."""
    total = sum(counts.values())
    return -sum(c / total * math.log(c / total) for c in counts.values() if c)


def unigram_cross_entropy(train: Counter, held_out: Counter, vocab_size: int) -> float:
    """Mean −ln p(x) of the held-out tokens under the add-one smoothed unigram model of ``train``."""
    total, held = sum(train.values()), sum(held_out.values())
    if held == 0:
        raise ValueError("no held-out tokens")
    denominator = total + vocab_size
    return -sum(n * math.log((train.get(t, 0) + 1) / denominator) for t, n in held_out.items()) / held
