"""The limits every response obeys: spans of at most 200 lines / 8 KB, lists paged by size."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

MAX_SPAN_LINES = 200
MAX_RESPONSE_BYTES = 8 * 1024
MAX_LINE_CHARS = 400  # one search hit's line is cut here


def json_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False).encode("utf-8"))


def page(
    items: Sequence[Any],
    cursor: int = 0,
    *,
    key: str = "items",
    max_bytes: int = MAX_RESPONSE_BYTES,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """As many items from `cursor` on as fit in `max_bytes` of JSON (at least one, cut to fit);
    `next_cursor` is where the next page starts, or None at the end."""
    cursor = max(0, int(cursor))
    out: dict[str, Any] = {key: [], "total": len(items), "next_cursor": None, **(extra or {})}
    used = json_size(out) + 32  # room for the next_cursor number
    index = cursor
    while index < len(items):
        size = json_size(items[index]) + 2
        if used + size > max_bytes and out[key]:
            break
        if used + size > max_bytes:  # a single item over budget: say so instead of sending it
            out[key].append({"omitted": "item larger than the response limit"})
            index += 1
            break
        out[key].append(items[index])
        used += size
        index += 1
    if index < len(items):
        out["next_cursor"] = index
    return out


def clip_text(text: str, max_bytes: int = MAX_RESPONSE_BYTES) -> tuple[str, bool]:
    """`text` cut to at most `max_bytes` of UTF-8 (on a character boundary); was it cut?"""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text, False
    return data[:max_bytes].decode("utf-8", "ignore"), True
