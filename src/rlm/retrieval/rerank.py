"""LLM rerankers over retrieval hits: listwise sliding window and tournament.

Both ask a model to order numbered passages ("[2] > [1] > [3]") and return the `top_k` hits
in the new order, each hit unchanged but for `metadata["rerank_score"]` (1 / rank). A reply
that names no passage keeps that group's order (logged). `calls` and `cache_hits` count
model calls and cache replays (see rlm.retrieval.models).

- `ListwiseReranker` (RankGPT, Sun et al. 2023): windows of `window_size` slide from the
  bottom of the list to the top by `step`, so a relevant passage can climb from anywhere to
  the head in one pass; cheap when the first stage already put relevant hits near the top.
- `TournamentReranker`: shuffled batches of `batch_size`; the best `top_k_per_batch` of each
  go on to the next round until one batch remains. Every candidate meets a random sample of
  the pool, which holds up when relevant hits are scattered.
"""

from __future__ import annotations

import logging
import os
import random
import re
from typing import Any

from rlm.clients import BaseLM
from rlm.clients.cache import ResponseCache
from rlm.retrieval.models import CallCounter, Counted, resolve_model
from rlm.retrieval.protocol import RetrievalError

__all__ = ["ListwiseReranker", "TournamentReranker"]

log = logging.getLogger("rlm.retrieval")
SYSTEM_PROMPT = (
    "You are RankGPT, an intelligent assistant that can rank passages based on their "
    "relevance to the query."
)
_ID = re.compile(r"\[(\d+)\]")
Cache = str | os.PathLike[str] | ResponseCache | None


def passage_text(hit: dict[str, Any]) -> str:
    return str(hit.get("content") or hit.get("preview") or "")


def parse_order(text: str, n: int) -> list[int] | None:
    """Indexes (0-based) in the order the reply names them, then the unnamed ones in their
    original order; None when the reply names no valid passage."""
    order: list[int] = []
    for match in _ID.finditer(text):
        i = int(match.group(1)) - 1
        if 0 <= i < n and i not in order:
            order.append(i)
    if not order:
        return None
    return order + [i for i in range(n) if i not in order]


