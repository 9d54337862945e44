"""Filters and query text for the embedded (tantivy) index.

Metadata lives in one JSON field indexed with the raw tokenizer, so string filters match
whole values exactly. Equality and exists are native queries; numeric ranges go through
tantivy's query parser (`metadata.year:[1990 TO 2000}`), the only range form tantivy offers
on JSON paths; prefixes are a phrase-prefix query on the raw value.
"""

from __future__ import annotations

import re
from typing import Any

from rlm.retrieval.protocol import Filters, RetrievalError

FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def filter_clauses(tantivy: Any, index: Any, filters: Filters) -> list[tuple[Any, Any]]:
    """(Occur, Query) pairs that together express `filters`."""
    Occur, Query = tantivy.Occur, tantivy.Query
    schema = index.schema
    out: list[tuple[Any, Any]] = []
    for field, cond in filters.items():
        if not FIELD_NAME.match(field):
            raise RetrievalError(
                f"filter field {field!r}: use letters, digits, '_' and '.' for nested keys"
            )
        path = f"metadata.{field}"
        if isinstance(cond, dict) and "exists" in cond:
            exists = Query.exists_query(path)
            out.append((Occur.Must if cond["exists"] else Occur.MustNot, exists))
        elif isinstance(cond, dict) and "not" in cond:
            banned = cond["not"] if isinstance(cond["not"], list) else [cond["not"]]
            out.extend((Occur.MustNot, _term(Query, schema, path, v)) for v in banned)
        elif isinstance(cond, dict) and "prefix" in cond:
            out.append((Occur.Must, Query.phrase_prefix_query(schema, path, [cond["prefix"]])))
        elif isinstance(cond, dict):
            out.append((Occur.Must, index.parse_query(_range_text(path, cond), [])))
        elif isinstance(cond, list):
            any_of = [(Occur.Should, _term(Query, schema, path, v)) for v in cond]
            out.append((Occur.Must, Query.boolean_query(any_of)))
        else:
            out.append((Occur.Must, _term(Query, schema, path, cond)))
    return out


def _term(Query: Any, schema: Any, path: str, value: Any) -> Any:
    if not isinstance(value, (str, int, float, bool)):
        raise RetrievalError(f"filter value {value!r} on {path!r} must be a str, number or bool")
    return Query.term_query(schema, path, value)


def _range_text(path: str, cond: dict[str, Any]) -> str:
    for op, bound in cond.items():
        if isinstance(bound, bool) or not isinstance(bound, (int, float)):
            raise RetrievalError(
                f"range filter on {path.removeprefix('metadata.')!r}: {op} must be a number "
                "(the embedded index ranges over numbers only)"
            )
    low = "[" if "gte" in cond else "{"
    high = "]" if "lte" in cond else "}"
    lower = cond.get("gte", cond.get("gt", "*"))
    upper = cond.get("lte", cond.get("lt", "*"))
    if lower == "*":
        low = "["
    if upper == "*":
        high = "]"
    return f"{path}:{low}{lower} TO {upper}{high}"
