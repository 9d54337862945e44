"""The REPL side of `RLM(retriever=...)`: `es_search`, `es_vector_search`,
`es_hybrid_search`, `es_get` (pyrlm-runtime's names), served on the host as custom tools.

Here in core because `RLM` offers them and core imports nothing above it; the retrievers
themselves live in `rlm.retrieval`, and any object with the four methods works.

They reach model code through the broker's name table like any custom tool, so they work in
every environment and the sandbox never opens the index or a socket: model code sends the
arguments as JSON, the host runs the search and sends plain JSON back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rlm.errors import ConfigurationError

__all__ = ["RETRIEVAL_NOTE", "TOOL_NAMES", "add_retriever_tools", "retriever_tools"]

TOOL_NAMES = ("es_search", "es_vector_search", "es_hybrid_search", "es_get")

_HIT = "list of {doc_id, preview, score, metadata}, best first"
DESCRIPTIONS = {
    "es_search": f"es_search(query, top_k=10, filters=None) -> {_HIT}. Keyword (BM25) search.",
    "es_vector_search": f"es_vector_search(query, top_k=10, filters=None) -> {_HIT}. "
    "Search by meaning (embeddings).",
    "es_hybrid_search": f"es_hybrid_search(query, top_k=10, filters=None) -> {_HIT}. "
    "Keyword + meaning, fused by rank.",
    "es_get": "es_get(doc_id) -> {doc_id, content, metadata}. The whole document.",
}


def _plain(value: Any) -> Any:
    """The JSON the sandbox would receive, so every environment sees the same values."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def _wrap(method: Callable[..., Any], name: str) -> Callable[..., Any]:
    def tool(*args: Any, **kwargs: Any) -> Any:
        return _plain(method(*args, **kwargs))

    tool.__name__ = name
    tool.__doc__ = DESCRIPTIONS[name]
    return tool


def retriever_tools(retriever: Any) -> dict[str, dict[str, Any]]:
    """`custom_tools` entries (`{name: {"tool": fn, "description": str}}`) for `retriever`."""
    missing = [
        m
        for m in ("search", "vector_search", "hybrid_search", "get")
        if not callable(getattr(retriever, m, None))
    ]
    if missing:
        raise ConfigurationError(
            f"{type(retriever).__name__} is not a retriever: it lacks {', '.join(missing)} "
            "(see rlm.retrieval.Retriever)"
        )
    methods = {
        "es_search": retriever.search,
        "es_vector_search": retriever.vector_search,
        "es_hybrid_search": retriever.hybrid_search,
        "es_get": retriever.get,
    }
    return {
        name: {"tool": _wrap(method, name), "description": DESCRIPTIONS[name]}
        for name, method in methods.items()
    }


RETRIEVAL_NOTE = (
    "A search index holds the documents for this query (if `context` is just the query, "
    "they are only in the index). Find them with es_search or es_hybrid_search (short keyword "
    "queries work best; try several phrasings), then read promising ones whole with "
    "es_get(doc_id): a preview may be cut. `filters` is a dict over metadata, e.g. "
    '{"lang": "en"} or {"year": {"gte": 2000}}.'
)


def add_retriever_tools(
    retriever: Any,
    custom_tools: dict[str, Any] | None,
    custom_sub_tools: dict[str, Any] | None,
) -> tuple[dict[str, Any], dict[str, Any] | None, tuple[str, ...]]:
    """(custom_tools, custom_sub_tools, prompt notes) with the es_* tools added to both (a
    None custom_sub_tools stays None: sub-RLMs then get custom_tools, es_* included)."""
    es_tools = retriever_tools(retriever)
    for given in (custom_tools, custom_sub_tools):
        clash = sorted(set(given or {}) & set(es_tools))
        if clash:
            raise ConfigurationError(
                f"custom tool name(s) {', '.join(clash)} clash with the retriever's tools; "
                "rename them or drop retriever="
            )
    sub = None if custom_sub_tools is None else {**es_tools, **custom_sub_tools}
    return {**es_tools, **(custom_tools or {})}, sub, (RETRIEVAL_NOTE,)
