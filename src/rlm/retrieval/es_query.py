"""Query DSL shared by Elasticsearch and OpenSearch: filters, BM25, kNN, index mappings.

Metadata fields are top-level `_source` fields beside the content; `create_index` maps new
string fields as `keyword`, so equality filters match whole values exactly.
"""

from __future__ import annotations

from typing import Any

from rlm.retrieval.protocol import RANGE_OPS, Filters


def filter_bool(filters: Filters) -> dict[str, list[dict[str, Any]]]:
    """{"filter": [...], "must_not": [...]} for a bool query (empty lists left out)."""
    must: list[dict[str, Any]] = []
    must_not: list[dict[str, Any]] = []
    for field, cond in filters.items():
        if isinstance(cond, dict) and "exists" in cond:
            (must if cond["exists"] else must_not).append({"exists": {"field": field}})
        elif isinstance(cond, dict) and "not" in cond:
            banned = cond["not"]
            must_not.append(
                {"terms": {field: banned}}
                if isinstance(banned, list)
                else {"term": {field: banned}}
            )
        elif isinstance(cond, dict) and "prefix" in cond:
            must.append({"prefix": {field: cond["prefix"]}})
        elif isinstance(cond, dict):
            must.append({"range": {field: {op: cond[op] for op in RANGE_OPS if op in cond}}})
        elif isinstance(cond, list):
            must.append({"terms": {field: cond}})
        else:
            must.append({"term": {field: cond}})
    out: dict[str, list[dict[str, Any]]] = {}
    if must:
        out["filter"] = must
    if must_not:
        out["must_not"] = must_not
    return out


def bm25_body(
    query: str, top_k: int, filters: Filters, content_field: str, vector_field: str
) -> dict[str, Any]:
    return {
        "query": {"bool": {"must": [{"match": {content_field: query}}], **filter_bool(filters)}},
        "size": top_k,
        "_source": {"excludes": [vector_field]},
    }


def es_knn_body(
    vector: list[float], top_k: int, filters: Filters, vector_field: str
) -> dict[str, Any]:
    """Elasticsearch: the top-level `knn` section (approximate, HNSW), filters applied
    during the graph search."""
    knn: dict[str, Any] = {
        "field": vector_field,
        "query_vector": vector,
        "k": top_k,
        "num_candidates": max(top_k * 10, 100),
    }
    bool_ = filter_bool(filters)
    if bool_:
        knn["filter"] = {"bool": bool_}
    return {"knn": knn, "size": top_k, "_source": {"excludes": [vector_field]}}


def os_knn_body(
    vector: list[float], top_k: int, filters: Filters, vector_field: str
) -> dict[str, Any]:
    """OpenSearch: the `knn` query of the k-NN plugin, with efficient filtering."""
    clause: dict[str, Any] = {"vector": vector, "k": top_k}
    bool_ = filter_bool(filters)
    if bool_:
        clause["filter"] = {"bool": bool_}
    return {
        "query": {"knn": {vector_field: clause}},
        "size": top_k,
        "_source": {"excludes": [vector_field]},
    }


def es_mappings(content_field: str, vector_field: str, dims: int | None) -> dict[str, Any]:
    properties: dict[str, Any] = {content_field: {"type": "text"}}
    if dims:
        properties[vector_field] = {
            "type": "dense_vector",
            "dims": dims,
            "index": True,
            "similarity": "cosine",
        }
    return {
        "mappings": {
            "dynamic_templates": [
                {
                    "strings_as_keywords": {
                        "match_mapping_type": "string",
                        "mapping": {"type": "keyword"},
                    }
                }
            ],
            "properties": properties,
        }
    }


def os_mappings(content_field: str, vector_field: str, dims: int | None) -> dict[str, Any]:
    body = es_mappings(content_field, vector_field, None)
    if dims:
        body["settings"] = {"index": {"knn": True}}
        body["mappings"]["properties"][vector_field] = {
            "type": "knn_vector",
            "dimension": dims,
            "space_type": "cosinesimil",
        }
    return body
