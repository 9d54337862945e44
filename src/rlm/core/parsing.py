"""Reading model output: code blocks to run and a final answer written in prose.

Rules (DESIGN.md, "Final answer"):
- Every ```repl block runs, in order; ```python / ```py blocks are accepted too.
- `FINAL(...)` or `FINAL_VAR(...)` counts only when it starts a line outside any code fence;
  a FINAL quoted inline in prose ("then I will call FINAL(x)") is only an example.
- The text inside may span lines and contain parentheses and quotes: the matching closing
  parenthesis is found by scanning, skipping string literals.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

_FENCE = re.compile(
    r"^[ \t]*```[ \t]*(repl|python|py|python3)?[^\n`]*\n(.*?)^[ \t]*```[ \t]*$",
    re.DOTALL | re.MULTILINE,
)
# Fallback for a closing fence glued to the last line of code ("print(x)```").
_LOOSE_FENCE = re.compile(r"```[ \t]*(repl|python|py|python3)[ \t]*\n(.*?)```", re.DOTALL)
_RUNNABLE = {"repl", "python", "py", "python3"}
_FINAL_START = re.compile(r"^[ \t>*_]*(FINAL_VAR|FINAL)\(", re.MULTILINE)


@dataclass(frozen=True)
class FinalMarker:
    """A FINAL(...) / FINAL_VAR(...) found in prose. `inner` is the raw text inside."""

    kind: str  # "FINAL" or "FINAL_VAR"
    inner: str


def find_code_blocks(text: str) -> list[str]:
    """The runnable code blocks of a response, in order."""
    blocks = [m.group(2) for m in _FENCE.finditer(text) if (m.group(1) or "") in _RUNNABLE]
    if not blocks:
        blocks = [m.group(2) for m in _LOOSE_FENCE.finditer(text)]
    return [b.strip("\n") for b in blocks if b.strip()]


# Statements and expressions that make a text code rather than a value ("decoder.py", "42").
CODE_NODES = (
    ast.Assign,
    ast.AugAssign,
    ast.For,
    ast.While,
    ast.If,
    ast.With,
    ast.Try,
    ast.Return,
    ast.Import,
    ast.ImportFrom,
    ast.FunctionDef,
    ast.ClassDef,
    ast.Call,
    ast.Lambda,
    ast.ListComp,
    ast.GeneratorExp,
)


def is_code(text: str) -> bool:
    """True when `text` parses as Python with a statement or a call in it."""
    try:
        tree = ast.parse(text.strip())
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    # "7 (Disclaimer)" parses as calling 7: prose with a parenthesis, never runnable code.
    return any(
        isinstance(node, CODE_NODES)
        and not (isinstance(node, ast.Call) and isinstance(node.func, ast.Constant))
        for node in ast.walk(tree)
    )


def find_bare_code(text: str) -> str | None:
    """A reply that is nothing but Python without fences (small models often write
    `print(len(context))` bare): that code, else None. Prose never parses as a module with
    a statement in it; a FINAL line is an answer, not code."""
    stripped = text.strip()
    if not stripped or "```" in stripped or _FINAL_START.search(stripped):
        return None
    return stripped if is_code(stripped) else None


def runnable_code(text: str) -> list[str]:
    """What a reply asks to run: its fenced blocks, else the whole reply when it is bare code."""
    blocks = find_code_blocks(text)
    if blocks:
        return blocks
    bare = find_bare_code(text)
    return [bare] if bare is not None else []


def strip_code_fences(text: str) -> str:
    """The prose of a response: every fenced block (any language) removed."""
    without = _FENCE.sub("\n", text)
    return _LOOSE_FENCE.sub("\n", without)


def find_final(text: str) -> FinalMarker | None:
    """The first FINAL/FINAL_VAR that starts a line outside code fences."""
    prose = strip_code_fences(text)
    for match in _FINAL_START.finditer(prose):
        # Quote-aware first (FINAL("a (b")); prose apostrophes (FINAL(It's 4)) leave a quote
        # open to the end, so then match parentheses alone.
        inner = _balanced_inner(prose, match.end(), quotes=True)
        if inner is None:
            inner = _balanced_inner(prose, match.end(), quotes=False)
        if inner is None:
            rest = prose[match.end() :].strip()
            inner = rest.removesuffix(")").strip() if rest else None
        inner = (inner or "").strip()
        if inner[:1] == "(" and inner[-1:] == ")" and "(" not in inner[1:-1]:
            # "FINAL((60))": a small model doubles the template's own parentheses
            inner = inner[1:-1].strip()
        if inner:
            return FinalMarker(kind=match.group(1), inner=inner)
    return None


def final_in_reply(text: str) -> FinalMarker | None:
    """A FINAL in the prose, else one a code block consists of (```repl FINAL(18) ```):
    for the last turn, whose code will not run, a model answering in a fence still answers."""
    found = find_final(text)
    if found is not None:
        return found
    for code in (block.strip() for block in find_code_blocks(text)):
        if code.startswith(("FINAL(", "FINAL_VAR(")) and "\n" not in code:
            return find_final(code)
    return None


def printed_final(stdout: str) -> FinalMarker | None:
    """A FINAL(...) the code printed as its own last line (`print(f"FINAL({x})")`): models
    write this meaning the answer. Only a whole last line counts, so a document line that
    merely contains "FINAL(" does not."""
    lines = [line for line in stdout.strip().splitlines() if line.strip()]
    if not lines or not lines[-1].lstrip().startswith(("FINAL(", "FINAL_VAR(")):
        return None
    return find_final(lines[-1])


def _balanced_inner(text: str, start: int, *, quotes: bool) -> str | None:
    """Text from `start` up to the parenthesis closing the one just before it, or None."""
    depth = 1
    i = start
    quote: str | None = None
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if text.startswith(quote, i):
                i += len(quote)
                quote = None
                continue
        elif quotes and ch in "\"'":
            quote = text[i : i + 3] if text[i : i + 3] in ('"""', "'''") else ch
            i += len(quote)
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return text[start:i]
        i += 1
    return None


def literal_text(inner: str) -> str | None:
    """If `inner` is a single Python string literal, its value; otherwise None."""
    stripped = inner.strip()
    if len(stripped) < 2 or stripped[0] not in "\"'rbfu" or stripped[-1] not in "\"'":
        return None
    try:
        value = ast.literal_eval(stripped)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, str) else None
