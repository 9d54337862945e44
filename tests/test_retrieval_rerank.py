"""Rerankers and the query rewriter with function-backend models, the response cache
(rlm.clients.cache) replaying their calls, and a registered backend by name."""

from __future__ import annotations

import re

import pytest

from rlm.clients.offline import FunctionLM
from rlm.retrieval import ListwiseReranker, QueryRewriter, TournamentReranker, union_pool
from rlm.retrieval.rerank import parse_order
from rlm.retrieval.rewrite import parse_rewrites


def hits(n):
    # Passage i mentions "gold" i times: the ideal order is descending i.
    return [
        {"doc_id": f"d{i}", "preview": "gold " * i + "filler", "score": 1.0, "metadata": {}}
        for i in range(n)
    ]


def gold_judge(messages):
    """A model that ranks the numbered passages by how often they say 'gold'."""
    user = messages[-1]["content"]
    passages = re.findall(r"^\[(\d+)\] (.*)$", user, re.M)
    ranked = sorted(passages, key=lambda p: -p[1].count("gold"))
    return " > ".join(f"[{n}]" for n, _ in ranked)


def test_listwise_sliding_windows_bring_the_best_to_the_top(tmp_path):
    model = FunctionLM(gold_judge)
    reranker = ListwiseReranker(model, window_size=4, step=2, cache=tmp_path / "c.db")
    top = reranker.rerank("gold", hits(10), top_k=3)
    # One bottom-up pass carries the best window_size - step passages to the head.
    assert [h["doc_id"] for h in top][:2] == ["d9", "d8"]
    assert top[0]["metadata"]["rerank_score"] == 1.0
    assert reranker.calls == 4 and reranker.cache_hits == 0  # windows 6-10, 4-8, 2-6, 0-4
    again = ListwiseReranker(model, window_size=4, step=2, cache=tmp_path / "c.db")
    assert again.rerank("gold", hits(10), top_k=3) == top
    assert again.calls == 0 and again.cache_hits == 4


def test_tournament_rounds_and_a_named_backend():
    reranker = TournamentReranker(
        "function", batch_size=4, top_k_per_batch=2, model_kwargs={"function": gold_judge}
    )
    top = reranker.rerank("gold", hits(12), top_k=4)
    assert [h["doc_id"] for h in top][:2] == ["d11", "d10"]
    assert reranker.rounds >= 2 and reranker.calls >= 4
    assert len(reranker.rerank("gold", hits(12), top_k=20)) == 12


def test_malformed_reply_keeps_order_and_parse_order_fills_gaps():
    reranker = ListwiseReranker(FunctionLM(lambda m: "I cannot rank these."), window_size=5, step=5)
    assert [h["doc_id"] for h in reranker.rerank("q", hits(3))] == ["d0", "d1", "d2"]
    assert parse_order("[3] > [1] > [9] > [3]", 4) == [2, 0, 1, 3]
    assert parse_order("none", 4) is None


def test_query_rewriter_json_lines_and_cache(tmp_path):
    replies = iter(['Sure: {"rewrites": ["lease signer 1998", "who signed lease"]}'])
    rewriter = QueryRewriter(FunctionLM(lambda m: next(replies)), n=2, cache=tmp_path / "r.db")
    assert rewriter.rewrite("who signed the 1998 lease") == [
        "lease signer 1998",
        "who signed lease",
    ]
    again = QueryRewriter(FunctionLM(lambda m: pytest.fail("cached")), n=2, cache=tmp_path / "r.db")
    assert again.rewrite("who signed the 1998 lease") == ["lease signer 1998", "who signed lease"]
    assert (rewriter.calls, again.calls, again.cache_hits) == (1, 0, 1)
    assert parse_rewrites("1. first query\n- second query\n* third", 5) == [
        "first query",
        "second query",
        "third",
    ]
    assert "3 different rewrites" in QueryRewriter(FunctionLM(lambda m: ""), n=3).system_prompt


def test_rewrite_union_rerank_pipeline():
    pools = [hits(3), list(reversed(hits(5)))]
    pool = union_pool(pools)
    assert [h["doc_id"] for h in pool] == ["d0", "d1", "d2", "d4", "d3"]
    top = ListwiseReranker(FunctionLM(gold_judge), window_size=20).rerank("gold", pool, 2)
    assert [h["doc_id"] for h in top] == ["d4", "d3"]
