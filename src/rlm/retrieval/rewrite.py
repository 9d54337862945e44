"""`QueryRewriter`: several reformulations of a query from one model call, for multi-query
retrieval (search each, `union_pool` the lists, rerank the pool).

The model is asked for JSON `{"rewrites": [...]}`; a reply that is not such JSON is read one
rewrite per line (bullets and numbering stripped).
"""

from __future__ import annotations

import json
import logging
import os
import re
from typing import Any

from rlm.clients import BaseLM
from rlm.clients.cache import ResponseCache
from rlm.retrieval.models import CallCounter, Counted, resolve_model
from rlm.retrieval.protocol import RetrievalError

__all__ = ["QueryRewriter"]

log = logging.getLogger("rlm.retrieval")
SYSTEM_PROMPT = (
    "You rewrite search queries for a keyword search engine. Give {n} different rewrites of "
    "the user's query: use synonyms, name the likely entities, drop filler words. Reply with "
    'JSON only: {"rewrites": ["...", "..."]}'
)
_JSON = re.compile(r"\{.*\}", re.DOTALL)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")


def parse_rewrites(text: str, n: int) -> list[str]:
    match = _JSON.search(text or "")
    if match:
        try:
            data = json.loads(match.group(0))
        except json.JSONDecodeError:
            data = None
        rewrites = data.get("rewrites") if isinstance(data, dict) else None
        if isinstance(rewrites, list):
            out = [r.strip() for r in rewrites if isinstance(r, str) and r.strip()]
            if out:
                return out[:n]
    lines = [_BULLET.sub("", line).strip().strip("\"'") for line in (text or "").splitlines()]
    return [line for line in lines if 3 <= len(line) <= 300][:n]


class QueryRewriter(Counted):
    """`QueryRewriter(model, n=5).rewrite(query) -> list[str]` (up to n, may be fewer)."""

    def __init__(
        self,
        model: str | BaseLM,
        n: int = 5,
        system_prompt: str | None = None,
        cache: str | os.PathLike[str] | ResponseCache | None = None,
        *,
        model_kwargs: dict[str, Any] | None = None,
        sampling: dict[str, Any] | None = None,
        max_tokens: int = 400,
    ):
        if n < 1:
            raise RetrievalError("n must be >= 1")
        self.n = n
        self.system_prompt = (system_prompt or SYSTEM_PROMPT).replace("{n}", str(n))
        client = resolve_model(model, model_kwargs, cache, "rewrite")
        defaults = {"temperature": 0.0, "max_tokens": max_tokens}  # bounds a looping model
        self._counter = CallCounter(client, {**defaults, **(sampling or {})})

    def rewrite(self, query: str) -> list[str]:
        reply = self._counter.ask(
            [
                {"role": "system", "content": self.system_prompt},
                {"role": "user", "content": query},
            ]
        )
        rewrites = parse_rewrites(reply, self.n)
        if not rewrites:
            log.warning("query rewriter reply had no rewrite (%r)", reply[:80])
        return rewrites
