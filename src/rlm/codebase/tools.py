"""The model-side helpers: host functions served through the broker's "tool" call.

They run on the host (the REPL, sandbox included, never opens a file or an index itself);
arguments and results are JSON values. `codebase_tools` gives the `custom_tools` mapping.
"""

from __future__ import annotations

from typing import Any

from rlm.codebase.repo import Codebase

MAX_TOOL_HITS = 100
MAX_TOOL_SYMBOLS = 50

DESCRIPTIONS = {
    "list_files": "list_files(glob=None) -> list of {path, handle, language, lines, bytes}; "
    "glob is shell-style ('*.py' matches at any depth, 'src/*' from the root).",
    "search_code": "search_code(pattern, regex=False, glob=None) -> list of "
    f"{{path, handle, line, text}} (at most {MAX_TOOL_HITS} hits; literal unless regex=True).",
    "read_span": "read_span(handle, start=1, end=None, numbered=False) -> {path, start, end, "
    "total_lines, text, next}: at most 200 lines / 8 KB; `next` is the handle to read on.",
    "symbols": "symbols(query) -> definitions (functions, classes, methods) whose name contains "
    f"query: list of {{name, qualname, kind, path, handle, start, end}} (best {MAX_TOOL_SYMBOLS}).",
    "outline": "outline(handle) -> {path, lines, symbols: [{name, qualname, kind, start, end}]}.",
}


def codebase_tools(codebase: Codebase) -> dict[str, dict[str, Any]]:
    """`custom_tools` for an RLM over `codebase` (each a host callable with a description)."""

    def list_files(glob: str | None = None) -> list[dict[str, Any]]:
        return codebase.list_files(glob)

    def search_code(
        pattern: str, regex: bool = False, glob: str | None = None
    ) -> list[dict[str, Any]]:
        return codebase.search_code(pattern, regex, glob, max_results=MAX_TOOL_HITS)["hits"]

    def read_span(
        handle: str, start: int | None = None, end: int | None = None, numbered: bool = False
    ) -> dict[str, Any]:
        return codebase.read_span(handle, start, end, numbered)

    def symbols(query: str) -> list[dict[str, Any]]:
        return codebase.symbols(query)[:MAX_TOOL_SYMBOLS]

    def outline(handle: str) -> dict[str, Any]:
        return codebase.outline(handle)

    functions = {
        "list_files": list_files,
        "search_code": search_code,
        "read_span": read_span,
        "symbols": symbols,
        "outline": outline,
    }
    return {name: {"tool": fn, "description": DESCRIPTIONS[name]} for name, fn in functions.items()}
