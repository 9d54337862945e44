"""Custom tools: `{name: value}` or `{name: {"tool": value, "description": str}}` -> ToolSpecs.

One parser for every place that accepts `custom_tools` (RLM, environments used directly), so a
reserved name or a bad identifier fails the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rlm.environments.runtime import RESERVED_NAMES as _SESSION_NAMES
from rlm.environments.toolkit import HELPER_NAMES
from rlm.errors import ConfigurationError

#: Every name the REPL provides: the session's own and the runtime layer's helpers.
RESERVED_NAMES: frozenset[str] = _SESSION_NAMES | frozenset(HELPER_NAMES)


class ToolSpec:
    """A custom tool: a callable, a plain value or a host object, with an optional description."""

    __slots__ = ("description", "name", "value")

    def __init__(self, name: str, value: Any, description: str | None = None):
        self.name = name
        self.value = value
        self.description = description

    @property
    def is_callable(self) -> bool:
        return callable(self.value)

    def __repr__(self) -> str:
        return f"ToolSpec({self.name!r}, <{type(self.value).__name__}>)"


def tool_entry(name: str, entry: Any) -> ToolSpec:
    """One entry: a plain value, or a dict with a "tool" key (and optional "description")."""
    if isinstance(entry, dict) and "tool" in entry:
        description = entry.get("description")
        return ToolSpec(name, entry["tool"], description if isinstance(description, str) else None)
    return ToolSpec(name, entry, None)


def check_tool_names(names: Iterable[Any], what: str = "custom_tools") -> None:
    """Refuse reserved REPL names (all of them reported at once) and non-identifiers."""
    names = list(names)
    for name in names:
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigurationError(f"{what}: {name!r} is not a valid Python identifier")
    clashes = sorted(
        n for n in names if n in RESERVED_NAMES or n.startswith(("context_", "history_"))
    )
    if clashes:
        raise ConfigurationError(
            f"{what}: {', '.join(map(repr, clashes))} reserved REPL name(s); rename the "
            f"tool(s) (reserved: {', '.join(sorted(RESERVED_NAMES))}, context_N, history_N)"
        )


def tool_specs(tools: Mapping[str, Any] | None, what: str = "custom_tools") -> list[ToolSpec]:
    """Parse and check a `custom_tools` mapping."""
    if not tools:
        return []
    check_tool_names(tools, what)
    return [tool_entry(name, entry) for name, entry in tools.items()]
