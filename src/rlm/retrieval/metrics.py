"""Ranking quality: nDCG@k and recall@k against relevance judgements (qrels).

`qrels` maps a doc_id to its graded relevance (0 = not relevant); a plain collection of
relevant ids counts each as relevance 1.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

__all__ = ["ndcg_at_k", "recall_at_k"]

Qrels = Mapping[str, float] | Iterable[str]


def _as_grades(qrels: Qrels) -> dict[str, float]:
    if isinstance(qrels, Mapping):
        return {str(d): float(g) for d, g in qrels.items()}
    return {str(d): 1.0 for d in qrels}


def ndcg_at_k(ranked_ids: Sequence[str], qrels: Qrels, k: int = 10) -> float:
    """Normalised discounted cumulative gain with gain 2^rel - 1 and discount log2(rank + 1).
    0.0 when nothing is relevant."""
    grades = _as_grades(qrels)
    if k <= 0:
        return 0.0
    dcg = sum(
        (2.0 ** grades.get(str(d), 0.0) - 1.0) / math.log2(rank + 1)
        for rank, d in enumerate(ranked_ids[:k], start=1)
    )
    ideal = sorted((g for g in grades.values() if g > 0), reverse=True)[:k]
    idcg = sum((2.0**g - 1.0) / math.log2(rank + 1) for rank, g in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked_ids: Sequence[str], qrels: Qrels, k: int = 10) -> float:
    """The fraction of relevant documents (relevance > 0) among the first k. 0.0 when nothing
    is relevant."""
    relevant = {d for d, g in _as_grades(qrels).items() if g > 0}
    if not relevant or k <= 0:
        return 0.0
    return len(relevant & {str(d) for d in ranked_ids[:k]}) / len(relevant)
