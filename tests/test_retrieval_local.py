"""The embedded index (tantivy on disk): add, search, filters, get, replace, several
processes, vectors with a real embedder function."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from rlm.retrieval import LocalIndex, RetrievalError
from rlm.retrieval.fusion import reciprocal_rank_fusion, union_pool
from rlm.retrieval.metrics import ndcg_at_k, recall_at_k

DOCS = [
    {
        "doc_id": "lease",
        "content": "The 1998 lease was signed by Ada Byron in Leeds.",
        "metadata": {"lang": "en", "year": 1998, "path": "contracts/lease.txt"},
    },
    {
        "doc_id": "bail",
        "content": "Le bail de 1998 a été signé à Lyon.",
        "metadata": {"lang": "fr", "year": 1998, "path": "contrats/bail.txt"},
    },
    {
        "doc_id": "memo",
        "content": "A memo about the lease renewal in 2005.",
        "metadata": {"lang": "en", "year": 2005, "path": "memos/m1.txt"},
    },
    "A plain string document about gardening.",
]


@pytest.fixture
def index(tmp_path):
    idx = LocalIndex(tmp_path / "idx")
    assert idx.add(DOCS) == 4
    yield idx
    idx.close()


def test_search_ranks_by_bm25_and_returns_the_hit_shape(index):
    hits = index.search("lease signed", top_k=3)
    assert hits[0]["doc_id"] == "lease"
    assert set(hits[0]) == {"doc_id", "preview", "score", "metadata"}
    assert hits[0]["metadata"]["year"] == 1998
    assert [h["doc_id"] for h in hits] == sorted(
        [h["doc_id"] for h in hits],
        key=lambda d: -next(x["score"] for x in hits if x["doc_id"] == d),
    )
    assert index.num_docs == 4


def test_filters_equal_list_range_not_exists_prefix(index):
    ids = lambda **f: {h["doc_id"] for h in index.search("lease 1998 bail memo", 10, f)}  # noqa: E731
    assert ids(lang="en") == {"lease", "memo"}
    assert ids(lang=["fr", "de"]) == {"bail"}
    assert ids(year={"gte": 2000}) == {"memo"}
    assert ids(year={"gt": 1990, "lt": 2005}) == {"lease", "bail"}
    assert ids(lang={"not": "en"}) == {"bail"}
    assert ids(path={"prefix": "contracts/"}) == {"lease"}
    assert ids(path={"exists": True}) == {"lease", "bail", "memo"}
    with pytest.raises(RetrievalError, match="unknown condition"):
        index.search("lease", 5, {"year": {"between": [1, 2]}})
    with pytest.raises(RetrievalError, match="top_k"):
        index.search("lease", 0)


def test_get_and_replace_by_doc_id(index):
    assert index.get("lease")["content"].startswith("The 1998 lease")
    index.add([{"doc_id": "lease", "content": "Rewritten lease text."}])
    assert index.get("lease")["content"] == "Rewritten lease text."
    assert index.num_docs == 4
    with pytest.raises(RetrievalError, match="no document 'nope'"):
        index.get("nope")


def test_a_second_writer_is_refused_while_readers_in_other_processes_search(tmp_path, index):
    # A reader in another process sees what this writer committed.
    code = textwrap.dedent(
        f"""
        from rlm.retrieval import LocalIndex
        idx = LocalIndex({str(tmp_path / "idx")!r}, create=False)
        print(idx.search("gardening", 1)[0]["preview"])
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "gardening" in out.stdout
    index.add([{"doc_id": "new", "content": "tulips and roses"}], commit=False)  # holds the lock
    other = LocalIndex(tmp_path / "idx")
    assert other.search("tulips", 1) == []  # not committed yet
    with pytest.raises(RetrievalError, match="another process is writing"):
        other.add(["x"])
    index.commit()
    assert other.search("tulips", 1)[0]["doc_id"] == "new"


def test_missing_index_says_how_to_build_one(tmp_path):
    with pytest.raises(RetrievalError, match="rlm index build"):
        LocalIndex(tmp_path / "absent", create=False)


class BagOfWords:
    """A real (if tiny) embedder: hashed word counts, so similar texts get similar vectors."""

    dim = 64

    def __init__(self):
        self.calls = 0

    def embed(self, texts):
        self.calls += 1
        out = []
        for text in texts:
            vec = [0.0] * self.dim
            for word in text.lower().split():
                vec[sum(map(ord, word.strip(".,"))) % self.dim] += 1.0
            out.append(vec)
        return out


def test_vector_and_hybrid_search_with_an_embedder(tmp_path):
    idx = LocalIndex(tmp_path / "v", embedder=BagOfWords())
    idx.add(DOCS)
    assert idx.vector_search("memo about the lease renewal", 1)[0]["doc_id"] == "memo"
    assert idx.vector_search("lease", 5, {"lang": "fr"})[0]["doc_id"] == "bail"
    hybrid = idx.hybrid_search("lease renewal memo", 3)
    assert hybrid[0]["doc_id"] == "memo"
    idx.close()
    reopened = LocalIndex(tmp_path / "v", embedder=BagOfWords())
    assert reopened.vector_search("gardening string", 1)[0]["preview"].startswith("A plain")
    no_vectors = LocalIndex(tmp_path / "idx2")
    with pytest.raises(RetrievalError, match="needs an embedder"):
        no_vectors.vector_search("x")


def test_rrf_union_and_metrics():
    a = [{"doc_id": "x", "score": 9}, {"doc_id": "y", "score": 5}]
    b = [{"doc_id": "y", "score": 0.9}, {"doc_id": "z", "score": 0.8}]
    fused = reciprocal_rank_fusion([a, b], top_k=3)
    assert [h["doc_id"] for h in fused] == ["y", "x", "z"]
    assert fused[0]["score"] == pytest.approx(1 / 62 + 1 / 61)
    assert [h["doc_id"] for h in union_pool([a, b])] == ["x", "y", "z"]
    assert recall_at_k(["x", "q", "y"], {"y", "z"}, k=3) == 0.5
    assert ndcg_at_k(["y", "x"], {"y": 1}, k=2) == 1.0
    assert ndcg_at_k(["x", "y"], {"y": 1}, k=2) == pytest.approx(1 / 1.5849625)
    assert ndcg_at_k(["x"], {}, k=10) == 0.0
