"""Merging result lists: reciprocal rank fusion (hybrid search) and union pools (multi-query).

Reciprocal rank fusion (Cormack, Clarke and Büttcher, SIGIR 2009): a document's fused score
is the sum over the lists it appears in of 1 / (k + rank), rank counted from 1, k = 60. It
needs no score calibration between BM25 and cosine similarity, which live on different
scales, and a document ranked well by both beats one ranked first by only one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["RRF_K", "reciprocal_rank_fusion", "union_pool"]

RRF_K = 60


def reciprocal_rank_fusion(
    lists: Sequence[Sequence[dict[str, Any]]], top_k: int, k: int = RRF_K
) -> list[dict[str, Any]]:
    """Fuse ranked hit lists; each fused hit keeps the fields of its first occurrence, with
    `score` replaced by the fused score. Ties keep first-seen order."""
    scores: dict[str, float] = {}
    first: dict[str, dict[str, Any]] = {}
    for hits in lists:
        for rank, hit in enumerate(hits, start=1):
            doc_id = str(hit["doc_id"])
            if doc_id not in first:
                first[doc_id] = hit
            scores[doc_id] = scores.get(doc_id, 0.0) + 1.0 / (k + rank)
    order = sorted(first, key=lambda d: -scores[d])  # stable: ties keep first-seen order
    return [{**first[d], "score": scores[d]} for d in order[:top_k]]


def union_pool(
    lists: Sequence[Sequence[dict[str, Any]]], id_key: str = "doc_id"
) -> list[dict[str, Any]]:
    """One list of every document in `lists`, each once, in order of first appearance (so a
    document keeps the position and score of the first list that returned it)."""
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for hits in lists:
        for hit in hits:
            doc_id = str(hit[id_key])
            if doc_id not in seen:
                seen.add(doc_id)
                out.append(hit)
    return out
