"""The value of a constant defined by arithmetic: `RECORDSIZE = BLOCKSIZE * 20` is 10240.

Shown `RECORDSIZE = BLOCKSIZE * 20` and asked for RECORDSIZE in bytes, a 1.5B model answered
1024 (it guessed at the product); asked for COPY_BUFSIZE it wrote "64 * 1024". The first look
(core/first_look.py) therefore writes the value after such a line: `# = 10240`. Only
arithmetic on numbers and on names the same text assigns at top level is evaluated, with
bounds on powers and shifts: a conditional (`1024 if _WINDOWS else 64`), a call or anything
else is left as written, because its value depends on more than the text shows.
"""

from __future__ import annotations

import ast
import operator
import re

__all__ = ["annotate", "assignments"]

MAX_DEPTH = 8  # names that refer to names
MAX_EXPONENT = 256
MAX_MAGNITUDE = 10**30
_ASSIGNMENT = re.compile(r"^([ \t]*)([A-Za-z_][A-Za-z0-9_]*)[ \t]*(?::[^=\n]*)?=(?!=)[ \t]*(.+)$")

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
    ast.BitOr: operator.or_,
    ast.BitAnd: operator.and_,
    ast.BitXor: operator.xor,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert}


class _NotArithmetic(Exception):
    pass


def assignments(text: str) -> dict[str, str]:
    """Top-level `NAME = expression` lines of `text`, by name (the first one). Indented ones
    are left out: a local `n = 5` in one function says nothing of `n` in another, and a
    value written next to a line must be true."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        match = _ASSIGNMENT.match(line)
        if match is not None and not match.group(1):
            found.setdefault(match.group(2), _code_part(match.group(3)))
    return found


def _code_part(expression: str) -> str:
    return expression.split("#", 1)[0].strip()


def annotate(line: str, defined: dict[str, str]) -> str:
    """`line` with its value appended when it assigns arithmetic (not a bare number)."""
    match = _ASSIGNMENT.match(line)
    if match is None or "#" in line.split("=", 1)[0]:
        return line
    expression = _code_part(match.group(3))
    try:
        tree = ast.parse(expression, mode="eval").body
        if isinstance(tree, ast.Constant):
            return line  # already a plain value
        value = _evaluate(tree, defined, set(), 0)
    except (SyntaxError, ValueError, _NotArithmetic, ArithmeticError, RecursionError):
        return line
    return f"{line}  # = {value}" if "#" not in match.group(3) else f"{line} (= {value})"


def _evaluate(node: ast.AST, defined: dict[str, str], seen: set[str], depth: int) -> int | float:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.Name) and node.id in defined and node.id not in seen:
        if depth >= MAX_DEPTH:
            raise _NotArithmetic
        tree = ast.parse(defined[node.id], mode="eval").body
        return _evaluate(tree, defined, seen | {node.id}, depth + 1)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _bounded(_UNARY[type(node.op)](_evaluate(node.operand, defined, seen, depth)))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left = _evaluate(node.left, defined, seen, depth)
        right = _evaluate(node.right, defined, seen, depth)
        if isinstance(node.op, (ast.Pow, ast.LShift)) and abs(right) > MAX_EXPONENT:
            raise _NotArithmetic
        return _bounded(_BINARY[type(node.op)](left, right))
    raise _NotArithmetic


def _bounded(value: int | float) -> int | float:
    if isinstance(value, complex) or abs(value) > MAX_MAGNITUDE:
        raise _NotArithmetic
    return value
