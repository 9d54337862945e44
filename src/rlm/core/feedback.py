"""How REPL results are shown to the model and kept in sub-call records."""

from __future__ import annotations

from typing import Any

from rlm._bounded import bounded_repr, clip
from rlm.environments.toolkit import Context
from rlm.types import REPLResult


def format_result(result: REPLResult, limit: int) -> str:
    """One block's output as the model sees it, at most about `limit` characters (cut stated).

    The variable listing counts inside the limit (model code picks the names): it gets what
    the output leaves, at least a tenth of the limit, and says how many names it left out."""
    parts = []
    if result.stdout:
        parts.append(result.stdout.rstrip("\n"))
    if result.stderr:
        parts.append(result.stderr.rstrip("\n"))
    text = "\n".join(parts) if parts else "(no output)"
    listing = _variables_line(result, limit, len(text))
    dropped = result.truncated_chars
    keep = max(0, limit - len(listing))
    if len(text) > keep:
        dropped += len(text) - keep
        text = text[:keep]
    if dropped:
        text += f"\n[... {dropped:,} characters of output dropped ...]"
    return text + listing


def _variables_line(result: REPLResult, limit: int, used: int) -> str:
    names = [n for n in result.locals if not n.startswith(("context_", "history_"))]
    if not names:
        return ""
    head = "\nREPL variables: "
    listing = head + ", ".join(names)
    room = max(limit // 10, limit - used)
    if len(listing) <= room:
        return listing
    shown: list[str] = []
    size = len(head) + 40  # the "(and N more)" tail
    for name in names:
        size += len(name) + 2
        if size > room:
            break
        shown.append(name)
    return f"{head}{', '.join(shown)} (and {len(names) - len(shown):,} more)"


def prompt_for_record(prompt: Any, limit: int = 2_000) -> Any:
    """Sub-call records keep short prompts whole and summarise long ones (never a context)."""
    if isinstance(prompt, Context):
        return repr(prompt)  # its size and shape, never its text
    if isinstance(prompt, str):
        return clip(prompt, limit, count=True)
    if isinstance(prompt, (dict, list)) and len(text := bounded_repr(prompt, limit)) >= limit:
        return f"<{type(prompt).__name__} len={len(prompt)}: {text}>"
    return prompt
