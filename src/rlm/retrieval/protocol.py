"""The retriever contract every backend implements, and the shapes it returns.

A hit is `{"doc_id", "preview", "score", "metadata"}`; `get` returns `{"doc_id", "content",
"metadata"}`. Every value is plain JSON (str, float, dict), so results cross the sandbox's
JSON channel unchanged and look the same in every environment.

Filters are a dict `{field: condition}` over metadata, all of which must hold:

    {"lang": "en"}                      equal
    {"lang": ["en", "de"]}              one of
    {"year": {"gte": 1990, "lt": 2000}} range (any of gte, gt, lte, lt)
    {"lang": {"not": "fr"}}             not equal (or {"not": [...]}: none of)
    {"source": {"exists": True}}        field present
    {"path": {"prefix": "docs/"}}       string prefix
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol, TypedDict, runtime_checkable

from rlm.errors import RLMError

__all__ = [
    "RANGE_OPS",
    "DocInput",
    "Document",
    "Filters",
    "Hit",
    "RetrievalError",
    "Retriever",
    "check_filters",
    "check_top_k",
    "make_preview",
    "normalize_doc",
]

PREVIEW_CHARS = 300
MAX_TOP_K = 1_000
RANGE_OPS = ("gte", "gt", "lte", "lt")

Filters = dict[str, Any]
DocInput = str | dict[str, Any]


class RetrievalError(RLMError):
    """A retriever could not answer: a missing index, an unknown document, a bad filter, a
    backend that refused the request. The message says what to do next."""


class Hit(TypedDict):
    doc_id: str
    preview: str
    score: float
    metadata: dict[str, Any]


class Document(TypedDict):
    doc_id: str
    content: str
    metadata: dict[str, Any]


@runtime_checkable
class Retriever(Protocol):
    """Search a corpus by keywords (BM25), by meaning (vectors) or both; fetch a document."""

    def search(self, query: str, top_k: int = 10, filters: Filters | None = None) -> list[Hit]:
        """Keyword (BM25) search, best first."""
        ...

    def vector_search(
        self, query: str, top_k: int = 10, filters: Filters | None = None
    ) -> list[Hit]:
        """Nearest documents by embedding similarity, best first."""
        ...

    def hybrid_search(
        self, query: str, top_k: int = 10, filters: Filters | None = None
    ) -> list[Hit]:
        """Keyword and vector results fused by reciprocal rank, best first."""
        ...

    def get(self, doc_id: str) -> Document:
        """The whole document; an unknown id raises `RetrievalError`."""
        ...


def make_preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """The first `limit` characters, cut at a word boundary when one is near, with an
    ellipsis when anything was cut."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", limit - 40, limit)
    return text[: cut if cut > 0 else limit].rstrip() + " …"


def check_top_k(top_k: Any) -> int:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        raise RetrievalError(f"top_k must be an int from 1 to {MAX_TOP_K}, got {top_k!r}")
    return top_k


def check_filters(filters: Any) -> Filters:
    """Validate a filters dict (see the module docstring); returns it, or {} for None."""
    if filters is None:
        return {}
    if not isinstance(filters, dict):
        raise RetrievalError(
            f"filters must be a dict like {{'lang': 'en'}}, not {type(filters).__name__}"
        )
    for field, cond in filters.items():
        if not isinstance(field, str) or not field:
            raise RetrievalError(f"filter field names must be non-empty strings: {field!r}")
        if isinstance(cond, dict):
            keys = set(cond)
            known = {*RANGE_OPS, "not", "exists", "prefix"}
            if not keys or not keys <= known:
                raise RetrievalError(
                    f"filter on {field!r}: unknown condition {sorted(keys - known) or cond!r}; "
                    f"use one of {sorted(known)}"
                )
            if keys & set(RANGE_OPS) and keys - set(RANGE_OPS):
                raise RetrievalError(f"filter on {field!r}: do not mix a range with {keys}")
            if "prefix" in keys and not isinstance(cond["prefix"], str):
                raise RetrievalError(f"filter on {field!r}: prefix must be a string")
        elif isinstance(cond, list):
            if not cond:
                raise RetrievalError(f"filter on {field!r}: an empty list matches nothing")
        elif not isinstance(cond, (str, int, float, bool)):
            raise RetrievalError(
                f"filter on {field!r}: {type(cond).__name__} is not a str, number, bool, "
                "list or condition dict"
            )
    return filters


def matches(metadata: dict[str, Any], filters: Filters) -> bool:
    """Whether a document's metadata satisfies `filters` (for backends that filter in Python,
    and as the reference semantics the others follow)."""
    for field, cond in filters.items():
        present = field in metadata
        value = metadata.get(field)
        if isinstance(cond, dict):
            if "exists" in cond:
                if bool(cond["exists"]) != present:
                    return False
            elif "not" in cond:
                banned = cond["not"] if isinstance(cond["not"], list) else [cond["not"]]
                if present and value in banned:
                    return False
            elif "prefix" in cond:
                if not (isinstance(value, str) and value.startswith(cond["prefix"])):
                    return False
            else:
                if not present or not _in_range(value, cond):
                    return False
        elif isinstance(cond, list):
            if not present or value not in cond:
                return False
        elif not present or value != cond:
            return False
    return True


def _in_range(value: Any, cond: dict[str, Any]) -> bool:
    try:
        return (
            ("gte" not in cond or value >= cond["gte"])
            and ("gt" not in cond or value > cond["gt"])
            and ("lte" not in cond or value <= cond["lte"])
            and ("lt" not in cond or value < cond["lt"])
        )
    except TypeError:
        return False


def normalize_doc(doc: DocInput) -> tuple[str, str, dict[str, Any]]:
    """(doc_id, content, metadata) of a str or a {"doc_id", "content"|"text", "metadata"}."""
    if isinstance(doc, str):
        return hashlib.sha1(doc.encode("utf-8", "replace")).hexdigest()[:16], doc, {}
    if not isinstance(doc, dict):
        raise RetrievalError(
            f"a document is a str or a dict with 'content', not {type(doc).__name__}"
        )
    content = doc.get("content", doc.get("text"))
    if not isinstance(content, str):
        raise RetrievalError("a document dict needs a str 'content' (or 'text')")
    doc_id = doc.get("doc_id", doc.get("id"))
    if doc_id is None:
        doc_id = hashlib.sha1(content.encode("utf-8", "replace")).hexdigest()[:16]
    metadata = doc.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise RetrievalError("a document's 'metadata' must be a dict")
    return str(doc_id), content, metadata
