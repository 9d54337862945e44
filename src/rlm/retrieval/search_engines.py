"""Elasticsearch and OpenSearch retrievers, on their official clients.

    from rlm.retrieval import ElasticsearchRetriever, OpenAIEmbedder
    es = ElasticsearchRetriever("https://es.example:9200", index="docs", api_key="...",
                                embedder=OpenAIEmbedder("text-embedding-3-small"))
    es.search("termination clause", top_k=5, filters={"lang": "en"})

BM25 is the engine's `match` query; vector search embeds the query with `embedder` and runs
the engine's approximate kNN (Elasticsearch's `knn` section, OpenSearch's k-NN plugin query),
with filters applied inside the vector search; hybrid search fuses both lists on the client by
reciprocal rank (no paid feature or search pipeline needed). Documents keep their text in
`content_field`, the vector in `vector_field`, and everything else is metadata.
`create_index(dims)` and `add(docs)` set up and fill an index with the mapping this expects.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from rlm.errors import MissingDependencyError
from rlm.retrieval import es_query
from rlm.retrieval.fusion import reciprocal_rank_fusion
from rlm.retrieval.protocol import (
    PREVIEW_CHARS,
    DocInput,
    Document,
    Filters,
    Hit,
    RetrievalError,
    check_filters,
    check_top_k,
    make_preview,
    normalize_doc,
)

__all__ = ["ElasticsearchRetriever", "OpenSearchRetriever"]

log = logging.getLogger("rlm.retrieval")


class _EngineRetriever:
    product = "search engine"

    def __init__(
        self,
        url: str | None = None,
        *,
        index: str,
        client: Any = None,
        embedder: Any = None,
        content_field: str = "content",
        vector_field: str = "embedding",
        preview_chars: int = PREVIEW_CHARS,
        **client_kwargs: Any,
    ):
        if client is None:
            if url is None:
                raise RetrievalError(f"{type(self).__name__} needs url= or client=")
            client = self._make_client(url, client_kwargs)
        self.client = client
        self.index = index
        self.embedder = embedder
        self.content_field = content_field
        self.vector_field = vector_field
        self.preview_chars = preview_chars

    # -- the Retriever protocol -------------------------------------------------------------
    def search(self, query: str, top_k: int = 10, filters: Filters | None = None) -> list[Hit]:
        top_k, filters = check_top_k(top_k), check_filters(filters)
        body = es_query.bm25_body(query, top_k, filters, self.content_field, self.vector_field)
        return self._hits(self._call("search", index=self.index, body=body))

    def vector_search(
        self, query: str, top_k: int = 10, filters: Filters | None = None
    ) -> list[Hit]:
        top_k, filters = check_top_k(top_k), check_filters(filters)
        body = self._knn_body(self._embed(query), top_k, filters)
        return self._hits(self._call("search", index=self.index, body=body))

    def hybrid_search(
        self, query: str, top_k: int = 10, filters: Filters | None = None
    ) -> list[Hit]:
        """BM25 and kNN lists (2 x top_k each) fused by reciprocal rank (k = 60)."""
        pool = max(2 * check_top_k(top_k), 20)
        return reciprocal_rank_fusion(
            [self.search(query, pool, filters), self.vector_search(query, pool, filters)], top_k
        )

    def get(self, doc_id: str) -> Document:
        response = self._call("get", index=self.index, id=str(doc_id), missing_ok=True)
        if response is None or not response.get("found", True):
            raise RetrievalError(f"no document {doc_id!r} in index {self.index!r}")
        source = dict(response.get("_source") or {})
        return {
            "doc_id": str(response["_id"]),
            "content": str(source.pop(self.content_field, "")),
            "metadata": self._metadata(source),
        }

    # -- setting up an index ----------------------------------------------------------------
    def create_index(self, dims: int | None = None) -> None:
        """Create the index with the mapping this retriever expects (keyword metadata, text
        content, and a `dims`-dimensional cosine vector field when given)."""
        self._call("indices.create", index=self.index, body=self._mappings(dims))

    def add(self, docs: Iterable[DocInput], *, refresh: bool = True) -> int:
        """Index documents (embedding them when an embedder is set) with one bulk request."""
        batch = [normalize_doc(d) for d in docs]
        vectors = self.embedder.embed([c for _, c, _ in batch]) if self.embedder and batch else None
        lines: list[dict[str, Any]] = []
        for i, (doc_id, content, metadata) in enumerate(batch):
            source = {**metadata, self.content_field: content}
            if vectors is not None:
                source[self.vector_field] = list(vectors[i])
            lines += [{"index": {"_index": self.index, "_id": doc_id}}, source]
        if lines:
            result = self._call("bulk", body=lines, refresh=refresh)
            if result.get("errors"):
                failed = [i for i in result.get("items", []) if i.get("index", {}).get("error")]
                raise RetrievalError(
                    f"{len(failed)} of {len(batch)} documents were refused by {self.product}: "
                    f"{failed[0]['index']['error'] if failed else result}"
                )
        return len(batch)

    def close(self) -> None:
        self.client.close()

    # -- internals --------------------------------------------------------------------------
    @staticmethod
    def _make_client(url: str, kwargs: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _knn_body(self, vector: list[float], top_k: int, filters: Filters) -> dict[str, Any]:
        raise NotImplementedError

    def _mappings(self, dims: int | None) -> dict[str, Any]:
        raise NotImplementedError

    def _embed(self, query: str) -> list[float]:
        if self.embedder is None:
            raise RetrievalError(
                f"vector search on {self.product} needs an embedder: "
                f"{type(self).__name__}(..., embedder=OpenAIEmbedder(model))"
            )
        return list(self.embedder.embed([query])[0])

    def _call(self, method: str, missing_ok: bool = False, **kwargs: Any) -> Any:
        target = self.client
        for part in method.split("."):
            target = getattr(target, part)
        try:
            response = target(**kwargs)
        except Exception as exc:  # the clients' errors differ; all become one clear error
            status = getattr(exc, "status_code", None) or getattr(exc, "status", None)
            if missing_ok and status == 404:
                return None
            raise RetrievalError(
                f"{self.product} {method} on index {self.index!r} failed: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return getattr(response, "body", response)

    def _metadata(self, source: dict[str, Any]) -> dict[str, Any]:
        source.pop(self.vector_field, None)
        return source

    def _hits(self, response: dict[str, Any]) -> list[Hit]:
        hits = []
        for raw in response.get("hits", {}).get("hits", []):
            source = dict(raw.get("_source") or {})
            content = str(source.pop(self.content_field, ""))
            hits.append(
                {
                    "doc_id": str(raw["_id"]),
                    "preview": make_preview(content, self.preview_chars),
                    "score": float(raw.get("_score") or 0.0),
                    "metadata": self._metadata(source),
                }
            )
        return hits


class ElasticsearchRetriever(_EngineRetriever):
    """An Elasticsearch index through the official `elasticsearch` client (8.x/9.x).

    Pass `url` plus any `Elasticsearch(...)` keyword (`api_key`, `basic_auth`, `ca_certs`,
    `request_timeout`, ...), or a ready `client=`."""

    product = "Elasticsearch"

    @staticmethod
    def _make_client(url: str, kwargs: dict[str, Any]) -> Any:
        try:
            from elasticsearch import Elasticsearch
        except ImportError as exc:
            raise MissingDependencyError(
                "ElasticsearchRetriever", "elasticsearch", "elasticsearch"
            ) from exc
        return Elasticsearch(url, **kwargs)

    def _knn_body(self, vector: list[float], top_k: int, filters: Filters) -> dict[str, Any]:
        return es_query.es_knn_body(vector, top_k, filters, self.vector_field)

    def _mappings(self, dims: int | None) -> dict[str, Any]:
        return es_query.es_mappings(self.content_field, self.vector_field, dims)


class OpenSearchRetriever(_EngineRetriever):
    """An OpenSearch index through the official `opensearch-py` client; vector search uses
    the k-NN plugin. Pass `url` plus any `OpenSearch(...)` keyword (`http_auth`, `use_ssl`,
    `verify_certs`, ...), or a ready `client=`."""

    product = "OpenSearch"

    @staticmethod
    def _make_client(url: str, kwargs: dict[str, Any]) -> Any:
        try:
            from opensearchpy import OpenSearch
        except ImportError as exc:
            raise MissingDependencyError(
                "OpenSearchRetriever", "opensearch", "opensearch-py"
            ) from exc
        return OpenSearch(hosts=[url], **kwargs)

    def _knn_body(self, vector: list[float], top_k: int, filters: Filters) -> dict[str, Any]:
        return es_query.os_knn_body(vector, top_k, filters, self.vector_field)

    def _mappings(self, dims: int | None) -> dict[str, Any]:
        return es_query.os_mappings(self.content_field, self.vector_field, dims)
