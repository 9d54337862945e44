"""What the root model is told about `context`: its actual shape, and a search that fits it.

A model copies the example it is shown. Showing `context.splitlines()` when the context is a
list of `{"path", "content"}` documents (the CLI's form for a directory) makes a small model
call a list method thirty times; so the example is chosen by the shape: one string, a list of
documents (with their paths), a list of strings, a dict, or anything else.

`context_as_text` renders any context as one string, for a plain model call (max_depth=0).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

PATH_KEYS = ("path", "name", "title", "id", "source")
TEXT_KEYS = ("content", "text", "body")
MAX_LISTED = 40  # paths or keys named in the prompt; the rest are counted
MAX_LISTING_CHARS = 1_500


@dataclass(frozen=True)
class ContextShape:
    kind: str  # "text" | "documents" | "strings" | "dict" | "items"
    description: str  # completes "`context` is ..."
    example: str  # a ```repl block that searches this shape


def document_keys(doc: Any) -> tuple[str, str] | None:
    if not isinstance(doc, dict):
        return None
    path = next((k for k in PATH_KEYS if isinstance(doc.get(k), str)), None)
    text = next((k for k in TEXT_KEYS if isinstance(doc.get(k), str)), None)
    return (path, text) if path and text else None


def _listing(names: list[str]) -> str:
    shown: list[str] = []
    used = 0
    for name in names[:MAX_LISTED]:
        if used + len(name) > MAX_LISTING_CHARS:
            break
        shown.append(name)
        used += len(name) + 2
    more = len(names) - len(shown)
    return ", ".join(shown) + (f", ... and {more:,} more" if more else "")


def short_paths(paths: list[str]) -> tuple[str, list[str]]:
    """(common directory, paths relative to it) so a long shared prefix is said once."""
    if len(paths) < 2:
        return "", paths
    try:
        common = os.path.commonpath(paths)
    except ValueError:
        return "", paths
    if not common or common in paths:
        return "", paths
    return common, [os.path.relpath(p, common) for p in paths]


TEXT_EXAMPLE = """\
```repl
for line in {name}.splitlines():
    if "keyword" in line.lower():
        print(line.strip()[:200])
```"""

DOCUMENTS_EXAMPLE = """\
```repl
for doc in {name}:
    for line in doc["{text}"].splitlines():
        if "keyword" in line.lower():
            print(doc["{path}"], "|", line.strip()[:200])
```"""

STRINGS_EXAMPLE = """\
```repl
for index, item in enumerate({name}):
    for line in item.splitlines():
        if "keyword" in line.lower():
            print(index, line.strip()[:200])
```"""

DICT_EXAMPLE = """\
```repl
for key, value in {name}.items():
    text = value if isinstance(value, str) else repr(value)
    if "keyword" in text.lower():
        print(key, text[:200])
```"""

ITEMS_EXAMPLE = """\
```repl
for index, item in enumerate({name}):
    text = item if isinstance(item, str) else repr(item)
    if "keyword" in text.lower():
        print(index, text[:200])
```"""


def describe_shape(context: Any, name: str = "context") -> ContextShape:
    if isinstance(context, str):
        lines = context.count("\n") + 1 if context else 0
        return ContextShape(
            "text",
            f"one string of {len(context):,} characters ({lines:,} line{'s' * (lines != 1)}).",
            TEXT_EXAMPLE.format(name=name),
        )
    if isinstance(context, dict):
        keys = [str(k) for k in context]
        return ContextShape(
            "dict",
            f"a dict with {len(keys):,} keys: {_listing(keys)}.",
            DICT_EXAMPLE.format(name=name),
        )
    if isinstance(context, (list, tuple)):
        items = list(context)
        keys = [document_keys(d) for d in items]
        if items and all(keys):
            path_key, text_key = keys[0]  # type: ignore[misc]
            if all(k == (path_key, text_key) for k in keys):
                paths = [d[path_key] for d in items]
                chars = sum(len(d[text_key]) for d in items)
                common, short = short_paths(paths)
                where = f" under {common}/" if common else ""
                return ContextShape(
                    "documents",
                    f"a list of {len(items):,} documents ({chars:,} characters in all). Each "
                    f'is a dict: doc["{path_key}"] is its path, doc["{text_key}"] its text. '
                    f"The paths{where}: {_listing(short)}.",
                    DOCUMENTS_EXAMPLE.format(name=name, path=path_key, text=text_key),
                )
        if items and all(isinstance(i, str) for i in items):
            chars = sum(len(i) for i in items)
            lengths = _listing([f"{len(i):,}" for i in items])
            return ContextShape(
                "strings",
                f"a list of {len(items):,} strings ({chars:,} characters in all; lengths: "
                f"{lengths}).",
                STRINGS_EXAMPLE.format(name=name),
            )
        kinds = sorted({type(i).__name__ for i in items})
        return ContextShape(
            "items",
            f"a list of {len(items):,} items ({', '.join(kinds) or 'empty'}).",
            ITEMS_EXAMPLE.format(name=name),
        )
    return ContextShape(
        "items", f"a {type(context).__name__} value.", ITEMS_EXAMPLE.format(name=name)
    )


def context_as_text(context: Any) -> str:
    """The whole context as one string: documents headed by their paths, other values as
    JSON (what a plain model call is given)."""
    if isinstance(context, str):
        return context
    if isinstance(context, (list, tuple)):
        parts = []
        for item in context:
            keys = document_keys(item)
            if keys:
                parts.append(f"=== {item[keys[0]]} ===\n{item[keys[1]]}")
            elif isinstance(item, str):
                parts.append(item)
            else:
                parts.append(json.dumps(item, default=str, ensure_ascii=False))
        return "\n\n".join(parts)
    return json.dumps(context, default=str, ensure_ascii=False, indent=1)
