"""The reference's environment helpers (`rlm.environments.base_env`), on top of ours.

Custom-tool parsing is ours (`rlm.environments.tools`); these are the reference's names for
it, plus its two runtime-checkable protocols and its isolated/non-isolated base classes.
"""

from __future__ import annotations

from abc import ABC
from typing import Any, Protocol, runtime_checkable

from rlm.environments.base import BaseEnv
from rlm.environments.tools import RESERVED_NAMES, ToolSpec, check_tool_names, tool_entry

#: every name the REPL reserves (ours also reserve FINAL and FINAL_VAR)
RESERVED_TOOL_NAMES: frozenset[str] = RESERVED_NAMES
ToolInfo = ToolSpec
parse_tool_entry = tool_entry


def parse_custom_tools(custom_tools: dict[str, Any] | None) -> list[ToolSpec]:
    return [tool_entry(name, entry) for name, entry in (custom_tools or {}).items()]


def extract_tool_value(entry: Any) -> Any:
    return entry["tool"] if isinstance(entry, dict) and "tool" in entry else entry


def validate_custom_tools(custom_tools: dict[str, Any] | None) -> None:
    """Raise (a ValueError) naming every reserved or invalid tool name."""
    if custom_tools:
        check_tool_names(custom_tools)


def format_tools_for_prompt(custom_tools: dict[str, Any] | None) -> str | None:
    """One line per tool, as the reference lists them in its system prompt."""
    lines = []
    for tool in parse_custom_tools(custom_tools):
        if tool.description:
            lines.append(f"- `{tool.name}`: {tool.description}")
        elif tool.is_callable:
            lines.append(f"- `{tool.name}`: A custom function")
        else:
            lines.append(f"- `{tool.name}`: A custom {type(tool.value).__name__} value")
    return "\n".join(lines) or None


@runtime_checkable
class SupportsCustomTools(Protocol):
    custom_tools: dict[str, Any]


@runtime_checkable
class SupportsPersistence(Protocol):
    def update_handler_address(self, address: tuple[str, int]) -> None: ...

    def add_context(self, context_payload: Any, context_index: int | None = None) -> int: ...

    def get_context_count(self) -> int: ...

    def add_history(self, message_history: Any, history_index: int | None = None) -> int: ...

    def get_history_count(self) -> int: ...


class IsolatedEnv(BaseEnv, ABC):
    """An environment on another machine (the reference's modal, prime, e2b, daytona)."""


class NonIsolatedEnv(BaseEnv, ABC):
    """An environment on this machine (local, sandbox, docker, ipython)."""
