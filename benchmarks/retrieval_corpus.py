"""Generated corpora for the retrieval benchmarks.

`synthetic_docs(n)`: documents of 20-120 words drawn from a 30,000-word invented vocabulary
with Zipf-like frequencies (as natural text has), deterministic for a seed; `sample_queries`
takes 1-3 consecutive words of documents spread over the corpus.
"""

from __future__ import annotations

import random

import numpy as np

VOCAB_SIZE = 30_000
BLOCK = 20_000


def vocabulary(n: int = VOCAB_SIZE, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    consonants, vowels = "bcdfghklmnprstvz", "aeiou"
    words: set[str] = set()
    while len(words) < n:
        words.add(
            "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(rng.randint(2, 4)))
        )
    return sorted(words)


def synthetic_docs(n: int, seed: int = 0) -> list[str]:
    vocab = np.array(vocabulary())
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, len(vocab) + 1) ** 1.05
    weights /= weights.sum()
    docs: list[str] = []
    for start in range(0, n, BLOCK):
        m = min(BLOCK, n - start)
        lengths = rng.integers(20, 121, size=m)
        words = vocab[rng.choice(len(vocab), size=int(lengths.sum()), p=weights)]
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        docs.extend(" ".join(words[bounds[i] : bounds[i + 1]]) for i in range(m))
    return docs


def sample_queries(docs: list[str], count: int = 200, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    queries = []
    for i in range(count):
        words = docs[(i * len(docs)) // count].split()
        size = rng.randint(1, 3)
        start = rng.randrange(0, max(1, len(words) - size))
        queries.append(" ".join(words[start : start + size]))
    return queries
