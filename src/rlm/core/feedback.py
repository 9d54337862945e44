"""How REPL results are shown to the model and kept in sub-call records."""

from __future__ import annotations

from typing import Any

from rlm._bounded import bounded_repr, clip
from rlm.environments.toolkit import Context
from rlm.types import REPLResult


def format_result(result: REPLResult, limit: int) -> str:
    """One block's output as the model sees it, cut at `limit` characters (cut stated)."""
    parts = []
    if result.stdout:
        parts.append(result.stdout.rstrip("\n"))
    if result.stderr:
        parts.append(result.stderr.rstrip("\n"))
    text = "\n".join(parts) if parts else "(no output)"
    dropped = result.truncated_chars
    if len(text) > limit:
        dropped += len(text) - limit
        text = text[:limit]
    if dropped:
        text += f"\n[... {dropped:,} characters of output dropped ...]"
    names = [n for n in result.locals if not n.startswith(("context_", "history_"))]
    if names:
        text += f"\nREPL variables: {', '.join(names)}"
    return text


def prompt_for_record(prompt: Any, limit: int = 2_000) -> Any:
    """Sub-call records keep short prompts whole and summarise long ones (never a context)."""
    if isinstance(prompt, Context):
        return repr(prompt)  # its size and shape, never its text
    if isinstance(prompt, str):
        return clip(prompt, limit, count=True)
    if isinstance(prompt, (dict, list)) and len(text := bounded_repr(prompt, limit)) >= limit:
        return f"<{type(prompt).__name__} len={len(prompt)}: {text}>"
    return prompt
