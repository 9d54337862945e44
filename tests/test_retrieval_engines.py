"""Elasticsearch and OpenSearch retrievers through their official clients, and the
OpenAI-compatible embedder through the openai SDK, all against loopback servers that speak
the wire formats (tests/fake_search_engine.py, tests/fake_providers.py)."""

from __future__ import annotations

import pytest

from fake_search_engine import FakeSearchEngine
from retrieval_helpers import BagOfWords, embeddings_server
from rlm.errors import RealModelCallBlockedError
from rlm.retrieval import (
    ElasticsearchRetriever,
    OpenAIEmbedder,
    OpenSearchRetriever,
    RetrievalError,
)

DOCS = [
    {"doc_id": "lease", "content": "The 1998 lease was signed by Ada Byron in Leeds.",
     "metadata": {"lang": "en", "year": 1998, "path": "contracts/lease.txt"}},
    {"doc_id": "bail", "content": "Le bail de 1998 a été signé à Lyon.",
     "metadata": {"lang": "fr", "year": 1998, "path": "contrats/bail.txt"}},
    {"doc_id": "memo", "content": "A memo about the lease renewal in 2005.",
     "metadata": {"lang": "en", "year": 2005, "path": "memos/m1.txt"}},
    {"doc_id": "garden", "content": "Notes on gardening: tulips, roses and compost.",
     "metadata": {"lang": "en", "year": 2011}},
]  # fmt: skip

ENGINES = {
    "Elasticsearch": (ElasticsearchRetriever, pytest.importorskip("elasticsearch")),
    "OpenSearch": (OpenSearchRetriever, pytest.importorskip("opensearchpy")),
}


@pytest.fixture(params=sorted(ENGINES))
def engine(request):
    product = request.param
    with FakeSearchEngine(product) as server:
        cls, _ = ENGINES[product]
        retriever = cls(server.url, index="docs", embedder=BagOfWords())
        retriever.create_index(dims=BagOfWords.dim)
        assert retriever.add(DOCS) == 4
        yield retriever, server
        retriever.close()


def test_bm25_search_and_get(engine):
    retriever, server = engine
    hits = retriever.search("lease signed", top_k=2)
    assert hits[0]["doc_id"] == "lease"
    assert set(hits[0]) == {"doc_id", "preview", "score", "metadata"}
    assert hits[0]["metadata"] == {"lang": "en", "year": 1998, "path": "contracts/lease.txt"}
    doc = retriever.get("memo")
    assert doc == {"doc_id": "memo", "content": DOCS[2]["content"], "metadata": DOCS[2]["metadata"]}
    with pytest.raises(RetrievalError, match="no document 'nope'"):
        retriever.get("nope")
    _method, _path, body = next(r for r in server.state.requests if r[1] == "/docs/_search")
    assert body["query"]["bool"]["must"] == [{"match": {"content": "lease signed"}}]
    assert body["_source"] == {"excludes": ["embedding"]}


def test_filters_reach_the_engine_as_query_dsl(engine):
    retriever, _ = engine

    def ids(**filters):
        return {h["doc_id"] for h in retriever.search("lease 1998 memo bail", 10, filters)}

    assert ids(lang="en") == {"lease", "memo"}
    assert ids(lang=["fr"]) == {"bail"}
    assert ids(year={"gte": 2000}) == {"memo"}
    assert ids(lang={"not": "en"}) == {"bail"}
    assert ids(path={"prefix": "contracts/"}) == {"lease"}
    assert ids(path={"exists": False}) == set()


def test_vector_and_hybrid_search(engine):
    retriever, server = engine
    hits = retriever.vector_search("notes on gardening tulips roses", top_k=1)
    assert hits[0]["doc_id"] == "garden"
    assert retriever.vector_search("lease", 4, {"lang": "fr"})[0]["doc_id"] == "bail"
    knn_body = server.state.requests[-1][2]
    if server.state.product == "Elasticsearch":
        assert knn_body["knn"]["filter"] == {"bool": {"filter": [{"term": {"lang": "fr"}}]}}
    else:
        assert knn_body["query"]["knn"]["embedding"]["filter"] == {
            "bool": {"filter": [{"term": {"lang": "fr"}}]}
        }
    hybrid = retriever.hybrid_search("memo about the lease renewal", top_k=2)
    assert hybrid[0]["doc_id"] == "memo"


def test_engine_errors_become_retrieval_errors():
    with FakeSearchEngine("Elasticsearch") as server:
        retriever = ElasticsearchRetriever(server.url, index="missing")
        with pytest.raises(RetrievalError, match="Elasticsearch search on index 'missing'"):
            retriever.search("x")
        with pytest.raises(RetrievalError, match="needs an embedder"):
            retriever.vector_search("x")


def test_openai_embedder_through_the_sdk_feeds_vector_search(monkeypatch):
    monkeypatch.setenv("RLM_BLOCK_REAL_REQUESTS", "1")
    server = embeddings_server()
    try:
        embedder = OpenAIEmbedder(
            "text-embedding-3-small", base_url=server.url + "/v1", api_key="k", batch_size=2
        )
        vectors = embedder.embed(["a b", "c", "d e f"])
        assert len(vectors) == 3 and len(vectors[0]) == BagOfWords.dim
        assert [len(r.body["input"]) for r in server.requests] == [2, 1]
        assert server.requests[0].path == "/v1/embeddings"
        with FakeSearchEngine("OpenSearch") as engine:
            retriever = OpenSearchRetriever(engine.url, index="d", embedder=embedder)
            retriever.create_index(dims=BagOfWords.dim)
            retriever.add(DOCS)
            assert retriever.vector_search("gardening tulips roses", 1)[0]["doc_id"] == "garden"
    finally:
        server.close()
    remote = OpenAIEmbedder("m", base_url="https://api.openai.com/v1", api_key="k")
    with pytest.raises(RealModelCallBlockedError):
        remote.embed(["x"])
