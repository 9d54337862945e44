"""The reference's parsing and prompt helpers (`rlm.utils.parsing`, `rlm.utils.prompts`).

Our engine does not use these: it parses ```repl and ```python blocks and words its own
prompts (rlm.core.parsing, rlm.core.prompts). They are kept for code that calls the
reference's helpers directly, with the reference's behaviour.
"""

from __future__ import annotations

import re
from typing import Any

from rlm.core.prompts import SYSTEM_PROMPT, build_system_prompt
from rlm.environments.tools import tool_specs
from rlm.types import QueryMetadata, REPLResult, RLMIteration

_REPL_BLOCK = re.compile(r"```repl[ \t]*\n(.*?)\n?```", re.DOTALL)
_SIMPLE = (str, int, float, bool, list, dict, tuple)

USER_PROMPT = "Turn {iter_1}/{max_iter}:"


def find_code_blocks(text: str) -> list[str]:
    """The ```repl blocks only (the reference ignores ```python)."""
    return [m.group(1).strip() for m in _REPL_BLOCK.finditer(text)]


def format_execution_result(result: REPLResult) -> str:
    parts = [f"\n{text}" for text in (result.stdout, result.stderr) if text]
    names = [
        k for k, v in result.locals.items() if not k.startswith("_") and isinstance(v, _SIMPLE)
    ]
    if names:
        parts.append(f"REPL variables: {names}\n")
    return "\n\n".join(parts) if parts else "No output"


def format_iteration(
    iteration: RLMIteration, max_character_length: int = 20_000
) -> list[dict[str, str]]:
    """[assistant response, one user message with every block's output, each cut]."""
    messages = [{"role": "assistant", "content": iteration.response}]
    multi = len(iteration.code_blocks) > 1
    parts = []
    for i, block in enumerate(iteration.code_blocks, 1):
        text = format_execution_result(block.result)
        if len(text) > max_character_length:
            dropped = len(text) - max_character_length
            text = text[:max_character_length] + f"... + [{dropped} chars...]"
        header = f"REPL output (block {i}):" if multi else "REPL output:"
        parts.append(f"{header}\n{text}")
    if parts:
        messages.append({"role": "user", "content": "\n\n".join(parts)})
    return messages


def convert_context_for_repl(context: Any) -> tuple[Any, str | None]:
    """(data, None) for structured contexts, (None, text) for strings; message lists become
    their contents."""
    if isinstance(context, str):
        return None, context
    if (
        isinstance(context, list)
        and context
        and isinstance(context[0], dict)
        and ("content" in context[0])
    ):
        return [m.get("content", "") for m in context], None
    return context, None


def build_rlm_system_prompt(
    system_prompt: str | None = None,
    query_metadata: QueryMetadata | None = None,
    custom_tools: dict[str, Any] | None = None,
    root_prompt: str | None = None,
    orchestrator: bool = True,
    max_depth: int = 1,
) -> list[dict[str, Any]]:
    """The opening messages of a run: our system prompt for this context and tools."""
    meta = query_metadata or QueryMetadata("str", [0])
    system = build_system_prompt(
        meta,
        depth=0,
        max_depth=max_depth,
        tools=tool_specs(custom_tools),
        output_limit=20_000,
        custom=system_prompt if system_prompt not in (None, SYSTEM_PROMPT) else None,
    )
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}]
    if root_prompt:
        messages.append({"role": "user", "content": f'The query to answer: "{root_prompt}"'})
    return messages


def build_user_prompt(
    root_prompt: str | None = None,
    iteration: int = 0,
    context_count: int = 1,
    history_count: int = 0,
    max_iterations: int = 30,
) -> dict[str, str]:
    text = USER_PROMPT.format(iter_1=iteration + 1, max_iter=max_iterations)
    if root_prompt:
        text += f' The query to answer: "{root_prompt}".'
    if context_count > 1:
        text += f" {context_count} contexts are loaded (context_0 .. context_{context_count - 1})."
    if history_count:
        text += f" {history_count} earlier conversation history(ies) (history_0 ...)."
    return {"role": "user", "content": text}
