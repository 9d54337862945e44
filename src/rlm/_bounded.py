"""Bounded renderings of values for logs, terminals and sub-call records (ground floor:
imports nothing of ours).

Everything here is about one promise: a preview never holds a whole context and never fails
on a hostile `__repr__`. The sandbox worker keeps its own stdlib-only copy of the repr part
(`environments/runtime.py`), because it runs apart from this package.
"""

from __future__ import annotations

from typing import Any


def clip(text: str, limit: int, *, one_line: bool = False, count: bool = False) -> str:
    """`text` cut to about `limit` characters.

    `one_line` folds whitespace first (for a table cell or a progress line). The cut is shown
    as "…", or with `count` as "... [N more chars]" so a reader knows how much was dropped.
    """
    if one_line:
        text = " ".join(text.split())
    if len(text) <= limit:
        return text
    if count:
        return text[:limit] + f"... [{len(text) - limit:,} more chars]"
    return text[: max(0, limit - 1)] + "…"


def bounded_repr(value: Any, limit: int) -> str:
    """`repr(value)` in at most about `limit` characters; strings are cut before the repr is
    built (never a gigabyte repr of a context) and a failing `__repr__` gives `<TypeName>`."""
    if isinstance(value, (str, bytes)) and len(value) > limit:
        value = value[:limit]
    try:
        text = repr(value)
    except Exception:  # model-controlled objects may raise anything from __repr__
        return f"<{type(value).__name__}>"
    return clip(text, limit, count=True)


def preview(value: Any, limit: int, *, one_line: bool = False) -> str:
    """A str as itself, anything else as its str(), cut to `limit` with "…"."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > 4 * limit and not one_line:
        text = text[: 4 * limit]
    return clip(text, limit, one_line=one_line)


def number(value: Any) -> int | float:
    """A count or amount read from untrusted JSON or an SDK object: ints and floats as they
    are, anything else (None, str, bool, objects) as 0."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return 0


def as_int(value: Any) -> int:
    """`number(value)` as an int (token counts from SDK objects may arrive as floats)."""
    return int(number(value))