class _LLMRanker(Counted):
    def __init__(
        self,
        model: str | BaseLM,
        *,
        model_kwargs: dict[str, Any] | None,
        max_passage_chars: int,
        cache: Cache,
        system_prompt: str | None,
        sampling: dict[str, Any] | None,
        max_tokens: int,
    ):
        if max_passage_chars < 1:
            raise RetrievalError("max_passage_chars must be >= 1")
        self.max_passage_chars = max_passage_chars
        self.system_prompt = system_prompt or SYSTEM_PROMPT
        client = resolve_model(model, model_kwargs, cache, "rerank")
        # A ranking is short; the cap stops a small model that loops from running on.
        defaults = {"temperature": 0.0, "max_tokens": max_tokens}
        self._counter = CallCounter(client, {**defaults, **(sampling or {})})

    def _prompt(self, query: str, group: list[dict[str, Any]]) -> str:
        lines = [
            f"I will provide you with {len(group)} passages, each indicated by a numerical "
            "identifier [].",
            f"Rank the passages based on their relevance to the search query: {query}",
            "",
        ]
        for i, hit in enumerate(group, start=1):
            text = " ".join(passage_text(hit).split())
            if len(text) > self.max_passage_chars:
                text = text[: self.max_passage_chars] + "…"
            lines.append(f"[{i}] {text}")
        lines += [
            "",
            f"Search Query: {query}",
            f"Rank the {len(group)} passages above by relevance to the search query, most "
            "relevant first, using their identifiers. Answer only with the ranking, e.g. "
            "[2] > [3] > [1].",
        ]
        return "\n".join(lines)

    def _order(self, query: str, group: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if len(group) < 2:
            return list(group)
        reply = self._counter.ask(
            [
                {"role": "system", "content": self.system_prompt},
                {"role": "user", "content": self._prompt(query, group)},
            ]
        )
        order = parse_order(reply, len(group))
        if order is None:
            log.warning("reranker reply named no passage (%r); kept that group's order", reply[:80])
            return list(group)
        return [group[i] for i in order]

    @staticmethod
    def _scored(ranked: list[dict[str, Any]], top_k: int) -> list[dict[str, Any]]:
        return [
            {**hit, "metadata": {**(hit.get("metadata") or {}), "rerank_score": 1.0 / rank}}
            for rank, hit in enumerate(ranked[:top_k], start=1)
        ]


class ListwiseReranker(_LLMRanker):
    """`ListwiseReranker(model, window_size=20, step=10)`; `rerank(query, hits, top_k)`."""

    def __init__(
        self,
        model: str | BaseLM,
        window_size: int = 20,
        step: int = 10,
        max_passage_chars: int = 300,
        cache: Cache = None,
        *,
        model_kwargs: dict[str, Any] | None = None,
        system_prompt: str | None = None,
        sampling: dict[str, Any] | None = None,
        max_tokens: int = 200,
    ):
        if window_size < 2 or not 1 <= step <= window_size:
            raise RetrievalError("need window_size >= 2 and 1 <= step <= window_size")
        super().__init__(
            model,
            model_kwargs=model_kwargs,
            max_passage_chars=max_passage_chars,
            cache=cache,
            system_prompt=system_prompt,
            sampling=sampling,
            max_tokens=max_tokens,
        )
        self.window_size = window_size
        self.step = step

    def rerank(
        self, query: str, candidates: list[dict[str, Any]], top_k: int = 10
    ) -> list[dict[str, Any]]:
        ranked = list(candidates)
        if top_k <= 0 or not ranked:
            return []
        end = len(ranked)
        while True:
            start = max(0, end - self.window_size)
            ranked[start:end] = self._order(query, ranked[start:end])
            if start == 0:
                break
            end -= self.step
        return self._scored(ranked, top_k)


class TournamentReranker(_LLMRanker):
    """`TournamentReranker(model, batch_size=20, top_k_per_batch=4, shuffle_seed=42)`.

    The final order is the last round's ranking, then the candidates knocked out in each
    earlier round, latest round first (each round's losers in their batch order)."""

    def __init__(
        self,
        model: str | BaseLM,
        batch_size: int = 20,
        top_k_per_batch: int = 4,
        shuffle_seed: int | None = 42,
        max_passage_chars: int = 300,
        cache: Cache = None,
        *,
        model_kwargs: dict[str, Any] | None = None,
        system_prompt: str | None = None,
        sampling: dict[str, Any] | None = None,
        max_tokens: int = 200,
    ):
        if batch_size < 2 or not 1 <= top_k_per_batch < batch_size:
            raise RetrievalError("need batch_size >= 2 and 1 <= top_k_per_batch < batch_size")
        super().__init__(
            model,
            model_kwargs=model_kwargs,
            max_passage_chars=max_passage_chars,
            cache=cache,
            system_prompt=system_prompt,
            sampling=sampling,
            max_tokens=max_tokens,
        )
        self.batch_size = batch_size
        self.top_k_per_batch = top_k_per_batch
        self.shuffle_seed = shuffle_seed
        self.rounds = 0

    def rerank(
        self, query: str, candidates: list[dict[str, Any]], top_k: int = 10
    ) -> list[dict[str, Any]]:
        if top_k <= 0 or not candidates:
            return []
        # Seeded per query: the same query shuffles the same way on every run (and so hits
        # the cache), different queries differently.
        rng = random.Random(None if self.shuffle_seed is None else f"{self.shuffle_seed}:{query}")
        pool = list(candidates)
        knocked_out: list[list[dict[str, Any]]] = []
        while len(pool) > self.batch_size:
            rng.shuffle(pool)
            survivors, losers = [], []
            for start in range(0, len(pool), self.batch_size):
                batch = pool[start : start + self.batch_size]
                ranked = self._order(query, batch) if len(batch) > self.top_k_per_batch else batch
                survivors += ranked[: self.top_k_per_batch]
                losers += ranked[self.top_k_per_batch :]
            knocked_out.append(losers)
            pool = survivors
            self.rounds += 1
        pool = self._order(query, pool)
        self.rounds += 1
        for losers in reversed(knocked_out):
            pool += losers
        return self._scored(pool, top_k)
