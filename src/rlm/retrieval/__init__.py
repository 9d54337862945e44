"""Retrieval: search a corpus bigger than memory from the REPL, rerank it, measure it.

    from rlm import RLM
    from rlm.retrieval import LocalIndex

    index = LocalIndex("corpus.idx")          # or ElasticsearchRetriever / OpenSearchRetriever
    index.add(["first document ...", {"doc_id": "b", "content": "...", "metadata": {...}}])
    rlm = RLM(backend="openai", retriever=index)
    rlm.completion("Who signed the 1998 lease?")   # the model calls es_search / es_get

Names are imported lazily, so `import rlm.retrieval` needs none of the optional packages;
each backend says which extra to install when it is used without it. See docs/retrieval.md.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "Document",
    "ElasticsearchRetriever",
    "Hit",
    "ListwiseReranker",
    "LlamaCppEmbedder",
    "LocalIndex",
    "OpenAIEmbedder",
    "OpenSearchRetriever",
    "QueryRewriter",
    "RetrievalError",
    "Retriever",
    "TournamentReranker",
    "ndcg_at_k",
    "recall_at_k",
    "reciprocal_rank_fusion",
    "retriever_tools",
    "union_pool",
]

_WHERE = {
    "Document": "protocol",
    "Hit": "protocol",
    "RetrievalError": "protocol",
    "Retriever": "protocol",
    "LocalIndex": "local_index",
    "ElasticsearchRetriever": "search_engines",
    "OpenSearchRetriever": "search_engines",
    "OpenAIEmbedder": "embeddings",
    "LlamaCppEmbedder": "embeddings",
    "ListwiseReranker": "rerank",
    "TournamentReranker": "rerank",
    "QueryRewriter": "rewrite",
    "ndcg_at_k": "metrics",
    "recall_at_k": "metrics",
    "reciprocal_rank_fusion": "fusion",
    "union_pool": "fusion",
    "retriever_tools": "tools",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'rlm.retrieval' has no attribute {name!r}")
    return getattr(importlib.import_module(f"rlm.retrieval.{module}"), name)


def __dir__() -> list[str]:
    return sorted(__all__)
