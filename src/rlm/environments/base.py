"""The environment seam: load a context, execute code -> REPLResult, close.

Every environment offers the model the same REPL names (see `RESERVED_NAMES`) with the same
semantics; the shared semantics live in `rlm.environments.runtime`, which runs in-process for
`local` and inside the worker process for every out-of-process environment.

Host callbacks (`llm_query`, `rlm_query`, custom tools) reach the host through a `Host`: an
allow-listed table of names taking and returning JSON values (`rlm.core.broker.Broker`).
Environments never hold a reference to the engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Protocol

# Names the engine provides in every REPL (defined by the stdlib-only runtime, which the
# sandbox worker loads on its own); model code that rebinds them gets them back.
from rlm.environments.runtime import RESERVED_NAMES as _SESSION_NAMES
from rlm.environments.toolkit import HELPER_NAMES
from rlm.types import REPLResult

#: Every name the REPL provides: the session's own and the runtime layer's helpers.
RESERVED_NAMES: frozenset[str] = _SESSION_NAMES | frozenset(HELPER_NAMES)

# Host callback names served over the broker. "tool" carries {"name", "args", "kwargs"}.
HOST_CALLS: frozenset[str] = frozenset(
    {"llm_query", "llm_query_batched", "rlm_query", "rlm_query_batched", "tool"}
)


class Host(Protocol):
    """What an environment may ask of the host. Arguments and results are JSON values."""

    def call(self, name: str, payload: dict[str, Any]) -> Any: ...


class ToolSpec:
    """A custom tool: a callable or a plain value, with an optional description."""

    __slots__ = ("description", "name", "value")

    def __init__(self, name: str, value: Any, description: str | None = None):
        self.name = name
        self.value = value
        self.description = description

    @property
    def is_callable(self) -> bool:
        return callable(self.value)


class BaseEnv(ABC):
    """A persistent Python REPL for one RLM run (or one conversation, when persistent)."""

    #: registry name, for logs and errors
    name: str = "base"

    def __init__(
        self,
        host: Host | None = None,
        tools: list[ToolSpec] | None = None,
        *,
        depth: int = 0,
        output_limit: int = 20_000,
        **kwargs: Any,
    ):
        self.host = host
        self.tools = list(tools or [])
        self.depth = depth
        self.output_limit = output_limit

    @abstractmethod
    def load_context(self, context: Any, index: int = 0) -> None:
        """Bind `context_<index>`; index 0 is also bound as `context`."""

    @abstractmethod
    def add_history(self, messages: list[dict[str, Any]], index: int) -> None:
        """Bind `history_<index>` (a finished conversation); index 0 is also `history`."""

    @abstractmethod
    def append_compaction_history(self, entry: Any) -> None:
        """With compaction on, `history` is a list that keeps every root message."""

    @abstractmethod
    def execute_code(self, code: str) -> REPLResult:
        """Run one code block; errors in the code come back in `stderr`, never raised."""

    @abstractmethod
    def resolve_variable(self, name: str) -> str | None:
        """`str(value)` of a REPL variable, or None when it is not bound."""

    @property
    def partial_answer(self) -> str | None:
        """The best answer so far (`answer["content"]`), for a run stopped by a limit."""
        return None

    def interrupt(self) -> None:  # noqa: B027 - optional hook
        """Stop the running cell from another thread (limits, Ctrl-C). Best effort."""

    @abstractmethod
    def close(self) -> None:
        """Release processes, files and threads. Safe to call twice."""

    def __enter__(self) -> BaseEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
