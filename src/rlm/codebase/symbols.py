"""Functions and classes with line ranges: `ast` for Python, tree-sitter for other languages.

A symbol is a plain dict (it is cached as JSON and handed to models and MCP clients):
`{"name", "qualname", "kind", "start", "end"}`, lines 1-based and inclusive.
"""

from __future__ import annotations

import ast
import logging
from typing import Any

log = logging.getLogger("rlm.codebase")

Symbol = dict[str, Any]


def extract_symbols(language: str, source: bytes) -> list[Symbol]:
    """The file's symbols in source order; [] for languages without a parser here."""
    if language == "python":
        return python_symbols(source)
    from rlm.codebase.treesitter import treesitter_symbols

    return treesitter_symbols(language, source)


def python_symbols(source: bytes) -> list[Symbol]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as exc:
        # A file that does not parse (Python 2, a template) is still listed and searchable.
        log.debug("no Python symbols: %s", exc)
        return []
    found: list[Symbol] = []

    def visit(node: ast.AST, prefix: str, in_class: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                qualname = f"{prefix}.{child.name}" if prefix else child.name
                if isinstance(child, ast.ClassDef):
                    kind = "class"
                else:
                    kind = "method" if in_class else "function"
                # Decorators belong to the definition a reader is pointed at.
                start = min([child.lineno] + [d.lineno for d in child.decorator_list])
                found.append(
                    {
                        "name": child.name,
                        "qualname": qualname,
                        "kind": kind,
                        "start": start,
                        "end": child.end_lineno or child.lineno,
                    }
                )
                visit(child, qualname, isinstance(child, ast.ClassDef))
            elif not isinstance(child, (ast.Lambda, ast.expr)):
                visit(child, prefix, in_class)  # definitions under if/try/with blocks

    visit(tree, "", False)
    found.sort(key=lambda s: (s["start"], s["end"]))
    return found
