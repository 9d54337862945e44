"""Making model-controlled text safe for a terminal and for a JSONL line (ground floor:
imports nothing of ours).

Model code chooses what it prints, what it passes to `FINAL`, and the prompts it sends: any
of that may carry escape sequences (OSC 8 links, title changes, cursor moves that hide
lines), bidi overrides, lone surrogates (not encodable as UTF-8) or Unicode line separators
(which `str.splitlines` treats as line ends). Everything a terminal shows goes through
`terminal_safe`; every JSONL line the logger writes goes through `jsonl_line`.
"""

from __future__ import annotations

import json
import re
from typing import Any

# C0 controls except tab and newline, DEL and the C1 block (U+0085 NEL included), line and
# paragraph separators, bidi embeddings/overrides/isolates, and lone surrogates.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
# What must not appear raw inside a JSONL line (json.dumps already escapes C0 controls).
_JSONL_RAW = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _replace(match: re.Match[str]) -> str:
    ch = match.group()
    if "\ud800" <= ch <= "\udfff":
        return "\ufffd"
    if ch in "\u2028\u2029\x85":
        return "\n"
    return ""


def terminal_safe(text: str) -> str:
    """`text` with control characters, ESC sequences' introducers, bidi controls removed,
    Unicode line separators as newlines and lone surrogates as U+FFFD. Tabs and newlines
    stay. Show the result as plain text (never as markup)."""
    return _UNSAFE.sub(_replace, text) if _UNSAFE.search(text) else text


def jsonl_line(entry: Any) -> str:
    """One JSON document on one line that any reader splitting on "\\n" reads back exactly:
    U+2028/U+2029/U+0085 (and the rest of C1) and lone surrogates are written as \\u escapes,
    so the line is valid UTF-8 and `splitlines` cannot break it either."""
    text = json.dumps(entry, default=str, ensure_ascii=False)
    return _JSONL_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
