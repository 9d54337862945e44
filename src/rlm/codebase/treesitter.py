"""Symbols of non-Python files from tree-sitter grammars (PyPI `tree-sitter-<language>`).

Each grammar is optional: a language whose grammar package is missing is still indexed (files,
sizes, search, spans), just without symbols, and the index says so once in the log.
"""

from __future__ import annotations

import importlib
import logging
from functools import cache
from typing import Any

log = logging.getLogger("rlm.codebase")

# language -> (module, function returning the grammar)
GRAMMARS: dict[str, tuple[str, str]] = {
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "java": ("tree_sitter_java", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
}

_JS_KINDS = {
    "function_declaration": "function",
    "generator_function_declaration": "function",
    "class_declaration": "class",
    "abstract_class_declaration": "class",
    "method_definition": "method",
    "interface_declaration": "interface",
    "type_alias_declaration": "type",
    "enum_declaration": "enum",
}
# node type -> symbol kind, per language
KINDS: dict[str, dict[str, str]] = {
    "javascript": _JS_KINDS,
    "typescript": _JS_KINDS,
    "tsx": _JS_KINDS,
    "go": {
        "function_declaration": "function",
        "method_declaration": "method",
        "type_spec": "type",
    },
    "rust": {
        "function_item": "function",
        "struct_item": "struct",
        "enum_item": "enum",
        "trait_item": "trait",
        "impl_item": "impl",
        "mod_item": "module",
    },
    "java": {
        "class_declaration": "class",
        "interface_declaration": "interface",
        "enum_declaration": "enum",
        "record_declaration": "class",
        "method_declaration": "method",
        "constructor_declaration": "method",
    },
    "c": {"function_definition": "function", "struct_specifier": "struct"},
    "cpp": {
        "function_definition": "function",
        "class_specifier": "class",
        "struct_specifier": "struct",
        "namespace_definition": "namespace",
    },
}
_NAME_TYPES = {
    "identifier",
    "type_identifier",
    "field_identifier",
    "property_identifier",
    "qualified_identifier",
    "destructor_name",
    "operator_name",
    "namespace_identifier",
}


@cache
def _parser(language: str) -> Any | None:
    spec = GRAMMARS.get(language)
    if spec is None:
        return None
    try:
        from tree_sitter import Language, Parser

        module = importlib.import_module(spec[0])
        return Parser(Language(getattr(module, spec[1])()))
    except ImportError as exc:
        log.info(
            "no %s symbols: %s (pip install 'rlm[codebase]' brings the grammars)", language, exc
        )
        return None


def available_languages() -> list[str]:
    return [name for name in GRAMMARS if _parser(name) is not None]


def treesitter_symbols(language: str, source: bytes) -> list[dict[str, Any]]:
    parser = _parser(language)
    if parser is None:
        return []
    kinds = KINDS[language]
    tree = parser.parse(source)
    found: list[dict[str, Any]] = []
    # (node, qualified prefix); an explicit stack: deep ASTs must not hit the recursion limit
    stack: list[tuple[Any, str]] = [(tree.root_node, "")]
    while stack:
        node, prefix = stack.pop()
        child_prefix = prefix
        kind = kinds.get(node.type)
        if kind is None and node.type == "variable_declarator":
            value = node.child_by_field_name("value")
            if value is not None and value.type in ("arrow_function", "function_expression"):
                kind = "function"  # const handler = () => {...}
        name = _name(node) if kind else None
        if kind and name and (node.type != "struct_specifier" or _has_body(node)):
            qualname = f"{prefix}.{name}" if prefix else name
            found.append(
                {
                    "name": name,
                    "qualname": qualname,
                    "kind": kind,
                    "start": node.start_point[0] + 1,
                    "end": node.end_point[0] + 1,
                }
            )
            child_prefix = qualname
        stack.extend((child, child_prefix) for child in reversed(node.named_children))
    found.sort(key=lambda s: (s["start"], s["end"]))
    return found


def _has_body(node: Any) -> bool:
    return node.child_by_field_name("body") is not None


def _name(node: Any) -> str | None:
    """The defined name: a `name` field, else (C/C++) down the declarator chain; impl: its type."""
    target = node.child_by_field_name("name")
    if target is None and node.type == "impl_item":
        target = node.child_by_field_name("type")
    probe = node
    while target is None and probe is not None:
        probe = probe.child_by_field_name("declarator")
        if probe is not None and probe.type in _NAME_TYPES:
            target = probe
    if target is None or target.text is None:
        return None
    return target.text.decode("utf-8", "replace")
