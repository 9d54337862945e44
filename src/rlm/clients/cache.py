"""Persistent response cache for model calls (SQLite, standard library only).

Key: SHA-256 of the canonical JSON of (namespace, model, messages, sampling args), where the
namespace is the backend name, so the same model name served by two providers never
collides. Safe across threads (one connection per thread) and processes (WAL journal, busy
timeout, each write its own transaction). A row that fails its checksum or does not decode is
a miss: it is logged and overwritten by the fresh answer.

A hit returns the stored text with `CallUsage(cached=True, cost=0.0)` and the token counts of
the original call: cost is money spent now (none), tokens describe the call itself, so token
statistics and token limits of a replayed run match the original, while `cache_hits` in the
usage summary shows how much was replayed.

Caching makes sampled (temperature > 0) answers repeat: that is the point for replaying
experiments, and the reason the cache is opt-in (`cache=path` on any provider client, or
`CachedLM(inner, path)` around any `BaseLM`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from rlm.clients.base import BaseLM, as_messages
from rlm.errors import ConfigurationError
from rlm.types import CallUsage, LMResponse, Message, Prompt

__all__ = ["CachedLM", "ResponseCache", "cache_key"]

log = logging.getLogger("rlm.clients")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    payload TEXT NOT NULL,
    digest TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def cache_key(namespace: str, model: str, messages: list[Message], sampling: dict[str, Any]) -> str:
    blob = json.dumps(
        {"ns": namespace, "model": model, "messages": messages, "sampling": sampling},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=repr,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _digest(payload: str) -> str:
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ResponseCache:
    """A SQLite file mapping cache keys to (text, usage of the original call)."""

    def __init__(self, path: str | os.PathLike[str], busy_timeout: float = 30.0):
        self.path = Path(path).expanduser()
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = self._conn()
            conn.execute(_SCHEMA)
        except (OSError, sqlite3.DatabaseError) as exc:
            raise ConfigurationError(
                f"cannot open the response cache at {self.path}: {exc}. "
                "Pass another `cache` path or delete the file."
            ) from exc

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # autocommit mode: every statement is its own short transaction, so writers from
            # other processes wait at most one statement (bounded by busy_timeout).
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=True
            )
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def get(self, key: str) -> tuple[str, CallUsage] | None:
        try:
            row = (
                self._conn()
                .execute("SELECT payload, digest FROM responses WHERE key = ?", (key,))
                .fetchone()
            )
        except sqlite3.DatabaseError as exc:
            log.warning("response cache %s unreadable (%s); treating as a miss", self.path, exc)
            return None
        if row is None:
            return None
        payload, digest = row
        try:
            if not isinstance(payload, str) or _digest(payload) != digest:
                raise ValueError("checksum mismatch")
            data = json.loads(payload)
            usage = CallUsage(
                model=str(data["model"]),
                input_tokens=int(data["input_tokens"]),
                output_tokens=int(data["output_tokens"]),
                cost=0.0,
                cached=True,
            )
            text = data["text"]
            if not isinstance(text, str):
                raise ValueError("text is not a string")
        except (ValueError, KeyError, TypeError) as exc:
            log.warning(
                "corrupt response-cache entry %s in %s (%s); treating as a miss",
                key[:12],
                self.path,
                exc,
            )
            return None
        return text, usage

    def put(self, key: str, text: str, usage: CallUsage) -> None:
        payload = json.dumps(
            {
                "text": text,
                "model": usage.model,
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "cost": usage.cost,
            },
            ensure_ascii=False,
        )
        try:
            self._conn().execute(
                "INSERT OR REPLACE INTO responses (key, payload, digest, created) "
                "VALUES (?, ?, ?, ?)",
                (key, payload, _digest(payload), time.time()),
            )
        except sqlite3.DatabaseError as exc:
            # The answer is already in hand; losing the cache write only costs a future miss.
            log.warning("could not write response cache %s (%s); continuing", self.path, exc)

    def __len__(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def as_cache(cache: str | os.PathLike[str] | ResponseCache | None) -> ResponseCache | None:
    if cache is None or isinstance(cache, ResponseCache):
        return cache
    return ResponseCache(cache)


class CachedLM(BaseLM):
    """Wrap any `BaseLM` with the persistent cache. Misses go to `inner`; hits never do."""

    def __init__(
        self,
        inner: BaseLM,
        path: str | os.PathLike[str] | ResponseCache,
        namespace: str | None = None,
    ):
        super().__init__(
            model_name=inner.model_name, timeout=inner.timeout, sampling_args=inner.sampling_args
        )
        self.inner = inner
        self.cache = as_cache(path)
        self.namespace = namespace or type(inner).__name__
        self.context_window = inner.context_window

    def _key(self, messages: list[Message], sampling: dict[str, Any]) -> str:
        return cache_key(self.namespace, self.model_name, messages, sampling)

    def complete(self, prompt: Prompt | dict[str, Any], **sampling: Any) -> LMResponse:
        messages = as_messages(prompt)
        key = self._key(messages, {**self.sampling_args, **sampling})
        hit = self.cache.get(key)
        if hit is not None:
            return LMResponse(hit[0], self.record(hit[1]))
        response = self.inner.complete(messages, **sampling)
        self.cache.put(key, response.text, response.usage)
        return LMResponse(response.text, self.record(response.usage))

    async def acomplete(self, prompt: Prompt | dict[str, Any], **sampling: Any) -> LMResponse:
        messages = as_messages(prompt)
        key = self._key(messages, {**self.sampling_args, **sampling})
        hit = await asyncio.to_thread(self.cache.get, key)
        if hit is not None:
            return LMResponse(hit[0], self.record(hit[1]))
        response = await self.inner.acomplete(messages, **sampling)
        await asyncio.to_thread(self.cache.put, key, response.text, response.usage)
        return LMResponse(response.text, self.record(response.usage))

    def describe(self) -> dict[str, Any]:
        return {**self.inner.describe(), "cache": str(self.cache.path)}

    def close(self) -> None:
        self.inner.close()
        self.cache.close()
