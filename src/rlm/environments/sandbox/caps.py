"""The documented output caps, applied on the host to whatever a worker reports.

The worker applies the same caps, but model code owns the worker and can forge a result
frame: nothing it says is taken at its word. Each field is type-checked and cut here.
"""

from __future__ import annotations

import math
from typing import Any

from rlm.types import REPLResult

MAX_FINAL_CHARS = 4_000_000  # a FINAL answer, a FINAL_VAR value, the partial answer
MAX_LOCALS = 1_000  # variables listed per cell
MAX_NAME_CHARS = 100  # one variable's name as listed
MAX_REPR_CHARS = 200  # one variable's short rendering


def cut(value: Any, limit: int) -> tuple[str, int]:
    """(`value` if it is a str, else ""), cut to `limit` characters; and how many were cut."""
    if not isinstance(value, str):
        return "", 0
    if len(value) <= limit:
        return value, 0
    return value[:limit], len(value) - limit


def answer_text(value: Any) -> str | None:
    """A final/partial answer or resolved variable: a str within MAX_FINAL_CHARS, or None."""
    return cut(value, MAX_FINAL_CHARS)[0] if isinstance(value, str) else None


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    value = float(value)
    return value if math.isfinite(value) and value >= 0 else 0.0


def locals_view(raw: Any) -> dict[str, str]:
    """At most MAX_LOCALS names (each cut), with short string renderings."""
    if not isinstance(raw, dict):
        return {}
    shown: dict[str, str] = {}
    for key, value in raw.items():
        if len(shown) >= MAX_LOCALS:
            shown["..."] = f"{len(raw) - MAX_LOCALS:,} more variables not listed"
            break
        name = cut(key, MAX_NAME_CHARS)[0] if isinstance(key, str) else ""
        if name:
            shown[name] = cut(value, MAX_REPR_CHARS)[0]
    return shown


def capped_result(reply: dict[str, Any], output_chars: int, note: str | None) -> REPLResult:
    """A REPLResult from a worker's `result` frame, every field within its cap."""
    stdout, out_cut = cut(reply.get("stdout"), output_chars)
    stderr, err_cut = cut(reply.get("stderr"), output_chars)
    final, final_cut = cut(reply.get("final_answer"), MAX_FINAL_CHARS)
    if final_cut:
        stderr += f"\n[final answer cut to {MAX_FINAL_CHARS} characters]\n"
    if note:
        stderr = f"{note}\n{stderr}"
    truncated = min(_number(reply.get("truncated_chars")), 1e15)
    return REPLResult(
        stdout=stdout,
        stderr=stderr,
        locals=locals_view(reply.get("locals")),
        execution_time=_number(reply.get("execution_time")),
        final_answer=final if isinstance(reply.get("final_answer"), str) else None,
        truncated_chars=int(truncated) + out_cut + err_cut,
    )
