"""Shared pieces of the retrieval tests: a tiny real embedder (hashed bag of words, so
similar texts get similar vectors) and a loopback OpenAI-compatible embeddings endpoint."""

from __future__ import annotations

import zlib

from fake_providers import FakeProvider, Received, Reply

DIM = 64


def bow_vector(text: str, dim: int = DIM) -> list[float]:
    vec = [0.0] * dim
    for word in text.lower().split():
        vec[zlib.crc32(word.strip(".,!?").encode()) % dim] += 1.0
    return vec


class BagOfWords:
    dim = DIM

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        return [bow_vector(t) for t in texts]


def embeddings_reply(request: Received) -> Reply:
    """What OpenAI's POST /v1/embeddings returns, for the bag-of-words vectors of the input."""
    inputs = request.body["input"]
    inputs = [inputs] if isinstance(inputs, str) else inputs
    return Reply(
        body={
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": bow_vector(t)}
                for i, t in enumerate(inputs)
            ],
            "model": request.body["model"],
            "usage": {"prompt_tokens": 5, "total_tokens": 5},
        }
    )


def embeddings_server() -> FakeProvider:
    return FakeProvider(default=embeddings_reply)
