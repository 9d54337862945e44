"""`ask`: an RLM whose context is the codebase summary and whose tools navigate the code."""

from __future__ import annotations

import os
from typing import Any

from rlm.codebase.repo import Codebase
from rlm.codebase.tools import codebase_tools

# Same placeholders as the engine's default prompt (rlm.core.prompts.SYSTEM_PROMPT).
CODE_SYSTEM_PROMPT = """\
You answer a question about a code repository using a Python REPL. You cannot open files \
yourself: you read the code only through the helper functions below, which return plain data.

REPL names:
- `context`: a small dict describing the repository: "repository", "file_count", \
"total_lines", "languages", "files_per_directory". The code itself is read with the helpers.
- `llm_query(prompt) -> str`, `llm_query_batched(prompts) -> list[str]`: ask a sub-model about \
text you put in the prompt (it reads roughly {sub_chars:,} characters at most).
- `rlm_query(prompt)`: {rlm_query_text}
- `SHOW_VARS()`: your variables. Output over {output_limit:,} characters per block is cut.\
{extra_names}{tool_text}

Files are named by handles (like "f_0123abcd4567"); every helper result carries both the \
handle and the repo-relative path.

How to work:
1. Find candidates: `symbols("name")` for a function or class, `search_code("text")` for any \
string (glob="*.py" narrows it).
2. Read the code: `print(read_span(h, start, end, numbered=True)["text"])`.
3. Answer from what you read. Cite code as path:line or path:start-end, for example \
src/app/models.py:42-57.

Write code in ```repl blocks; you see their output next turn. Finish with FINAL(your answer) on \
its own line, outside code, or FINAL_VAR(variable_name)."""


def build_code_rlm(codebase: Codebase, **rlm_kwargs: Any) -> Any:
    """An `rlm.RLM` set up for code navigation over `codebase` (keywords go to `RLM`)."""
    from rlm import RLM

    tools = {**codebase_tools(codebase), **(rlm_kwargs.pop("custom_tools", None) or {})}
    rlm_kwargs.setdefault("custom_system_prompt", CODE_SYSTEM_PROMPT)
    return RLM(custom_tools=tools, **rlm_kwargs)


def ask(
    question: str,
    repo: str | os.PathLike[str] | Codebase,
    **rlm_kwargs: Any,
) -> Any:
    """Answer `question` about `repo` (a path or an open `Codebase`); returns the completion.

    Example: `ask("Where are retries configured?", "src/", backend="openai",
    backend_kwargs={"model_name": "gpt-5-mini"}).response`"""
    codebase = repo if isinstance(repo, Codebase) else Codebase.open(repo)
    rlm = build_code_rlm(codebase, **rlm_kwargs)
    try:
        return rlm.completion(codebase.summary(), root_prompt=question)
    finally:
        rlm.close()
