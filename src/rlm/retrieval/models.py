"""The model behind a reranker or query rewriter: any rlm backend, optionally cached.

`model` is a registered backend name (with `model_kwargs`, as `RLM(backend=...,
backend_kwargs=...)`) or a `BaseLM` instance. With `cache` (a path or a `ResponseCache`) every
call goes through the persistent response cache (rlm.clients.cache), so a rerun over the same
inputs costs no model call. `CallCounter` counts real calls and cache hits.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from rlm.clients import BaseLM, get_client
from rlm.clients.cache import CachedLM, ResponseCache
from rlm.types import Message


def resolve_model(
    model: str | BaseLM,
    model_kwargs: dict[str, Any] | None,
    cache: str | os.PathLike[str] | ResponseCache | None,
    namespace: str,
) -> BaseLM:
    client = get_client(model, dict(model_kwargs or {}))
    if cache is not None:
        client = CachedLM(client, cache, namespace=f"{namespace}:{type(client).__name__}")
    return client


class Counted:
    """`calls` and `cache_hits` of an object whose model calls go through `self._counter`."""

    _counter: CallCounter

    @property
    def calls(self) -> int:
        return self._counter.calls

    @property
    def cache_hits(self) -> int:
        return self._counter.cache_hits


class CallCounter:
    """Sends messages to the model and counts `calls` (real ones) and `cache_hits`."""

    def __init__(self, client: BaseLM, sampling: dict[str, Any]):
        self.client = client
        self.sampling = sampling
        self.calls = 0
        self.cache_hits = 0
        self._lock = threading.Lock()

    def ask(self, messages: list[Message]) -> str:
        response = self.client.complete(messages, **self.sampling)
        with self._lock:
            if response.usage.cached:
                self.cache_hits += 1
            else:
                self.calls += 1
        return response.text
